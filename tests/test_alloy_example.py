"""examples/training/make_alloy_data.py and alloy.yaml (issue 13), and data.validation."""
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from ase.io import read

from kizuna.errors import ConfigError
from kizuna.training.config import load_config
from script_loader import load_script

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "training"


def _data_module():
    return load_script(EXAMPLES / "make_alloy_data.py")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny setting: 32-atom cells, 3 training and 2 validation compositions x 2 frames,
    2 test compositions x 1 frame."""
    out = tmp_path_factory.mktemp("alloy")
    _data_module().main(["--out", str(out), "--cells", "2", "--train-comps", "3",
                         "--validation-comps", "2", "--frames", "2", "--test", "new",
                         "--test-comps", "2", "--test-frames", "1", "--seed", "5"])
    return out


def _counts(atoms):
    return tuple(sorted(Counter(atoms.get_chemical_symbols()).items()))


def test_data_files_valid_and_composition_disjoint(tiny):
    sets = {name: read(tiny / f"{name}.extxyz", ":") for name in ("train", "validation", "test")}
    assert [len(sets[n]) for n in ("train", "validation", "test")] == [6, 4, 2]
    for frames in sets.values():
        for a in frames:
            assert set(a.get_chemical_symbols()) <= {"Cu", "Ag", "Au", "Ni", "Pd", "Pt"}
            assert len(a) in (31, 32)  # 2 x 2 x 2 fcc cells, one vacancy in every other one
            energy, forces = a.get_potential_energy(), a.get_forces()
            assert np.isfinite(energy) and forces.shape == (len(a), 3)
            assert np.abs(forces).max() > 1e-3  # MD frames, not the ideal lattice
    comps = {n: {_counts(a) for a in frames} for n, frames in sets.items()}
    assert [len(comps[n]) for n in ("train", "validation", "test")] == [3, 2, 2]
    assert not comps["train"] & comps["validation"]
    assert not comps["train"] & comps["test"]
    assert not comps["validation"] & comps["test"]


def test_repeated_composition_is_an_error():
    module = _data_module()
    # one-atom-per-site cells of 4 atoms without vacancies: many draws repeat a composition
    with pytest.raises(ValueError, match="occurs in both"):
        module.make_sets(12, 0, 1, 1, False, seed=1, test="new", test_comps=12, test_frames=1)


def test_alloy_config_validates_with_the_data(tiny):
    from kizuna.training.setup import symmetry_functions

    cfg = load_config(EXAMPLES / "alloy.yaml", [
        f"data.train={tiny / 'train.extxyz'}", f"data.validation={tiny / 'validation.extxyz'}",
        f"data.test={tiny / 'test.extxyz'}"])
    assert cfg["data"]["train"][0]["path"] == str(tiny / "train.extxyz")
    assert cfg["data"]["validation"][0]["path"] == str(tiny / "validation.extxyz")
    sf = cfg["symmetry_functions"]
    assert (sf["element_mode"], sf["channels"], sf["learn_weights"]) == ("weighted", 3, True)
    elements = cfg["model"]["elements"]
    sfs = symmetry_functions(cfg, elements)
    # benchmarks/README.md's count for this grid: 84 per element (per-pair: 408)
    assert {len(sfs[e]) for e in elements} == {84}


def test_validation_file_needs_zero_fraction(tiny):
    with pytest.raises(ConfigError, match="validation_fraction"):
        load_config(EXAMPLES / "alloy.yaml", [f"data.validation={tiny / 'validation.extxyz'}",
                                              "data.validation_fraction=0.1"])


def test_validation_file_is_the_validation_split(tiny):
    from kizuna.training.setup import build_run

    cfg = load_config(None, given={
        "data": {"train": str(tiny / "train.extxyz"),
                 "validation": str(tiny / "validation.extxyz"),
                 "test": str(tiny / "test.extxyz"), "validation_fraction": 0.0},
        "symmetry_functions": {"cutoff": 4.0, "n_radial": 2, "n_angular": 0,
                               "element_mode": "weighted", "channels": 2},
        "model": {"elements": ["Cu", "Ag", "Au", "Ni", "Pd", "Pt"], "hidden_layers": [4]}})
    run = build_run(cfg)
    try:
        assert len(run.split["train"]) == 6
        assert len(run.split["validation"]) == 4
        assert len(run.split["test"]) == 2
        assert not set(run.split["train"]) & set(run.split["validation"])
    finally:
        run.pool.close()


def test_alloy_config_is_the_benchmarked_one(tiny):
    """alloy.yaml trains what benchmarks/README.md measured: many_elements_tuning.py's
    variant "s2long" (selected on the validation compositions)."""
    module = load_script("benchmarks/many_elements_tuning.py")
    given = module.config("s2long", tiny / "train.extxyz", tiny / "test.extxyz", tiny / "run",
                          validation=tiny / "validation.extxyz")
    bench = load_config(None, given=given)
    example = load_config(EXAMPLES / "alloy.yaml")
    for key in ("seed", "symmetry_functions", "model", "loss", "training"):
        assert example[key] == bench[key], key
    assert example["data"]["validation_fraction"] == bench["data"]["validation_fraction"] == 0
