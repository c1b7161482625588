"""Stages that express an anneal protocol in `kizuna learn`: a linear temperature ramp within a
stage (temperature -> temperature_end; ASE Langevin's target set every step, LAMMPS's
fix langevin tstart tstop over the stage's step counter) and stages that continue from the
previous stage's final state (continue: true), also across an interruption."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.io import read
from pathlib import Path

from kizuna.errors import ConfigError
from kizuna.learn import learn
from kizuna.learn.config import validate_learn_config
from kizuna.learn.md import AseMD, stage_temperature, thermalise

COMMITTEE = Path(__file__).parent / "data" / "cu_emt" / "committee.kzn"

CONFIG = {
    "seed": 1,
    "threads": 1,
    "output": {"progress": "none"},
    "reference": "emt",
    "structure": {"bulk": {"name": "Cu", "crystalstructure": "fcc", "a": 3.61, "cubic": True},
                  "repeat": [2, 2, 2]},
    "md": {"timestep": 2.0, "snapshot_every": 10,
           "stages": [{"temperature": 400, "steps": 20, "vacancies": 1, "strain": 0.02},
                      {"temperature": 400, "temperature_end": 900, "steps": 20,
                       "continue": True}]},
    "uncertainty": {"max_force_deviation": 0.3, "cooldown": 3, "extrapolation": False},
    "bootstrap": {"structures": 3},
    "committee": {"members": 2, "epochs": 5, "lbfgs_epochs": 2, "retrain_epochs": 2,
                  "retrain_lbfgs_epochs": 1, "retrain_every": 2},
    "training": {"symmetry_functions": {"cutoff": 4.5, "n_radial": 4, "n_angular": 4,
                                        "zetas": [1, 4], "lambdas": [-1, 1]},
                 "model": {"hidden_layers": [6]},
                 "data": {"validation_fraction": 0.2}},
}


def _config(tmp_path, name="run", **md):
    cfg = copy.deepcopy(CONFIG)
    cfg["output"]["directory"] = str(tmp_path / name)
    cfg["md"].update(md)
    return cfg


def _events(folder, kind):
    lines = (Path(folder) / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


# ----------------------------------------------------------------------------- config
def test_ramp_and_continue_are_validated():
    cfg = validate_learn_config(copy.deepcopy(CONFIG))
    first, second = cfg["md"]["stages"]
    assert first["temperature_end"] is None and first["continue"] is False
    assert second["temperature_end"] == 900.0 and second["continue"] is True
    bad = copy.deepcopy(CONFIG)
    bad["md"]["stages"][0]["continue"] = True
    with pytest.raises(ConfigError, match=r"md\.stages\.0\.continue.*first stage"):
        validate_learn_config(bad)
    bad = copy.deepcopy(CONFIG)
    bad["md"]["stages"][1]["strain"] = 0.01
    with pytest.raises(ConfigError, match="continued stage.*strain and vacancies"):
        validate_learn_config(bad)
    bad = copy.deepcopy(CONFIG)
    bad["md"]["friction"] = 0.0
    with pytest.raises(ConfigError, match="temperature_end.*thermostat"):
        validate_learn_config(bad)
    bad = copy.deepcopy(CONFIG)
    bad["md"]["stages"][1]["temperature_end"] = -5
    with pytest.raises(ConfigError, match="temperature_end"):
        validate_learn_config(bad)
    bad = copy.deepcopy(CONFIG)
    bad["md"]["stages"][1]["temperature_stop"] = 5
    with pytest.raises(ConfigError, match="temperature_stop: unknown key"):
        validate_learn_config(bad)


def test_stage_temperature_is_the_linear_ramp():
    stage = {"temperature": 3000.0, "temperature_end": 1500.0, "steps": 750}
    assert stage_temperature(stage, 0) == 3000.0
    assert stage_temperature(stage, 750) == 1500.0
    assert stage_temperature(stage, 250) == pytest.approx(2500.0)
    assert stage_temperature({"temperature": 300.0, "steps": 10}, 7) == 300.0


# ----------------------------------------------------------------------------- ASE engine
def _crystal(temperature, seed=0):
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((3, 3, 3))
    thermalise(atoms, temperature, seed)
    return atoms


def _ase_engine(atoms, stage, step, friction):
    from kizuna.calculator import Calculator

    cfg = {"md": {"timestep": 2.0, "friction": friction}}
    return AseMD(atoms, cfg, stage, step, 5,
                 lambda: Calculator(COMMITTEE, threads=1, extrapolation="ignore"))


def test_ase_ramp_sets_the_target_every_step_and_reaches_it():
    stage = {"temperature": 200.0, "temperature_end": 800.0, "steps": 120}
    engine = _ase_engine(_crystal(200.0), stage, 0, friction=0.2)
    temps = []
    for s in range(1, stage["steps"] + 1):
        engine.advance(1, None, False)
        # the target of the step just run: T0 + (T1 - T0) s / steps (kB T in eV)
        assert engine.dyn.temp == pytest.approx(units.kB * (200.0 + 600.0 * s / 120), rel=1e-12)
        temps.append(engine.atoms.get_temperature())
    # with a strong thermostat (5 fs) the kinetic temperature follows: 108 atoms
    assert np.mean(temps[:10]) == pytest.approx(200.0, rel=0.35)
    assert np.mean(temps[-20:]) == pytest.approx(750.0, rel=0.2)


def test_ase_ramp_resumed_mid_stage_starts_at_its_step():
    stage = {"temperature": 200.0, "temperature_end": 800.0, "steps": 120}
    engine = _ase_engine(_crystal(500.0), stage, 60, friction=0.2)
    assert engine.dyn.temp == pytest.approx(units.kB * 500.0)
    engine.advance(1, None, False)
    assert engine.dyn.temp == pytest.approx(units.kB * 505.0)


# ----------------------------------------------------------------------------- LAMMPS engine
def _lammps_or_skip():
    lammps_md = pytest.importorskip("kizuna.learn.lammps_md")
    reason = lammps_md.lammps_available()
    if reason is not None:
        pytest.skip(reason)
    return lammps_md


def _lammps_temperatures(stage, step, start_temperature, chunks):
    lammps_md = _lammps_or_skip()
    cfg = {"md": {"timestep": 2.0, "friction": 0.2}, "threads": 1}
    engine = lammps_md.LammpsMD(_crystal(start_temperature), cfg, stage, step, 11, COMMITTEE)
    try:
        out = []
        for n in chunks:  # several runs between two stops, as the learner does
            engine.advance(n, None, False)
            out.append((engine.system.lmp.extract_global("ntimestep"),
                        engine.current().get_temperature()))
        return out
    finally:
        engine.close()


def test_lammps_ramp_follows_the_stage_step_across_runs():
    stage = {"temperature": 200.0, "temperature_end": 800.0, "steps": 120}
    out = _lammps_temperatures(stage, 0, 200.0, [10] * 12)
    assert [s for s, _ in out] == list(range(10, 130, 10))  # LAMMPS's step = the stage's
    temps = np.array([t for _, t in out])
    targets = 200.0 + 600.0 * np.arange(10, 130, 10) / 120
    # damp 5 fs: the kinetic temperature tracks the target (108 atoms: ~10 % noise)
    assert np.mean(temps[-4:]) == pytest.approx(np.mean(targets[-4:]), rel=0.2)
    assert np.mean(temps[:2]) < 0.6 * np.mean(temps[-2:])


def test_lammps_ramp_resumed_mid_stage_continues_the_ramp():
    """A run rebuilt at step 100 of a 200-step ramp 200 -> 1000 K (a resume) heats towards
    1000 K from 600 K, not from 200 K again (a ramp counted from the rebuilt run would)."""
    stage = {"temperature": 200.0, "temperature_end": 1000.0, "steps": 200}
    out = _lammps_temperatures(stage, 100, 600.0, [25, 25, 25, 25])
    assert out[-1][0] == 200
    temps = np.array([t for _, t in out])
    assert np.mean(temps[-2:]) == pytest.approx(925.0, rel=0.2)


# ----------------------------------------------------------------------------- continue
def _check_continued(folder):
    """Stage 2 continued stage 1's state: one vacancy (31 atoms) and the strained cell, which
    the start structure (32 atoms, 3.61 Å) does not have."""
    snapshot = read(folder / "snapshot.xyz")
    assert len(snapshot) == 31
    assert snapshot.cell[0, 0] == pytest.approx(2 * 3.61 * 1.02)
    assert snapshot.info["stage"] == 1 and snapshot.info["stage_end"]
    md_frames = [f for f in read(folder / "labelled.xyz", ":") if f.info["source"] == "md"]
    assert all(len(f) == 31 for f in md_frames)
    stages = _events(folder, "stage")
    assert stages[-1]["continued"] and stages[-1]["temperature_end"] == 900.0
    trace = _events(folder, "md")
    last = [e for e in trace if e["stage"] == 1][-1]
    assert last["step"] == 20 and last["target_temperature"] == pytest.approx(900.0)


@pytest.mark.parametrize("engine", ["ase", "lammps"])
def test_continued_stage_starts_from_the_previous_final_state(tmp_path, engine):
    if engine == "lammps":
        _lammps_or_skip()
    summary = learn(_config(tmp_path, engine=engine))
    assert summary["md_steps"] == 40
    _check_continued(tmp_path / "run")


def _interrupted_before_stage_two(cfg, monkeypatch):
    """Run ``cfg`` until stage 1 has ended and stage 2 is about to start, then interrupt it
    (KeyboardInterrupt); returns the run folder."""
    from kizuna.learn.loop import Learner

    original = Learner._stage_start

    def stop_at_stage_two(self, base, stage, seed):
        if self.state["stage"] == 1:
            raise KeyboardInterrupt
        return original(self, base, stage, seed)

    monkeypatch.setattr(Learner, "_stage_start", stop_at_stage_two)
    with pytest.raises(KeyboardInterrupt):
        learn(copy.deepcopy(cfg))
    monkeypatch.setattr(Learner, "_stage_start", original)
    return Path(cfg["output"]["directory"])


def test_continued_stage_after_an_interruption_at_the_stage_boundary(tmp_path, monkeypatch):
    """Killed when stage 1 has ended (its final state on disk) and stage 2 has not begun:
    the resumed run starts stage 2 from stage 1's final state."""
    cfg = _config(tmp_path)
    folder = _interrupted_before_stage_two(cfg, monkeypatch)
    state = json.loads((folder / "state.json").read_text())
    assert state["stage"] == 1 and state["step"] == 0 and state["total_steps"] == 20
    final_of_one = read(folder / "snapshot.xyz")
    assert final_of_one.info["stage"] == 0 and final_of_one.info["stage_end"]
    summary = learn(copy.deepcopy(cfg))
    assert summary["md_steps"] == 40
    _check_continued(folder)


