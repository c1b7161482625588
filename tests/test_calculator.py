"""The ASE calculator and the Python Potential on bad input: unknown elements, NaN
coordinates, overlapping atoms, bad cells, stress without a periodic cell, extrapolation
(warning with a rate limit, error, ignore); and the calculator contract (free_energy = energy,
energies sum to energy, stresses sum to stress, results of periodic and open systems)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError

import kizuna
from kizuna.calculator import ExtrapolationWarning
from kizuna.errors import ExtrapolationError, InputError
from kizuna.n2p2 import read_n2p2
from n2p2_reference import load


@pytest.fixture(scope="module")
def water(water_n2p2_dir):
    return read_n2p2(water_n2p2_dir)


@pytest.fixture()
def ice(water):
    ref = load("cfg4_ice384")
    atoms = Atoms(ref.symbols, ref.positions, cell=ref.cell, pbc=True)
    atoms.calc = kizuna.Calculator(water, threads=1)
    return atoms


def test_contract(ice):
    e = ice.get_potential_energy()
    assert ice.get_potential_energy(force_consistent=True) == e
    assert ice.get_potential_energies().sum() == pytest.approx(e, rel=1e-13)
    assert ice.calc.get_property("stresses", ice).sum(axis=0) == pytest.approx(
        ice.get_stress(), rel=1e-10, abs=1e-12)
    assert np.abs(ice.get_forces().sum(axis=0)).max() < 1e-10


def test_unknown_element_lists_the_models_elements(water):
    atoms = Atoms("OHHC", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0], [3, 3, 3]])
    atoms.calc = kizuna.Calculator(water)
    with pytest.raises(InputError, match=r"atom 3 is C, which this model does not know; the "
                                         r"model's elements are \['H', 'O'\]"):
        atoms.get_potential_energy()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_coordinates(ice, bad):
    ice.positions[7, 2] = bad
    with pytest.raises(InputError, match="atom 7 has a non-finite coordinate"):
        ice.get_potential_energy()


def test_overlapping_atoms(ice):
    ice.positions[5] = ice.positions[9]
    with pytest.raises(InputError, match="on top of each other"):
        ice.get_potential_energy()


def test_degenerate_periodic_cell(water):
    atoms = Atoms("OHH", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]],
                  cell=[[3, 0, 0], [6, 0, 0], [0, 0, 3]], pbc=True)
    atoms.calc = kizuna.Calculator(water)
    with pytest.raises(InputError, match="degenerate"):
        atoms.get_potential_energy()


def test_stress_needs_a_periodic_cell(water):
    atoms = Atoms("OHH", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    atoms.calc = kizuna.Calculator(water, extrapolation="ignore")
    atoms.get_forces()
    with pytest.raises(PropertyNotImplementedError, match="periodic"):
        atoms.get_stress()


def _squeezed(ice):
    ice.positions[1] = ice.positions[0] + [0.5, 0.0, 0.0]  # an H at 0.5 Å of an O
    return ice


def test_extrapolation_warns_with_rate_limit(water):
    ref = load("cfg4_ice384")
    atoms = _squeezed(Atoms(ref.symbols, ref.positions, cell=ref.cell, pbc=True))
    atoms.calc = kizuna.Calculator(water, threads=1, warn_every=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(7):
            atoms.positions[2, 0] += 1e-4  # new positions: a new calculation each time
            atoms.get_potential_energy()
    messages = [w for w in caught if issubclass(w.category, ExtrapolationWarning)]
    assert len(messages) == 2  # calls 1 and 5 (then 3 silent calls between warnings)
    assert "outside the training range" in str(messages[0].message)
    assert atoms.calc.results["num_extrapolating"] >= 1


def test_extrapolation_error_and_ignore(water):
    ref = load("cfg4_ice384")
    atoms = _squeezed(Atoms(ref.symbols, ref.positions, cell=ref.cell, pbc=True))
    atoms.calc = kizuna.Calculator(water, threads=1, extrapolation="error")
    with pytest.raises(ExtrapolationError, match=r"atom\(s\) have symmetry functions outside"):
        atoms.get_potential_energy()
    atoms.calc = kizuna.Calculator(water, threads=1, extrapolation="ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        atoms.get_potential_energy()
    assert atoms.calc.results["num_extrapolating"] >= 1


def _stretched(ice, factor=1.1):
    """Ice expanded by 10 %: 128 of the 384 atoms extrapolate (33 %)."""
    ice.set_cell(ice.cell * factor, scale_atoms=True)
    return ice


def _ice(water, **kwargs):
    ref = load("cfg4_ice384")
    atoms = Atoms(ref.symbols, ref.positions, cell=ref.cell, pbc=True)
    atoms.calc = kizuna.Calculator(water, threads=1, **kwargs)
    return atoms


def _energies(atoms, calls):
    """`calls` new calculations (a tiny move each time); the ExtrapolationWarnings issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(calls):
            atoms.positions[2, 0] += 1e-4
            atoms.get_potential_energy()
    return [w for w in caught if issubclass(w.category, ExtrapolationWarning)]


