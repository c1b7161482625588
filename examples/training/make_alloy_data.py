"""Six-element EMT alloy data (Cu Ag Au Ni Pd Pt) for examples/training/alloy.yaml (issue 13).

Random fcc solid solutions: every composition is a Dirichlet draw of the six concentrations;
an n x n x n conventional cell (4 n^3 atoms) gets its sites drawn from it, with ``--vacancy``
every other composition loses one atom; lattice constant from Vegard's rule (``LATTICE``),
then a random strain of +-2 % (every component of the 3 x 3 strain); then Langevin MD with
ASE's EMT (5 fs steps, friction 0.02, start and bath temperatures drawn from 300-900 K), one
frame every 10 steps. Energies (eV) and forces (eV/Å) are EMT's.

Three files with disjoint compositions (each composition is one MD run, all of its frames go
to one file; compositions compared by their element counts):

- ``train.extxyz``: ``--train-comps`` compositions x ``--frames`` frames;
- ``validation.extxyz``: ``--validation-comps`` more compositions x ``--frames`` frames (whole
  compositions held out: to select training settings for compositions never seen);
- ``test.extxyz``: ``--test benchmark`` (default) is the test set of benchmarks/README.md's
  issue-size table (20 compositions x 5 frames of 3 x 3 x 3 cells with vacancies: the
  benchmark's generator, seed 13, replayed past its 30 x 10 training frames, which are not
  written); ``--test new`` draws ``--test-comps`` x ``--test-frames`` from this script's own
  generator instead.

    # the data of docs/training.md's alloy example (~4-5 min on one core)
    OMP_NUM_THREADS=1 python examples/training/make_alloy_data.py --out runs/alloy
    kizuna train examples/training/alloy.yaml --set data.train=runs/alloy/train.extxyz \\
        --set data.validation=runs/alloy/validation.extxyz \\
        --set data.test=runs/alloy/test.extxyz --set output.directory=runs/alloy/learned_k3

``frames_for`` is also the generator of benchmarks/many_elements_training.py.
"""
from __future__ import annotations

import argparse
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

ELEMENTS = ["Cu", "Ag", "Au", "Ni", "Pd", "Pt"]
LATTICE = {"Cu": 3.61, "Ag": 4.09, "Au": 4.08, "Ni": 3.52, "Pd": 3.89, "Pt": 3.92}  # fcc a, Å
BENCHMARK_SEED = 13          # benchmarks/many_elements_training.py's data seed
BENCHMARK_TRAIN = (30, 10)   # its training compositions x frames, drawn before the test set
BENCHMARK_TEST = (20, 5)     # its test compositions x frames


def frames_for(rng, n_comps, frames_per_comp, cells=2, vacancy=False):
    """``n_comps`` random compositions x ``frames_per_comp`` EMT MD frames (list of Atoms with
    single-point energy and forces); every composition's frames consecutive."""
    out = []
    for c in range(n_comps):
        x = rng.dirichlet(np.ones(len(ELEMENTS)))
        a = float(sum(x[i] * LATTICE[e] for i, e in enumerate(ELEMENTS)))  # Vegard's rule
        atoms = bulk("Cu", "fcc", a=a, cubic=True).repeat((cells, cells, cells))
        atoms.symbols = list(rng.choice(ELEMENTS, size=len(atoms), p=x))
        if vacancy and c % 2:
            del atoms[int(rng.integers(len(atoms)))]
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


def composition(atoms) -> tuple:
    """The composition of a cell: its count of every element of ``ELEMENTS``."""
    symbols = atoms.get_chemical_symbols()
    return tuple(symbols.count(e) for e in ELEMENTS)


def benchmark_test_frames():
    """The 20 x 5 test frames of benchmarks/README.md's issue-size table (3 x 3 x 3 cells,
    vacancies): the benchmark's generator replayed past its training frames."""
    rng = np.random.default_rng(BENCHMARK_SEED)
    frames_for(rng, *BENCHMARK_TRAIN, cells=3, vacancy=True)  # the benchmark's training set
    return frames_for(rng, *BENCHMARK_TEST, cells=3, vacancy=True)


def make_sets(train_comps: int, validation_comps: int, frames: int, cells: int, vacancy: bool,
              seed: int, test: str = "benchmark", test_comps: int = 20,
              test_frames: int = 5) -> dict:
    """{"train", "validation", "test"}: lists of frames, compositions disjoint across sets
    (ValueError otherwise: a repeated composition is possible only for tiny cells)."""
    rng = np.random.default_rng(seed)
    fit = frames_for(rng, train_comps + validation_comps, frames, cells, vacancy)
    n = train_comps * frames  # the last validation_comps compositions are held out whole
    sets = {"train": fit[:n], "validation": fit[n:]}
    if test == "benchmark":
        sets["test"] = benchmark_test_frames()
    elif test == "new":
        sets["test"] = frames_for(rng, test_comps, test_frames, cells, vacancy)
    else:
        raise ValueError(f"test: expected 'benchmark' or 'new', got {test!r}")
    seen = {}
    for name, frames_ in sets.items():
        for key in {composition(a) for a in frames_}:
            if key in seen and seen[key] != name:
                raise ValueError(f"composition {dict(zip(ELEMENTS, key))} occurs in both "
                                 f"{seen[key]} and {name}; use larger cells or another seed")
            seen[key] = name
    return sets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the three extxyz files")
    parser.add_argument("--train-comps", type=int, default=135)
    parser.add_argument("--validation-comps", type=int, default=15)
    parser.add_argument("--frames", type=int, default=2,
                        help="MD frames per training / validation composition")
    parser.add_argument("--cells", type=int, default=3, help="fcc cells per axis (4 n^3 atoms)")
    parser.add_argument("--no-vacancy", dest="vacancy", action="store_false",
                        help="no vacancies (default: one in every other composition)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the training and "
                        "validation draws (and of --test new)")
    parser.add_argument("--test", choices=("benchmark", "new"), default="benchmark")
    parser.add_argument("--test-comps", type=int, default=20, help="--test new only")
    parser.add_argument("--test-frames", type=int, default=5, help="--test new only")
    args = parser.parse_args(argv)
    for name in ("train_comps", "validation_comps", "frames", "cells", "test_comps",
                 "test_frames"):
        if getattr(args, name) < (0 if name == "validation_comps" else 1):
            parser.error(f"--{name.replace('_', '-')} must be positive")
    t0 = time.perf_counter()
    sets = make_sets(args.train_comps, args.validation_comps, args.frames, args.cells,
                     args.vacancy, args.seed, args.test, args.test_comps, args.test_frames)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frames in sets.items():
        if frames:
            write(out / f"{name}.extxyz", frames)
        n_comps = len({composition(a) for a in frames})
        print(f"{out / (name + '.extxyz')}: {len(frames)} frames, {n_comps} compositions")
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
