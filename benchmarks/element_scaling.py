"""Cost of the descriptor against the number of elements E = 1 ... 6 (issue 13): functions per
atom and single-core time per atom-step of the compiled core (energy, forces, virial) on a
random fcc alloy, per-pair Behler-Parrinello functions vs element-weighted ones, same radial
and angular grid and the same networks (random weights). Grids:

* ``--grid si``: examples/training/si.yaml's (16 radial, 32 angular narrow, cutoff 5.5 Å,
  zetas 1 2 4 16, lambda +-1; the narrow functions need the triplet list), 96-96 networks;
* ``--grid wide``: many_elements_training.py's (cutoff 5 Å, 12 shifted radial, 16 shifted
  angular wide, zetas 1 4: moment tensors), 32-32 networks (``--hidden``).

    OMP_NUM_THREADS=1 python benchmarks/element_scaling.py [--grid wide] [--repeats 3]

"kernel" excludes the neighbour-list build (MD codes amortise it over several steps). Times are
the least process CPU time over the repeats (1 thread). ``--triplets`` also times every model
with its wide functions on the triplet list (KIZUNA_ANGULAR_MOMENTS=0 when the model is loaded).
"""
from __future__ import annotations

import argparse
import os
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


GRIDS = {
    "si": dict(cutoff=5.5, n_radial=16, n_angular=32, angular_kind="angular_narrow"),
    "wide": dict(cutoff=5.0, n_radial=12, n_angular=16, zetas=[1.0, 4.0],
                 angular_kind="angular_wide", angular_mode="shifted", r_min=1.5),
}


def model(elements, mode, channels, grid="si", hidden=(96, 96), seed=0):
    spec = SymmetryFunctionSpec(**GRIDS[grid], element_mode=mode, channels=channels)
    sfs = generate_symmetry_functions(elements, spec)
    rng = np.random.default_rng(seed)
    ems = []
    for e in elements:
        n = len(sfs[e])
        sizes = [n, *hidden, 1]
        layers = [DenseLayer(rng.normal(0, 1 / np.sqrt(sizes[i]), (sizes[i + 1], sizes[i])),
                             np.zeros(sizes[i + 1]), "tanh" if i < len(hidden) else "linear")
                  for i in range(len(sizes) - 1)]
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
    parser.add_argument("--grid", default="si", choices=sorted(GRIDS))
    parser.add_argument("--hidden", type=int, nargs="+", default=None,
                        help="hidden layers (default: 96 96 for si, 32 32 for wide)")
    parser.add_argument("--channels", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--triplets", action="store_true",
                        help="also time every model with its wide functions on triplets")
    args = parser.parse_args()
    hidden = args.hidden or ([96, 96] if args.grid == "si" else [32, 32])
    rc = GRIDS[args.grid]["cutoff"]
    variants = [("pair", 1)] + [("weighted", k) for k in args.channels]
    paths = [False, True] if args.triplets else [False]
    print(f"{'E':>2} {'descriptor':<24} {'functions/atom':>15} {'kernel us/atom-step':>20} "
          f"{'with neighbour list':>20}")
    for E in range(1, args.max_elements + 1):
        positions, symbols, cell = alloy(E, args.atoms)
        t_nl = best_time(lambda: _core.neighbor_list(positions, cell, True, rc), args.repeats)
        for mode, channels in variants:
            m = model(ELEMENTS[:E], mode, channels, args.grid, hidden)
            for triplets in paths:
                if triplets:
                    os.environ["KIZUNA_ANGULAR_MOMENTS"] = "0"  # read when the model is loaded
                pot = kizuna.Potential(m, threads=1)
                os.environ.pop("KIZUNA_ANGULAR_MOMENTS", None)
                species = pot.species(symbols)
                t = best_time(lambda: pot._core.compute(positions, species, cell, True, True,
                                                        True, False, False, False, False),
                              args.repeats)
                n = len(positions)
                label = "pair" if mode == "pair" else f"weighted k={min(channels, E)}"
                label += " (triplets)" if triplets else ""
                print(f"{E:2d} {label:<24} {m.element_models[0].num_features:15d} "
                      f"{(t - t_nl) / n * 1e6:20.1f} {t / n * 1e6:20.1f}", flush=True)
    print(f"({len(positions)} atoms, 1 thread, grid {args.grid}, networks {hidden}; weighted "
          f"k = min(channels, E))")


if __name__ == "__main__":
    main()
