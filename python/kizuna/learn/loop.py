"""The on-the-fly learning loop.

    bootstrap   a few reference calls on rattled/strained copies of the start structure
    train       a committee (N networks, different seeds) on the labelled structures
    MD          every stage (temperature, strain, vacancies) with the committee (md.engine:
                ASE dynamics, or LAMMPS with kizuna's plugin: lammps_md.py); after every
                step: if the largest per-atom force deviation exceeds the threshold (or atoms
                leave the training range), label the structure with the reference, append it
                to labelled.xyz at once (fsync), warm-start the committee on all the data,
                continue the MD from that point with the new committee
    test        (optional) an independent reference MD trajectory: final errors and the rank
                correlation between committee deviation and true error

Run folder: config.yaml (config.resolved.yaml when a config.yaml of the user's is there),
learn.log (text log: events, progress lines), .kizuna.lock (one run per folder), labelled.xyz
(every reference call, append-only), committee.kzn (the current model), state.json (counters,
written atomically), snapshot.xyz (MD state), events.jsonl (one line per label / retraining /
stage), summary.json, rounds/ (training runs).
Killing the process loses nothing: `kizuna learn` on the same folder resumes; labels that were
written but not yet trained on are trained on first.
"""
from __future__ import annotations

import copy

import json
import os
import time
from pathlib import Path

import numpy as np

from ..model_io import read_model, write_model
from ..errors import DataError
from ..runfolder import RunLock, write_resolved_config
from ..training.structure import closest_pair_below
from ..training.progress import Progress
from .committee import train_committee
from .md import (AseMD, describe_stage, load_snapshot, save_snapshot, stage_structure,
                 stage_temperature, start_structure, thermalise)
from .reference import ReferenceFailed, make_reference
from .store import LabelledStore


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


