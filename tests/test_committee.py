"""Committees: one model file with several networks per element sharing the symmetry
functions. The core computes the descriptors once and returns every member's energy and
forces; the mean and the spread (energy std, per-atom force std, max force deviation) follow.
The 8-member n2p2 committee of Schran et al. imports as one model whose members equal the
members imported alone."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import kizuna
from conftest import DATA
from kizuna.errors import ModelFormatError
from kizuna.n2p2 import read_n2p2, read_n2p2_committee
from model_factory import random_model, random_structure
from n2p2_reference import load

COMMITTEE = DATA / "n2p2" / "H2O_revPBE0-D3_committee"
MEMBERS = [COMMITTEE / f"nnp-{k}" for k in range(1, 9)]
UNITS = dict(length_unit="bohr", energy_unit="hartree")


def _single(model, k):
    single = copy.deepcopy(model)
    for em in single.element_models:
        em.members = [em.members[k]]
    return single


def test_members_equal_single_models():
    model = random_model(committee=3, seed=5)
    pos, sym = random_structure(n=12, seed=1)
    out = kizuna.Potential(model, threads=1).compute(pos, sym, member_energies=True,
                                                      member_forces=True)
    for k in range(3):
        alone = kizuna.Potential(_single(model, k), threads=1).compute(pos, sym)
        assert out["member_energies"][k] == pytest.approx(alone["energy"], rel=1e-14)
        assert np.abs(out["member_forces"][k] - alone["forces"]).max() < 1e-12
    assert out["energy"] == pytest.approx(out["member_energies"].mean(), rel=1e-14)
    assert np.abs(out["forces"] - out["member_forces"].mean(axis=0)).max() < 1e-12
    dev = out["member_forces"] - out["member_forces"].mean(axis=0)
    std = np.sqrt((dev ** 2).sum(axis=2).mean(axis=0))
    assert np.allclose(out["force_std"], std, rtol=1e-12, atol=1e-15)
    assert out["max_force_deviation"] == pytest.approx(std.max(), rel=1e-12)


def test_member_forces_do_not_depend_on_threads():
    model = random_model(committee=2, seed=8)
    pos, sym = random_structure(n=20, seed=2, box=5.5)
    a = kizuna.Potential(model, threads=1).compute(pos, sym, member_forces=True)
    b = kizuna.Potential(model, threads=2).compute(pos, sym, member_forces=True)
    assert np.abs(a["member_forces"] - b["member_forces"]).max() < 1e-12


@pytest.fixture(scope="module")
def water_committee():
    return read_n2p2_committee(MEMBERS, **UNITS)


def test_n2p2_committee_members_equal_members_imported_alone(water_committee):
    ref = load("cfg4_ice384")
    pot = kizuna.Potential(water_committee, threads=1)
    out = pot.compute(ref.positions, ref.symbols, ref.cell, True, member_energies=True,
                      member_forces=True)
    assert water_committee.committee_size == 8
    for k, directory in enumerate(MEMBERS):
        alone = kizuna.Potential(read_n2p2(directory, **UNITS), threads=1).compute(
            ref.positions, ref.symbols, ref.cell, True)
        assert out["member_energies"][k] == pytest.approx(alone["energy"], rel=1e-12)
        assert np.abs(out["member_forces"][k] - alone["forces"]).max() < 1e-10
    # members differ (a committee that agreed exactly would measure nothing)
    assert np.std(out["member_energies"]) > 1e-4


def test_committee_round_trips_through_a_file(water_committee, tmp_path):
    path = tmp_path / "committee.kzn"
    water_committee.save(path)
    assert kizuna.load_model(path).committee_size == 8
    from kizuna import _core

    assert _core.Model.load(str(path)).committee_size == 8


def test_calculator_reports_uncertainty(water_committee):
    from ase import Atoms

    ref = load("cfg4_ice384")
    atoms = Atoms(ref.symbols, ref.positions, cell=ref.cell, pbc=True)
    atoms.calc = kizuna.Calculator(water_committee, threads=1)
    atoms.get_potential_energy()
    r = atoms.calc.results
    assert r["energy_std"] == pytest.approx(np.std(r["member_energies"]))
    assert r["force_std"].shape == (len(atoms),)
    assert r["max_force_deviation"] == pytest.approx(r["force_std"].max())
    # squeezing two molecules together raises the disagreement
    squeezed = atoms.copy()
    squeezed.positions[3] = squeezed.positions[0] + [1.1, 0.0, 0.0]
    squeezed.calc = kizuna.Calculator(water_committee, threads=1, extrapolation="ignore")
    squeezed.get_potential_energy()
    assert squeezed.calc.results["max_force_deviation"] > 3 * r["max_force_deviation"]


def test_mismatched_members_are_refused(tmp_path):
    with pytest.raises(ModelFormatError, match="differ"):
        read_n2p2_committee([MEMBERS[0], DATA / "n2p2" / "Cu2S_PBE"], **UNITS)
