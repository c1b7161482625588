"""Cost of a committee over a single model (same symmetry functions, 1 core).

Water (n2p2 H2O_RPBE-D3, 1,080 atoms): the single model, and committees of 4 and 8 members
(copies of its networks: only the cost matters here), evaluated (a) mean energy and forces only
and (b) with per-member forces (force spread / max force deviation). Prints the time per
evaluation and the overhead relative to the single model.

    OMP_NUM_THREADS=1 python benchmarks/committee_cost.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import kizuna
from kizuna.n2p2 import read_n2p2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from n2p2_reference import WATER_CFENERGY, WATER_CFLENGTH, load  # noqa: E402


def committee_of(model, size):
    out = copy.deepcopy(model)
    for em in out.element_models:
        em.members = [copy.deepcopy(em.members[0]) for _ in range(size)]
    return out


def best(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    single = read_n2p2(ROOT / "tests/data/n2p2/H2O_RPBE-D3", cflength=WATER_CFLENGTH,
                       cfenergy=WATER_CFENERGY)
    ref = load("cfg1_liquid1080")
    base = None
    print(f"{'model':<22} {'mode':<22} {'ms/eval':>9} {'overhead':>9}")
    for size in (1, 4, 8):
        pot = kizuna.Potential(committee_of(single, size), threads=1)
        modes = [("mean forces", {})]
        if size > 1:
            modes.append(("+ member forces", {"member_forces": True}))
        for label, kw in modes:
            t = best(lambda: pot.compute(ref.positions, ref.symbols, ref.cell, True, **kw),
                     args.repeats)
            base = base or t
            print(f"{'single' if size == 1 else f'committee of {size}':<22} {label:<22} "
                  f"{t * 1e3:9.1f} {100 * (t / base - 1):8.0f}%")


if __name__ == "__main__":
    main()
