"""Per-pair vs element-weighted symmetry functions on a 6-element EMT alloy (issue 13), small.

Data: random fcc solid solutions of Cu, Ag, Au, Ni, Pd, Pt (2x2x2 conventional cells, 32 atoms,
lattice constant from Vegard's rule, +-2 % random strain), each run for a short Langevin MD with
ASE's EMT at 300-900 K; frames every 10 steps. Training compositions and test compositions are
different draws (no test composition occurs in training). Both descriptors use the same radial
and angular grid; the weighted one with k = `--channels` channels (one run per value) (fixed weights, docs/training.md).

    OMP_NUM_THREADS=1 python benchmarks/many_elements_training.py [--train-comps 20] [--epochs 30]

Prints functions per atom, test energy / force MAE, and seconds per epoch for each descriptor.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from ase.md.langevin import Langevin

try:  # ASE >= 3.29
    from ase.md.velocitydistribution import thermalize_momenta
except ImportError:  # older ASE
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta

from kizuna.training import train

ELEMENTS = ["Cu", "Ag", "Au", "Ni", "Pd", "Pt"]
LATTICE = {"Cu": 3.61, "Ag": 4.09, "Au": 4.08, "Ni": 3.52, "Pd": 3.89, "Pt": 3.92}


def frames_for(rng, n_comps, frames_per_comp):
    out = []
    for _ in range(n_comps):
        x = rng.dirichlet(np.ones(len(ELEMENTS)))
        a = float(sum(x[i] * LATTICE[e] for i, e in enumerate(ELEMENTS)))
        atoms = bulk("Cu", "fcc", a=a, cubic=True).repeat((2, 2, 2))
        atoms.symbols = list(rng.choice(ELEMENTS, size=len(atoms), p=x))
        atoms.set_cell(atoms.cell @ (np.eye(3) + rng.uniform(-0.02, 0.02, (3, 3))),
                       scale_atoms=True)
        atoms.calc = EMT()
        thermalize_momenta(atoms, temperature_K=rng.uniform(300, 900), rng=rng)
        dyn = Langevin(atoms, 5 * units.fs, temperature_K=rng.uniform(300, 900), friction=0.02,
                       fixcm=False, rng=rng)
        for _ in range(frames_per_comp):
            dyn.run(10)
            frame = atoms.copy()
            frame.calc = SinglePointCalculator(frame, energy=atoms.get_potential_energy(),
                                               forces=atoms.get_forces())
            out.append(frame)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-comps", type=int, default=20)
    parser.add_argument("--test-comps", type=int, default=8)
    parser.add_argument("--frames", type=int, default=5, help="frames per composition")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--channels", type=int, nargs="+", default=[2],
                        help="weighted variants to train (besides the per-pair one)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(13)
    work = Path(args.out or tempfile.mkdtemp(prefix="kizuna-many-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write(work / "train.extxyz", frames_for(rng, args.train_comps, args.frames))
    write(work / "test.extxyz", frames_for(rng, args.test_comps, args.frames))
    print(f"data: {args.train_comps} x {args.frames} training frames, {args.test_comps} x "
          f"{args.frames} test frames (32 atoms) in {time.perf_counter() - t0:.0f} s; {work}")
    grid = {"cutoff": 5.0, "n_radial": 12, "n_angular": 16, "zetas": [1, 4],
            "angular_kind": "angular_wide", "angular_mode": "shifted", "r_min": 1.5}
    rows = []
    variants = [("pair", {"element_mode": "pair"})] + [
        (f"weighted k={k}", {"element_mode": "weighted", "channels": k}) for k in args.channels]
    for label, extra in variants:
        cfg = {"seed": 1, "threads": args.threads,
               "output": {"directory": str(work / label.replace(" ", "_").replace("=", "")),
                          "progress": "none", "plots": False},
               "data": {"train": str(work / "train.extxyz"),
                        "test": str(work / "test.extxyz"), "validation_fraction": 0.1},
               "symmetry_functions": {**grid, **extra},
               "model": {"hidden_layers": [32, 32], "elements": ELEMENTS},
               "loss": {"forces_weight": 0.1},
               "training": {"epochs": args.epochs, "batch_size": 8, "learning_rate": 0.005,
                            "lbfgs_epochs": 0}}
        t1 = time.perf_counter()
        result = train(cfg)
        seconds = time.perf_counter() - t1
        test = result["metrics"]["test"]
        from kizuna.model_io import read_model

        features = read_model(result["model"]).element_models[0].num_features
        rows.append((label, features, test["energy"][0], test["forces"][0],
                     seconds / args.epochs))
    print(f"{'descriptor':<14} {'functions/atom':>15} {'test E MAE meV/atom':>20} "
          f"{'test F MAE eV/A':>16} {'s/epoch (incl. setup)':>22}")
    for label, features, e, f, s in rows:
        print(f"{label:<14} {features:15d} {e:20.2f} {f:16.3f} {s:22.2f}")


if __name__ == "__main__":
    main()
