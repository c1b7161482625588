"""Label, with the reference, where a student's diffusion MD fuses two atoms.

    python examples/learn/li2o_close_pairs.py RUN [--temperature 1600] [--pairs 6] [--rattle 2]

Replays the model side of ``kizuna validate examples/validate/li2o_diffusion.yaml`` at one
temperature with RUN/committee.kzn: the same relaxation, cell, vacancies, seed (seed + the
temperature's index) and LAMMPS MD, so the same trajectory, with the same guards (the
close-pair guard at min_distance: auto, the extrapolation stop). If a guard stops it, the
script labels with the reference (CHGNet unless --reference) and appends to RUN/labelled.xyz:

* the stopping frame and the recorded frames 2, 10, 20 and 50 steps before it;
* ``--rattle`` copies of the stopping frame, Gaussian displacements of 0.05 Å;
* ``--pairs`` structures per pair type O-O, Li-O, Li-Li: in the frame 50 steps before the
  stop, the closest pair of that type pushed along its axis (both atoms, symmetrically) to a
  distance evenly spaced in PAIR_RANGES (Å): the short-range repulsion the student lacks.

``kizuna learn examples/learn/li2o_diffusion.yaml`` then resumes RUN: it trains (warm start) on
the new labels and goes on with its MD stages. Run both again until this script says the run
passed (exit 0 and nothing labelled); exit 3 when it labelled something.
"""
from __future__ import annotations

import argparse
import sys
from collections import deque
from pathlib import Path

import numpy as np

from kizuna.calculator import Calculator
from kizuna.learn.reference import make_reference
from kizuna.learn.store import LabelledStore
from kizuna.properties.common import Watched, closest_pair, guard_md, relax_cell
from kizuna.properties.config import load_validate_config
from kizuna.properties.diffusion import run_temperature_lammps
from kizuna.properties.suite import start_structure
from kizuna.runfolder import RunLock

# target distances (Å) of the pushed pairs; the relaxed crystal's nearest pairs are Li-O
# 2.02, Li-Li 2.33, O-O 3.29 Å (CHGNet's hot Li_1.75O also forms O-O pairs near 1.5 Å,
# peroxide-like); the guard stops below 0.65 x 2.02 = 1.31 Å
PAIR_RANGES = {("O", "O"): (1.15, 2.0), ("Li", "O"): (1.25, 1.8), ("Li", "Li"): (1.35, 2.1)}
BEFORE = (2, 10, 20, 50)   # steps before the stop whose frames are labelled too
RATTLE = 0.05              # Å


def replay(cfg: dict, model_path: Path, temperature: float):
    """The model side of the suite's diffusion run at ``temperature``: (frames as
    {step: atoms} of the last 60 recorded ones, the guard's message or None)."""
    calc = Watched(Calculator(str(model_path), threads=cfg["threads"], extrapolation="warn"))
    a = start_structure(cfg).copy()
    a.calc = calc
    if cfg["relax"]["cell"]:
        relax_cell(a, cfg["relax"]["fmax"], cfg["relax"]["steps"])
    a.calc = None
    d = cfg["properties"]["diffusion"]
    if temperature not in d["temperatures"]:
        sys.exit(f"--temperature {temperature:g}: not one of the config's {d['temperatures']}")
    seed = cfg["seed"] + d["temperatures"].index(temperature)   # as diffusion._run_all
    calc.reset_watch()
    guard_md(calc, d, "diffusion", a, "model")
    watch = calc.watch
    frames = deque(maxlen=60)
    check = watch.check_distances

    def recording(atoms, where, step):
        frames.append((step, atoms.copy()))
        check(atoms, where, step)

    watch.check_distances = recording
    try:
        run_temperature_lammps(a, str(model_path), cfg["threads"], watch, d, temperature, seed,
                               d["supercell"], d["vacancies"])
    except RuntimeError as exc:   # the close-pair guard or the extrapolation stop
        return dict(frames), str(exc)
    return dict(frames), None


