"""Per-pair vs element-weighted descriptors on the labels of a CHGNet distillation (issue 13).

After `kizuna learn examples/distill/nmc_chgnet.yaml` the run folder holds every CHGNet label
the committee asked for (labelled.xyz) and the held-out CHGNet trajectory (test.xyz, never
labelled). This trains one model (no committee) per descriptor on exactly those labels, from
scratch, with the same grid (the run's training.symmetry_functions), network, loss and epochs,
and scores each on test.xyz against CHGNet:

  weighted k=K   element_mode: weighted, K channels, fixed Chebyshev weights (the run's)
  learned k=K    the same with learn_weights: true (the E x K weights trained too)
  pair           element_mode: pair: n_radial E + n_angular E(E+1)/2 functions per atom

Each training runs in a child process: peak resident memory (wait4), CPU seconds, median
seconds per epoch (log.csv); then each model's cost per atom-step (energy and forces through
kizuna's core, one thread, CPU time) on a held-out frame repeated to >= 1,000 atoms. The
committee student of the run itself is the first row (its summary.json test: the committee
mean over the same frames).

    OMP_NUM_THREADS=1 python examples/distill/nmc_descriptors.py runs/distill-nmc \
        [--epochs 150] [--lbfgs-epochs 30] [--seed N] [--json out.json]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def train_one(cfg_path: Path, result_path: Path) -> None:
    """Child process: one training run; its metrics to ``result_path``."""
    from kizuna.model_io import read_model
    from kizuna.training import train

    cfg = json.loads(cfg_path.read_text())
    result = train(cfg)
    test = result["metrics"]["test"]
    with open(Path(result["directory"]) / "log.csv") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    model = read_model(result["model"])
    result_path.write_text(json.dumps({
        "model": str(result["model"]),
        "functions": model.element_models[0].num_features,
        "test_energy_mae_meV_atom": test["energy"][0],     # metrics: meV/atom, eV/Å
        "test_forces_mae_eV_A": test["forces"][0],
        "seconds_per_epoch": float(np.median(seconds)), "epochs": len(seconds),
        "weights": {e: [float(x) for x in w] for e, w in model.channel_weights.items()}}))


def cpu_us_per_atom_step(model, frame, atoms=1000, calls=5, repeats=3) -> float:
    """CPU µs per atom for one energy + forces evaluation (kizuna's core through Python, one
    thread) on ``frame`` repeated to >= ``atoms`` atoms: best of ``repeats`` x ``calls``
    (process CPU time, robust to other jobs on the machine)."""
    import time

    from kizuna import Potential

    n = 1
    while len(frame) * n ** 3 < atoms:
        n += 1
    big = frame.repeat((n, n, n))
    pot = Potential(model, threads=1)
    pot.compute_atoms(big)                                   # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        for _ in range(calls):
            pot.compute_atoms(big)
        best = min(best, (time.process_time() - t) / calls / len(big) * 1e6)
    return best


def run_training(cfg: dict, work: Path) -> dict:
    cfg_path = work / (Path(cfg["output"]["directory"]).name + ".json")
    result_path = cfg_path.with_suffix(".result.json")
    cfg_path.write_text(json.dumps(cfg))
    proc = subprocess.Popen([sys.executable, __file__, "--one", str(cfg_path), str(result_path)])
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"training {cfg_path} failed")
    out = json.loads(result_path.read_text())
    out.update(peak_rss_mb=usage.ru_maxrss / 1024.0, cpu_s=usage.ru_utime + usage.ru_stime)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", help="a finished kizuna learn run folder")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--lbfgs-epochs", type=int, default=30)
    parser.add_argument("--only", nargs="*", default=None,
                        help="descriptors to train (weighted, learned, pair; default all)")
    parser.add_argument("--seed", type=int, default=None,
                        help="training seed (default: the run's seed)")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        return train_one(Path(args.one[0]), Path(args.one[1]))
    if args.run is None:
        parser.error("the run folder is required")

    from ase.io import read

    from kizuna.learn.config import load_learn_config

    run = Path(args.run).resolve()
    for name in ("labelled.xyz", "test.xyz", "config.yaml"):
        if not (run / name).is_file():
            raise SystemExit(f"{run}: no {name}; run kizuna learn with test.trajectory_steps "
                             f"> 0 to the end first")
    cfg = load_learn_config(run / "config.yaml")
    labels, test = read(run / "labelled.xyz", ":"), read(run / "test.xyz", ":")
    elements = sorted({s for a in labels for s in a.get_chemical_symbols()})
    sf = dict(cfg["training"]["symmetry_functions"])
    k = sf.get("channels", 2)
    print(f"{len(labels)} labels, {len(test)} held-out frames, elements {elements}", flush=True)
    variants = {"weighted": (f"weighted k={k}", {"element_mode": "weighted"}),
                "learned": (f"learned k={k}", {"element_mode": "weighted",
                                               "learn_weights": True}),
                "pair": ("pair", {"element_mode": "pair"})}
    rows = {}
    summary = run / "summary.json"
    if summary.is_file():
        t = json.loads(summary.read_text()).get("test")
        if t:
            rows["committee (the run)"] = {
                "functions": None, "test_energy_mae_meV_atom": t["energy_mae_meV_atom"],
                "test_forces_mae_eV_A": t["forces_mae_eV_A"]}
    seed = cfg["seed"] if args.seed is None else args.seed
    work = run / ("descriptors" if args.seed is None else f"descriptors-seed{seed}")
    work.mkdir(exist_ok=True)
    for key in args.only or list(variants):
        label, extra = variants[key]
        train_cfg = {
            "seed": seed, "threads": cfg["threads"],
            "output": {"directory": str(work / key), "progress": "none", "plots": False},
            "data": {**cfg["training"].get("data", {}), "train": str(run / "labelled.xyz"),
                     "test": str(run / "test.xyz")},
            "symmetry_functions": {**sf, **extra},
            "model": {**cfg["training"].get("model", {}), "elements": elements},
            "loss": cfg["training"].get("loss", {}),
            "training": {**cfg["training"].get("training", {}), "epochs": args.epochs,
                         "lbfgs_epochs": args.lbfgs_epochs}}
        rows[label] = run_training(train_cfg, work)
        rows[label]["cpu_us_per_atom_step"] = cpu_us_per_atom_step(rows[label]["model"],
                                                                   test[0])
        print(f"{label}: {json.dumps(rows[label])}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"run": str(run), "labels": len(labels),
                                               "test_frames": len(test), "args": vars(args),
                                               "results": rows}, indent=1))
    print(f"{'descriptor':<20} {'functions/atom':>15} {'E MAE meV/atom':>15} "
          f"{'F MAE meV/Å':>12} {'s/epoch':>8} {'peak MB':>8} {'CPU s':>7} {'µs/atom-step':>13}")
    for label, r in rows.items():
        f = "-" if r["functions"] is None else str(r["functions"])
        extra = (f"{r['seconds_per_epoch']:8.2f} {r['peak_rss_mb']:8.0f} {r['cpu_s']:7.0f} "
                 f"{r['cpu_us_per_atom_step']:13.1f}" if "cpu_s" in r else "")
        print(f"{label:<20} {f:>15} {r['test_energy_mae_meV_atom']:15.2f} "
              f"{1e3 * r['test_forces_mae_eV_A']:12.1f} {extra}")


if __name__ == "__main__":
    main()
