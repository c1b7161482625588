"""CI's small version of the accuracy benchmark: benchmarks/mlearn_accuracy.py --quick trains a
tiny Si model from the repository's data and prints the comparison table."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def test_mlearn_benchmark_quick(tmp_path):
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mlearn_accuracy.py"),
                           "--quick", "--out", str(out), "--threads", "1"],
                          capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| Si |" in proc.stdout and "Si: done" in proc.stdout
    results = json.loads((out / "results.json").read_text())["results"]["Si"]
    assert np.isfinite(results["energy_mae"]) and np.isfinite(results["forces_mae"])
    metrics = json.loads((out / "Si" / "metrics.json").read_text())["metrics"]["test"]
    # the table's numbers are the test metrics of the run (both from the core)
    assert results["energy_mae"] == metrics["energy"][0]
    assert results["forces_mae"] == metrics["forces"][0]


def test_benchmark_says_when_data_are_missing(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mlearn_accuracy.py"),
                           "--shared", str(tmp_path), "--elements", "Ni"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"mlearn data NOT FOUND: looked for data/mlearn/xyz in {tmp_path}" in proc.stdout
