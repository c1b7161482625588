"""Accuracy on the Zuo et al. (2020) benchmark (Ni, Cu, Li, Mo, Si, Ge) with ONE config.

For each element: train on <el>_train.xyz (validation split from it), test on <el>_test.xyz
(the benchmark's fixed split), then evaluate the exported model with the compiled core and
compare the test MAE with the published GAP, MTP and NNP numbers (shared/data/README.md).

    python benchmarks/mlearn_accuracy.py              # all six, examples/training/mlearn.yaml
    python benchmarks/mlearn_accuracy.py --elements Si Ge --jobs 2
    python benchmarks/mlearn_accuracy.py --quick      # CI: Si subset from tests/data, ~1 min
    python benchmarks/mlearn_accuracy.py --report-only  # table from finished runs

Runs live in --out/<element> (default runs/mlearn) and are resumed when the script is
started again. The data are looked up in $KIZUNA_SHARED, <repo>/../shared, /work/shared (the
script says so and stops when they are missing; --quick uses the repository's Si copy).
Prints a table and writes --out/results.json and --out/results.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ELEMENTS = ["Ni", "Cu", "Li", "Mo", "Si", "Ge"]
#: test MAE, energy meV/atom and force eV/Å (shared/data/README.md)
PUBLISHED = {
    "GAP": {"Ni": (0.42, 0.02), "Cu": (0.46, 0.01), "Li": (0.49, 0.01), "Mo": (2.24, 0.09),
            "Si": (2.91, 0.07), "Ge": (2.06, 0.05)},
    "MTP": {"Ni": (0.48, 0.01), "Cu": (0.41, 0.01), "Li": (0.49, 0.01), "Mo": (2.83, 0.09),
            "Si": (2.21, 0.06), "Ge": (1.79, 0.05)},
    "NNP": {"Ni": (1.52, 0.030), "Cu": (1.15, 0.026), "Li": (0.75, 0.017), "Mo": (3.65, 0.125),
            "Si": (5.63, 0.109), "Ge": (4.89, 0.085)},
}


def shared_candidates() -> list:
    """Where the shared folder may be: $KIZUNA_SHARED, <repo>/../shared, /work/shared."""
    return [c for c in (os.environ.get("KIZUNA_SHARED"), REPO.parent / "shared", "/work/shared")
            if c]


def shared_data(candidates) -> Path | None:
    """The mlearn xyz folder (data/mlearn/xyz) of the first candidate that has it."""
    for candidate in candidates:
        if Path(candidate, "data", "mlearn", "xyz").is_dir():
            return Path(candidate) / "data" / "mlearn" / "xyz"
    return None


def train_command(config, element, train, test, out, threads, extra) -> list:
    sets = [f"data.train={train}", f"data.test={test}", f"output.directory={out / element}",
            f"threads={threads}", "output.progress=line", *extra]
    cmd = [sys.executable, "-c", "import sys; from kizuna.cli import main; "
           "sys.exit(main(sys.argv[1:]))", "train", str(config)]
    for s in sets:
        cmd += ["--set", s]
    return cmd


def run_all(args, data: Path, quick: bool) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = list(args.set)
    if quick:
        extra += ["data.max_structures=40", "training.epochs=4", "training.lbfgs_epochs=2",
                  "training.stage_two_epochs=2",
                  "symmetry_functions.n_radial=6", "symmetry_functions.n_angular=8",
                  "symmetry_functions.zetas=[1,4]", "model.hidden_layers=[8,8]"]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    pending = list(args.elements)
    running = {}
    while pending or running:
        while pending and len(running) < args.jobs:
            el = pending.pop(0)
            train, test = data / f"{el}_train.xyz", data / f"{el}_test.xyz"
            log = open(out / f"{el}.log", "a")
            cmd = train_command(args.config, el, train, test, out, args.threads, extra)
            print(f"[{time.strftime('%H:%M:%S')}] {el}: kizuna {' '.join(cmd[3:])}", flush=True)
            running[el] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            cwd=REPO), log, time.monotonic())
        time.sleep(2)
        for el, (proc, log, start) in list(running.items()):
            if proc.poll() is None:
                continue
            log.close()
            del running[el]
            status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
            print(f"[{time.strftime('%H:%M:%S')}] {el}: {status} in "
                  f"{(time.monotonic() - start) / 60:.1f} min; log {out / (el + '.log')}",
                  flush=True)
            if proc.returncode != 0:
                tail = (out / f"{el}.log").read_text().splitlines()[-3:]
                print("    " + "\n    ".join(tail), flush=True)


def evaluate(args, data: Path) -> dict:
    from kizuna.training import evaluate as evaluate_model

    out = Path(args.out)
    results = {}
    for el in args.elements:
        model = out / el / "model.kzn"
        if not model.is_file():
            print(f"{el}: no model at {model} (training not finished?)")
            continue
        metrics, _ = evaluate_model(model, [str(data / f"{el}_test.xyz")], threads=args.threads)
        m = metrics["data"]
        summary = json.loads((out / el / "metrics.json").read_text())["summary"]
        results[el] = {"energy_mae": m["energy"][0], "energy_rmse": m["energy"][1],
                       "forces_mae": m["forces"][0], "forces_rmse": m["forces"][1],
                       "epochs": summary["epochs"], "best_epoch": summary["best_epoch"]}
    return results


def table(results: dict) -> str:
    head = ("| element | kizuna E MAE | kizuna F MAE | NNP E / F | E ≤ NNP | F ≤ NNP | "
            "E / GAP | F / GAP | E / MTP | F / MTP |")
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for el, r in results.items():
        nnp, gap, mtp = (PUBLISHED[k][el] for k in ("NNP", "GAP", "MTP"))
        e, f = r["energy_mae"], r["forces_mae"]
        lines.append(f"| {el} | {e:.2f} meV/atom | {f:.4f} eV/Å | {nnp[0]:.2f} / {nnp[1]:.3f} | "
                     f"{'yes' if e <= nnp[0] else 'NO'} | {'yes' if f <= nnp[1] else 'NO'} | "
                     f"{e / gap[0]:.2f} | {f / gap[1]:.2f} | {e / mtp[0]:.2f} | {f / mtp[1]:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "examples" / "training" / "mlearn.yaml"))
    parser.add_argument("--elements", nargs="+", default=ELEMENTS, choices=ELEMENTS)
    parser.add_argument("--out", default=str(REPO / "runs" / "mlearn"))
    parser.add_argument("--jobs", type=int, default=1, help="elements trained at the same time")
    parser.add_argument("--threads", type=int, default=2, help="threads per training")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override for every element")
    parser.add_argument("--quick", action="store_true", help="small CI version: Si subset of "
                        "tests/data, tiny model, few epochs (checks the pipeline, not accuracy)")
    parser.add_argument("--report-only", action="store_true", help="only evaluate finished runs")
    parser.add_argument("--shared", help="the shared folder (default: $KIZUNA_SHARED, "
                        "<repo>/../shared, /work/shared)")
    args = parser.parse_args(argv)
    if args.quick:
        data = REPO / "tests" / "data" / "mlearn" / "Si"
        args.elements = ["Si"]
    else:
        candidates = [args.shared] if args.shared else shared_candidates()
        data = shared_data(candidates)
        if data is None:
            looked = ", ".join(map(str, candidates))
            print(f"mlearn data NOT FOUND: looked for data/mlearn/xyz in {looked}. "
                  "Set KIZUNA_SHARED (or --shared) to the shared folder that holds "
                  "data/mlearn/xyz/<el>_{train,test}.xyz, or use --quick.")
            return 2
    print(f"data: {data}\nconfig: {args.config}\nruns: {args.out}", flush=True)
    start = time.monotonic()
    if not args.report_only:
        run_all(args, data, args.quick)
    results = evaluate(args, data)
    text = table(results)
    print(f"\nTest-set MAE (kizuna, evaluated by the core on <el>_test.xyz) vs published "
          f"(Zuo et al. 2020; NNP re-evaluated); wall time {(time.monotonic() - start) / 60:.1f} "
          f"min\n{text}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"config": args.config, "results": results,
                                                  "published": PUBLISHED}, indent=1))
    (out / "results.md").write_text(text + "\n")
    beaten = all(r["energy_mae"] <= PUBLISHED["NNP"][el][0] and
                 r["forces_mae"] <= PUBLISHED["NNP"][el][1] for el, r in results.items())
    if not args.quick:
        print(f"\nkizuna test MAE <= published NNP for every element trained: "
              f"{'yes' if beaten and results else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
