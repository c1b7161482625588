"""Per-pair vs element-weighted symmetry functions on a 6-element EMT alloy (issue 13).

Data (the generator of examples/training/make_alloy_data.py): random fcc solid solutions of
Cu, Ag, Au, Ni, Pd, Pt (n x n x n conventional cells, 4 n^3 atoms, `--vacancy` removes one atom from every other cell; lattice constant from Vegard's rule,
+-2 % random strain), each run for a short Langevin MD with ASE's EMT at 300-900 K; frames every
10 steps. Training compositions and test compositions are different draws (no test composition
occurs in training). Every descriptor uses the same radial and angular grid; the weighted ones
with k = `--channels` channels, fixed Chebyshev weights, and with `--learn` also with learned
weights (symmetry_functions.learn_weights, docs/training.md).

Each training runs in its own process (peak resident memory from wait4, CPU time); `--lammps`
also times NVE MD of every exported model in LAMMPS (a test cell replicated to ~`--md-atoms`
atoms, 1 rank, 1 thread, µs of pair time per atom-step, best of `--md-repeats`).

    # small (README "Accuracy on unseen compositions, small")
    OMP_NUM_THREADS=1 python benchmarks/many_elements_training.py [--train-comps 20] [--epochs 30]
    # the issue's size: 107-108-atom cells, 300 training frames of 30 compositions, 100 test
    # frames of 20 other compositions
    OMP_NUM_THREADS=1 python benchmarks/many_elements_training.py --cells 3 --vacancy \
        --train-comps 30 --test-comps 20 --frames 10 --test-frames 5 --channels 3 --learn \
        --lammps --json results.json --out runs/many

Prints functions per atom, test energy / force MAE, seconds per epoch, peak memory (and LAMMPS
µs/atom-step) for each descriptor.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.io import read, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "training"))
from make_alloy_data import ELEMENTS, frames_for  # noqa: E402  (the data generator)

MD = """plugin load {plugin}
units metal
atom_style atomic
boundary p p p
atom_modify map array
read_data {data}
{masses}
pair_style kizuna {model} extrapolation ignore
pair_coeff * * {elements}
velocity all create 600 4928459 mom yes rot yes dist gaussian
neighbor 1.0 bin
timestep 0.002
fix 1 all nve
thermo {steps}
run {steps}
"""


def train_one(cfg_path: Path, result_path: Path) -> None:
    """Child process: one training run; its metrics to ``result_path``."""
    from kizuna.model_io import read_model
    from kizuna.training import train

    cfg = json.loads(cfg_path.read_text())
    t0 = time.perf_counter()
    result = train(cfg)
    test, val = result["metrics"]["test"], result["metrics"]["validation"]
    with open(Path(result["directory"]) / "log.csv") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    model = read_model(result["model"])
    result_path.write_text(json.dumps({
        "model": str(result["model"]), "functions": model.element_models[0].num_features,
        "test_energy_mae_meV_atom": test["energy"][0],  # metrics: meV/atom
        "test_forces_mae_eV_A": test["forces"][0],
        "val_energy_mae_meV_atom": val["energy"][0], "val_forces_mae_eV_A": val["forces"][0],
        "seconds_per_epoch": float(np.median(seconds)), "epochs": len(seconds),
        "wall_s": time.perf_counter() - t0,
        "weights": {e: list(w) for e, w in model.channel_weights.items()}}))


def run_training(cfg: dict, work: Path) -> dict:
    """Train in a child process: its results, peak RSS (MB) and CPU time (s) from wait4."""
    cfg_path = work / (Path(cfg["output"]["directory"]).name + ".json")
    result_path = cfg_path.with_suffix(".result.json")
    cfg_path.write_text(json.dumps(cfg))
    proc = subprocess.Popen([sys.executable, __file__, "--one", str(cfg_path),
                             str(result_path)])
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"training {cfg_path} failed")
    out = json.loads(result_path.read_text())
    out.update(peak_rss_mb=usage.ru_maxrss / 1024.0, cpu_s=usage.ru_utime + usage.ru_stime)
    return out


def lammps_us_per_atom_step(models: dict, frame, work: Path, atoms_target: int, steps: int,
                            repeats: int, triplets: bool = False) -> dict:
    """CPU µs per atom-step of each model in LAMMPS NVE MD (1 rank, 1 thread): the process CPU
    time (wait4) of a run of 2 * ``steps`` minus that of ``steps`` steps, over steps * atoms
    (setup cancels; CPU time, unlike wall time, barely depends on other jobs sharing the
    machine); the least of ``repeats`` interleaved repeats. ``triplets``: every model also
    with its wide angular functions on the triplet list (KIZUNA_ANGULAR_MOMENTS=0, label
    "<label> (triplets)") instead of moment tensors."""
    from ase.data import atomic_masses, atomic_numbers

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lammps_throughput import run_lammps

    from kizuna.lammps import plugin_path

    n = max(1, round((atoms_target / len(frame)) ** (1 / 3)))
    big = frame.repeat((n, n, n))
    data = work / "md.data"
    write(data, big, format="lammps-data", specorder=ELEMENTS, masses=False)
    masses = "\n".join(f"mass {k + 1} {atomic_masses[atomic_numbers[e]]:.4f}"
                       for k, e in enumerate(ELEMENTS))
    runs = [(label, model, False) for label, model in models.items()]
    if triplets:
        runs += [(f"{label} (triplets)", model, True) for label, model in models.items()]
    best = {}
    for r in range(repeats):
        for label, model, on_triplets in runs:
            cpu = []
            for nsteps in (steps, 2 * steps):
                script = MD.format(plugin=plugin_path(), data=data, masses=masses, model=model,
                                   elements=" ".join(ELEMENTS), steps=nsteps)
                name = label.replace(" ", "_").replace("(", "").replace(")", "")
                if on_triplets:
                    os.environ["KIZUNA_ANGULAR_MOMENTS"] = "0"  # read when LAMMPS loads the model
                try:
                    res = run_lammps(script, work / "md" / f"{name}_{r}_{nsteps}")
                finally:
                    os.environ.pop("KIZUNA_ANGULAR_MOMENTS", None)
                cpu.append(res["process_cpu_s"])
            us = 1e6 * (cpu[1] - cpu[0]) / (steps * len(big))
            if label not in best or us < best[label]["us"]:
                best[label] = {"us": us, "atoms": len(big)}
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-comps", type=int, default=20)
    parser.add_argument("--test-comps", type=int, default=8)
    parser.add_argument("--frames", type=int, default=5, help="frames per training composition")
    parser.add_argument("--test-frames", type=int, default=None,
                        help="frames per test composition (default: --frames)")
    parser.add_argument("--cells", type=int, default=2, help="fcc cells per axis (4 n^3 atoms)")
    parser.add_argument("--vacancy", action="store_true",
                        help="remove one atom from every other cell")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lbfgs-epochs", type=int, default=0)
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 32])
    parser.add_argument("--channels", type=int, nargs="*", default=[2],
                        help="weighted variants to train (besides the per-pair one)")
    parser.add_argument("--learn", action="store_true",
                        help="also train every weighted variant with learned weights")
    parser.add_argument("--no-pair", action="store_true", help="skip the per-pair descriptor")
    parser.add_argument("--lammps", action="store_true", help="time MD of every model")
    parser.add_argument("--md-atoms", type=int, default=3000)
    parser.add_argument("--md-steps", type=int, default=20)
    parser.add_argument("--md-repeats", type=int, default=2)
    parser.add_argument("--md-triplets", action="store_true",
                        help="also time every model with its wide angular functions on the "
                        "triplet list (KIZUNA_ANGULAR_MOMENTS=0) instead of moment tensors")
    parser.add_argument("--seed", type=int, default=1, help="training seed (the data are "
                        "always drawn with seed 13)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--out", default=None)
    parser.add_argument("--md-only", action="store_true",
                        help="only time the models of an earlier run (--out, its --json)")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return train_one(Path(args.one[0]), Path(args.one[1]))
    if args.md_only:
        work = Path(args.out).resolve()
        saved = json.loads(Path(args.json).read_text())
        rows = saved["results"]
        md = lammps_us_per_atom_step({k: r["model"] for k, r in rows.items()},
                                     read(work / "test.extxyz", 0), work, args.md_atoms,
                                     args.md_steps, args.md_repeats, args.md_triplets)
        for label, m in md.items():
            key = "lammps_us_per_atom_step"
            if label.endswith(" (triplets)"):
                label, key = label[: -len(" (triplets)")], "lammps_triplets_us_per_atom_step"
            rows[label][key] = m["us"]
            rows[label]["lammps_atoms"] = m["atoms"]
            rows[label].pop("lammps_wall_us_per_atom_step", None)
        Path(args.json).write_text(json.dumps(saved, indent=1))
        return report(rows)
    rng = np.random.default_rng(13)
    work = Path(args.out or tempfile.mkdtemp(prefix="kizuna-many-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not (work / "test.extxyz").is_file():  # the data of an earlier run in --out are reused
        write(work / "train.extxyz", frames_for(rng, args.train_comps, args.frames, args.cells,
                                                args.vacancy))
        write(work / "test.extxyz", frames_for(rng, args.test_comps,
                                               args.test_frames or args.frames, args.cells,
                                               args.vacancy))
    n_train, n_test = len(read(work / "train.extxyz", ":")), len(read(work / "test.extxyz", ":"))
    atoms = sorted({len(a) for a in read(work / "test.extxyz", ":")})
    print(f"data: {n_train} training frames ({args.train_comps} compositions), {n_test} test "
          f"frames ({args.test_comps} other compositions), {atoms} atoms, "
          f"{time.perf_counter() - t0:.0f} s; {work}", flush=True)
    grid = {"cutoff": 5.0, "n_radial": 12, "n_angular": 16, "zetas": [1, 4],
            "angular_kind": "angular_wide", "angular_mode": "shifted", "r_min": 1.5}
    variants = []  # weighted first, the per-pair set (slowest to train) last
    for k in args.channels:
        variants.append((f"weighted k={k}", {"element_mode": "weighted", "channels": k}))
        if args.learn:
            variants.append((f"learned k={k}", {"element_mode": "weighted", "channels": k,
                                                "learn_weights": True}))
    if not args.no_pair:
        variants.append(("pair", {"element_mode": "pair"}))
    rows = {}
    for label, extra in variants:
        name = label.replace(" ", "_").replace("=", "") + \
            (f"_seed{args.seed}" if args.seed != 1 else "")
        cfg = {"seed": args.seed, "threads": args.threads,
               "output": {"directory": str(work / name),
                          "progress": "none", "plots": False},
               "data": {"train": str(work / "train.extxyz"),
                        "test": str(work / "test.extxyz"), "validation_fraction": 0.1},
               "symmetry_functions": {**grid, **extra},
               "model": {"hidden_layers": list(args.hidden), "elements": ELEMENTS},
               "loss": {"forces_weight": 0.1},
               "training": {"epochs": args.epochs, "batch_size": 8, "learning_rate": 0.005,
                            "lbfgs_epochs": args.lbfgs_epochs}}
        rows[label] = run_training(cfg, work)
        print(f"{label}: {json.dumps(rows[label])}", flush=True)
    if args.lammps:
        frame = read(work / "test.extxyz", 0)
        md = lammps_us_per_atom_step({k: r["model"] for k, r in rows.items()}, frame, work,
                                     args.md_atoms, args.md_steps, args.md_repeats)
        for label, m in md.items():
            rows[label]["lammps_us_per_atom_step"] = m["us"]
            rows[label]["lammps_atoms"] = m["atoms"]
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": rows}, indent=1))
    report(rows)


def report(rows: dict) -> None:
    print(f"{'descriptor':<14} {'functions/atom':>15} {'test E MAE meV/atom':>20} "
          f"{'test F MAE eV/A':>16} {'s/epoch':>8} {'peak MB':>8} {'MD us/atom-step':>16} "
          f"{'(triplets)':>11}")
    for label, r in rows.items():
        md_us = r.get("lammps_us_per_atom_step", float("nan"))
        md_t = r.get("lammps_triplets_us_per_atom_step", float("nan"))
        print(f"{label:<14} {r['functions']:15d} {r['test_energy_mae_meV_atom']:20.2f} "
              f"{r['test_forces_mae_eV_A']:16.3f} {r['seconds_per_epoch']:8.2f} "
              f"{r['peak_rss_mb']:8.0f} {md_us:16.1f} {md_t:11.1f}")


if __name__ == "__main__":
    main()
