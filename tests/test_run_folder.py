"""Run folders of `kizuna train` / `kizuna learn` (issue 15 #6, #8, #9; issue 16 "first hour"):
one run per folder (lock naming the holder; a dead holder does not block), the user's
config.yaml is never overwritten, a diverging run stops with the epoch and the loss term, and
the text log / progress lines (rate, ETA, no carriage returns in a batch log)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import DATA
from kizuna.cli import main
from kizuna.errors import ConfigError
from kizuna.runfolder import LOCK_NAME, RESOLVED_HEADER, RunFolderBusy, RunLock
from kizuna.training import train
from kizuna.training.epochs import NonFiniteLoss

SI = DATA / "mlearn" / "Si"


def _config(directory, **training):
    return {
        "seed": 1, "threads": 1,
        "output": {"directory": str(directory), "progress": "line", "plots": False},
        "data": {"train": str(SI / "Si_train.xyz"), "max_structures": 8,
                 "validation_fraction": 0.25},
        "symmetry_functions": {"cutoff": 4.0, "n_radial": 3, "n_angular": 4, "zetas": [1, 4]},
        "model": {"hidden_layers": [4]},
        "training": {"epochs": 2, "batch_size": 4, "lbfgs_epochs": 0, **training},
    }


def _hold_lock(directory):
    """A separate process that holds the run-folder lock until killed."""
    code = ("import sys, time; from kizuna.runfolder import RunLock; "
            "lock = RunLock(sys.argv[1], 'holder').acquire(); print('held', flush=True); "
            "time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(directory)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_train_in_a_held_folder_stops_naming_the_holder(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_config(run)))
    holder = _hold_lock(run)
    try:
        assert main(["train", str(path)]) == 1
        err = capsys.readouterr().err
        assert f"in use by pid {holder.pid} on " in err and "holder:" in err, err
        assert not (run / "checkpoint.pt").exists() and not (run / "log.csv").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died (kill -9): its lock file stays, stale, and does not block
    assert f"pid {holder.pid}" in (run / LOCK_NAME).read_text()
    assert main(["train", str(path)]) == 0
    assert f"pid {os.getpid()}" in (run / LOCK_NAME).read_text()


def test_lock_is_exclusive_within_a_process_and_released(tmp_path):
    lock = RunLock(tmp_path, "first").acquire()
    with pytest.raises(RunFolderBusy, match=rf"in use by pid {os.getpid()} .*first"):
        RunLock(tmp_path, "second").acquire()
    lock.release()
    with RunLock(tmp_path, "third"):
        pass


def test_learn_folder_is_locked_too(tmp_path):
    from test_learn_resume import CONFIG

    from kizuna.learn import learn

    run = tmp_path / "learn"
    run.mkdir()
    cfg = {**CONFIG, "output": {"progress": "none", "directory": str(run)}}
    with RunLock(run, "other learn"):
        with pytest.raises(RunFolderBusy, match=r"in use by pid .*other learn"):
            learn(cfg)
    assert not (run / "labelled.xyz").exists()


def test_output_directory_dot_never_overwrites_the_users_config(tmp_path, monkeypatch, capsys):
    """Issue 15 #8: `output.directory: .` next to config.yaml overwrote it (comments lost)."""
    cfg = _config(".")
    text = "# my settings, with comments\n" + yaml.safe_dump(cfg)
    (tmp_path / "config.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "config.yaml"]) == 0
    assert (tmp_path / "config.yaml").read_text() == text
    resolved = tmp_path / "config.resolved.yaml"
    assert resolved.read_text().startswith(RESOLVED_HEADER + "\n")
    assert yaml.safe_load(resolved.read_text())["training"]["epochs"] == 2
    assert "left alone" in capsys.readouterr().err
    # a second, restarted run: still untouched; the resolved copy is kizuna's and replaced
    assert main(["train", "config.yaml", "--restart"]) == 0
    assert (tmp_path / "config.yaml").read_text() == text


def test_learn_never_overwrites_the_users_config(tmp_path):
    from test_learn_resume import CONFIG

    from kizuna.learn.loop import Learner

    run = tmp_path / "learn"
    run.mkdir()
    (run / "config.yaml").write_text("# mine\nseed: 3\n")
    from kizuna.learn.config import validate_learn_config

    learner = Learner(validate_learn_config(
        {**CONFIG, "output": {"progress": "none", "directory": str(run)}}))
    learner.close()
    assert (run / "config.yaml").read_text() == "# mine\nseed: 3\n"
    assert (run / "config.resolved.yaml").read_text().startswith(RESOLVED_HEADER)
    assert (run / "learn.log").is_file()


def test_diverging_training_stops_with_epoch_and_term(tmp_path):
    """Issue 15 #6: a NaN/inf loss trained on silently (NaN epochs, failure at export)."""
    cfg = _config(tmp_path / "run", learning_rate=1e300, lr_schedule="constant")
    with pytest.raises(NonFiniteLoss, match=r"adam epoch \d+/2, (batch \d+|validation): the "
                       r"loss is (nan|inf) \(non-finite terms: .*(energy|forces) (nan|inf)"
                       r".*training diverged.*learning_rate"):
        train(cfg)
    log = (tmp_path / "run" / "train.log").read_text()
    assert "error:" in log and "training diverged" in log
    # the folder is released: a fixed config trains (--restart)
    cfg["training"]["learning_rate"] = 1e-3
    assert train(cfg, restart=True)["model"].is_file()


def test_check_finite_names_the_term():
    import torch

    from kizuna.training.epochs import check_finite

    terms = {"penalty": {"energy": torch.tensor(0.5), "forces": torch.tensor(float("nan"))}}
    check_finite({"penalty": {"energy": torch.tensor(0.5)}}, torch.tensor(0.5), "x")
    with pytest.raises(NonFiniteLoss, match=r"batch 3: the loss is nan \(non-finite terms: "
                                            r"forces nan\)"):
        check_finite(terms, torch.tensor(float("nan")), "batch 3")


def test_batch_log_lines_have_rate_and_eta_and_no_carriage_returns(tmp_path):
    """`kizuna train` not on a terminal (a batch job's log file): one plain line per epoch with
    the rate and ETA; the run folder's train.log has the same lines, time-stamped."""
    path = tmp_path / "c.yaml"
    cfg = _config(tmp_path / "run")
    cfg["output"]["progress"] = "auto"  # stderr is a file below: line mode
    path.write_text(yaml.safe_dump(cfg))
    with open(tmp_path / "job.log", "w") as log:
        subprocess.run([sys.executable, "-m", "kizuna.cli", "train", str(path)], check=True,
                       stdout=log, stderr=subprocess.STDOUT,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    text = (tmp_path / "job.log").read_bytes()
    assert b"\r" not in text
    lines = [line for line in text.decode().splitlines() if "/2  train E" in line]
    assert len(lines) == 2
    for line in lines:
        assert " s/epoch" in line or " epochs/s" in line
        assert "elapsed, ETA " in line
    log = (tmp_path / "run" / "train.log").read_text().splitlines()
    assert sum("/2  train E" in line and "ETA" in line for line in log) == 2
    assert time.strftime("%Y-") in log[0]


def test_progress_line_mode_prints_status_lines_with_eta(monkeypatch):
    import io

    from kizuna.training import progress as progress_module

    monkeypatch.setattr(progress_module, "LINE_SECONDS", 0.0)
    stream = io.StringIO()
    p = progress_module.Progress("line", stream=stream, unit="step")
    p.start(100, 10)
    p.advance(20, "stage 1/1 step 20/100")
    p.advance(30, "stage 1/1 step 30/100")
    out = stream.getvalue()
    assert "\r" not in out
    assert out.count("\n") == 2 and "stage 1/1 step 30/100 | " in out and "ETA" in out
    with pytest.raises(ValueError, match="progress mode"):
        progress_module.Progress("lines")
    assert progress_module.Progress("epoch", stream=stream).mode == "line"  # former name


def test_progress_auto_is_line_off_a_terminal():
    import io

    from kizuna.training.progress import Progress

    assert Progress("auto", stream=io.StringIO()).mode == "line"

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert Progress("auto", stream=Tty()).mode == "bar"


def test_learn_in_a_batch_job_prints_lines_and_keeps_a_log(tmp_path):
    """Issue 16: `kizuna learn` printed nothing when not on a terminal, and `--progress line`
    wrote one endless carriage-return line. Now: plain event and status lines, and learn.log."""
    from test_learn_resume import CONFIG

    cfg = {**CONFIG, "output": {"progress": "auto", "directory": str(tmp_path / "run")},
           "md": {**CONFIG["md"], "stages": [{"temperature": 300, "steps": 6}]},
           "uncertainty": {**CONFIG["uncertainty"], "max_force_deviation": 10.0},
           "bootstrap": {"structures": 2},
           "committee": {**CONFIG["committee"], "epochs": 2, "lbfgs_epochs": 0}}
    path = tmp_path / "learn.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with open(tmp_path / "job.log", "w") as log:
        subprocess.run([sys.executable, "-m", "kizuna.cli", "learn", str(path)], check=True,
                       stdout=log, stderr=subprocess.STDOUT,
                       env={**os.environ, "OMP_NUM_THREADS": "1",
                            "KIZUNA_PROGRESS_INTERVAL": "0"})
    text = (tmp_path / "job.log").read_bytes()
    assert b"\r" not in text
    out = text.decode()
    for expected in ("bootstrap: 2/2 reference calls", "training round 1: 2 members on 2 "
                     "structures", "stage 1/1: 300 K", "step 6/6", "ETA", "done: 6 MD steps"):
        assert expected in out, (expected, out)
    log = (tmp_path / "run" / "learn.log").read_text()
    assert "training round 1 done in" in log and "stage 1/1: 300 K" in log and "done: 6" in log
    assert "step 6/6" in log and "ETA" in log  # status lines go to the log too


def test_committee_key_in_the_config_trains_a_committee(tmp_path, capsys):
    """docs/lammps.md shows `kizuna train` with `committee: 4`: the key works like
    --committee (which overrides it)."""
    from kizuna.model_io import read_model

    cfg = {**_config(tmp_path / "run", epochs=1), "committee": 2}
    cfg["output"]["progress"] = "none"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path)]) == 0
    assert "committee: " in capsys.readouterr().out
    assert read_model(tmp_path / "run" / "committee.kzn").committee_size == 2
    member = yaml.safe_load((tmp_path / "run" / "member1" / "config.yaml").read_text())
    assert member["committee"] == 1 and member["seed"] == 2
    with pytest.raises(ConfigError, match="train_committee"):
        train(cfg)  # the single-run API refuses it instead of training one model


def test_a_file_system_without_locks_warns_and_goes_on(tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.warns(RuntimeWarning, match="cannot lock the run folder .No locks available"):
        lock = RunLock(tmp_path, "x").acquire()
    lock.release()
