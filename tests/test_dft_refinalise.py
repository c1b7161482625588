"""benchmarks/dft_refinalise.py (re-do a finished run's final training with other loss
weights) and dft_speedup.score (errors on the kept DFT frames, per condition)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from script_loader import load_script

ROOT = Path(__file__).resolve().parent.parent


def _load(name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    return load_script(ROOT / "benchmarks" / f"{name}.py")


def test_final_round_is_the_last_final_training_event(tmp_path):
    events = [{"event": "trained", "round": 1, "final": False},
              {"event": "md", "step": 10},
              {"event": "trained", "round": 7, "final": True}]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events))
    # the event counts rounds from 1, the rounds/ folders from 0
    assert _load("dft_refinalise").final_round(tmp_path) == 6


def test_final_round_refuses_a_run_without_final_training(tmp_path):
    (tmp_path / "events.jsonl").write_text(json.dumps({"event": "trained", "round": 3,
                                                       "final": False}))
    with pytest.raises(SystemExit, match="no final training"):
        _load("dft_refinalise").final_round(tmp_path)


def test_score_groups_the_frames_by_condition(monkeypatch):
    import kizuna.learn.evaluate as evaluate

    def fake(model, frames, threads=1):  # the frames' count and their mean "energy" tag
        return {"frames": len(frames), "forces_mae_eV_A": float(np.mean(
            [f.info["tag"] for f in frames])), "energy_mae_meV_atom": 0.0}

    monkeypatch.setattr(evaluate, "committee_errors", fake)
    frames = []
    for t, s, tag in [(600, 0.0, 1.0), (600, 0.0, 3.0), (900, 0.02, 5.0), (600, 0.0, 5.0)]:
        a = Atoms("Si")
        a.info.update(temperature=t, strain=s, tag=tag)
        frames.append(a)
    out = _load("dft_speedup").score("model.kzn", frames)
    assert out["frames"] == 4
    by = {(c["temperature"], c["strain"]): c for c in out["by_condition"]}
    assert by[(600.0, 0.0)]["frames"] == 3 and by[(600.0, 0.0)]["forces_mae_eV_A"] == 3.0
    assert by[(900.0, 0.02)]["frames"] == 1 and by[(900.0, 0.02)]["forces_mae_eV_A"] == 5.0


def test_scratch_sections_keeps_only_the_training_sections(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_text("symmetry_functions: {cutoff: 5.0, n_radial: 16}\n"
                 "model: {hidden_layers: [48, 48]}\n")
    got = _load("dft_refinalise").scratch_sections(f)
    assert got == {"symmetry_functions": {"cutoff": 5.0, "n_radial": 16},
                   "model": {"hidden_layers": [48, 48]}}


@pytest.mark.parametrize("text,match", [("md: {timestep: 1.0}\nmodel: {}\n", r"\['md'\]"),
                                        ("", "none"), ("- 1\n- 2\n", "expected a mapping")])
def test_scratch_sections_refuses_other_sections(tmp_path, text, match):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(SystemExit, match=match):
        _load("dft_refinalise").scratch_sections(f)


def test_the_example_candidates_are_valid_scratch_files():
    folder = ROOT / "examples" / "learn" / "final"
    files = sorted(folder.glob("si_qe_final_*.yaml"))
    assert len(files) >= 3
    for f in files:
        got = _load("dft_refinalise").scratch_sections(f)
        assert {"symmetry_functions", "model"} <= set(got)


def test_scratch_reproduces_kizuna_learns_final_training_from_scratch(tmp_path):
    """--scratch re-does the final training exactly as committee.final_training does it in
    kizuna learn (same seeds, splits, sections): the same committee, weight for weight."""
    import copy

    import yaml

    from kizuna.learn import learn
    from kizuna.model_io import read_model

    sys.path.insert(0, str(ROOT / "tests"))
    from test_learn_final_training import CONFIG

    big = {"symmetry_functions": {"cutoff": 4.5, "n_radial": 5, "n_angular": 2, "zetas": [1],
                                  "lambdas": [-1, 1]},
           "model": {"hidden_layers": [6, 6]}}
    cfg = copy.deepcopy(CONFIG)
    cfg["output"]["directory"] = str(tmp_path / "run" / "learn")  # dft_speedup's layout
    cfg["training"]["data"]["validation_fraction"] = 0.2
    cfg["committee"].update(final_epochs=2, final_lbfgs_epochs=1, final_training=big)
    learn(cfg)
    (tmp_path / "big.yaml").write_text(yaml.safe_dump(big))
    module = _load("dft_refinalise")
    module.main(["--run", str(tmp_path / "run"), "--out", str(tmp_path / "re"),
                 "--scratch", str(tmp_path / "big.yaml"), "--epochs", "2", "1"])
    a = read_model(tmp_path / "run" / "learn" / "committee.kzn").element_models[0]
    b = read_model(tmp_path / "re" / "committee.kzn").element_models[0]
    assert len(a.members) == len(b.members) == 2
    for ma, mb in zip(a.members, b.members):
        for la, lb in zip(ma.layers, mb.layers):
            np.testing.assert_array_equal(la.weights, lb.weights)
    # a warm-started re-do of such a run has nothing to start from: a clear error
    with pytest.raises(SystemExit, match="from scratch"):
        module.main(["--run", str(tmp_path / "run"), "--out", str(tmp_path / "warm"),
                     "--forces-weight", "1.0"])
