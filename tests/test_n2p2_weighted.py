"""n2p2's element-weighted symmetry functions (types 12, 13, 23, 25; weight = atomic number Z)
imported into kizuna and checked against n2p2 itself: nnp-predict's energy and forces for a
small H-C-O potential with random weights (tests/data/n2p2/Weighted_HCO, outputs and the command
in tests/data/n2p2/reference/weighted/README.md). The potential mixes types 2, 3, 12, 13, 23 and 25, so
the check also covers n2p2's sorted order across the types."""
from __future__ import annotations

import numpy as np
import pytest

import kizuna
from conftest import DATA
from kizuna.model_io import attach_channel_weights
from kizuna.n2p2 import read_n2p2
from kizuna.training.readers import read_n2p2 as read_input_data

POTENTIAL = DATA / "n2p2" / "Weighted_HCO"
REFERENCE = DATA / "n2p2" / "reference" / "weighted"


def _rows(path):
    return [line.split() for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def test_import_maps_weighted_types_to_one_channel_of_atomic_numbers():
    model = read_n2p2(POTENTIAL)
    assert model.channel_weights == {"H": (1.0,), "C": (6.0,), "O": (8.0,)}
    kinds = [sf.kind for sf in model.element("C").symmetry_functions]
    # n2p2's order (its log lists it): by type (2, 3, 12, 13, 23, 25), then cutoff, eta, rs,
    # zeta, lambda (12, 13) or subtype, rc, rl, angles (23, 25)
    assert kinds == ["radial", "angular_narrow"] + ["weighted_radial"] * 4 + \
        ["weighted_angular_narrow"] * 5 + ["weighted_compact_radial"] * 2 + \
        ["weighted_compact_angular_wide"] * 2
    sfs = model.element("C").symmetry_functions
    assert [(sf.rc, sf.eta, sf.zeta, sf.lam) for sf in sfs[6:11]] == [
        (4.0, 0.01, 1.0, -1.0), (5.0, 0.03, 2.5, 1.0), (5.0, 0.05, 1.0, 1.0),
        (5.0, 0.05, 2.0, -1.0), (5.0, 0.2, 4.0, 1.0)]
    assert all(sf.channel == 1 and sf.alpha == 0.1 for sf in sfs[2:11])
    assert [(sf.rl, sf.asymmetric) for sf in sfs[11:13]] == [(0.5, False), (-5.0, True)]
    # p2a: only the radial bump asymmetric (as for type 22)
    assert [(sf.angle_left, sf.asymmetric, sf.angle_asymmetric) for sf in sfs[13:]] == [
        (0.0, False, False), (60.0, True, False)]
    assert all(sf.channel == 1 for sf in sfs[11:])


def test_matches_nnp_predict():
    model = read_n2p2(POTENTIAL)
    s = read_input_data(REFERENCE / "input.data")[0]
    out = kizuna.Potential(model, threads=1).compute(s.positions, s.symbols, s.cell, s.pbc)
    n = len(s.symbols)
    energy_rows = _rows(REFERENCE / "energy.out")
    forces = np.array([[float(x) for x in row[5:8]] for row in _rows(REFERENCE / "nnforces.out")])
    assert int(energy_rows[0][1]) == n and forces.shape == (n, 3)
    # n2p2 wrote no extrapolation warning for this structure
    assert out["num_extrapolating"] == 0
    assert out["energy"] == pytest.approx(float(energy_rows[0][3]), rel=1e-12, abs=0)
    assert np.abs(forces).max() > 0.5
    np.testing.assert_allclose(out["forces"], forces, rtol=0, atol=1e-10)


def test_weights_matter():
    """Control: the same model with w = 1 for every element misses n2p2 by far."""
    model = read_n2p2(POTENTIAL)
    model.channel_weights = {e: (1.0,) for e in model.elements}
    attach_channel_weights(model)
    s = read_input_data(REFERENCE / "input.data")[0]
    out = kizuna.Potential(model, threads=1).compute(s.positions, s.symbols, s.cell, s.pbc)
    assert abs(out["energy"] - float(_rows(REFERENCE / "energy.out")[0][3])) > 1e-2
