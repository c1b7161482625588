"""Single-core throughput of the compiled core on the n2p2 water potential (H2O_RPBE-D3).

Boxes are the n2p2 reference liquid (1,080 atoms) replicated; each evaluation computes energy,
forces and virial. Prints atom-steps/s for the kernel alone and including the neighbour-list
build (which MD codes amortise over several steps).

    OMP_NUM_THREADS=1 python benchmarks/core_throughput.py [--repeats 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import kizuna
from kizuna import _core
from kizuna.n2p2 import read_n2p2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from n2p2_reference import WATER_CFENERGY, WATER_CFLENGTH, load  # noqa: E402


def water_box(reps):
    ref = load("cfg1_liquid1080")
    shifts = [np.array([i, j, k]) @ ref.cell for i in range(reps[0]) for j in range(reps[1])
              for k in range(reps[2])]
    pos = np.concatenate([ref.positions + s for s in shifts])
    return pos, ref.symbols * len(shifts), ref.cell * np.array(reps)[:, None]


def best_time(fn, repeats):
    fn()  # warm-up: workspaces grow on first use
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    model = read_n2p2(ROOT / "tests/data/n2p2/H2O_RPBE-D3", cflength=WATER_CFLENGTH,
                      cfenergy=WATER_CFENERGY)
    pot = kizuna.Potential(model, threads=args.threads)
    print(f"kizuna core, water H2O_RPBE-D3 (cutoff {model.cutoff:.3f} Å), {args.threads} thread(s)")
    print(f"{'atoms':>8} {'kernel atom-steps/s':>20} {'us/atom':>8} {'with neighbour list':>20}")
    for reps in [(1, 1, 1), (2, 2, 3)]:
        pos, sym, cell = water_box(reps)
        species = pot.species(sym)
        t_total = best_time(lambda: pot._core.compute(pos, species, cell, True, True, True, False,
                                                      False, False, False), args.repeats)
        t_nl = best_time(lambda: _core.neighbor_list(pos, cell, True, model.cutoff), args.repeats)
        n = len(pos)
        kernel = t_total - t_nl
        print(f"{n:8d} {n / kernel:20.0f} {kernel / n * 1e6:8.1f} {n / t_total:20.0f}")


if __name__ == "__main__":
    main()
