"""A/B timing of two builds of the core driver (benchmarks/profile_core.cpp), alternating in the
same run so that load on a shared machine hits both alike. Each run reports the best CPU time
of its steps (process CPU time, not wall time); the table gives the median over the rounds and
the ratio new/old, and checks that both builds print the same energy and force checksum.

    python benchmarks/profile_core.py /tmp/kz_inputs              # water, mo, si inputs
    g++ ... -o /tmp/kz_old ; (change) ; g++ ... -o /tmp/kz_new     # see profile_core.cpp
    python benchmarks/core_ab.py /tmp/kz_old /tmp/kz_new --inputs /tmp/kz_inputs --rounds 5
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess


def run(binary, inputs, case, steps):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([binary, f"{inputs}/{case}.kzn", f"{inputs}/{case}.txt", str(steps)],
                         capture_output=True, text=True, env=env, check=True).stdout
    cpu = float(re.search(r"cpu ([0-9.]+) us/atom", out).group(1))
    checksum = re.search(r"E (\S+)  F (\S+)", out).groups()
    return cpu, checksum


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--inputs", default="/tmp/kz_inputs")
    p.add_argument("--cases", nargs="+", default=["water", "mo", "si"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3)
    a = p.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(f"{'case':>6} {'old us/atom':>12} {'new us/atom':>12} {'new/old':>8}  results")
    for case in a.cases:
        times = {"old": [], "new": []}
        sums = {}
        for _ in range(a.rounds):
            for key in ("old", "new"):
                cpu, sums[key] = run(getattr(a, key), a.inputs, case, a.steps)
                times[key].append(cpu)
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        same = "bitwise equal" if sums["old"] == sums["new"] else f"differ: {sums['old']} vs {sums['new']}"
        print(f"{case:>6} {old:12.2f} {new:12.2f} {new / old:8.3f}  {same}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
