"""pair_style kizuna refuses what it cannot do with a clear LAMMPS error (exit status != 0, the
message names the problem and the fix), never a crash: newton off, units other than metal,
special_bonds that remove bonded neighbours, unknown elements, bad pair_coeff/pair_style lines,
unreadable or malformed model files, core errors during compute. And the neighbour list it asks
for is always a full list."""
from __future__ import annotations

import pytest

import numpy as np

from kizuna import Potential
from kizuna.lammps import run
from test_lammps_support import (HEADER, RUN0_OUTPUT, data_file, lammps_models,  # noqa: F401
                                 setup_script)

CFG = "cfg4_ice384"


def failed_with(result, *fragments):
    assert result.returncode != 0, "LAMMPS should have stopped with an error"
    text = " ".join(result.output.split())  # LAMMPS wraps nothing, but be safe with spaces
    assert "ERROR" in text, text[-2000:]
    for fragment in fragments:
        assert fragment in text, f"'{fragment}' missing from:\n{result.output[-2000:]}"
    # a LAMMPS error, not a crash (segfault -> negative status, C++ abort -> 'terminate called')
    assert result.returncode > 0 and "terminate called" not in text and "Segmentation" not in text


def test_newton_off_is_refused(lammps_models, tmp_path):  # noqa: F811
    script = setup_script(CFG, lammps_models, newton="newton off\n") + "run 0\n"
    failed_with(run(script, tmp_path), "needs 'newton on'", "newton off")


def test_newton_pair_off_is_refused(lammps_models, tmp_path):  # noqa: F811
    script = setup_script(CFG, lammps_models, newton="newton off on\n") + "run 0\n"
    failed_with(run(script, tmp_path), "needs 'newton on'")


def test_units_other_than_metal_are_refused(lammps_models, tmp_path):  # noqa: F811
    script = setup_script(CFG, lammps_models).replace("units metal", "units real")
    failed_with(run(script, tmp_path), "needs 'units metal'", "'units real'")


def test_neighbor_list_is_full(lammps_models, tmp_path):  # noqa: F811
    result = run(setup_script(CFG, lammps_models) + "run 0\n", tmp_path).check()
    lines = result.output.splitlines()
    i = next(k for k, line in enumerate(lines) if "pair kizuna, perpetual" in line)
    assert "attributes: full, newton on" in lines[i + 1]


def test_unknown_element_lists_the_models_elements(lammps_models, tmp_path):  # noqa: F811
    script = setup_script(CFG, lammps_models).replace("pair_coeff * * H O", "pair_coeff * * H Xe")
    failed_with(run(script, tmp_path), "atom type 2 is 'Xe'", "its elements are: H O", "NULL")


def test_pair_coeff_needs_one_element_per_type(lammps_models, tmp_path):  # noqa: F811
    script = setup_script(CFG, lammps_models).replace("pair_coeff * * H O", "pair_coeff * * H")
    failed_with(run(script, tmp_path), "one element symbol (or NULL) for each of the 2 atom types")
    script = setup_script(CFG, lammps_models).replace("pair_coeff * * H O", "pair_coeff 1 2 H O")
    failed_with(run(script, tmp_path), "must start with * * for pair style kizuna")


def test_all_null_is_refused(lammps_models, tmp_path):  # noqa: F811
    script = setup_script(CFG, lammps_models).replace("pair_coeff * * H O",
                                                      "pair_coeff * * NULL NULL")
    failed_with(run(script, tmp_path), "every atom type is NULL")


@pytest.mark.parametrize("keywords, message", [
    ("extrapolation maybe", "extrapolation must be stop, warn, error or ignore, got 'maybe'"),
    ("threads -2", "threads must be between 0 (the OpenMP default, OMP_NUM_THREADS) and 1024"),
    ("threads 100000", "threads must be between 0 (the OpenMP default, OMP_NUM_THREADS) and 1024, "
                       "got 100000"),
    ("max_extrapolating_fraction 1.5", "max_extrapolating_fraction is a fraction of the atoms in "
                                       "[0, 1)"),
    ("stop_after 0", "stop_after is a number of consecutive steps >= 1"),
    ("warn_every 0", "warn_every is a number of steps >= 1"),
    ("max_extrapolating -1", "max_extrapolating is a number of atoms >= 0"),
    ("colour blue", "unknown keyword 'colour'"),
    ("threads", "keyword 'threads' needs a value"),
])
def test_bad_pair_style_keywords(lammps_models, tmp_path, keywords, message):  # noqa: F811
    failed_with(run(setup_script(CFG, lammps_models, keywords), tmp_path), message)


def test_cutoff_before_the_model_file_says_what_to_write(lammps_models, tmp_path):  # noqa: F811
    """The n2p2 habit 'pair_style hdnnp 6.35 dir': said "keyword 'model.kzn' needs a value"."""
    model = lammps_models["water"]
    script = setup_script(CFG, lammps_models).replace(f"pair_style kizuna {model}",
                                                      f"pair_style kizuna 6.35 {model}")
    failed_with(run(script, tmp_path), "the first argument is the model file, but '6.35' is a "
                "number", "kizuna takes no cutoff here: the model file holds it",
                f"Write 'pair_style kizuna {model} ...'")


