"""Cost of the descriptor against the number of elements E = 1 ... 6 (issue 13): functions per
atom and single-core time per atom-step of the compiled core (energy, forces, virial) on a
random fcc alloy, per-pair Behler-Parrinello functions vs element-weighted ones, same radial
and angular grid (examples/training/si.yaml's: 16 radial, 32 angular narrow, cutoff 5.5 Å,
zetas 1 2 4 16, lambda +-1) and the same networks (96-96 tanh, random weights).

    OMP_NUM_THREADS=1 python benchmarks/element_scaling.py [--repeats 3] [--atoms 1372]

"kernel" excludes the neighbour-list build (MD codes amortise it over several steps). Times are
the least process CPU time over the repeats (1 thread).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from ase.build import bulk

import kizuna
from kizuna import _core
from kizuna.model import DenseLayer, ElementModel, Member, Model, Scaling
from kizuna.training.symmetry import SymmetryFunctionSpec, generate_symmetry_functions

ELEMENTS = ["Cu", "Ag", "Au", "Ni", "Pd", "Pt"]


def alloy(n_elements, atoms, seed=0):
    """Random fcc solid solution (a = 3.9 Å) of the first n_elements, displaced by 0.05 Å."""
    reps = max(1, round((atoms / 4) ** (1 / 3)))
    a = bulk("Cu", "fcc", a=3.9, cubic=True).repeat((reps, reps, reps))
    rng = np.random.default_rng(seed)
    symbols = [ELEMENTS[k] for k in rng.integers(0, n_elements, len(a))]
    positions = a.positions + rng.normal(0, 0.05, a.positions.shape)
    return positions, symbols, np.array(a.cell)


def model(elements, mode, channels, seed=0):
    spec = SymmetryFunctionSpec(cutoff=5.5, n_radial=16, n_angular=32,
                                angular_kind="angular_narrow", element_mode=mode,
                                channels=channels)
    sfs = generate_symmetry_functions(elements, spec)
    rng = np.random.default_rng(seed)
    ems = []
    for e in elements:
        n = len(sfs[e])
        sizes = [n, 96, 96, 1]
        layers = [DenseLayer(rng.normal(0, 1 / np.sqrt(sizes[i]), (sizes[i + 1], sizes[i])),
                             np.zeros(sizes[i + 1]), "tanh" if i < 2 else "linear")
                  for i in range(3)]
        zeros = np.zeros(n)
        scaling = Scaling("scale_sigma", 0.0, 1.0, zeros, np.ones(n), zeros, np.ones(n))
        ems.append(ElementModel(e, sfs[e], [Member(scaling, layers)]))
    return Model(list(elements), ems, {})


def best_time(fn, repeats):
    """Least CPU time of this process over the repeats (one thread: the machine's other load
    does not count, unlike wall-clock time on a shared machine)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--atoms", type=int, default=1372)
    parser.add_argument("--max-elements", type=int, default=6)
    args = parser.parse_args()
    variants = [("pair", 1), ("weighted", 2), ("weighted", 3)]
    print(f"{'E':>2} {'descriptor':<12} {'functions/atom':>15} {'kernel us/atom-step':>20} "
          f"{'with neighbour list':>20}")
    for E in range(1, args.max_elements + 1):
        positions, symbols, cell = alloy(E, args.atoms)
        t_nl = best_time(lambda: _core.neighbor_list(positions, cell, True, 5.5), args.repeats)
        for mode, channels in variants:
            m = model(ELEMENTS[:E], mode, channels)
            pot = kizuna.Potential(m, threads=1)
            species = pot.species(symbols)
            t = best_time(lambda: pot._core.compute(positions, species, cell, True, True, True,
                                                    False, False, False, False), args.repeats)
            n = len(positions)
            label = "pair" if mode == "pair" else f"weighted k={channels}"
            print(f"{E:2d} {label:<12} {m.element_models[0].num_features:15d} "
                  f"{(t - t_nl) / n * 1e6:20.1f} {t / n * 1e6:20.1f}", flush=True)
    print(f"({len(positions)} atoms, 1 thread; weighted k = min(channels, E))")


if __name__ == "__main__":
    main()
