"""benchmarks/dft_speedup.py: an on-the-fly run killed and resumed is timed over all its
sessions (the clock written on SIGTERM and every few seconds; a resumed run adds the earlier
sessions; an interrupted run with no clock is refused instead of timed from the resume)."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from script_loader import load_script

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    return load_script(ROOT / "benchmarks" / "dft_speedup.py")


def test_sigterm_writes_the_sessions_clock(tmp_path):
    clock = tmp_path / "learn_session.json"
    script = textwrap.dedent(f"""
        import importlib.util, os, signal, time
        spec = importlib.util.spec_from_file_location("b", {str(ROOT / "benchmarks" /
                                                               "dft_speedup.py")!r})
        b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)
        from pathlib import Path
        with b.SessionClock(Path({str(clock)!r}), every=60.0):
            t = time.process_time()
            while time.process_time() - t < 0.3:   # CPU the clock must see
                pass
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            print("not terminated")
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode != 0 and "not terminated" not in proc.stdout
    assert "run the same command again to resume" in proc.stderr
    data = json.loads(clock.read_text())
    # written by the SIGTERM handler after the busy loop (the periodic write is 60 s away)
    assert data["cpu_s"] >= 0.3 and data["wall_s"] >= 0.3 and data["dft_cpu_s"] >= 0.0


def test_resumed_run_adds_the_killed_sessions(tmp_path):
    b = _bench()
    run = tmp_path / "learn"
    run.mkdir()
    (run / "state.json").write_text("{}")
    # interrupted, no clock: its time is unknown, so the run is not timed from the resume
    with pytest.raises(SystemExit, match="interrupted earlier"):
        b.earlier_sessions(tmp_path, run)
    first = {"wall_s": 100.0, "cpu_s": 40.0, "dft_cpu_s": 25.0}
    second = {"wall_s": 50.0, "cpu_s": 20.0, "dft_cpu_s": 10.0}
    (tmp_path / "learn_session.json").write_text(json.dumps(first))
    assert b.earlier_sessions(tmp_path, run) == [first]
    assert not (tmp_path / "learn_session.json").exists()
    (tmp_path / "learn_session.json").write_text(json.dumps(second))
    assert b.earlier_sessions(tmp_path, run) == [first, second]
    # nothing new: the same list, read back
    assert b.earlier_sessions(tmp_path, run) == [first, second]


def test_fresh_run_has_no_earlier_sessions(tmp_path):
    assert _bench().earlier_sessions(tmp_path, tmp_path / "learn") == []


def test_clock_restores_the_previous_sigterm_handler(tmp_path):
    b = _bench()
    before = signal.getsignal(signal.SIGTERM)
    with b.SessionClock(tmp_path / "c.json", every=60.0) as clock:
        assert signal.getsignal(signal.SIGTERM) is not before
        now = clock.now()
    assert signal.getsignal(signal.SIGTERM) is before
    assert set(now) == {"wall_s", "cpu_s", "dft_cpu_s"}
    assert json.loads((tmp_path / "c.json").read_text())["wall_s"] >= 0.0