def test_missing_model_file(lammps_models, tmp_path):  # noqa: F811
    script = setup_script(CFG, {"water": tmp_path / "nowhere.kzn"})
    failed_with(run(script, tmp_path), "cannot read model file", "nowhere.kzn")


def test_malformed_model_file_is_a_lammps_error(lammps_models, tmp_path):  # noqa: F811
    text = lammps_models["water"].read_text().splitlines()
    # damage one number in the middle of the file: the core reports file and line
    k = next(i for i, line in enumerate(text) if i > 40 and any(c.isdigit() for c in line))
    text[k] = text[k].split()[0] + " not-a-number" if len(text[k].split()) > 1 else "garbage"
    bad = tmp_path / "bad.kzn"
    bad.write_text("\n".join(text) + "\n")
    result = run(setup_script(CFG, {"water": bad}), tmp_path)
    failed_with(result, "cannot use model file", f"bad.kzn:{k + 1}")
    # a file that is not a model at all
    (tmp_path / "notamodel.kzn").write_text("hello\n")
    result = run(setup_script(CFG, {"water": tmp_path / "notamodel.kzn"}), tmp_path)
    failed_with(result, "cannot use model file", "notamodel.kzn")


def test_model_errors_on_all_ranks_stop_cleanly(lammps_models, tmp_path):  # noqa: F811
    (tmp_path / "notamodel.kzn").write_text("hello\n")
    result = run(setup_script(CFG, {"water": tmp_path / "notamodel.kzn"}), tmp_path, nprocs=2)
    failed_with(result, "cannot use model file")


def test_core_error_during_compute_becomes_lammps_error(lammps_models, tmp_path):  # noqa: F811
    # two atoms on the same spot: the core throws, the adapter reports it through error->one
    script = HEADER + """region box block 0 10 0 10 0 10
create_box 2 box
create_atoms 2 single 5 5 5
create_atoms 1 single 5 5 5
mass 1 1.00794
mass 2 15.9994
""" + f"pair_style kizuna {lammps_models['water']}\npair_coeff * * H O\nrun 0\n"
    failed_with(run(script, tmp_path), "pair_style kizuna at step 0", "on top of each other")


BONDED_WATER = HEADER.replace("atom_style atomic", "atom_style bond") + """region box block 0 12 0 12 0 12
create_box 2 box bond/types 1 extra/bond/per/atom 2 extra/special/per/atom 4
create_atoms 2 single 6.0 6.0 6.0
create_atoms 1 single 6.96 6.0 6.0
create_atoms 1 single 5.76 6.93 6.0
create_atoms 2 single 3.0 3.0 3.0
create_atoms 1 single 3.96 3.0 3.0
create_atoms 1 single 2.76 3.93 3.0
mass 1 1.00794
mass 2 15.9994
bond_style zero
bond_coeff 1 0.96
create_bonds single/bond 1 1 2
create_bonds single/bond 1 1 3
special_bonds {special}
pair_style kizuna {model}
pair_coeff * * H O
run 0
print "PE $(pe:%.15g)"
"""


def bonded_water(special, models):
    return BONDED_WATER.replace("{special}", special).replace("{model}", str(models["water"]))


@pytest.mark.parametrize("special", ["lj/coul 0.0 0.0 0.0", "lj 0.0 1.0 1.0",
                                     "lj/coul 1.0 0.0 0.0"])
def test_special_bonds_that_drop_neighbours_are_refused(lammps_models, tmp_path,  # noqa: F811
                                                         special):
    script = bonded_water(special, lammps_models)
    bond = "1-2" if special.split()[1] == "0.0" else "1-3"
    failed_with(run(script, tmp_path), f"special_bonds removes {bond} neighbours",
                "special_bonds lj/coul 1.0 1.0 1.0")


@pytest.mark.parametrize("special", ["lj/coul 1.0 1.0 1.0", "lj/coul 1e-50 1e-50 1e-50"])
def test_bonded_neighbours_count_fully(lammps_models, tmp_path, special):  # noqa: F811
    # pairs kept in the list with special-bond bits: masked, and counted like any other pair
    script = bonded_water(special, lammps_models)
    energy = run(script, tmp_path).check().printed("PE")[0][0]
    positions = [[6, 6, 6], [6.96, 6, 6], [5.76, 6.93, 6], [3, 3, 3], [3.96, 3, 3],
                 [2.76, 3.93, 3]]
    expected = Potential(lammps_models["water"], threads=1).compute(
        np.array(positions, float), ["O", "H", "H", "O", "H", "H"], cell=np.eye(3) * 12.0,
        pbc=True, forces=False)["energy"]
    assert abs(energy - expected) < 1e-10 * abs(expected)
