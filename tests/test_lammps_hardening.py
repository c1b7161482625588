"""pair_style kizuna on edge cases (issues 11 and 15): isolated atoms give the same energies as
the Python core (zero forces and pressure); a model that overflows stops the run with an error
naming the model instead of printing 'PE -nan'; by default a run where most atoms leave the
training range stops (extrapolation stop), with the count and a pointer to kizuna learn, while
'extrapolation warn' goes on."""
from __future__ import annotations

import numpy as np
import pytest

from kizuna import Potential
from kizuna.lammps import run
from model_factory import random_model
from test_lammps_errors import failed_with
from test_lammps_support import HEADER, lammps_models, setup_script  # noqa: F401

CFG = "cfg4_ice384"


def box_script(model, atoms, box=20.0):
    """A cubic box of `box` Å with the given (type, x, y, z) atoms (1 = H, 2 = O)."""
    lines = [HEADER + f"region box block 0 {box} 0 {box} 0 {box}\ncreate_box 2 box"]
    lines += [f"create_atoms {t} single {x} {y} {z}" for t, x, y, z in atoms]
    lines += ["mass 1 1.00794", "mass 2 15.9994", f"pair_style kizuna {model}",
              "pair_coeff * * H O", "run 0", 'print "PE $(pe:%.17g)"',
              'print "FMAX $(fmax:%.17g) $(press:%.17g)"']
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("atoms", [
    [(2, 5.0, 6.0, 7.0)],                       # one O alone in a 20 Å box
    [(2, 1.0, 1.0, 1.0), (1, 11.0, 1.0, 1.0)],  # O and H 10 Å apart (no pair within 6.35 Å)
])
def test_isolated_atoms_match_the_python_core(lammps_models, tmp_path, atoms):  # noqa: F811
    result = run(box_script(lammps_models["water"], atoms), tmp_path).check()
    pe = result.printed("PE")[0][0]
    fmax, press = result.printed("FMAX")[0]
    symbols = ["H" if t == 1 else "O" for t, *_ in atoms]
    positions = np.array([xyz for _, *xyz in atoms], float)
    out = Potential(lammps_models["water"], threads=1).compute(
        positions, symbols, cell=np.eye(3) * 20.0, pbc=True, virial=True)
    assert pe == pytest.approx(out["energy"], rel=1e-12)
    assert fmax == 0.0 and press == 0.0


def test_non_finite_energy_stops_the_run_naming_the_model(tmp_path):
    """zeta = 2000 on a linear H-O-H: 0 * inf = NaN; LAMMPS printed 'PE -nan' and went on."""
    from kizuna.lammps import lammps_version
    from kizuna.errors import UnsupportedError

    try:
        lammps_version()
    except UnsupportedError as exc:
        pytest.skip(str(exc))
    model = random_model(("H", "O"), kinds=("radial", "angular_narrow"))
    for em in model.element_models:
        for sf in em.symmetry_functions:
            if sf.kind == "angular_narrow":
                sf.zeta = 2000.0
    path = tmp_path / "overflowing.kzn"
    model.save(path)
    script = box_script(path, [(2, 5.0, 5.0, 5.0), (1, 5.96, 5.0, 5.0), (1, 4.04, 5.0, 5.0)])
    failed_with(run(script, tmp_path), "pair_style kizuna at step 0",
                f"model '{path}' gives a non-finite result", "has energy", "nan eV")


# ice compressed by 20 %: all 384 atoms extrapolate
COMPRESSED = """change_box all x scale 0.8 y scale 0.8 z scale 0.8 remap
compute kz all pair kizuna
thermo_style custom step pe c_kz[1]
thermo 1
timestep 0.0001
run 15
print "FINISHED $(step)"
"""


def test_default_stops_a_run_that_leaves_the_training_range(lammps_models, tmp_path):  # noqa: F811
    """Issue 11: a melt-quench with 215 of 216 atoms extrapolating only warned. Now the
    default stops when more than 10 % of the atoms extrapolate in 10 consecutive steps."""
    result = run(setup_script(CFG, lammps_models) + COMPRESSED, tmp_path)
    failed_with(result, "384 of 384 atoms (100.0%) are outside the training range of model",
                "at step 9, more than max_extrapolating_fraction 0.1 for 10 consecutive steps",
                "(extrapolation stop)", "kizuna learn", "'extrapolation warn'")
    assert "FINISHED" not in result.output


@pytest.mark.parametrize("keywords, stops_at", [
    ("stop_after 3", 2),
    ("extrapolation stop max_extrapolating_fraction 0 stop_after 1", 0),
    ("extrapolation warn", None),
    ("extrapolation ignore", None),
])
def test_stop_keywords(lammps_models, tmp_path, keywords, stops_at):  # noqa: F811
    result = run(setup_script(CFG, lammps_models, keywords) + COMPRESSED, tmp_path)
    if stops_at is None:
        result.check()
        assert result.printed("FINISHED") == [[15.0]]
    else:
        failed_with(result, f"at step {stops_at}, more than max_extrapolating_fraction")


def test_few_extrapolating_atoms_do_not_stop_the_default(lammps_models, tmp_path):  # noqa: F811
    """One H squeezed onto its O: a few atoms of 384 (< 10 %) extrapolate, the run goes on
    with a warning."""
    script = setup_script(CFG, lammps_models) + \
        "set atom 2 x $(x[1]+0.5) y $(y[1]) z $(z[1])\nrun 12\nprint \"FINISHED $(step)\"\n"
    result = run(script, tmp_path).check()
    assert result.printed("FINISHED") == [[12.0]]
    assert "atoms outside the training range" in result.output


def test_rate_limit_does_not_hide_a_rise(lammps_models, tmp_path):  # noqa: F811
    """warn_every 100 silences repeats, but more atoms extrapolating is reported at once."""
    script = setup_script(CFG, lammps_models, "extrapolation warn warn_every 100") + \
        "set atom 2 x $(x[1]+0.5) y $(y[1]) z $(z[1])\nrun 3\n" + COMPRESSED
    result = run(script, tmp_path).check()
    warnings = [line for line in result.output.splitlines()
                if "atoms outside the training range" in line]
    assert len(warnings) == 2, result.output[-3000:]
    assert "384 atoms outside the training range" in warnings[1]