class Learner:
    def __init__(self, cfg: dict, progress=None):
        self.cfg = cfg
        self.dir = Path(cfg["output"]["directory"])
        self.dir.mkdir(parents=True, exist_ok=True)
        # one run per folder: a second `kizuna learn` here stops, naming the holder
        self.lock = RunLock(self.dir, "kizuna learn").acquire()
        self.store = LabelledStore(self.dir / "labelled.xyz")
        self.model_path = self.dir / "committee.kzn"
        self.state_path = self.dir / "state.json"
        self.snapshot_path = self.dir / "snapshot.xyz"
        self.events_path = self.dir / "events.jsonl"
        self.reference = None
        self.progress = Progress(cfg["output"]["progress"], unit="step")
        try:
            self.progress.log_to(self.dir / "learn.log")
            self.state = (json.loads(self.state_path.read_text()) if self.state_path.is_file()
                          else {"stage": 0, "step": 0, "total_steps": 0, "round": 0,
                                "trained_on": 0, "labels_since_training": 0,
                                "reference_calls": 0, "bootstrap_calls": 0,
                                "last_training_step": -10 ** 9, "calls_at": []})
            written = write_resolved_config(self.dir, cfg)
            if written.name != "config.yaml":
                self._say(f"{self.dir / 'config.yaml'} is not a file kizuna wrote (your own "
                          f"config?): left alone; the validated config is in {written}")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the run folder (lock) and close the progress display and the text log."""
        self.progress.close()
        self.lock.release()

    # ------------------------------------------------------------------------- bookkeeping
    def _save_state(self):
        _write_json(self.state_path, self.state)

    def _event(self, kind, **data):
        line = json.dumps({"event": kind, "time": time.time(), **data})
        with open(self.events_path, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _say(self, text):
        """An event line (terminal above the bar, or the batch log; and learn.log)."""
        self.progress.message(text)

    def _status(self, text):
        """The live MD status (bar postfix; a line with rate and ETA every interval)."""
        self.progress.advance(self._md_done(), text)

    def _md_done(self) -> int:
        """MD steps done over all stages (the progress counter)."""
        stages, st = self.cfg["md"]["stages"], self.state
        return sum(s["steps"] for s in stages[:st["stage"]]) + st["step"]

    def _ref(self):
        if self.reference is None:
            import shutil

            # scratch folders left by a killed reference call (DFT) are not needed
            shutil.rmtree(self.dir / "dft" / "scratch", ignore_errors=True)
            self.reference = make_reference(self.cfg["reference"], self.dir)
        return self.reference

    # ------------------------------------------------------------------------- labelling
    def label(self, atoms, info) -> bool:
        """Reference energy/forces (and stress of periodic cells); appended at once. A failed
        reference call (ReferenceFailed: a DFT SCF that did not converge after its retries, a
        crashed or killed DFT code) labels nothing: an event records it, False is returned."""
        work = atoms.copy()
        ref = work.calc = self._ref()
        t0 = time.time()
        try:
            energy = work.get_potential_energy()
            forces = work.get_forces()
        except ReferenceFailed as exc:
            self._add_seconds("reference_seconds", t0)
            self.state["reference_failures"] = self.state.get("reference_failures", 0) + 1
            self._event("reference_failed", reason=str(exc), attempts=exc.attempts,
                        **{k: info[k] for k in ("source", "index", "stage", "step", "total_step")
                           if k in info})
            return False
        stress = None
        if work.pbc.all():
            try:
                stress = work.get_stress()
            except Exception:  # references without stress (PropertyNotImplementedError etc.)
                stress = None
        self._add_seconds("reference_seconds", t0)
        if hasattr(ref, "keep_last"):  # DFT input/output of labelled structures: dft/00012/
            ref.keep_last(self.dir / "dft" / f"{len(self.store):05d}")
        self.store.append(atoms, energy, forces, stress, info)
        return True

    def _add_seconds(self, key, t0):
        """Wall seconds spent in reference calls / training (summary: the cost split)."""
        self.state[key] = round(self.state.get(key, 0.0) + time.time() - t0, 3)

    def bootstrap(self):
        b = self.cfg["bootstrap"]
        failed = self.state.setdefault("bootstrap_failed", [])
        done = {f.info.get("index") for f in self.store.read()
                if f.info.get("source") == "bootstrap"} | set(failed)
        if len(done) >= b["structures"]:
            return
        base = start_structure(self.cfg)
        rng = np.random.default_rng(self.cfg["seed"] + 7919)
        for k in range(b["structures"]):
            atoms = base.copy()
            scale = 1.0 + rng.uniform(-b["strain"], b["strain"])
            atoms.set_cell(atoms.cell * scale, scale_atoms=True)
            atoms.positions += rng.uniform(-b["rattle"], b["rattle"], atoms.positions.shape)
            if k in done:  # labelled (or failed) before an interruption (same seeded sequence)
                continue
            if self.label(atoms, {"source": "bootstrap", "index": k}):
                self.state["reference_calls"] += 1
                self.state["bootstrap_calls"] += 1
            else:
                failed.append(k)
            self._save_state()
            self._say(f"bootstrap: {k + 1}/{b['structures']} reference calls")

    def train(self, epochs=None, final=False):
        """A training round on all labelled data (warm start from the current committee);
        ``epochs``: (Adam, L-BFGS) instead of the configured ones (the final round). The
        final round with committee.final_training starts from scratch with those sections."""
        structures = self.store.read()
        previous = read_model(self.model_path) if self.model_path.is_file() else None
        cfg = self.cfg
        override = self.cfg["committee"]["final_training"] if final else None
        if override:
            cfg = copy.deepcopy(self.cfg)
            cfg["training"].update(copy.deepcopy(override))
            previous = None
        t0 = time.time()
        self._say(f"{'final ' if final else ''}training round {self.state['round'] + 1}: "
                  f"{self.cfg['committee']['members']} members on {len(structures)} structures"
                  f"{' (warm start)' if previous is not None else ''}")
        committee = train_committee(cfg, self.store.path, structures, self.dir / "rounds",
                                    self.state["round"], previous, epochs)
        write_model(committee, self.model_path)
        self.state["round"] += 1
        self._add_seconds("training_seconds", t0)
        self.state["trained_on"] = len(structures)
        self.state["labels_since_training"] = 0
        self.state["last_training_step"] = self.state["total_steps"]
        self._save_state()
        self._event("trained", round=self.state["round"], structures=len(structures),
                    seconds=round(time.time() - t0, 2), final=final)
        self._say(f"training round {self.state['round']} done in "
                  f"{time.time() - t0:.1f} s")

    # ------------------------------------------------------------------------- MD loop
    def threshold(self):
        """Label threshold of the current stage, eV/Å: the stage's own max_force_deviation
        (or the global one), raised to adaptive_factor x the labelled data's median deviation
        when adaptive."""
        u = self.cfg["uncertainty"]
        stages = self.cfg["md"]["stages"]
        stage = stages[min(self.state.get("stage", 0), len(stages) - 1)]
        value = stage.get("max_force_deviation") or u["max_force_deviation"]
        if u["adaptive"] and self.state.get("train_deviation_median"):
            value = max(value, u["adaptive_factor"] * self.state["train_deviation_median"])
        return value

    def _calculator(self):
        from ..calculator import Calculator

        return Calculator(self.model_path, threads=self.cfg["threads"], extrapolation="ignore",
                          committee_forces=True)

    def _record_training_deviation(self):
        """Median of the committee's max force deviation over the labelled structures (the
        adaptive threshold's scale)."""
        if not self.cfg["uncertainty"]["adaptive"]:
            return
        from ..potential import Potential

        pot = Potential(self.model_path, threads=self.cfg["threads"])
        devs = [pot.compute_atoms(a, member_forces=True)["max_force_deviation"]
                for a in self.store.read()]
        self.state["train_deviation_median"] = float(np.median(devs))

    def _engine(self, atoms, stage, seed):
        """The MD engine of md.engine from ``atoms`` (ase: ASE dynamics; lammps: LAMMPS in this
        process, lammps_md.py); the committee is the current model file."""
        cfg, st = self.cfg, self.state
        if cfg["md"]["engine"] == "lammps":
            from .lammps_md import LammpsMD

            return LammpsMD(atoms, cfg, stage, st["step"], seed + 31 * st["step"],
                            self.model_path, log=self.dir / "lammps.log")
        return AseMD(atoms, cfg, stage, st["step"], seed + 31 * st["step"], self._calculator)

    def _last_stop(self) -> int:
        """Total step of the last label or retraining: the cooldown counts from there (labels
        collected for one retraining are at least ``cooldown`` steps apart)."""
        st = self.state
        failed = st.get("failed_at") or [-10 ** 9]  # a failed reference call cools down too
        return max(st["last_training_step"], st["calls_at"][-1] if st["calls_at"] else -10 ** 9,
                   failed[-1])

    def _label_md(self, atoms, info):
        """Label an MD structure so that a kill at any moment neither loses nor duplicates
        it: the structure is saved as the snapshot and marked pending in state.json before
        the reference call; a resumed run finds the pending label in the store (written
        before the kill: only the counters are updated) or calls the reference again."""
        st = self.state
        if st.get("pending") is None:
            self._refuse_collapsed(atoms, info)
            save_snapshot(atoms, self.snapshot_path, self._where())
            st["pending"] = info
            self._save_state()
            ok = self.label(atoms, info)
        else:  # resumed: was it appended before the kill?
            frames = self.store.read()
            ok = bool(frames) and frames[-1].info.get("total_step") == info["total_step"] \
                and frames[-1].info.get("source") == "md"
            if not ok:
                ok = self.label(atoms, info)
        st["pending"] = None
        if ok:
            st["reference_calls"] += 1
            st["labels_since_training"] += 1
            st["calls_at"].append(info["total_step"])
        else:
            st.setdefault("failed_at", []).append(info["total_step"])
        self._save_state()
        if ok:
            self._event("labelled", stage=info["stage"], step=info["step"],
                        total_step=info["total_step"],
                        max_force_deviation=info["max_force_deviation"],
                        num_extrapolating=info["num_extrapolating"])
        return ok

    def _refuse_collapsed(self, atoms, info):
        """An MD structure with two atoms closer than training.data.min_distance (default
        0.5 Å) is a run-away MD, not a label: training would refuse it. Stop with what happened
        and what to change; the last snapshot (before the collapse) stays the resume point."""
        min_d = float(((self.cfg.get("training") or {}).get("data") or {})
                      .get("min_distance", 0.5))
        pair = closest_pair_below(atoms, min_d)
        if pair is None:
            return
        i, j, d = pair
        self._event("md_collapsed", stage=info.get("stage"), step=info.get("step"),
                    total_step=info.get("total_step"), atoms=[i, j], distance=d)
        raise DataError(
            f"MD collapsed at stage {info.get('stage')}, step {info.get('step')}: atoms {i} "
            f"and {j} are {d:.3f} Å apart (closer than training.data.min_distance = {min_d} Å) "
            f"before the committee asked the reference. Not labelled. Lower "
            f"uncertainty.max_force_deviation, retrain sooner (committee.retrain_every), or "
            f"shorten md.timestep, then run the same command again: it resumes from the last "
            f"snapshot before the collapse.")

    def _where(self, end=False) -> dict:
        """Where an MD state is (saved with the snapshot)."""
        return {"stage": self.state["stage"], "step": self.state["step"], "stage_end": end}

    def _stage_start(self, base, stage, seed):
        """The structure a stage starts from: the start structure (strained, vacancies),
        thermalised at the stage's first temperature; or, with ``continue``, the previous
        stage's final state as it is (positions, velocities, cell: snapshot.xyz, saved when
        that stage ended)."""
        st = self.state
        if not stage["continue"]:
            atoms = stage_structure(base, stage, seed)
            thermalise(atoms, stage_temperature(stage, 0), seed)
            return atoms
        atoms = load_snapshot(self.snapshot_path) if self.snapshot_path.is_file() else None
        if atoms is None or not (atoms.info.get("stage") == st["stage"] - 1
                                 and atoms.info.get("stage_end")):
            found = (None if atoms is None else
                     f"stage {atoms.info.get('stage')}, step {atoms.info.get('step')}")
            raise RuntimeError(f"stage {st['stage'] + 1} continues from stage {st['stage']}, but "
                               f"{self.snapshot_path} does not hold that stage's final state "
                               f"(found: {found}); was the run folder changed by hand?")
        return atoms

    def _retrain_if_due(self, engine):
        if self.state["labels_since_training"] >= self.cfg["committee"]["retrain_every"]:
            self.train()
            self._record_training_deviation()
            engine.reload()

    def run_md(self):
        """Every stage with the committee. The engine runs until the next stop: a snapshot
        step, the end of the stage or of a cooldown, or (outside cooldowns) the first step the
        committee is unsure of (ASE: every step is a stop; LAMMPS: fix halt). The bookkeeping
        below is the same for both engines."""
        cfg, st = self.cfg, self.state
        stages = cfg["md"]["stages"]
        base = start_structure(cfg)
        u = cfg["uncertainty"]
        every = cfg["md"]["snapshot_every"]
        self.progress.start(sum(s["steps"] for s in stages), self._md_done(), desc="learn MD")
        while st["stage"] < len(stages):
            stage = stages[st["stage"]]
            seed = cfg["seed"] * 100 + st["stage"]
            if st["step"] > 0 and self.snapshot_path.is_file():
                atoms = load_snapshot(self.snapshot_path)
                saved = atoms.info.get("step")
                if saved is not None and atoms.info.get("stage") == st["stage"] \
                        and int(saved) != st["step"] and st.get("pending") is None:
                    saved = int(saved)  # extxyz reads it back as a numpy integer
                    # killed between writing the snapshot and state.json: the snapshot's
                    # step is where the MD is
                    st["total_steps"] += saved - st["step"]
                    st["step"] = saved
            else:
                st["step"] = 0
                atoms = self._stage_start(base, stage, seed)
            engine = self._engine(atoms, stage, seed)
            self._say(f"stage {st['stage'] + 1}/{len(stages)}: {describe_stage(stage)}, "
                      + ("continued from the previous stage, " if stage["continue"] else
                         f"strain {stage['strain']}, vacancies {stage['vacancies']}, ")
                      + f"steps {st['step']}..{stage['steps']}")
            self._event("stage", stage=st["stage"], temperature=stage["temperature"],
                        temperature_end=stage["temperature_end"], continued=stage["continue"],
                        strain=stage["strain"], vacancies=stage["vacancies"], start=st["step"])
            try:
                if st.get("pending"):  # killed during a reference call: the snapshot is it
                    self._label_md(engine.current(), st["pending"])
                    self._retrain_if_due(engine)
                while st["step"] < stage["steps"]:
                    cooling_left = max(0, self._last_stop() + u["cooldown"]
                                       - st["total_steps"])
                    limit = min(stage["steps"] - st["step"], every - st["step"] % every)
                    if cooling_left:
                        limit = min(limit, cooling_left)
                    steps, dev, n_extra = engine.advance(
                        limit, None if cooling_left else self.threshold(), u["extrapolation"])
                    st["step"] += steps
                    st["total_steps"] += steps
                    uncertain = dev > self.threshold() or (u["extrapolation"] and n_extra > 0)
                    cooling = st["total_steps"] - self._last_stop() <= u["cooldown"]
                    if uncertain and not cooling:
                        ok = self._label_md(engine.current(), {
                            "source": "md", "stage": st["stage"], "step": st["step"],
                            "total_step": st["total_steps"], "max_force_deviation": float(dev),
                            "num_extrapolating": int(n_extra),
                            "temperature": stage_temperature(stage, st["step"])})
                        if ok:
                            self._say(f"stage {st['stage'] + 1} step {st['step']}: labelled "
                                      f"(max deviation {dev:.3f} eV/Å, threshold "
                                      f"{self.threshold():.3f}, {n_extra} extrapolating); "
                                      f"reference calls {st['reference_calls']}")
                        self._retrain_if_due(engine)
                    end = st["step"] == stage["steps"]
                    if st["step"] % every == 0 or end:
                        # the final state of a stage is kept (a continued stage starts from it)
                        now = engine.current()
                        save_snapshot(now, self.snapshot_path, self._where(end))
                        self._save_state()
                        # the MD trace (plots of a run: temperature, spread, extrapolation)
                        self._event("md", stage=st["stage"], step=st["step"],
                                    total_step=st["total_steps"],
                                    target_temperature=stage_temperature(stage, st["step"]),
                                    temperature=round(float(now.get_temperature()), 2),
                                    max_force_deviation=float(dev),
                                    num_extrapolating=int(n_extra))
                    self._status(f"stage {st['stage'] + 1}/{len(stages)} "
                                 f"({stage_temperature(stage, st['step']):.0f} K) "
                                 f"step {st['step']}/"
                                 f"{stage['steps']} | reference calls {st['reference_calls']} | "
                                 f"max deviation {dev:.3f} eV/Å (threshold {self.threshold():.3f})"
                                 f" | labelled {len(self.store)}")
            finally:
                engine.close()
            st["stage"] += 1
            st["step"] = 0
            self._save_state()

    # ------------------------------------------------------------------------- run
    def run(self) -> dict:
        t0 = time.time()
        self.bootstrap()
        if not self.model_path.is_file() or self.state["trained_on"] < len(self.store):
            self.train()
            self._record_training_deviation()
        if len(self.store) < 2:
            raise ReferenceFailed(f"bootstrap: only {len(self.store)} of "
                                  f"{self.cfg['bootstrap']['structures']} reference calls gave "
                                  f"a label (reasons: {self.events_path})")
        self.run_md()
        self.finish_training()
        summary = self.summary(time.time() - t0)
        if self.cfg["test"]["trajectory_steps"]:
            from .evaluate import independent_test

            summary["test"] = independent_test(self.cfg, self.model_path, self._ref(),
                                               save=self.dir / "test.xyz")
        _write_json(self.dir / "summary.json", summary)
        self.progress.close_bar()
        self._say(f"done: {summary['md_steps']} MD steps, {summary['reference_calls']} reference "
                  f"calls, {summary['training_rounds']} training rounds; model {self.model_path}")
        return summary

    def finish_training(self):
        """After the MD: the final training round (committee.final_epochs > 0; once, also
        across a resume), or a normal retraining when labels are not yet trained on
        (retrain_every > 1 leaves up to retrain_every - 1 of them)."""
        c = self.cfg["committee"]
        if c["final_epochs"] > 0 and not self.state.get("final_training_done"):
            self.train((c["final_epochs"], c["final_lbfgs_epochs"]), final=True)
            self.state["final_training_done"] = True
            self._save_state()
        elif self.state["trained_on"] < len(self.store):
            self.train()
        else:
            return
        self._record_training_deviation()

    def summary(self, seconds) -> dict:
        st = self.state
        total = st["total_steps"]
        half = total // 2
        late = [s for s in st["calls_at"] if s > half]
        return {
            "md_steps": total,
            "reference_calls": st["reference_calls"],
            "bootstrap_calls": st["bootstrap_calls"],
            "md_reference_calls": len(st["calls_at"]),
            "reference_failures": st.get("reference_failures", 0),
            "reference_calls_last_half": len(late),
            "reference_call_fraction_last_half": len(late) / max(1, total - half),
            "training_rounds": st["round"],
            "final_training": bool(st.get("final_training_done")),
            "reference_seconds": st.get("reference_seconds", 0.0),  # all sessions, wall
            "training_seconds": st.get("training_seconds", 0.0),
            "labelled_structures": len(self.store),
            "seconds_this_session": round(seconds, 1),
            "model": str(self.model_path),
        }


def learn(config, overrides=(), progress=None) -> dict:
    """Run (or resume) on-the-fly learning from a YAML file or a config dict."""
    from .config import load_learn_config, validate_learn_config

    cfg = (validate_learn_config(config) if isinstance(config, dict)
           else load_learn_config(config, overrides))
    if progress is not None:
        cfg["output"]["progress"] = progress
    learner = Learner(cfg)
    try:
        return learner.run()
    finally:
        learner.close()
