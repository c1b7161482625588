"""The NMC111 CHGNet distillation example (examples/distill/nmc_chgnet.yaml, issue 13): the
structure script builds the layered cathode it documents (composition, Ni/Mn/Co order in every
transition-metal layer, octahedral coordination at the stated bond lengths) and matches the
committed structure file; the config validates, its Li-vacancy stages remove Li only, and its
descriptor has the documented size. Also the learner's Li-vacancy option and its test frames.
No CHGNet call, no training: seconds."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read
from ase.neighborlist import neighbor_list

from kizuna.errors import ConfigError
from kizuna.learn.config import load_learn_config, validate_learn_config
from kizuna.learn.md import stage_structure, start_structure
from script_loader import load_script

DISTILL = Path(__file__).resolve().parent.parent / "examples" / "distill"
TM = ("Ni", "Mn", "Co")


def _script():
    return load_script(DISTILL / "nmc111_structure.py")


def test_structure_script_builds_ordered_nmc111():
    atoms = _script().nmc111()
    symbols = np.array(atoms.get_chemical_symbols())
    assert len(atoms) == 72 and atoms.get_chemical_formula() == "Co6Li18Mn6Ni6O36"
    # hexagonal cell of a = 2.867, c = 14.246 Å: sqrt3 x sqrt3 in plane, then x2 along a1
    assert np.allclose(sorted(atoms.cell.lengths()), sorted([2 * np.sqrt(3) * 2.867,
                                                            np.sqrt(3) * 2.867, 14.246]))
    # every cation octahedral: 6 O at 1.97 Å (TM) or 2.11 Å (Li), nothing else below 2.5 Å
    i, j, d = neighbor_list("ijd", atoms, 2.5)
    for element, bond in [("Li", 2.112), ("Ni", 1.967), ("Mn", 1.967), ("Co", 1.967)]:
        mine = symbols[i] == element
        assert set(symbols[j[mine]]) == {"O"}
        assert np.allclose(d[mine], bond, atol=2e-3)
        assert set(np.bincount(i[mine], minlength=len(atoms))[symbols == element]) == {6}
    # three TM layers, each Ni2 Mn2 Co2; sqrt3 x sqrt3 order: every TM's 6 in-plane TM
    # neighbours (2.87 Å) are 3 + 3 of the two other elements, none of its own
    tm = np.isin(symbols, TM)
    layers = np.round(atoms.positions[tm, 2], 2)
    assert len(set(layers)) == 3
    for z in set(layers):
        assert sorted(symbols[tm][layers == z]) == ["Co", "Co", "Mn", "Mn", "Ni", "Ni"]
    i, j = neighbor_list("ij", atoms, 3.0)
    for element in TM:
        pairs = (symbols[i] == element) & np.isin(symbols[j], TM)
        others = sorted(set(TM) - {element})
        got = {e: int((symbols[j[pairs]] == e).sum()) for e in TM}
        assert got == {element: 0, others[0]: 18, others[1]: 18}   # 6 atoms x 3 each


def test_committed_structure_file_is_the_script_output():
    built, committed = _script().nmc111(), read(DISTILL / "nmc111.xyz")
    assert committed.get_chemical_symbols() == built.get_chemical_symbols()
    assert np.abs(committed.cell[:] - built.cell[:]).max() < 1e-6
    assert np.abs(committed.positions - built.positions).max() < 1e-6


def test_config_validates_with_li_vacancy_stages_and_element_count_free_descriptor():
    from kizuna.training.config import validate_config
    from kizuna.training.symmetry import SymmetryFunctionSpec, generate_symmetry_functions

    cfg = load_learn_config(DISTILL / "nmc_chgnet.yaml")
    assert cfg["reference"] == "chgnet"
    atoms = start_structure(cfg)
    assert atoms.get_chemical_formula() == "Co6Li18Mn6Ni6O36"
    formulas = [stage_structure(atoms, st, 7).get_chemical_formula()
                for st in cfg["md"]["stages"]]
    assert formulas[3] == "Co6Li15Mn6Ni6O36" and formulas[4] == "Co6Li12Mn6Ni6O36"
    strains = [st["strain"] for st in cfg["md"]["stages"]]
    assert max(strains) > 0 > min(strains)
    assert cfg["test"]["trajectory_steps"] > 0
    training = dict(cfg["training"], data={**cfg["training"]["data"], "train": "x.xyz"})
    sf = validate_config(training)["symmetry_functions"]
    assert sf["element_mode"] == "weighted" and sf["channels"] == 3
    elements = sorted(set(atoms.get_chemical_symbols()))
    given = {f.name: sf[f.name] for f in dataclasses.fields(SymmetryFunctionSpec)}
    counts = {}
    for mode in ("weighted", "pair"):
        spec = SymmetryFunctionSpec(**dict(given, element_mode=mode))
        generated = generate_symmetry_functions(elements, spec)
        counts[mode] = {e: len(v) for e, v in generated.items()}
    # documented: 3 x (10 + 12) weighted; 10 x 5 + 12 x 15 per pair
    assert set(counts["weighted"].values()) == {66}
    assert set(counts["pair"].values()) == {230}


def test_vacancy_species_not_in_the_structure_is_a_clear_error():
    cfg = validate_learn_config({"structure": {"bulk": {"name": "Cu", "cubic": True}},
                                 "md": {"stages": [{"temperature": 300, "steps": 10,
                                                    "vacancies": 1,
                                                    "vacancy_species": ["Li", "Mg"]}]}})
    li2o = bulk("OLi2", "fluorite", a=4.63, cubic=True)
    with pytest.raises(ConfigError, match=r"vacancy_species Mg: not in the structure "
                                          r"\(its elements: Li, O\)"):
        stage_structure(li2o, cfg["md"]["stages"][0], 0)
    stage = dict(cfg["md"]["stages"][0], vacancy_species=["Li"], vacancies=3)
    out = stage_structure(li2o, stage, 0)
    assert out.get_chemical_formula() == "Li5O4"


def test_independent_test_writes_its_frames(tmp_path, monkeypatch):
    """The held-out reference frames go to a file (summary numbers can be recomputed for other
    models on the same frames): energies and forces are the reference's, tagged with the
    trajectory's temperature."""
    from ase.calculators.emt import EMT

    import kizuna.learn.evaluate as evaluate

    monkeypatch.setattr(evaluate, "committee_errors",
                        lambda model, frames, threads=1: {"frames": len(frames)})
    cfg = validate_learn_config({"structure": {"bulk": {"name": "Cu", "cubic": True}},
                                 "md": {"timestep": 2.0},
                                 "test": {"trajectory_steps": 4, "every": 2,
                                          "temperature": [300, 600]}})
    out = evaluate.independent_test(cfg, "unused.kzn", EMT(), save=tmp_path / "test.xyz")
    assert out["frames"] == 4
    frames = read(tmp_path / "test.xyz", ":")
    assert [f.info["test_temperature"] for f in frames] == [300.0, 300.0, 600.0, 600.0]
    for frame in frames:
        again = frame.copy()
        again.calc = EMT()
        assert frame.get_potential_energy() == pytest.approx(again.get_potential_energy(),
                                                             abs=1e-6)
        assert np.abs(frame.get_forces() - again.get_forces()).max() < 1e-6
    assert np.ptp([f.get_potential_energy() for f in frames]) > 0   # MD moved the atoms


def test_strict_variant_differs_only_in_label_threshold_and_final_training():
    base = load_learn_config(DISTILL / "nmc_chgnet.yaml")
    strict = load_learn_config(DISTILL / "nmc_chgnet_strict.yaml")
    assert strict["uncertainty"]["adaptive"] is False
    assert strict["uncertainty"]["max_force_deviation"] == 0.4
    assert [st["max_force_deviation"] for st in strict["md"]["stages"]] == \
        [None, None, 0.5, None, None]
    assert strict["committee"]["final_epochs"] > 0
    for key in ("structure", "training", "test", "bootstrap", "seed", "reference"):
        assert strict[key] == base[key]
    for a, b in zip(base["md"]["stages"], strict["md"]["stages"]):
        assert dict(a, max_force_deviation=None) == dict(b, max_force_deviation=None)