def pushed(atoms, pair, distance: float):
    """``atoms`` with the closest ``pair`` (symbols) moved to ``distance`` Å apart, or None."""
    sym = np.array(atoms.get_chemical_symbols())
    from ase.neighborlist import neighbor_list

    i, j, dvec, dist = neighbor_list("ijDd", atoms, 3.5)
    ok = (sym[i] == pair[0]) & (sym[j] == pair[1]) & (i != j)
    if not ok.any():
        return None
    k = np.flatnonzero(ok)[np.argmin(dist[ok])]
    u = dvec[k] / dist[k]
    out = atoms.copy()
    shift = 0.5 * (distance - dist[k]) * u
    out.positions[i[k]] -= shift
    out.positions[j[k]] += shift
    return out


def to_label(frames: dict, n_pairs: int, n_rattle: int, rng) -> list:
    """(atoms, info) of the structures to label (see the module docstring)."""
    steps = sorted(frames)
    last = steps[-1]
    out = [(frames[last], {"kind": "stop", "step": last})]
    for before in BEFORE:
        s = max((t for t in steps if t <= last - before), default=None)
        if s is not None:
            out.append((frames[s], {"kind": "before_stop", "step": s}))
    for k in range(n_rattle):
        r = frames[last].copy()
        r.positions += rng.normal(0.0, RATTLE, r.positions.shape)
        out.append((r, {"kind": "rattled_stop", "step": last, "index": k}))
    base_step = max((t for t in steps if t <= last - BEFORE[-1]), default=steps[0])
    for pair, (lo, hi) in PAIR_RANGES.items():
        for target in np.linspace(lo, hi, n_pairs):
            p = pushed(frames[base_step], pair, float(target))
            if p is not None:
                out.append((p, {"kind": f"pushed_{pair[0]}-{pair[1]}", "step": base_step,
                                "distance_A": round(float(target), 4)}))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="the kizuna learn folder (committee.kzn, labelled.xyz)")
    p.add_argument("--validate", type=Path,
                   default=Path(__file__).parents[1] / "validate" / "li2o_diffusion.yaml")
    p.add_argument("--temperature", type=float, default=1600.0, help="K (default 1600)")
    p.add_argument("--pairs", type=int, default=6, help="pushed pairs per pair type")
    p.add_argument("--rattle", type=int, default=2, help="rattled copies of the stop frame")
    p.add_argument("--reference", default="chgnet")
    a = p.parse_args(argv)
    model = a.run / "committee.kzn"
    if not model.is_file():
        sys.exit(f"{model}: no such file (run kizuna learn first)")
    cfg = load_validate_config(str(a.validate))
    frames, stop = replay(cfg, model, a.temperature)
    if stop is None:
        print(f"{a.temperature:g} K: the model's run passed its guards "
              f"({max(frames)} steps); nothing labelled")
        return 0
    last = max(frames)
    pair = closest_pair(frames[last], 6.0)
    print(f"{a.temperature:g} K: stopped at step {last} (closest pair {pair[2]:.3f} Å, atoms "
          f"{pair[0]}-{pair[1]}): {stop.split(': the model')[0]}")
    rng = np.random.default_rng(int(a.temperature) + last)
    todo = to_label(frames, a.pairs, a.rattle, rng)
    ref = make_reference(a.reference)
    store = LabelledStore(a.run / "labelled.xyz")
    done = 0
    with RunLock(a.run, "li2o_close_pairs.py"):   # no kizuna learn meanwhile
        for atoms, info in todo:
            work = atoms.copy()
            work.calc = ref
            energy, forces = work.get_potential_energy(), work.get_forces()
            stress = work.get_stress()
            store.append(atoms, energy, forces, stress,
                         {"source": "close_pairs", "temperature": a.temperature, **info})
            done += 1
            print(f"  {info['kind']:>14} step {info['step']}: "
                  f"closest {closest_pair(atoms, 6.0)[2]:.3f} Å, |F|max "
                  f"{np.linalg.norm(forces, axis=1).max():.2f} eV/Å")
    print(f"{store.path}: {done} structures appended ({len(store)} in all); now resume "
          "kizuna learn on this folder (it trains on them first)")
    return 3


if __name__ == "__main__":
    raise SystemExit(main())
