"""Retraining every few labels, and the final training round after the MD
(committee.retrain_every, committee.final_epochs): labels that arrive after the last
retraining are trained on before the run ends, the final round runs once (also when the
finished run is started again), and its epochs are the final ones."""
from __future__ import annotations

import copy
import json

from kizuna.learn import learn

CONFIG = {
    "seed": 5,
    "threads": 1,
    "output": {"progress": "none"},
    "reference": "emt",
    "structure": {"bulk": {"name": "Cu", "crystalstructure": "fcc", "a": 3.61, "cubic": True}},
    "md": {"timestep": 2.0, "snapshot_every": 10,
           "stages": [{"temperature": 500, "steps": 24}]},
    # a tiny threshold: every step past the cooldown asks for a label
    "uncertainty": {"max_force_deviation": 1e-4, "cooldown": 2, "extrapolation": False},
    "bootstrap": {"structures": 2},
    "committee": {"members": 2, "epochs": 3, "lbfgs_epochs": 0, "retrain_epochs": 1,
                  "retrain_lbfgs_epochs": 0, "retrain_every": 3},
    "training": {"symmetry_functions": {"cutoff": 4.5, "n_radial": 3, "n_angular": 2,
                                        "zetas": [1], "lambdas": [-1, 1]},
                 "model": {"hidden_layers": [4]},
                 "data": {"validation_fraction": 0.0}},
}


def _run(tmp_path, **committee):
    cfg = copy.deepcopy(CONFIG)
    cfg["output"]["directory"] = str(tmp_path / "run")
    cfg["committee"].update(committee)
    return cfg, learn(cfg)


def _trained(folder):
    lines = (folder / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == "trained"]


def _adam_epochs(folder, round_index):
    """Adam epochs the member-0 training of a round was configured with."""
    import yaml

    run = folder / "rounds" / f"round{round_index:04d}" / "member0"
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    return cfg["training"]["epochs"]


def test_labels_after_the_last_retraining_are_trained_on(tmp_path):
    cfg, summary = _run(tmp_path, final_epochs=0)
    folder = tmp_path / "run"
    md_labels = summary["md_reference_calls"]
    assert md_labels >= 4 and md_labels % 3 != 0, md_labels  # some left after the last round
    state = json.loads((folder / "state.json").read_text())
    assert state["trained_on"] == summary["labelled_structures"]
    # the first training, one round per 3 labels, one for the rest
    assert summary["training_rounds"] == 1 + md_labels // 3 + 1
    assert not summary["final_training"]
    assert not any(e["final"] for e in _trained(folder))


def test_the_final_round_runs_once_with_its_epochs(tmp_path):
    cfg, summary = _run(tmp_path, final_epochs=7, final_lbfgs_epochs=0)
    folder = tmp_path / "run"
    events = _trained(folder)
    assert [e["final"] for e in events] == [False] * (len(events) - 1) + [True]
    assert summary["final_training"] and summary["training_rounds"] == len(events)
    assert _adam_epochs(folder, len(events) - 1) == 7
    assert _adam_epochs(folder, len(events) - 2) == 1  # a retraining before it
    # started again on the finished folder: nothing more to do, no second final round
    again = learn(cfg)
    assert len(_trained(folder)) == len(events)
    assert again["training_rounds"] == summary["training_rounds"]


def test_final_training_from_scratch_with_its_own_model(tmp_path):
    """committee.final_training: the final round trains a new model (its sections) from
    scratch; the rounds before keep the training section's model and warm start."""
    from kizuna.model_io import read_model

    big = {"symmetry_functions": {"cutoff": 4.5, "n_radial": 5, "n_angular": 2, "zetas": [1],
                                  "lambdas": [-1, 1]},
           "model": {"hidden_layers": [6, 6]}}
    cfg, summary = _run(tmp_path, final_epochs=2, final_lbfgs_epochs=0, final_training=big)
    folder = tmp_path / "run"
    events = _trained(folder)
    assert events[-1]["final"] and not events[-2]["final"]
    last, before = len(events) - 1, len(events) - 2
    # no warm-start file for the final round, one for the round before it
    assert not list((folder / "rounds" / f"round{last:04d}").glob("init*.kzn"))
    assert list((folder / "rounds" / f"round{before:04d}").glob("init*.kzn"))
    em = read_model(folder / "committee.kzn").element_models[0]
    assert len(em.members) == 2
    assert em.num_features == 5 + 2  # n_radial + n_angular
    assert [layer.n_out for layer in em.members[0].layers] == [6, 6, 1]
    member = read_model(folder / "rounds" / f"round{last:04d}" / "member0" / "model.kzn")
    assert member.element_models[0].num_features == 7
    # the round before: the training section's model (3 + 2 functions, one hidden layer of 4)
    init = read_model(next((folder / "rounds" / f"round{before:04d}").glob("init*.kzn")))
    assert init.element_models[0].num_features == 3 + 2
    assert [layer.n_out for layer in init.element_models[0].members[0].layers] == [4, 1]


def test_final_training_needs_final_epochs_and_known_sections():
    import pytest

    from kizuna.learn.config import validate_learn_config
    from kizuna.training.config import ConfigError

    cfg = copy.deepcopy(CONFIG)
    cfg["committee"]["final_training"] = {"model": {"hidden_layers": [8]}}
    with pytest.raises(ConfigError, match="final_epochs"):
        validate_learn_config(cfg)
    cfg["committee"].update(final_epochs=3, final_training={"md": {}})
    with pytest.raises(ConfigError, match="unknown section"):
        validate_learn_config(cfg)
    cfg["committee"]["final_training"] = {"model": {"hidden_layers": [8]}}
    assert validate_learn_config(cfg)["committee"]["final_training"]["model"] == {
        "hidden_layers": [8]}
