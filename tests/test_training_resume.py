"""`kizuna train` killed with SIGKILL in the middle of an epoch resumes to exactly the weights of
an uninterrupted run with the same seed."""
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from conftest import DATA
from kizuna.training.log import read_log

SI = DATA / "mlearn" / "Si"


def _config(tmp_path, name):
    cfg = {
        "seed": 11, "threads": 2,
        "output": {"directory": str(tmp_path / name), "progress": "bar", "plots": False},
        "data": {"train": str(SI / "Si_train.xyz"), "max_structures": 120,
                 "validation_fraction": 0.1},
        "symmetry_functions": {"cutoff": 4.5, "n_radial": 6, "n_angular": 8, "zetas": [1, 4]},
        "model": {"hidden_layers": [8, 8]},
        "training": {"epochs": 6, "batch_size": 1, "learning_rate": 0.005, "lbfgs_epochs": 2},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _command(config):
    return [sys.executable, "-c", "import sys; from kizuna.cli import main; "
            "sys.exit(main(sys.argv[1:]))", "train", str(config)]


def _run_until_mid_epoch(config, epoch, timeout=600):
    """Start `kizuna train`, read its progress bar and SIGKILL it when epoch `epoch` has done
    some but not all of its batches. Returns the progress text seen. The bar (tqdm; its postfix
    says 'epoch k/K batch b/B') is redrawn after every batch (KIZUNA_PROGRESS_REDRAW=0): on an
    idle machine an epoch is shorter than the default redraw interval, and the bar would jump
    from 1/N to N/N."""
    env = dict(os.environ, OMP_NUM_THREADS="1", KIZUNA_PROGRESS_REDRAW="0")
    proc = subprocess.Popen(_command(config), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env=env)
    seen = b""
    marker = re.compile(rf"epoch {epoch}/\d+ batch (\d+)/(\d+)".encode())
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            found = marker.findall(seen[-4096:])
            if found:
                done, total = found[-1]
                if 0 < int(done) < int(total):
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    return seen.decode(errors="replace"), int(done), int(total)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    raise AssertionError(f"never saw epoch {epoch} in progress; output: {seen[-2000:]!r}")


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    ref = _config(tmp_path, "ref")
    subprocess.run(_command(ref), check=True, capture_output=True,
                   env=dict(os.environ, OMP_NUM_THREADS="1"))

    cut = _config(tmp_path, "cut")
    text, done, total = _run_until_mid_epoch(cut, epoch=3)
    assert 0 < done < total
    ckpt = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)
    assert ckpt["epochs_done"] == 2  # epoch 3 was running when the process died
    assert not (tmp_path / "cut" / "model.kzn").exists()
    # the killed run left its lock file (stale: the kernel dropped the lock): it must not block
    assert "pid" in (tmp_path / "cut" / ".kizuna.lock").read_text()

    resumed = subprocess.run(_command(cut), check=True, capture_output=True, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert "resuming" in resumed.stderr and "after epoch 2" in resumed.stderr
    a = torch.load(tmp_path / "ref" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)
    assert a["epochs_done"] == b["epochs_done"] == 8
    for key in a["best"]["state"]:
        assert torch.equal(a["best"]["state"][key], b["best"]["state"][key]), key
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    la, lb = read_log(tmp_path / "ref" / "log.csv"), read_log(tmp_path / "cut" / "log.csv")
    assert [int(r["epoch"]) for r in lb] == list(range(1, 9))
    for ra, rb in zip(la, lb):
        assert ra["train_loss"] == rb["train_loss"] and ra["val_loss"] == rb["val_loss"]
    ma = (tmp_path / "ref" / "model.kzn").read_text().splitlines()
    mb = (tmp_path / "cut" / "model.kzn").read_text().splitlines()
    # the runs differ only in their output folder, which the `meta config` line records (and
    # the checksum line covers): everything else must be identical
    differs = ("meta config", "checksum ")
    assert [x for x in ma if not x.startswith(differs)] == \
        [x for x in mb if not x.startswith(differs)]
