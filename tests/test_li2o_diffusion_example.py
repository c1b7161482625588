"""The Li2O diffusion example (examples/learn/li2o_diffusion.yaml, its seed script
li2o_seed_labels.py and examples/validate/li2o_diffusion.yaml): the configurations load, the
learning samples the student's diffusion runs (same cell, vacancies, thermostat, timestep and
temperatures), and the seed script keeps only sound labels. Seconds, no reference calls."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from kizuna.learn.config import load_learn_config
from kizuna.learn.md import stage_structure, start_structure
from kizuna.properties.config import load_validate_config
from script_loader import load_script

ROOT = Path(__file__).resolve().parent.parent
LEARN = ROOT / "examples" / "learn" / "li2o_diffusion.yaml"
VALIDATE = ROOT / "examples" / "validate" / "li2o_diffusion.yaml"


def _seed_module():
    return load_script(ROOT / "examples" / "learn" / "li2o_seed_labels.py")


def test_learning_samples_the_students_diffusion_runs():
    learn = load_learn_config(LEARN)
    val = load_validate_config(VALIDATE, ["model=null"])   # the model: a learning run's
    diff = val["properties"]["diffusion"]
    assert learn["md"]["engine"] == diff["engine"] == "lammps"
    assert learn["md"]["timestep"] == diff["timestep"]
    assert learn["md"]["friction"] == diff["friction"]
    assert learn["uncertainty"]["adaptive"] is False      # no threshold drift (the first run)
    # the same cell: the primitive cell repeated as the student's supercell, same vacancies
    base = start_structure(learn)
    unit = start_structure(val)
    assert len(base) == len(unit) * int(np.prod(diff["supercell"]))
    assert base.get_chemical_formula() == unit.repeat(diff["supercell"]).get_chemical_formula()
    fresh = [s for s in learn["md"]["stages"] if not s["continue"]]
    for k, stage in enumerate(fresh):
        cell = stage_structure(base, stage, k)
        assert stage["vacancy_species"] == diff["vacancy_species"]
        assert len(cell) == len(base) - diff["vacancies"]
    # every diffusion temperature is sampled, each stage with its own fixed threshold
    temps = {s["temperature"] for s in learn["md"]["stages"]}
    assert set(diff["temperatures"]) <= temps
    assert all(s["max_force_deviation"] for s in learn["md"]["stages"])
    # the teacher: its own small cell at the same vacancy concentration (D of a vacancy
    # mechanism is proportional to it)
    li_student = 2 * int(np.prod(diff["supercell"]))
    li_teacher = 2 * int(np.prod(diff["reference_supercell"]))
    assert diff["vacancies"] / li_student == diff["reference_vacancies"] / li_teacher


def _labelled(atoms, forces_scale=0.1, seed=0):
    rng = np.random.default_rng(seed)
    a = atoms.copy()
    f = rng.normal(scale=forces_scale, size=(len(a), 3))
    a.calc = SinglePointCalculator(a, energy=-4.8 * len(a), forces=f, stress=np.zeros(6))
    return a


def test_seed_script_keeps_sound_labels_only(tmp_path):
    crystal = bulk("OLi2", "fluorite", a=4.63, cubic=True)          # Li-O 2.00 Å
    fine = _labelled(crystal)
    fine.info["source"] = "bootstrap"
    close = crystal.copy()
    close.positions[1] = close.positions[0] + [0.6, 0.0, 0.0]      # Li 0.6 Å from O: collapsed
    close = _labelled(close, seed=1)
    hot = _labelled(crystal, forces_scale=30.0, seed=2)            # forces of tens of eV/Å
    old = tmp_path / "old"
    old.mkdir()
    write(old / "labelled.xyz", [fine, close, hot], format="extxyz")
    new = tmp_path / "new"
    assert _seed_module().main([str(old), str(new)]) == 0
    kept = read(new / "labelled.xyz", ":")
    assert len(kept) == 1
    assert kept[0].info["source"] == "bootstrap"
    np.testing.assert_allclose(kept[0].get_forces(), fine.get_forces(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(kept[0].get_potential_energy(), fine.get_potential_energy())
    # a folder that has labels already is not overwritten
    with pytest.raises(SystemExit, match="exists"):
        _seed_module().main([str(old), str(new)])
    with pytest.raises(SystemExit, match="no such file"):
        _seed_module().main([str(tmp_path / "missing"), str(tmp_path / "other")])


def _close_pairs_module():
    return load_script(ROOT / "examples" / "learn" / "li2o_close_pairs.py")


def test_close_pairs_pushes_the_closest_pair_across_the_boundary():
    m = _close_pairs_module()
    crystal = bulk("OLi2", "fluorite", a=4.63, cubic=True)
    crystal.wrap()
    for pair, target in ((("O", "O"), 1.2), (("Li", "O"), 1.3), (("Li", "Li"), 1.9)):
        out = m.pushed(crystal, pair, target)
        moved = np.flatnonzero(np.linalg.norm(out.positions - crystal.positions, axis=1) > 1e-9)
        assert len(moved) == 2                          # the pair only
        i, j = moved
        assert {out[i].symbol, out[j].symbol} == set(pair)
        # the pair's distance (minimum image) is the target; its midpoint stays put
        assert out.get_distance(i, j, mic=True) == pytest.approx(target, abs=1e-9)
        before = crystal.get_distance(i, j, mic=True)
        nearest = {"O-O": 4.63 / 2 ** 0.5, "Li-O": 4.63 * 3 ** 0.5 / 4, "Li-Li": 4.63 / 2}
        assert before == pytest.approx(nearest["-".join(pair)])     # the nearest such pair
        shift = out.positions[moved] - crystal.positions[moved]
        np.testing.assert_allclose(shift[0], -shift[1], atol=1e-12)
    assert m.pushed(crystal, ("Li", "Na"), 1.5) is None


def test_close_pairs_labels_the_stop_its_past_and_pushed_pairs():
    m = _close_pairs_module()
    crystal = bulk("OLi2", "fluorite", a=4.63, cubic=True)
    frames = {s: crystal.copy() for s in range(100, 262, 2)}   # recorded every 2 steps
    todo = m.to_label(frames, n_pairs=3, n_rattle=2, rng=np.random.default_rng(0))
    kinds = [info["kind"] for _, info in todo]
    assert kinds[0] == "stop" and todo[0][1]["step"] == 260
    assert [info["step"] for _, info in todo if info["kind"] == "before_stop"] == \
        [260 - b for b in m.BEFORE]
    assert kinds.count("rattled_stop") == 2
    for pair in ("O-O", "Li-O", "Li-Li"):
        pushed = [(a, info) for a, info in todo if info["kind"] == f"pushed_{pair}"]
        assert len(pushed) == 3
        assert all(info["step"] == 260 - m.BEFORE[-1] for _, info in pushed)
    rattled = next(a for a, info in todo if info["kind"] == "rattled_stop")
    assert 0.01 < np.std(rattled.positions - crystal.positions) < 0.1   # ~0.05 Å


def _arrhenius_module():
    return load_script(ROOT / "examples" / "validate" / "diffusion_arrhenius.py")


def _results(path, temps, steps, d_a2_fs, seed=0, reference="chgnet"):
    """A results.json of the reference side's diffusion (only the keys the script reads)."""
    curves = [{"temperature": t, "mean_temperature": t, "D_A2_per_fs": d,
               "D_std_A2_per_fs": 0.1 * d} for t, d in zip(temps, d_a2_fs)]
    res = {"reference": reference, "inputs": {"structure": {"bulk": "x"}, "relax": {},
                                              "seed": seed},
           "properties": {"diffusion": {"config": {"temperatures": temps, "steps": 5000,
                                                   "reference_steps": steps, "timestep": 2.0},
                                        "reference": {"values": {}, "data": {"curves": curves}}}}}
    path.write_text(json.dumps(res))
    return path