def test_default_stops_when_many_atoms_extrapolate_in_a_row(water):
    """Issue 11: a run that leaves the model's domain must not go on silently. Default: stop
    when more than 10 % of the atoms extrapolate in 10 consecutive calculations, with the count
    and a pointer to kizuna learn; below that (or for fewer calls) it only warns."""
    atoms = _stretched(_ice(water))
    assert (atoms.calc.extrapolation, atoms.calc.max_extrapolating_fraction,
            atoms.calc.stop_after) == ("stop", 0.1, 10)
    assert len(_energies(atoms, 9)) >= 1  # nine calculations: warnings only
    with pytest.raises(ExtrapolationError, match=r"128 of 384 atoms \(33.3%\) are outside the "
                                                 r"training range of model .*more than "
                                                 r"max_extrapolating_fraction=0.1 in 10 "
                                                 r"consecutive calculations.*kizuna learn"):
        _energies(atoms, 1)
    # a calculation under the fraction resets the streak
    atoms = _stretched(_ice(water, stop_after=3))
    _energies(atoms, 2)
    atoms.set_cell(atoms.cell / 1.1, scale_atoms=True)  # back to the ice: nothing extrapolates
    _energies(atoms, 1)
    _stretched(atoms)
    _energies(atoms, 2)
    with pytest.raises(ExtrapolationError):
        _energies(atoms, 1)
    # a few extrapolating atoms (the squeezed H: 2 of 384) never stop the run
    assert len(_energies(_squeezed(_ice(water, stop_after=1)), 5)) == 1
    # warn and a higher fraction go on
    assert len(_energies(_stretched(_ice(water, extrapolation="warn", stop_after=1)), 3)) == 1
    _energies(_stretched(_ice(water, max_extrapolating_fraction=0.5, stop_after=1)), 3)


def test_rate_limit_does_not_hide_a_new_event(water):
    """The rate limit silences repeats of the same extrapolation, but a rise in the count, or
    extrapolation on other atoms after a calculation without any, is reported at once."""
    atoms = _squeezed(_ice(water, extrapolation="warn"))
    first = _energies(atoms, 3)
    assert len(first) == 1  # then two silent repeats
    _stretched(atoms)
    rise = _energies(atoms, 1)
    assert len(rise) == 1 and int(str(rise[0].message).split()[0]) >= 128
    assert len(_energies(atoms, 3)) == 0  # the same again: silent
    ref = load("cfg4_ice384")
    atoms.set_cell(ref.cell)
    atoms.positions = ref.positions  # the ice itself: no extrapolation now
    assert len(_energies(atoms, 1)) == 0 and atoms.calc.results["num_extrapolating"] == 0
    # a new event on other atoms: H 4 squeezed onto O 3 (fewer atoms than the last warning)
    atoms.positions[4] = atoms.positions[3] + [0.5, 0.0, 0.0]
    new = _energies(atoms, 1)
    assert len(new) == 1 and "atoms [3, 4" in str(new[0].message).replace("[4, 3", "[3, 4")


def test_extrapolation_flags_identify_the_atoms(water):
    ref = load("cfg4_ice384")
    atoms = _squeezed(Atoms(ref.symbols, ref.positions, cell=ref.cell, pbc=True))
    out = kizuna.Potential(water, threads=1).compute_atoms(atoms, extrapolation_flags=True)
    flagged = set(np.flatnonzero(out["extrapolating"]).tolist())
    assert {0, 1} <= flagged
    assert len(flagged) == out["num_extrapolating"]


def test_bad_policy_and_model_arguments(water):
    with pytest.raises(ValueError, match="extrapolation must be"):
        kizuna.Calculator(water, extrapolation="sometimes")
    with pytest.raises(ValueError, match="max_extrapolating_fraction is a fraction"):
        kizuna.Calculator(water, max_extrapolating_fraction=1.0)
    with pytest.raises(ValueError, match="stop_after is a number of calculations"):
        kizuna.Calculator(water, stop_after=0)
    with pytest.raises(InputError, match="file not found"):
        kizuna.Potential("no_such_model.kzn")


def test_atomic_numbers_are_accepted(water):
    pot = kizuna.Potential(water, threads=1)
    pos = [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]
    a = pot.compute(pos, ["O", "H", "H"])
    b = pot.compute(pos, [8, 1, 1])
    assert a["energy"] == b["energy"]