def test_continued_stage_refuses_a_snapshot_of_another_stage(tmp_path, monkeypatch):
    from kizuna.learn.md import save_snapshot

    cfg = _config(tmp_path)
    folder = _interrupted_before_stage_two(cfg, monkeypatch)
    atoms = read(folder / "snapshot.xyz")
    save_snapshot(atoms, folder / "snapshot.xyz", {"stage": 0, "step": 10, "stage_end": False})
    with pytest.raises(RuntimeError, match="does not hold that stage's final state"):
        learn(copy.deepcopy(cfg))


def test_kill_between_snapshot_and_state_resumes_from_the_snapshot_step(tmp_path, monkeypatch):
    """snapshot.xyz is written before state.json: a kill between the two leaves a snapshot one
    chunk ahead of the state; the resumed run takes the snapshot's step (no step run twice)."""
    from kizuna.learn.loop import Learner

    cfg = _config(tmp_path, stages=[{"temperature": 400, "steps": 30}])
    cfg["uncertainty"]["max_force_deviation"] = 100.0   # no labels: only the MD chunks
    original = Learner._save_state

    def stop_before_writing_step_20(self):
        if self.state["step"] == 20:
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(Learner, "_save_state", stop_before_writing_step_20)
    with pytest.raises(KeyboardInterrupt):
        learn(copy.deepcopy(cfg))
    monkeypatch.setattr(Learner, "_save_state", original)
    folder = tmp_path / "run"
    assert json.loads((folder / "state.json").read_text())["step"] == 10
    assert read(folder / "snapshot.xyz").info["step"] == 20
    summary = learn(copy.deepcopy(cfg))
    assert summary["md_steps"] == 30
    assert _events(folder, "stage")[-1]["start"] == 20
