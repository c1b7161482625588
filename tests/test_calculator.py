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
from kizuna.errors import InputError
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
    with pytest.raises(InputError, match=r"atom\(s\) have symmetry functions outside"):
        atoms.get_potential_energy()
    atoms.calc = kizuna.Calculator(water, threads=1, extrapolation="ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        atoms.get_potential_energy()
    assert atoms.calc.results["num_extrapolating"] >= 1


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
    with pytest.raises(InputError, match="file not found"):
        kizuna.Potential("no_such_model.kzn")


def test_atomic_numbers_are_accepted(water):
    pot = kizuna.Potential(water, threads=1)
    pos = [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]
    a = pot.compute(pos, ["O", "H", "H"])
    b = pot.compute(pos, [8, 1, 1])
    assert a["energy"] == b["energy"]
