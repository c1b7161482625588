"""The DFT reference's failure handling, with a fake pw.x (tests/fake_pwx.py: EMT energies in
pw.x's output format, or a non-converged SCF, a crash, a kill, a hang): retries with safer
mixing, a skipped structure with an event (never a label from an unconverged SCF), scratch
folders removed, and `kizuna learn` killed during a DFT call resuming without a lost or
duplicated label."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read

from kizuna.errors import ConfigError
from kizuna.learn import learn
from kizuna.learn.reference import ReferenceFailed, make_reference

FAKE = Path(__file__).with_name("fake_pwx.py")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A reference spec that runs the fake pw.x, and a function that sets its plan."""
    pseudo = tmp_path / "pseudo"
    pseudo.mkdir()
    (pseudo / "Cu.UPF").write_text("not read by the fake\n")
    plan = tmp_path / "plan"
    monkeypatch.setenv("FAKE_PWX_PLAN", str(plan))
    spec = {"type": "espresso", "command": f"{sys.executable} {FAKE}",
            "pseudopotentials": {"Cu": "Cu.UPF"}, "pseudo_dir": str(pseudo),
            "ecutwfc": 20, "kpts": [1, 1, 1]}

    def set_plan(*modes):
        plan.write_text("\n".join(modes) + "\n")
        Path(str(plan) + ".log").unlink(missing_ok=True)

    def calls():
        log = Path(str(plan) + ".log")
        return log.read_text().splitlines() if log.is_file() else []

    return spec, set_plan, calls


def _cu():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    atoms.positions[0] += [0.07, -0.03, 0.05]
    return atoms


def test_converged_output_gives_the_values_in_ev_and_angstrom(fake, tmp_path):
    spec, set_plan, calls = fake
    set_plan("ok")
    calc = make_reference(spec, tmp_path / "run")
    atoms = _cu()
    atoms.calc = calc
    energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    expect = _cu()
    expect.calc = EMT()  # what the fake wrote, in Ry, Ry/bohr, Ry/bohr^3 with pw.x's sign
    assert energy == pytest.approx(expect.get_potential_energy(), abs=1e-6)
    assert np.allclose(forces, expect.get_forces(), atol=1e-6)
    # 8 decimals of Ry/bohr^3 (pw.x's format): half a unit of the last one is 4.6e-7 eV/Å^3
    assert np.allclose(stress, expect.get_stress(), atol=5e-7)
    assert len(calls()) == 1 and "mixing_beta=0.5" in calls()[0]
    # the call's scratch folder is gone; the input/output are kept on request only
    assert list((tmp_path / "run" / "dft" / "scratch").iterdir()) == []
    calc.keep_last(tmp_path / "kept")
    assert "convergence has been achieved" in (tmp_path / "kept" / "espresso.pwo").read_text()
    assert "ecutwfc" in (tmp_path / "kept" / "espresso.pwi").read_text()


def test_not_converged_is_retried_with_safer_mixing(fake, tmp_path):
    spec, set_plan, calls = fake
    set_plan("noconv", "noconv", "ok")
    calc = make_reference(spec, tmp_path / "run")
    atoms = _cu()
    atoms.calc = calc
    expect = _cu()
    expect.calc = EMT()
    assert atoms.get_potential_energy() == pytest.approx(expect.get_potential_energy(), abs=1e-6)
    log = calls()
    assert [line.split()[0] for line in log] == ["noconv", "noconv", "ok"]
    assert "mixing_beta=0.5 electron_maxstep=100" in log[0]
    assert "mixing_beta=0.2 electron_maxstep=200" in log[1]
    assert "mixing_beta=0.1 electron_maxstep=300" in log[2]
    assert [a["reason"] for a in calc.last_attempts] == [
        "SCF convergence NOT achieved", "SCF convergence NOT achieved", "converged"]
    # every try had its own scratch folder, all removed
    assert len({line.split("cwd=")[1] for line in log}) == 3
    assert list((tmp_path / "run" / "dft" / "scratch").iterdir()) == []


