"""Accuracy-speed trade-off of symmetry-function selection (Zuo et al. Si data).

Trains the mlearn configuration (examples/training/mlearn.yaml, 80 functions) with
``symmetry_functions.select: {method: qr, fraction: f}`` for each f of --fractions (1 = no
selection), one run after the other, then measures in ONE process, interleaved round-robin:
the core's time per atom-step (energy + forces, Python API, 1 thread) on a rattled 1000-atom
diamond Si cell (5x5x5 cubic cells, a = 5.431 Å): median and fastest of --repeats rounds. Test MAE
are the core's errors on Si_test.xyz (the run's metrics.json).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/selection_tradeoff.py          # ~20 min
    # a sensitivity-selected model of the same size, timed and tabulated with the others:
    kizuna select runs/selection/keep100 --fraction 0.25 --method sensitivity \
        -o runs/selection/sens025.yaml --directory runs/selection/sens025 --train
    python benchmarks/selection_tradeoff.py --report-only --also sens025=runs/selection/sens025
    python benchmarks/selection_tradeoff.py --report-only   # re-time finished runs
    python benchmarks/selection_tradeoff.py --quick         # tiny pipeline check (~1 min)

Training is shortened by default (--set-s below: 60 Adam epochs + 20 L-BFGS, no second stage);
pass --full for the complete mlearn schedule. Writes --out/results.json, results.md and
pareto.png.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from mlearn_accuracy import shared_candidates, shared_data  # noqa: E402

SHORT = ["training.epochs=60", "training.lbfgs_epochs=20", "training.stage_two_epochs=0"]
QUICK = ["data.max_structures=30", "training.epochs=3", "training.lbfgs_epochs=1",
         "training.stage_two_epochs=0", "symmetry_functions.n_radial=6",
         "symmetry_functions.n_angular=16", "model.hidden_layers=[8,8]"]


def run_name(fraction: float) -> str:
    return f"keep{int(round(100 * fraction)):03d}"


def train(args, data: Path, fraction: float, extra: list) -> None:
    out = Path(args.out) / run_name(fraction)
    sets = [f"data.train={data / 'Si_train.xyz'}", f"data.test={data / 'Si_test.xyz'}",
            f"output.directory={out}", f"threads={args.threads}", "output.progress=epoch",
            *extra]
    if fraction < 1.0:
        sets += ["symmetry_functions.select.method=qr",
                 f"symmetry_functions.select.fraction={fraction}"]
    cmd = [sys.executable, "-m", "kizuna.cli", "train", str(args.config)]
    for s in sets:
        cmd += ["--set", s]
    start = time.monotonic()
    print(f"[{time.strftime('%H:%M:%S')}] {run_name(fraction)}: training", flush=True)
    with open(Path(args.out) / f"{run_name(fraction)}.log", "a") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                              env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
    if proc.returncode:
        raise SystemExit(f"{run_name(fraction)}: training failed (exit {proc.returncode}); "
                         f"see {Path(args.out) / (run_name(fraction) + '.log')}")
    print(f"[{time.strftime('%H:%M:%S')}] {run_name(fraction)}: done in "
          f"{(time.monotonic() - start) / 60:.1f} min", flush=True)


def timing_cell(repeat: int = 5):
    """Rattled diamond Si, repeat^3 cubic cells (8 repeat^3 atoms)."""
    from ase.build import bulk

    atoms = bulk("Si", "diamond", a=5.431, cubic=True).repeat(repeat)
    atoms.rattle(0.05, seed=0)
    return atoms


def time_models(paths: dict, repeats: int) -> dict:
    """name -> (median, fastest) seconds per atom-step (energy + forces), rounds interleaved
    (on a shared machine the fastest round is the least disturbed one)."""
    from kizuna import Potential

    atoms = timing_cell()
    args = (atoms.positions, atoms.get_chemical_symbols(), atoms.cell.array, True)
    pots = {k: Potential(str(p), threads=1) for k, p in paths.items()}
    for pot in pots.values():
        pot.compute(*args)  # warm-up (neighbour search buffers, caches)
    times = {k: [] for k in pots}
    for _ in range(repeats):
        for k, pot in pots.items():
            t0 = time.perf_counter()
            pot.compute(*args)
            times[k].append(time.perf_counter() - t0)
    return {k: (float(np.median(v)) / len(atoms), float(np.min(v)) / len(atoms))
            for k, v in times.items()}


def collect(args, fractions) -> list:
    from kizuna.model_io import read_model

    paths = {run_name(f): Path(args.out) / run_name(f) / "model.kzn" for f in fractions}
    extra = dict(item.split("=", 1) for item in args.also)
    paths.update({name: Path(run) / "model.kzn" for name, run in extra.items()})
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"missing models: {missing}")
    per_atom = time_models(paths, args.repeats)
    full = per_atom[run_name(max(fractions))]
    rows = []
    n_full = len(read_model(paths[run_name(max(fractions))]).element("Si").symmetry_functions)
    for name in paths:
        m = json.loads((paths[name].parent / "metrics.json").read_text())["metrics"]["test"]
        model = read_model(paths[name])
        n = len(model.element("Si").symmetry_functions)
        rows.append({"fraction": n / n_full, "run": name,
                     "functions": n,
                     "energy_mae_meV_atom": m["energy"][0], "forces_mae_eV_A": m["forces"][0],
                     "us_per_atom_step": 1e6 * per_atom[name][0],
                     "time_ratio": per_atom[name][0] / full[0],
                     "us_per_atom_step_fastest": 1e6 * per_atom[name][1],
                     "time_ratio_fastest": per_atom[name][1] / full[1]})
    return rows


def table(rows) -> str:
    lines = ["| run | keep | functions per atom | test energy MAE (meV/atom) | test force MAE (eV/Å) | "
             "time per atom-step (µs, median / fastest) | ratio to full (median / fastest) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {100 * r['fraction']:.0f} % | {r['functions']} | "
                     f"{r['energy_mae_meV_atom']:.2f} | {r['forces_mae_eV_A']:.4f} | "
                     f"{r['us_per_atom_step']:.1f} / {r['us_per_atom_step_fastest']:.1f} | "
                     f"{r['time_ratio']:.2f} / {r['time_ratio_fastest']:.2f} |")
    return "\n".join(lines)


def plot(rows, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    x = [r["us_per_atom_step"] for r in rows]
    for ax, key, label in ((axes[0], "energy_mae_meV_atom", "test energy MAE (meV/atom)"),
                           (axes[1], "forces_mae_eV_A", "test force MAE (eV/Å)")):
        y = [r[key] for r in rows]
        qr = [k for k, r in enumerate(rows) if r["run"].startswith("keep")]
        ax.plot([x[k] for k in qr], [y[k] for k in qr], "o-", label="pivoted QR")
        others = [k for k in range(len(rows)) if k not in qr]
        if others:
            ax.plot([x[k] for k in others], [y[k] for k in others], "s", label="other")
            ax.legend(fontsize=8)
        for r, xi, yi in zip(rows, x, y):
            ax.annotate(f"{r['run']}: {r['functions']} SF", (xi, yi), textcoords="offset points",
                        xytext=(5, 5), fontsize=8)
        ax.set_xlim(left=0)
        ax.set_xlabel("core time per atom-step (µs, 1 thread)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle("Si (Zuo et al.): pivoted-QR selection of symmetry functions")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "examples" / "training" / "mlearn.yaml"))
    parser.add_argument("--out", default=str(REPO / "runs" / "selection"))
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.5, 0.25])
    parser.add_argument("--threads", type=int, default=1, help="threads per training")
    parser.add_argument("--repeats", type=int, default=21, help="timing rounds (median)")
    parser.add_argument("--full", action="store_true", help="the complete mlearn schedule")
    parser.add_argument("--quick", action="store_true", help="tiny pipeline check (tests/data)")
    parser.add_argument("--report-only", action="store_true", help="only time finished runs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=RUN_DIR",
                        help="another finished run (e.g. from kizuna select --method "
                        "sensitivity) to time and tabulate with the others")
    args = parser.parse_args(argv)
    if args.quick:
        data = REPO / "tests" / "data" / "mlearn" / "Si"
        extra = QUICK
    else:
        data = shared_data(shared_candidates())
        if data is None:
            print("mlearn data NOT FOUND (set KIZUNA_SHARED to the shared folder); or --quick")
            return 2
        extra = [] if args.full else list(SHORT)
    extra += args.set
    Path(args.out).mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    if not args.report_only:
        for f in args.fractions:
            train(args, data, f, extra)
    rows = collect(args, args.fractions)
    text = table(rows)
    print(f"\nwall time {(time.monotonic() - start) / 60:.1f} min; overrides: {extra}\n{text}")
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps({"overrides": extra, "rows": rows}, indent=1))
    (out / "results.md").write_text(text + "\n")
    plot(rows, out / "pareto.png")
    print(f"written: {out / 'results.md'}, {out / 'pareto.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
