"""D(T) and the Arrhenius activation energy from the diffusion results of several
``kizuna validate`` runs of one side (e.g. the teacher run per temperature, of different
lengths), the longest run at each temperature.

    python examples/validate/diffusion_arrhenius.py reference \
        runs/validate-li2o-teacher4/results.json runs/validate-li2o-teacher10-1200/results.json

Prints, per temperature, D ± sigma (cm²/s), the recorded steps and the file, then the
weighted Arrhenius fit of kizuna.properties.diffusion (ln D = ln D0 - E_a / (k_B T), weights
from the block errors) over those temperatures. ``--json OUT`` writes the same as JSON. The
runs must share the structure, relaxation and reference (checked); each temperature's seed is
the one the full run would give it (seed + its index: run one temperature with
``--set seed=<seed + index>``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kizuna.properties.diffusion import A2_PER_FS_TO_CM2_PER_S, arrhenius_fit


def points(side: str, files: list) -> dict:
    """{temperature: point} of the longest run at each temperature over ``files``."""
    best, first = {}, None
    for path in files:
        res = json.loads(Path(path).read_text())
        key = (res.get("inputs", {}).get("structure"), res.get("inputs", {}).get("relax"),
               res.get(side))
        if first is None:
            first = key
        elif key != first:
            sys.exit(f"{path}: another structure, relaxation or {side} than {files[0]}")
        entry = res.get("properties", {}).get("diffusion", {})
        if side not in entry or "values" not in entry[side]:
            sys.exit(f"{path}: no diffusion result of the {side} side")
        cfg = entry["config"]
        steps = (cfg.get("reference_steps") or cfg["steps"]) if side == "reference" \
            else cfg["steps"]
        for curve in entry[side]["data"]["curves"]:
            t = float(curve["temperature"])
            if t in best and best[t]["steps"] >= steps:
                continue
            best[t] = {"temperature": t, "steps": steps, "time_ps": steps * cfg["timestep"] / 1e3,
                       "D_cm2_per_s": curve["D_A2_per_fs"] * A2_PER_FS_TO_CM2_PER_S,
                       "D_std_cm2_per_s": (None if curve["D_std_A2_per_fs"] is None else
                                           curve["D_std_A2_per_fs"] * A2_PER_FS_TO_CM2_PER_S),
                       "mean_temperature": curve["mean_temperature"],
                       # the run's seed at this temperature (diffusion._run_all: seed + index)
                       "seed": res["inputs"]["seed"] + [float(x) for x in
                                                        cfg["temperatures"]].index(t),
                       "file": str(path)}
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("side", choices=("model", "reference"))
    p.add_argument("results", nargs="+", type=Path)
    p.add_argument("--json", type=Path, help="write the points and the fit here")
    a = p.parse_args(argv)
    pts = [v for _, v in sorted(points(a.side, a.results).items())]
    for q in pts:
        err = "" if q["D_std_cm2_per_s"] is None else f" ± {q['D_std_cm2_per_s']:.2e}"
        print(f"{q['temperature']:6.0f} K  D = {q['D_cm2_per_s']:.2e}{err} cm²/s  "
              f"({q['steps']} steps, {q['time_ps']:g} ps, <T> {q['mean_temperature']:.0f} K, "
              f"seed {q['seed']}; {q['file']})")
    fit = arrhenius_fit([q["temperature"] for q in pts], [q["D_cm2_per_s"] for q in pts],
                        [q["D_std_cm2_per_s"] for q in pts])
    if fit is None:
        print("no Arrhenius fit (fewer than 2 temperatures or a D <= 0)")
    else:
        std = fit["activation_energy_std"]
        chi = fit["chi2_per_dof"]
        print(f"E_a = {fit['activation_energy']:.3f}"
              f"{'' if std is None else f' ± {std:.3f}'} eV"
              f"{'' if chi is None else f' (chi2/dof {chi:.2f})'}")
    if a.json:
        a.json.write_text(json.dumps({"side": a.side, "points": pts, "arrhenius": fit},
                                     indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
