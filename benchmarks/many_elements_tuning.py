"""Training settings of the weighted descriptor on the issue-13 alloy, chosen without the test set.

The benchmark's test compositions (``test.extxyz`` of a ``many_elements_training.py`` run) must
not be used to choose the settings. ``--final`` trains the named variants on all training
compositions and reports the validation errors (``validation.extxyz`` when the data folder
has one, as examples/training/make_alloy_data.py writes: whole compositions held out;
otherwise the trainer's split: other frames of the training compositions) and the test
errors; the choice among variants is made on the validation columns. The trainer's validation frames come from the training compositions'
own MD runs, so they say little about compositions never seen; ``--variants`` is the stricter
protocol: the last ``--holdout`` compositions of ``train.extxyz`` (frames grouped by their
identical element sequence: one composition, one MD run) are held out as a selection set, every
variant is trained on the other compositions and scored on them.

    OMP_NUM_THREADS=1 python benchmarks/many_elements_tuning.py --data runs/many \\
        --final s2short small16short --json runs/many/tuning.json
    OMP_NUM_THREADS=1 python benchmarks/many_elements_tuning.py --data runs/many \\
        --variants base long stage2 --json runs/many/tuning_select.json
    # 135 training compositions x 2 frames, 15 validation compositions (make_alloy_data.py)
    OMP_NUM_THREADS=1 python benchmarks/many_elements_tuning.py --data runs/alloy \\
        --final s2long pair_s2long base pair --json runs/alloy/tuning.json

Grid, network and data as in ``many_elements_training.py`` (cutoff 5 Å, 12 shifted radial,
16 shifted wide angular, zeta 1 and 4, 32-32 tanh, force weight 0.1, batch 8, seed 1).
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

from ase.io import read, write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from many_elements_training import ELEMENTS, run_training  # noqa: E402

GRID = {"cutoff": 5.0, "n_radial": 12, "n_angular": 16, "zetas": [1, 4],
        "angular_kind": "angular_wide", "angular_mode": "shifted", "r_min": 1.5,
        "element_mode": "weighted", "channels": 3, "learn_weights": True}
BASE = {"seed": 1, "threads": 1,
        "symmetry_functions": GRID,
        "model": {"hidden_layers": [32, 32], "elements": ELEMENTS},
        "loss": {"forces_weight": 0.1},
        "training": {"epochs": 30, "batch_size": 8, "learning_rate": 0.005, "lbfgs_epochs": 0}}
# name -> overrides of BASE (section -> {key: value})
VARIANTS = {
    "base": {},  # the README's "learned k=3" row (30 Adam epochs)
    "long": {"training": {"epochs": 60, "lbfgs_epochs": 10}},
    "stage2": {"training": {"epochs": 40, "lbfgs_epochs": 0, "stage_two_epochs": 20,
                            "stage_two_learning_rate": 1e-3},
               "loss": {"stage_two_energy_weight": 10.0}},
    # 30 Adam epochs as "base", then 10 Adam epochs with 10x the energy weight
    "s2short": {"training": {"stage_two_epochs": 10, "stage_two_learning_rate": 1e-3},
                "loss": {"stage_two_energy_weight": 10.0}},
    # 30 Adam epochs as "base", then 20 Adam epochs with 30x the energy weight
    "s2long": {"training": {"stage_two_epochs": 20, "stage_two_learning_rate": 1e-3},
               "loss": {"stage_two_energy_weight": 30.0}},
    "small16short": {"model": {"hidden_layers": [16, 16]}},  # 30 epochs, 16-16 networks
    # 30 Adam epochs as "base", then 20 Adam epochs with 100x the energy weight
    "s2x100": {"training": {"stage_two_epochs": 20, "stage_two_learning_rate": 1e-3},
               "loss": {"stage_two_energy_weight": 100.0}},
    # the per-pair set (408 functions) with the settings of "base" and "s2long"
    "pair": {"symmetry_functions": {"element_mode": "pair", "learn_weights": False}},
    "pair_s2long": {"symmetry_functions": {"element_mode": "pair", "learn_weights": False},
                    "training": {"stage_two_epochs": 20, "stage_two_learning_rate": 1e-3},
                    "loss": {"stage_two_energy_weight": 30.0}},
    "k4": {"symmetry_functions": {"channels": 4}, "training": {"epochs": 60, "lbfgs_epochs": 10}},
    "k2": {"symmetry_functions": {"channels": 2}, "training": {"epochs": 60, "lbfgs_epochs": 10}},
    "small16": {"model": {"hidden_layers": [16, 16]},
                "training": {"epochs": 60, "lbfgs_epochs": 10}},
    "wd": {"training": {"epochs": 60, "lbfgs_epochs": 0, "weight_decay": 1e-3}},
    "fixed": {"symmetry_functions": {"learn_weights": False},
              "training": {"epochs": 60, "lbfgs_epochs": 10}},
}


def config(name: str, train: Path, test: Path, out: Path, seed: int = 1,
           validation: Path | None = None) -> dict:
    """The variant's training config; ``validation``: a file of whole compositions held out
    for selection (data.validation) instead of the trainer's random 10 % of the frames."""
    cfg = copy.deepcopy(BASE)
    for section, over in VARIANTS[name].items():
        cfg[section].update(over)
    cfg["seed"] = seed
    cfg["output"] = {"directory": str(out), "progress": "none", "plots": False}
    cfg["data"] = {"train": str(train), "test": str(test), "validation_fraction": 0.1}
    if validation is not None:
        cfg["data"].update(validation=str(validation), validation_fraction=0.0)
    return cfg


