"""The DFT (VASP PBE PAW) elastic constants implied by the Zuo et al. benchmark's own
"Elastic" structures of Si, and the model's on the same cells: no new DFT calculation.

The mlearn Si data (training.json + test.json) hold a 64-atom diamond cell (a = 5.46875 Å,
stress -0.004 GPa: the VASP-PBE equilibrium) and copies strained by +-2 ... +-10 % in each of
the six Voigt components, ions at the homogeneously strained positions (clamped ions) and
labelled with the VASP stress. kizuna.properties.labelled_elastic fits sigma = sigma0 + C e
over the cells with |e| <= 2 % (Green-Lagrange strain of each cell against the unstrained
one) for the VASP stresses and for the model's stresses on the same cells. C44 here is the
clamped-ion C44^0 (the relaxed C44 is smaller: see si_mlearn_qe.yaml).

Note: these cells (but the -6 % ones of test.json) are in the model's training set.

    python examples/validate/si_mlearn_dataset_elastic.py --model runs/mlearn/Si/model.kzn
    python examples/validate/si_mlearn_dataset_elastic.py --model M.kzn --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from kizuna.calculator import Calculator
from kizuna.properties.labelled_elastic import compare, read_mlearn


def data_folder(given):
    for c in (given, os.environ.get("KIZUNA_SHARED"),
              Path(__file__).resolve().parents[3] / "shared", "/work/shared"):
        if c and Path(c, "data", "mlearn", "json", "Si").is_dir():
            return Path(c, "data", "mlearn", "json", "Si")
    raise SystemExit("mlearn json data not found: set KIZUNA_SHARED (or --shared) to the folder "
                     "holding data/mlearn/json/Si/{training,test}.json")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="kizuna model (.kzn) of Si")
    p.add_argument("--shared", help="shared folder with data/mlearn/json/Si")
    p.add_argument("--max-strain", type=float, default=0.021)
    p.add_argument("--json", help="write every number here")
    args = p.parse_args(argv)
    folder = data_folder(args.shared)
    frames = read_mlearn(folder / "training.json") + read_mlearn(folder / "test.json")
    calc = Calculator(args.model, threads=1, extrapolation="warn")
    res = compare(frames, calc, args.max_strain)
    d, m = res["dataset"], res["model"]
    print(f"{res['cells']} Elastic cells of the mlearn Si data, {res['cells_used']} with "
          f"|strain| <= {args.max_strain:g} in the fit; energy MAE of the model on all of them "
          f"{1000 * np.mean(np.abs(res['energy_error_per_atom'])):.2f} meV/atom\n")
    print("| quantity (GPa) | VASP PBE (data set) | model | error |\n|---|---|---|---|")
    for key, label in (("C11", "C11"), ("C12", "C12"), ("C44", "C44^0 (clamped ions)"),
                       ("B", "B = (C11 + 2 C12)/3"), ("C'", "C' = (C11 − C12)/2")):
        print(f"| {label} | {d[key]:.1f} | {m[key]:.1f} | {m[key] - d[key]:+.1f} "
              f"({100 * (m[key] - d[key]) / d[key]:+.1f} %) |")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, **res}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
