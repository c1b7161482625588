"""Parts of on-the-fly learning: exact warm start under new feature scaling, the append-only
labelled store (nothing lost, a half-written frame ignored), reference calculators, the
learning configuration's errors, the rank correlation used to judge the uncertainty."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

import kizuna
from kizuna.errors import ConfigError
from kizuna.learn.committee import (feature_statistics, merge_members, rescale_member,
                                    split_members)
from kizuna.learn.config import validate_learn_config
from kizuna.learn.evaluate import rank_correlation
from kizuna.learn.reference import make_reference
from kizuna.learn.store import LabelledStore
from model_factory import random_model


def _copper(k):
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.1, seed=k)
    return atoms


@pytest.mark.parametrize("mode", ["scale_sigma", "scale", "scale_center", "center", "none"])
def test_rescaled_member_computes_the_same_function(mode):
    model = random_model(elements=("Cu",), seed=3, mode=mode, rc=4.5,
                         kinds=("radial", "angular_narrow"))
    structures = [_copper(k) for k in range(3)]
    stats = feature_statistics(model, structures)
    rescaled = copy.deepcopy(model)
    em = rescaled.element_models[0]
    em.members = [rescale_member(em.members[0], stats["Cu"])]
    assert np.allclose(em.members[0].scaling.minimum, stats["Cu"][0])
    a, b = kizuna.Potential(model, threads=1), kizuna.Potential(rescaled, threads=1)
    for atoms in structures:
        x, y = a.compute_atoms(atoms), b.compute_atoms(atoms)
        assert y["energy"] == pytest.approx(x["energy"], rel=1e-12, abs=1e-10)
        assert np.abs(y["forces"] - x["forces"]).max() < 1e-9
        # the new training range covers the data: no atom extrapolates
        assert y["num_extrapolating"] == 0


def test_split_and_merge_members_round_trip():
    model = random_model(committee=3, seed=4)
    parts = split_members(model)
    assert [p.committee_size for p in parts] == [1, 1, 1]
    assert merge_members(parts).to_string() == model.to_string()


def test_store_appends_and_survives_a_torn_write(tmp_path):
    store = LabelledStore(tmp_path / "labelled.xyz")
    calc = EMT()
    for k in range(3):
        atoms = _copper(k)
        atoms.calc = calc
        store.append(atoms, atoms.get_potential_energy(), atoms.get_forces(),
                     atoms.get_stress(), {"index": k})
    frames = store.read()
    assert len(frames) == 3 and len(store) == 3
    assert frames[1].info["index"] == 1
    reference = _copper(1)
    reference.calc = EMT()
    assert frames[1].get_potential_energy() == pytest.approx(reference.get_potential_energy())
    assert np.allclose(frames[1].get_forces(), reference.get_forces())
    # a crash in the middle of writing a fourth frame: the three complete frames remain
    text = store.path.read_text()
    store.path.write_text(text + text[: len(text) // 3 // 2])
    assert len(store.read()) == 3


def test_reference_factory():
    assert isinstance(make_reference("emt"), EMT)
    assert isinstance(make_reference({"calculator": "ase.calculators.emt:EMT"}), EMT)
    lj = make_reference({"calculator": "lj", "kwargs": {"sigma": 2.3}})
    assert lj.parameters["sigma"] == 2.3
    with pytest.raises(ConfigError, match="unknown calculator 'nonsense'"):
        make_reference("nonsense")
    with pytest.raises(ConfigError, match="cannot import"):
        make_reference("no.such.module:Calc")


def _config(**extra):
    base = {"structure": {"bulk": {"name": "Cu", "cubic": True}}, "md": {"stages": [
        {"temperature": 300, "steps": 10}]}}
    base.update(extra)
    return base


def test_config_defaults_and_errors():
    cfg = validate_learn_config(_config())
    assert cfg["committee"]["members"] == 4
    assert cfg["md"]["stages"][0]["strain"] == 0.0
    with pytest.raises(ConfigError, match="did you mean 'uncertainty'"):
        validate_learn_config(_config(uncertainy={}))
    with pytest.raises(ConfigError, match="exactly one of structure.file and structure.bulk"):
        validate_learn_config({"structure": {}})
    with pytest.raises(ConfigError, match="unknown key"):
        validate_learn_config(_config(md={"stages": [{"temprature": 300}]}))
    with pytest.raises(ConfigError, match="members"):
        validate_learn_config(_config(committee={"members": 1}))
    assert validate_learn_config(_config(test={"temperature": [600, 1200]}))["test"][
        "temperature"] == [600.0, 1200.0]
    assert validate_learn_config(_config(test={"temperature": 300}))["test"]["temperature"] == 300.0
    for bad in ([], [300, "hot"], -5, True):
        with pytest.raises(ConfigError, match="test.temperature"):
            validate_learn_config(_config(test={"temperature": bad}))


def test_rank_correlation():
    assert rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    assert abs(rank_correlation(x, rng.normal(size=200))) < 0.2
    assert rank_correlation([1, 1, 2], [1, 1, 2]) == pytest.approx(1.0)


def test_collapsed_md_structure_stops_with_a_message_and_no_label(tmp_path):
    """A run-away MD (two atoms 0.3 Å apart) is refused before the reference is called:
    a clear DataError naming the atoms and what to change, an event, no label, no pending."""
    import json

    from kizuna.errors import DataError
    from kizuna.learn.loop import Learner

    cfg = validate_learn_config(_config(output={"directory": str(tmp_path / "run")}))
    atoms = _copper(0)
    atoms.positions[5] = atoms.positions[3] + [0.3, 0.0, 0.0]
    learner = Learner(cfg)
    try:
        info = {"stage": 1, "step": 40, "total_step": 90, "max_force_deviation": 9.0,
                "num_extrapolating": 3, "source": "md"}
        with pytest.raises(DataError, match=r"MD collapsed at stage 1, step 40: atoms 3 and 5 "
                                            r"are 0\.300 Å apart"):
            learner._label_md(atoms, info)
        assert learner.reference is None          # the reference was never asked
        assert len(learner.store) == 0
        assert learner.state.get("pending") is None
        events = [json.loads(line) for line in
                  (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
        assert events[-1]["event"] == "md_collapsed" and events[-1]["atoms"] == [3, 5]
        # a sane structure passes the check (no exception before the reference)
        learner._refuse_collapsed(_copper(1), info)
    finally:
        learner.close()


def test_stage_vacancies_of_one_species():
    from ase.build import bulk

    from kizuna.learn.md import stage_structure

    cfg = validate_learn_config(_config(md={"stages": [
        {"temperature": 900, "steps": 10, "vacancies": 4, "vacancy_species": ["Li"]}]}))
    stage = cfg["md"]["stages"][0]
    li2o = bulk("OLi2", "fluorite", a=4.63, cubic=True)            # 8 Li, 4 O
    for seed in range(5):
        assert stage_structure(li2o, stage, seed).get_chemical_formula() == "Li4O4"
    with pytest.raises(ConfigError, match="8 vacancies in a structure of 8 Li atoms"):
        stage_structure(li2o, dict(stage, vacancies=8), 0)


def test_stage_threshold_overrides_the_global_one_and_adaptive_raises_it(tmp_path):
    """Each stage labels against its own max_force_deviation when it gives one (else the
    global value); the adaptive rule raises either to factor x the labelled median."""
    from kizuna.learn.loop import Learner

    cfg = validate_learn_config(_config(
        output={"directory": str(tmp_path / "run")},
        uncertainty={"max_force_deviation": 0.1, "adaptive": True, "adaptive_factor": 2.0},
        md={"stages": [{"temperature": 300, "steps": 10},
                       {"temperature": 1500, "steps": 10, "max_force_deviation": 0.4}]}))
    assert cfg["md"]["stages"][0]["max_force_deviation"] is None
    learner = Learner(cfg)
    try:
        learner.state["train_deviation_median"] = 0.08
        learner.state["stage"] = 0
        assert learner.threshold() == pytest.approx(0.16)     # 2 x 0.08 > 0.1
        learner.state["stage"] = 1
        assert learner.threshold() == pytest.approx(0.4)      # the stage's own floor
        learner.state["train_deviation_median"] = 0.3
        assert learner.threshold() == pytest.approx(0.6)      # adaptive above it
        learner.state["stage"] = 2                            # after the last stage
        assert learner.threshold() == pytest.approx(0.6)
    finally:
        learner.close()
    with pytest.raises(ConfigError, match="max_force_deviation"):
        validate_learn_config(_config(md={"stages": [
            {"temperature": 300, "steps": 10, "max_force_deviation": -1.0}]}))