def split_compositions(train: Path, holdout: int, work: Path) -> tuple[Path, Path]:
    """Frames of the last ``holdout`` compositions (in file order) -> selection set."""
    frames = read(train, ":")
    keys = []
    for a in frames:
        k = tuple(a.get_chemical_symbols())
        if k not in keys:
            keys.append(k)
    held = set(keys[-holdout:])
    fit = [a for a in frames if tuple(a.get_chemical_symbols()) not in held]
    sel = [a for a in frames if tuple(a.get_chemical_symbols()) in held]
    # written once (runs of other variants may be reading them)
    if not (work / "select_holdout.extxyz").is_file():
        write(work / "select_train.extxyz", fit)
        write(work / "select_holdout.extxyz", sel)
    print(f"{len(keys)} training compositions: {len(keys) - holdout} for fitting "
          f"({len(fit)} frames), {holdout} held out for selection ({len(sel)} frames)")
    return work / "select_train.extxyz", work / "select_holdout.extxyz"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with train.extxyz and test.extxyz")
    parser.add_argument("--holdout", type=int, default=5, help="compositions held out")
    parser.add_argument("--variants", nargs="*", default=[], choices=sorted(VARIANTS))
    parser.add_argument("--final", nargs="*", default=[], choices=sorted(VARIANTS),
                        help="retrain on all training compositions, test on test.extxyz")
    parser.add_argument("--seed", type=int, default=1, help="training seed (split, weights)")
    parser.add_argument("--json", help="results file (read and extended)")
    parser.add_argument("--summary", action="store_true",
                        help="print validation and test errors of every run folder in "
                        "<data>/tuning (metrics.json)")
    args = parser.parse_args()
    if args.summary:
        return summary(Path(args.data).resolve() / "tuning")
    if not args.json:
        parser.error("--json is needed to train")
    data = Path(args.data).resolve()
    work = data / "tuning"
    work.mkdir(exist_ok=True)
    path = Path(args.json)
    saved = json.loads(path.read_text()) if path.is_file() else {"select": {}, "final": {}}
    if args.variants:
        fit, sel = split_compositions(data / "train.extxyz", args.holdout, work)
        for name in args.variants:
            tag = name + (f"_seed{args.seed}" if args.seed != 1 else "")
            r = run_training(config(name, fit, sel, work / f"select_{tag}", args.seed), work)
            saved["select"][tag] = r
            path.write_text(json.dumps(saved, indent=1))
            print(f"select {tag}: held-out compositions energy MAE "
                  f"{r['test_energy_mae_meV_atom']:.2f} meV/atom, forces "
                  f"{r['test_forces_mae_eV_A']:.4f} eV/A, CPU {r['cpu_s']:.0f} s", flush=True)
    for name in args.final:
        tag = name + (f"_seed{args.seed}" if args.seed != 1 else "")
        validation = data / "validation.extxyz"  # make_alloy_data.py's held-out compositions
        r = run_training(config(name, data / "train.extxyz", data / "test.extxyz",
                                work / f"final_{tag}", args.seed,
                                validation if validation.is_file() else None), work)
        saved["final"][tag] = r
        path.write_text(json.dumps(saved, indent=1))
        print(f"final {tag}: test energy MAE {r['test_energy_mae_meV_atom']:.2f} meV/atom, "
              f"forces {r['test_forces_mae_eV_A']:.4f} eV/A, CPU {r['cpu_s']:.0f} s", flush=True)


def summary(work: Path) -> None:
    print(f"{'run':<26} {'epochs':>6} {'val E MAE':>10} {'val F MAE':>10} {'test E MAE':>11} "
          f"{'test F MAE':>11}   (meV/atom, eV/A; test = held-out compositions for select_*)")
    for m in sorted(work.glob("*/metrics.json")):
        d = json.loads(m.read_text())
        v, t = d["metrics"]["validation"], d["metrics"]["test"]
        print(f"{m.parent.name:<26} {d['summary'].get('epochs', 0):6d} {v['energy'][0]:10.2f} "
              f"{v['forces'][0]:10.4f} {t['energy'][0]:11.2f} {t['forces'][0]:11.4f}")


if __name__ == "__main__":
    main()
