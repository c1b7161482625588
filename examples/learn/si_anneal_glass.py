"""Teach the anneal's committee the low-temperature glass that CHGNet relaxes to.

The third step's committee (si_anneal_fix.py) runs the anneal safely, but its relaxed glass
is over-coordinated (4.41 vs CHGNet's 4.09 on the same frame, 31 % vs 12 % five-fold atoms).
On the two relaxed frames of that validation (its results.json):

                         committee E (eV/atom)   CHGNet E (eV/atom)
    the model's minimum       -5.1368               -5.1275
    CHGNet's minimum          -5.1320               -5.1456

the committee puts its own five-fold minimum 4.8 meV/atom below CHGNet's four-fold one,
CHGNet 18 meV/atom the other way round. This script labels with CHGNet the structures that
decide the relaxed glass, in a copy of the run folder, and retrains the committee once (warm
start):

  * every ``every``-th frame of CHGNet's own L-BFGS relaxation started at the model's minimum
    (frame 0 is the model's minimum; the relaxation's calls are the labels),
  * CHGNet's relaxed glass of the validation and 3 frames of the committee's relaxation started
    there (where the committee leaves CHGNet's minimum for its own),
  * ``rattled`` copies of the end of CHGNet's relaxation, rattled by up to 0.05 Å.

The other frames of CHGNet's relaxation are held out (heldout_<tag>.xyz in the folder). The
script prints before and after retraining: the committee's errors on the new labels and the
held-out frames, the energy difference of the two minima by both, and the coordination the
committee relaxes CHGNet's glass to (a few seconds of model calls).

    cp -r runs/learn-si-anneal-fix runs/learn-si-anneal-glass
    python examples/learn/si_anneal_glass.py runs/validate-si-anneal-fix/results.json \
        runs/learn-si-anneal-glass                        # 67 CHGNet calls, ew 1, 20 + 5 epochs
    cp -r runs/learn-si-anneal-glass runs/learn-si-anneal-glass-huber
    python examples/learn/si_anneal_glass.py runs/validate-si-anneal-fix/results.json \
        runs/learn-si-anneal-glass-huber --retrain-only --energy-weight 10 \
        --huber 0.005 0.3 --epochs 30 10                  # the committee validated

then ``kizuna validate examples/validate/si_anneal.yaml`` with
``--set model=runs/learn-si-anneal-glass-huber/committee.kzn`` (examples/validate/README.md,
fourth step, has what it gave). The fifth step is the same once more on that validation:

    cp -r runs/learn-si-anneal-glass-huber runs/learn-si-anneal-glass2
    python examples/learn/si_anneal_glass.py runs/validate-si-anneal-glass/results.json \
        runs/learn-si-anneal-glass2 --energy-weight 10 --huber 0.005 0.3 --epochs 30 10 \
        --tag glass2                                      # the committee si_anneal.yaml validates
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write
from ase.optimize import LBFGS

from kizuna.calculator import Calculator
from kizuna.learn.config import load_learn_config
from kizuna.learn.loop import Learner
from kizuna.properties import analysis

HERE = Path(__file__).parent
BOND = 2.85  # Å, the validation's bond_cutoff (first minimum of g(r) of a-Si)


def glass_cell():
    """The validation's cell: 512 atoms at the crystal's density (a = 5.43 Å, fixed)."""
    return bulk("Si", "diamond", a=5.43, cubic=True).repeat((4, 4, 4))


def coordination(atoms) -> str:
    mean, hist = analysis.coordination([atoms], BOND)
    return f"{mean:.3f} ({', '.join(f'{k}: {100 * v:.0f} %' for k, v in sorted(hist.items()))})"


def relax_path(atoms, calc, steps: int, fmax: float = 0.05) -> list:
    """Frames of an L-BFGS relaxation at fixed cell with their energy, forces and stress
    (the calculator's results at each step, before the step is taken)."""
    a = atoms.copy()
    a.calc = calc
    frames = []

    def keep():
        r = calc.results
        f = a.copy()
        frames.append((f, float(r["energy"]), np.array(r["forces"]),
                       np.array(r["stress"]) if "stress" in r else None))

    opt = LBFGS(a, logfile=None)
    opt.attach(keep, interval=1)
    opt.run(fmax=fmax, steps=steps)
    return frames


def errors(model_path, labelled) -> str:
    """Energy (meV/atom) and force (eV/Å) MAE of the committee on labelled frames, and the
    energy drop from the first to the last frame by the committee and by the labels
    (meV/atom; along CHGNet's relaxation: does the model go downhill where CHGNet does?)."""
    calc = Calculator(str(model_path), threads=1, extrapolation="ignore")
    de, df, em = [], [], []
    for atoms, energy, forces, _ in labelled:
        a = atoms.copy()
        a.calc = calc
        em.append(a.get_potential_energy() / len(a))
        de.append(abs(em[-1] - energy / len(a)))
        df.append(np.abs(a.get_forces() - forces).mean())
    drop_ref = (labelled[-1][1] - labelled[0][1]) / len(labelled[0][0])
    return (f"E MAE {1000 * np.mean(de):.1f} meV/atom, F MAE {np.mean(df):.3f} eV/Å "
            f"({len(de)} frames); first -> last frame: model {1000 * (em[-1] - em[0]):+.1f}, "
            f"CHGNet {1000 * drop_ref:+.1f} meV/atom")


def minima(model_path, model_min, chgnet_min, e_model_min, e_chgnet_min) -> str:
    """The two relaxed glasses of the validation by the committee and by CHGNet (eV/atom),
    and the committee's own relaxation of CHGNet's glass (does it keep CHGNet's network?)."""
    calc = Calculator(str(model_path), threads=1, extrapolation="ignore")
    e = []
    for atoms in (model_min, chgnet_min):
        a = atoms.copy()
        a.calc = calc
        e.append(a.get_potential_energy() / len(a))
    a = chgnet_min.copy()
    a.calc = calc
    LBFGS(a, logfile=None).run(fmax=0.05, steps=200)
    return (f"E(model's glass) - E(CHGNet's glass): model {1000 * (e[0] - e[1]):+.1f}, CHGNet "
            f"{1000 * (e_model_min - e_chgnet_min):+.1f} meV/atom; the model relaxes CHGNet's "
            f"glass from coordination {coordination(chgnet_min)} to {coordination(a)}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("results", help="results.json of the validation (examples/validate/si_anneal.yaml)")
    p.add_argument("folder", help="the learning run folder to extend (a copy of the last one)")
    p.add_argument("--steps", type=int, default=60, help="CHGNet relaxation steps")
    p.add_argument("--every", type=int, default=4, help="label every n-th relaxation frame")
    p.add_argument("--rattled", type=int, default=2, help="rattled copies of CHGNet's minimum")
    p.add_argument("--epochs", type=int, nargs=2, default=(20, 5), help="Adam, L-BFGS epochs")
    p.add_argument("--energy-weight", type=float, default=None,
                   help="loss.energy_weight of the retraining (default: the run's own)")
    p.add_argument("--huber", type=float, nargs=2, default=None, metavar=("DE", "DF"),
                   help="Huber loss with these deltas (eV/atom, eV/Å): the few labels of fused "
                        "pairs (forces up to 120 eV/Å) then pull linearly, not quadratically")
    p.add_argument("--tag", default="glass", help="source name of the new labels")
    p.add_argument("--retrain-only", action="store_true",
                   help="no new labels: retrain the folder's committee on its data (with "
                        "--energy-weight / --epochs) and print the errors on the held-out frames")
    args = p.parse_args(argv)

    folder = Path(args.folder)
    for need in ("committee.kzn", "labelled.xyz"):
        if not (folder / need).is_file():
            p.error(f"{folder / need} not found: the folder must be a learning run folder "
                    "(cp -r runs/learn-si-anneal-fix <folder>)")
    try:
        mq = json.loads(Path(args.results).read_text())["properties"]["melt_quench"]
        positions = [np.array(mq[side]["data"]["relaxed_positions"], float)
                     for side in ("model", "reference")]
    except (OSError, ValueError, KeyError) as exc:
        p.error(f"{args.results}: expected the results.json of examples/validate/si_anneal.yaml "
                f"(properties.melt_quench.{{model,reference}}.data.relaxed_positions): {exc!r}")
    if any(x.shape != (512, 3) for x in positions):
        p.error(f"{args.results}: relaxed_positions must be 512 x 3 (the 4x4x4 cell), got "
                f"{[x.shape for x in positions]}")
    model_min, chgnet_min = glass_cell(), glass_cell()
    model_min.positions, chgnet_min.positions = positions
    overrides = [f"output.directory={args.folder}"]
    if args.energy_weight is not None:
        overrides.append(f"training.loss.energy_weight={args.energy_weight}")
    if args.huber is not None:
        overrides += ["training.loss.function=huber",
                      f"training.loss.huber_delta_energy={args.huber[0]}",
                      f"training.loss.huber_delta_forces={args.huber[1]}"]
    cfg = load_learn_config(HERE / "si_anneal_strict.yaml", overrides)
    learner = Learner(cfg)
    try:
        old = Path(args.folder) / "committee.kzn"
        e_chgnet_min = mq["reference"]["values"]["relaxed_energy_per_atom"]
        if args.retrain_only:
            first = next(f for f in learner.store.read()
                         if f.info.get("source") == args.tag and f.info.get("index") == 0)
            print("before: " + minima(old, model_min, chgnet_min,
                                      first.get_potential_energy() / 512, e_chgnet_min))
            held_path, what = Path(args.folder) / f"heldout_{args.tag}.xyz", "held-out"
            if held_path.is_file():
                frames = read(held_path, ":")
            else:  # a folder labelled before the held-out frames were kept: the training labels
                frames, what = [f for f in learner.store.read()
                                if f.info.get("source") == args.tag], "(trained-on) new"
            held = [(a, a.get_potential_energy(), a.get_forces(), None) for a in frames]
            print(f"before: {what} frames {errors(old, held)}", flush=True)
            learner.train(tuple(args.epochs), final=True)
            print(f"after: {what} frames {errors(old, held)}", flush=True)
            print("after: " + minima(old, model_min, chgnet_min,
                                     first.get_potential_energy() / 512, e_chgnet_min))
            return
        model = Calculator(str(old), threads=1, extrapolation="ignore")
        chgnet = learner._ref()
        t0 = time.time()
        # CHGNet's relaxation from the model's minimum: frame 0 is the model's minimum
        path = relax_path(model_min, chgnet, args.steps)
        print(f"CHGNet relaxation: {len(path)} frames in {time.time() - t0:.0f} s, E "
              f"{path[0][1] / 512:.4f} -> {path[-1][1] / 512:.4f} eV/atom, coordination "
              f"{coordination(path[0][0])} -> {coordination(path[-1][0])}", flush=True)
        picked = [k for k in range(len(path)) if k % args.every == 0] + [len(path) - 1]
        train = [path[k] for k in sorted(set(picked))]
        held = [path[k] for k in range(len(path)) if k not in set(picked)]
        # the model's relaxation from CHGNet's minimum: where the model leaves it
        back = relax_path(chgnet_min, model, 200)
        print(f"model relaxation of CHGNet's glass: {len(back)} frames, coordination "
              f"{coordination(back[0][0])} -> {coordination(back[-1][0])}", flush=True)
        rng = np.random.default_rng(11)
        extra = [back[k][0] for k in range(0, len(back), max(1, len(back) // 3))]
        extra += [back[-1][0]]
        for _ in range(args.rattled):
            r = path[-1][0].copy()
            r.positions += rng.uniform(-0.05, 0.05, r.positions.shape)
            extra.append(r)
        # label: the relaxation's own calls, the rest by CHGNet now
        labelled = list(train)
        for a in extra:
            b = a.copy()
            b.calc = chgnet
            labelled.append((a.copy(), float(b.get_potential_energy()), b.get_forces().copy(),
                             b.get_stress().copy()))
        print("before: " + minima(old, model_min, chgnet_min, path[0][1] / 512, e_chgnet_min))
        print(f"before: new labels {errors(old, labelled)}\n  held-out frames of CHGNet's "
              f"relaxation {errors(old, held)}", flush=True)
        # the held-out frames with their CHGNet labels, for later checks (not trained on)
        held_path = Path(args.folder) / f"heldout_{args.tag}.xyz"
        held_path.unlink(missing_ok=True)
        for a, e, f, s in held:
            b = a.copy()
            b.calc = SinglePointCalculator(b, energy=e, forces=f, stress=s)
            write(held_path, b, format="extxyz", append=True)
        for k, (a, e, f, s) in enumerate(labelled):
            learner.store.append(a, e, f, s, {"source": args.tag, "index": k})
        learner.state["reference_calls"] += len(path) + len(extra)
        learner._save_state()
        learner.train(tuple(args.epochs), final=True)
        print("after: " + minima(old, model_min, chgnet_min, path[0][1] / 512, e_chgnet_min))
        print(f"after: new labels {errors(old, labelled)}\n  held-out frames of CHGNet's "
              f"relaxation {errors(old, held)}", flush=True)
        print(f"{len(labelled)} labels added, {len(path) + len(extra)} CHGNet calls, "
              f"{time.time() - t0:.0f} s", flush=True)
    finally:
        learner.close()


if __name__ == "__main__":
    main()
