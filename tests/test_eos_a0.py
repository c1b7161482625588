"""The EOS's lattice constant a0 of cubic crystals given as primitive cells (spglib finds the
atoms per conventional cell): EMT Cu's primitive and cubic cells must give the same a0."""
from __future__ import annotations

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from kizuna.properties import eos
from kizuna.properties.eos import _atoms_per_cubic_cell


def test_atoms_per_conventional_cubic_cell():
    assert _atoms_per_cubic_cell(bulk("Si", "diamond", a=5.43)) == 8
    assert _atoms_per_cubic_cell(bulk("Cu", "fcc", a=3.6)) == 4
    assert _atoms_per_cubic_cell(bulk("Fe", "bcc", a=2.87)) == 2
    assert _atoms_per_cubic_cell(bulk("Cu", "fcc", a=3.6, cubic=True)) == 4
    assert _atoms_per_cubic_cell(bulk("Mg", "hcp", a=3.2)) is None   # not cubic: no a0


def test_a0_same_from_primitive_and_cubic_cell():
    cfg = {"strain": 0.02, "points": 5, "eos": "birchmurnaghan", "relax_ions": False}
    prim = eos.compute(bulk("Cu", "fcc", a=3.59), EMT(), cfg, {})
    cubic = eos.compute(bulk("Cu", "fcc", a=3.59, cubic=True), EMT(), cfg, {})
    assert prim["values"]["a0"] == pytest.approx(cubic["values"]["a0"], rel=1e-9)
    assert "a0" not in eos.compute(bulk("Cu", "hcp", a=2.55), EMT(), cfg, {})["values"]