@pytest.mark.parametrize("mode, reason", [
    ("noconv", "SCF convergence NOT achieved"),
    ("crash", "pw.x exited with status 1"),
    ("kill", "killed by signal 9 (SIGKILL)"),
])
def test_failing_every_try_raises_and_gives_no_values(fake, tmp_path, mode, reason):
    spec, set_plan, calls = fake
    set_plan(mode)
    calc = make_reference(spec, tmp_path / "run")
    atoms = _cu()
    atoms.calc = calc
    with pytest.raises(ReferenceFailed) as info:
        atoms.get_potential_energy()
    assert len(info.value.attempts) == 3 and len(calls()) == 3
    assert all(reason in a["reason"] for a in info.value.attempts), info.value.attempts
    assert "energy" not in calc.results
    assert list((tmp_path / "run" / "dft" / "scratch").iterdir()) == []


def test_a_hanging_call_is_killed_after_the_timeout(fake, tmp_path):
    spec, set_plan, calls = fake
    set_plan("hang", "ok")
    # timeout: long enough for the "ok" try (the fake imports numpy and ASE) on a loaded machine
    calc = make_reference({**spec, "timeout": 10}, tmp_path / "run")
    atoms = _cu()
    atoms.calc = calc
    atoms.get_potential_energy()
    assert [a["reason"] for a in calc.last_attempts] == ["timed out (killed)", "converged"]
    pid = int(Path(os.environ["FAKE_PWX_PLAN"] + ".hanging").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_bad_settings_are_config_errors(fake, tmp_path):
    spec = fake[0]
    with pytest.raises(ConfigError, match="did you mean 'ecutwfc'"):
        make_reference({**spec, "ecutwf": 30})
    with pytest.raises(ConfigError, match="Cu.UPF not found"):
        make_reference({**spec, "pseudo_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="not found on PATH"):
        make_reference({**spec, "command": "no-such-pw.x"})
    with pytest.raises(ConfigError, match="exactly one of kpts"):
        make_reference({**spec, "kspacing": 0.3})
    with pytest.raises(ConfigError, match="unknown type"):
        make_reference({"type": "vasp"})
    calc = make_reference(spec)
    atoms = bulk("Si", "diamond", a=5.43)
    atoms.calc = calc
    with pytest.raises(ConfigError, match=r"no pseudopotential for \['Si'\]"):
        atoms.get_potential_energy()


LEARN = {
    "seed": 3,
    "threads": 1,
    "output": {"progress": "none"},
    "structure": {"bulk": {"name": "Cu", "crystalstructure": "fcc", "a": 3.61, "cubic": True},
                  "repeat": [1, 1, 1]},
    "md": {"timestep": 2.0, "snapshot_every": 5,
           "stages": [{"temperature": 500, "steps": 30}]},
    "uncertainty": {"max_force_deviation": 1e-4, "cooldown": 3, "extrapolation": False},
    "bootstrap": {"structures": 3},
    "committee": {"members": 2, "epochs": 4, "lbfgs_epochs": 1, "retrain_epochs": 1,
                  "retrain_lbfgs_epochs": 1},
    "training": {"symmetry_functions": {"cutoff": 4.0, "n_radial": 3, "n_angular": 2,
                                        "zetas": [1], "lambdas": [-1, 1]},
                 "model": {"hidden_layers": [4]},
                 "data": {"validation_fraction": 0.34}},
}


def _config(spec, folder):
    return {**LEARN, "reference": spec, "output": {**LEARN["output"], "directory": str(folder)}}


def _events(folder):
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


def test_learn_skips_a_structure_whose_scf_never_converges(fake, tmp_path):
    spec, set_plan, calls = fake
    # bootstrap: one structure fails all three tries and is skipped; the first MD label's
    # three tries fail too (skipped); then everything converges
    set_plan("ok", "noconv", "crash", "kill", "ok", "noconv", "noconv", "noconv", "ok")
    run = tmp_path / "run"
    summary = learn(_config(spec, run))
    events = _events(run)
    failed = [e for e in events if e["event"] == "reference_failed"]
    assert [e["source"] for e in failed] == ["bootstrap", "md"]
    assert failed[0]["index"] == 1 and len(failed[0]["attempts"]) == 3
    assert "killed by signal 9" in failed[0]["reason"]
    frames = read(run / "labelled.xyz", ":")
    # never a label from a failed call: the skipped MD step is not in the store
    md_steps = [f.info["total_step"] for f in frames if f.info["source"] == "md"]
    assert failed[1]["total_step"] not in md_steps
    assert sorted(f.info["index"] for f in frames if f.info["source"] == "bootstrap") == [0, 2]
    assert summary["reference_failures"] == 2
    assert summary["reference_calls"] == len(frames) == 2 + len(md_steps)
    assert len(md_steps) >= 2
    # the DFT output is kept for labelled structures only, one folder per label
    kept = sorted(p.name for p in (run / "dft").iterdir() if p.name != "scratch")
    assert kept == [f"{k:05d}" for k in range(len(frames))]
    for k, frame in enumerate(frames):
        text = (run / "dft" / f"{k:05d}" / "espresso.pwo").read_text()
        energy = float([x for x in text.splitlines() if x.startswith("!")][0].split()[-2])
        assert frame.get_potential_energy() == pytest.approx(energy * 13.60569193, abs=1e-5)  # Ry (CODATA 2006)
    assert list((run / "dft" / "scratch").iterdir()) == []


def test_learn_killed_during_a_dft_call_resumes_without_loss_or_duplicate(fake, tmp_path):
    spec, set_plan, calls = fake
    set_plan("ok", "ok", "ok", "ok", "ok", "hang")  # the 3rd MD label hangs
    run = tmp_path / "run"
    config = tmp_path / "learn.yaml"
    config.write_text(yaml.safe_dump(_config(spec, run)))
    hanging = Path(os.environ["FAKE_PWX_PLAN"] + ".hanging")
    proc = subprocess.Popen([sys.executable, "-m", "kizuna.cli", "learn", str(config)],
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    try:
        while not hanging.is_file():
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.time() < deadline, "the DFT call never started"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the killed learner's pw.x does not outlive it (parent-death signal)
    pid = int(hanging.read_text())
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("pw.x kept running after kizuna learn was killed")
    state = json.loads((run / "state.json").read_text())
    pending = state["pending"]
    assert pending is not None and pending["source"] == "md"
    before = read(run / "labelled.xyz", ":")
    assert len(before) == 5  # 3 bootstrap + 2 MD labels, the 3rd was running

    set_plan("ok")
    summary = learn(str(config))
    after = read(run / "labelled.xyz", ":")
    for a, b in zip(before, after):  # nothing lost or changed
        assert np.array_equal(a.positions, b.positions)
        assert a.get_potential_energy() == b.get_potential_energy()
    # the interrupted structure was labelled once, on resume, as the structure it was
    redone = [f for f in after if f.info.get("total_step") == pending["total_step"]]
    assert len(redone) == 1
    keys = [(f.info["source"], f.info.get("index"), f.info.get("total_step")) for f in after]
    assert len(keys) == len(set(keys))  # no duplicate
    positions = [f.positions.round(8).tobytes() for f in after]
    assert len(positions) == len(set(positions))
    assert summary["reference_calls"] == len(after)
    assert summary["md_steps"] == 30
    assert json.loads((run / "state.json").read_text())["pending"] is None


def test_a_label_written_just_before_a_kill_is_not_taken_twice(fake, tmp_path):
    """Killed after the label was appended but before state.json said so: the resumed
    learner finds it in the store and does not call the reference again."""
    from kizuna.learn.config import validate_learn_config
    from kizuna.learn.loop import Learner

    spec, set_plan, calls = fake
    set_plan("ok")
    learner = Learner(validate_learn_config(_config(spec, tmp_path / "run")))
    atoms = _cu()
    info = {"source": "md", "stage": 0, "step": 7, "total_step": 7,
            "max_force_deviation": 0.3, "num_extrapolating": 0, "temperature": 500.0}
    learner.state["pending"] = info
    learner.store.append(atoms, -1.0, np.zeros((4, 3)), None, info)
    assert learner._label_md(atoms, info)
    assert calls() == []  # no reference call
    assert len(learner.store) == 1 and learner.state["calls_at"] == [7]
    assert learner.state["reference_calls"] == 1 and learner.state["pending"] is None
