"""Killing the on-the-fly learning loop (SIGKILL, mid-run) and resuming it loses no labelled
structure: every reference call written before the kill is still there, unchanged, after the
resumed run finishes, and every reference call of the whole run is in the store."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import yaml
from ase.io import read

from kizuna.learn import learn

CONFIG = {
    "seed": 3,
    "threads": 1,
    "output": {"progress": "none"},
    "reference": "emt",
    "structure": {"bulk": {"name": "Cu", "crystalstructure": "fcc", "a": 3.61, "cubic": True},
                  "repeat": [2, 2, 1]},
    "md": {"timestep": 2.0, "snapshot_every": 5,
           "stages": [{"temperature": 500, "steps": 40}]},
    # a tiny threshold: nearly every step past the cooldown asks for a label
    "uncertainty": {"max_force_deviation": 1e-4, "cooldown": 1, "extrapolation": False},
    "bootstrap": {"structures": 3},
    "committee": {"members": 2, "epochs": 6, "lbfgs_epochs": 2, "retrain_epochs": 2,
                  "retrain_lbfgs_epochs": 1},
    "training": {"symmetry_functions": {"cutoff": 4.5, "n_radial": 4, "n_angular": 4,
                                        "zetas": [1, 4], "lambdas": [-1, 1]},
                 "model": {"hidden_layers": [6]},
                 "data": {"validation_fraction": 0.2}},
}


def _frames(path):
    return read(path, ":") if path.is_file() and path.stat().st_size else []


def test_kill_and_resume_loses_no_labelled_structure(tmp_path):
    cfg = {**CONFIG, "output": {**CONFIG["output"], "directory": str(tmp_path / "run")}}
    config_path = tmp_path / "learn.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    store = tmp_path / "run" / "labelled.xyz"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "kizuna.cli", "learn", str(config_path)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    try:
        # wait for the bootstrap calls plus at least two labels taken during MD
        while len(_frames(store)) < 5:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "no labels within 10 minutes"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = _frames(store)
    assert len(before) >= 5
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["stage"] == 0 and state["step"] < 40  # killed mid-run

    summary = learn(str(config_path))
    after = _frames(store)
    assert len(after) >= len(before)
    for a, b in zip(before, after):
        assert np.array_equal(a.positions, b.positions)
        assert a.get_potential_energy() == b.get_potential_energy()
        assert np.array_equal(a.get_forces(), b.get_forces())
    # every reference call of the run (bootstrap and MD, before and after the kill) is stored
    assert summary["reference_calls"] == len(after)
    assert summary["md_steps"] == 40
    final = json.loads((tmp_path / "run" / "state.json").read_text())
    assert final["stage"] == 1 and final["trained_on"] == len(after)
