"""Re-do only the FINAL training of a finished on-the-fly run (dft_speedup.py's learn phase)
with other loss weights, on the same labels, and score it on the run's kept DFT frames.

    nice -n 10 python benchmarks/dft_refinalise.py --run runs/dft200 --out runs/refinal-fw1 \
        --forces-weight 1.0 [--evaluate]

The final training of `kizuna learn` (committee.final_epochs Adam + final_lbfgs_epochs L-BFGS,
warm start) starts from the members written to <run>/learn/rounds/round<N>/init<k>.kzn (N: the
final round; the members already rescaled to all the labels' feature statistics). This script
copies those and labelled.xyz into --out (the run folder is only read) and calls
learn.committee.train_committee with the same round index (the same seeds, validation splits
and batch orders) and the same epochs; only training.loss is changed (--forces-weight,
--energy-weight). Written: <out>/committee.kzn, <out>/refinal.json (CPU seconds of this
process for the training, the members' validation metrics: each member's own
data.validation_fraction split of the labels).

--scratch FILE trains the final committee FROM SCRATCH instead (no warm start) with the
sections of the YAML FILE (symmetry_functions, model, loss, training: each given one replaces
the run's) on the same labels, same seeds and validation splits: a larger production model
trained on the labels the small exploring committee collected. --epochs ADAM LBFGS overrides
the final epochs (either mode). The loss weights default to the run's here.

--evaluate also scores the committee on <run>/accuracy_frames.xyz (the frames relabelled by
pw.x in dft_speedup.py's accuracy phase, never used for training) with dft_speedup.score:
<out>/accuracy.json. Decide the weights on the validation metrics, not on these frames.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def final_round(run_learn: Path) -> int:
    """Index of the final training round (the last 'trained' event with final=true)."""
    last = None
    for line in (run_learn / "events.jsonl").read_text().splitlines():
        ev = json.loads(line)
        if ev.get("event") == "trained" and ev.get("final"):
            last = ev["round"] - 1  # the event counts rounds from 1, folders from 0
    if last is None:
        raise SystemExit(f"{run_learn}/events.jsonl: no final training round recorded")
    return last


SCRATCH_SECTIONS = ("symmetry_functions", "model", "loss", "training")


def scratch_sections(path) -> dict:
    """The training sections of the --scratch YAML (only these keys; at least one)."""
    import yaml

    doc = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(doc, dict):
        raise SystemExit(f"{path}: expected a mapping of {', '.join(SCRATCH_SECTIONS)}")
    unknown = sorted(set(doc) - set(SCRATCH_SECTIONS))
    if unknown or not doc:
        raise SystemExit(f"{path}: sections {unknown or 'none'} given; expected some of "
                         f"{', '.join(SCRATCH_SECTIONS)}")
    return {k: doc[k] for k in SCRATCH_SECTIONS if k in doc}


def member_metrics(folder: Path) -> list:
    out = []
    for member in sorted(folder.glob("member*")):
        m = json.loads((member / "metrics.json").read_text())
        v = m["metrics"]["validation"]
        out.append({"member": member.name, "best_epoch": m["summary"]["best_epoch"],
                    "validation_structures": v["n_structures"],
                    "validation_energy_mae_meV_atom": v["energy"][0],
                    "validation_forces_mae_eV_A": v["forces"][0],
                    "validation_forces_rmse_eV_A": v["forces"][1]})
    return out


def main(argv=None):
    from kizuna.learn.committee import merge_members, train_committee
    from kizuna.learn.config import load_learn_config
    from kizuna.learn.store import LabelledStore
    from kizuna.model_io import read_model, write_model

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dft_speedup import cpu_seconds, score

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default="runs/dft-speedup", help="dft_speedup.py's --out")
    p.add_argument("--out", required=True)
    p.add_argument("--forces-weight", type=float, default=None)
    p.add_argument("--energy-weight", type=float, default=None)
    p.add_argument("--scratch", default=None,
                   help="YAML with symmetry_functions/model/loss/training sections: train the "
                        "final committee from scratch with them")
    p.add_argument("--epochs", type=int, nargs=2, default=None, metavar=("ADAM", "LBFGS"))
    p.add_argument("--evaluate", action="store_true")
    args = p.parse_args(argv)
    if args.forces_weight is None and args.scratch is None:
        p.error("give --forces-weight (warm-started re-training) and/or --scratch FILE")
    run, out = Path(args.run).resolve(), Path(args.out).resolve()
    learn_dir = run / "learn"
    n = final_round(learn_dir)
    cfg = load_learn_config(str(learn_dir / "config.yaml"))
    c = cfg["committee"]
    loss = dict(cfg["training"].get("loss") or {})
    old_loss = dict(loss)
    if args.forces_weight is not None:
        loss["forces_weight"] = args.forces_weight
    if args.energy_weight is not None:
        loss["energy_weight"] = args.energy_weight
    cfg["training"]["loss"] = loss
    scratch = scratch_sections(args.scratch) if args.scratch else {}
    if not scratch and c.get("final_training"):
        raise SystemExit(f"{learn_dir}/config.yaml: the run's final training started from "
                         "scratch (committee.final_training): no warm start to re-do; "
                         "give --scratch FILE")
    cfg["training"].update(scratch)
    epochs = tuple(args.epochs) if args.epochs else (c["final_epochs"], c["final_lbfgs_epochs"])

    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(learn_dir / "labelled.xyz", out / "labelled.xyz")
    inits = []
    for k in range(0 if scratch else c["members"]):
        src = learn_dir / "rounds" / f"round{n:04d}" / f"init{k}.kzn"
        shutil.copy2(src, out / f"start{k}.kzn")
        inits.append(read_model(out / f"start{k}.kzn"))
    structures = LabelledStore(out / "labelled.xyz").read()

    result_path = out / "refinal.json"
    if not (out / "committee.kzn").is_file():
        # train_committee rescales the warm start to the labels' statistics: the identity here
        # (the init files already carry them), then trains every member as the run did
        cpu0, t0 = cpu_seconds("self"), time.time()
        committee = train_committee(cfg, out / "labelled.xyz", structures, out / "rounds", n,
                                    merge_members(inits) if inits else None, epochs)
        write_model(committee, out / "committee.kzn")
        result = {"run": str(run), "final_round": n, "structures": len(structures),
                  "epochs": list(epochs), "from_scratch": bool(scratch),
                  "loss_run": old_loss, "loss": cfg["training"]["loss"],
                  "symmetry_functions": cfg["training"].get("symmetry_functions"),
                  "model": cfg["training"].get("model"),
                  "cpu_s": cpu_seconds("self") - cpu0, "wall_s": time.time() - t0,
                  "members": member_metrics(out / "rounds" / f"round{n:04d}")}
        ms = result["members"]
        result["validation_forces_mae_eV_A_mean"] = sum(
            m["validation_forces_mae_eV_A"] for m in ms) / len(ms)
        result["validation_energy_mae_meV_atom_mean"] = sum(
            m["validation_energy_mae_meV_atom"] for m in ms) / len(ms)
        result_path.write_text(json.dumps(result, indent=1))
    result = json.loads(result_path.read_text())
    print(json.dumps({k: v for k, v in result.items() if k != "members"}), flush=True)

    if args.evaluate:
        from ase.io import read

        frames = read(run / "accuracy_frames.xyz", ":")
        acc = score(out / "committee.kzn", frames)
        (out / "accuracy.json").write_text(json.dumps(acc, indent=1))
        print(json.dumps({k: v for k, v in acc.items()
                          if k not in ("max_force_deviation", "max_force_error")}, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    main()