def test_arrhenius_script_takes_the_longest_run_per_temperature(tmp_path, capsys):
    m = _arrhenius_module()
    ea, kb = 0.5, 8.617333262e-5
    temps = [1200.0, 1400.0, 1600.0]
    exact = [1e-3 * np.exp(-ea / (kb * t)) for t in temps]     # Å²/fs
    short = _results(tmp_path / "short.json", temps, 2000, [2 * d for d in exact])
    long_ = _results(tmp_path / "long.json", [1400.0], 5000, [exact[1]], seed=1)
    out = tmp_path / "fit.json"
    assert m.main(["reference", str(short), str(long_), "--json", str(out)]) == 0
    fit = json.loads(out.read_text())
    p = {q["temperature"]: q for q in fit["points"]}
    assert p[1400.0]["steps"] == 5000 and p[1400.0]["time_ps"] == 10
    assert p[1400.0]["seed"] == 1 and p[1600.0]["seed"] == 2      # seed + index in its file
    assert p[1200.0]["D_cm2_per_s"] == pytest.approx(0.1 * 2 * exact[0])   # Å²/fs -> cm²/s
    # 2 x D at 1200 and 1600 K, 1 x at 1400 K: E_a from the three points, not 0.5 eV
    expected = m.arrhenius_fit(temps, [0.2 * exact[0], 0.1 * exact[1], 0.2 * exact[2]],
                               [0.02 * exact[0], 0.01 * exact[1], 0.02 * exact[2]])
    assert fit["arrhenius"]["activation_energy"] == pytest.approx(expected["activation_energy"])
    # with the 4 ps run alone: the exact slope (a constant factor does not change E_a)
    assert m.main(["reference", str(short)]) == 0
    assert "E_a = 0.500" in capsys.readouterr().out
    other = _results(tmp_path / "other.json", [1200.0], 5000, [exact[0]], reference="emt")
    with pytest.raises(SystemExit, match="another structure, relaxation or reference"):
        m.main(["reference", str(short), str(other)])
