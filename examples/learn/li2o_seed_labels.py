"""Seed a new `kizuna learn` run folder with the sound labels of an earlier run.

    python examples/learn/li2o_seed_labels.py OLD_RUN NEW_RUN [--min-distance 1.2] [--max-force 10]

Copies the labelled structures of OLD_RUN/labelled.xyz (reference energies, forces and stresses
as they are: no reference call is repeated) into NEW_RUN/labelled.xyz, leaving out the
structures of a run-away MD: two atoms closer than --min-distance (Å) or a force component
above --max-force (eV/Å). `kizuna learn` on NEW_RUN then finds its labels (the earlier
bootstrap structures count as its own: no new bootstrap calls), trains its first committee on
them and runs its own stages. Used for examples/learn/li2o_diffusion.yaml: the earlier run of
that example (1,100 steps of the 96-site cell in ASE) had labelled frames of an MD that had
collapsed at 1200 K (Li-O at 0.5-1.0 Å, forces up to 100 eV/Å); trained on, they kept the
committee's force error at ~2.8 eV/Å.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from ase.io import read, write
from ase.neighborlist import neighbor_list


def sound(atoms, min_distance: float, max_force: float) -> bool:
    """No pair closer than min_distance (Å) and no force component above max_force (eV/Å)."""
    d = neighbor_list("d", atoms, min_distance)
    return len(d) == 0 and float(np.abs(atoms.get_forces()).max()) <= max_force


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old_run", type=Path)
    p.add_argument("new_run", type=Path)
    p.add_argument("--min-distance", type=float, default=1.2, help="Å (default 1.2)")
    p.add_argument("--max-force", type=float, default=10.0, help="eV/Å (default 10)")
    a = p.parse_args(argv)
    source = a.old_run / "labelled.xyz"
    target = a.new_run / "labelled.xyz"
    if not source.is_file():
        sys.exit(f"{source}: no such file (the earlier run's labels)")
    if target.exists():
        sys.exit(f"{target} exists: seed an empty run folder only")
    frames = read(source, ":", format="extxyz")
    kept = [f for f in frames if sound(f, a.min_distance, a.max_force)]
    a.new_run.mkdir(parents=True, exist_ok=True)
    write(target, kept, format="extxyz")
    print(f"{target}: {len(kept)} of {len(frames)} labelled structures of {source} "
          f"({len(frames) - len(kept)} left out: a pair closer than {a.min_distance} Å or a "
          f"force above {a.max_force} eV/Å)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
