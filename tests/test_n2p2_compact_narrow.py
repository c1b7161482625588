"""n2p2's compact angular narrow symmetry functions (type 21, SymFncCompAngn, and its weighted
type 24, SymFncCompAngnWeighted: the compact angular terms times the radial bump of the third
leg, C_r(r_jk)) imported into kizuna and checked against n2p2 itself: nnp-predict's energy and
forces for a small H-C-O potential with random weights (tests/data/n2p2/CompactNarrow_HCO;
outputs and the command in tests/data/n2p2/reference/compact_narrow/README.md). The potential
mixes types 2, 21, 22, 24 and 25, so the check also covers n2p2's sorted order across them."""
from __future__ import annotations

import numpy as np
import pytest

import kizuna
from conftest import DATA
from kizuna.model import SymmetryFunction
from kizuna.model_io import _sf_problem, model_from_string, model_to_string
from kizuna.n2p2 import read_n2p2
from kizuna.training.readers import read_n2p2 as read_input_data

POTENTIAL = DATA / "n2p2" / "CompactNarrow_HCO"
REFERENCE = DATA / "n2p2" / "reference" / "compact_narrow"


def _rows(path):
    return [line.split() for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _structure():
    return read_input_data(REFERENCE / "input.data")[0]


def _reference():
    energy = float(_rows(REFERENCE / "energy.out")[0][3])
    forces = np.array([[float(x) for x in row[5:8]] for row in _rows(REFERENCE / "nnforces.out")])
    return energy, forces


def test_import_kinds_and_order():
    model = read_n2p2(POTENTIAL)
    assert model.channel_weights == {"H": (1.0,), "C": (6.0,), "O": (8.0,)}
    sfs = model.element("O").symmetry_functions
    # n2p2's order: by type (2, 21, 22, 24, 25), then 21/22 by subtype, elements, rc, rl,
    # angles; 24/25 by subtype, rc, rl, angles
    assert [sf.kind for sf in sfs] == ["radial"] + ["compact_angular_narrow"] * 4 + \
        ["compact_angular_wide"] + ["weighted_compact_angular_narrow"] * 3 + \
        ["weighted_compact_angular_wide"]
    narrow = sfs[1:5]
    assert [(sf.neighbors, sf.core, sf.asymmetric) for sf in narrow] == [
        (("H", "H"), "poly2", False), (("H", "O"), "poly2", False),
        (("H", "C"), "poly2", True), (("O", "O"), "poly3", False)]
    weighted = sfs[6:9]
    assert [(sf.rc, sf.rl, sf.core, sf.asymmetric) for sf in weighted] == [
        (5.0, 0.5, "poly2", False), (5.0, -5.0, "poly2", True), (4.0, 0.2, "poly4", False)]
    assert all(sf.channel == 1 and not sf.angle_asymmetric for sf in weighted)


def test_matches_nnp_predict():
    model = read_n2p2(POTENTIAL)
    s = _structure()
    out = kizuna.Potential(model, threads=1).compute(s.positions, s.symbols, s.cell, s.pbc)
    energy, forces = _reference()
    n = len(s.symbols)
    assert forces.shape == (n, 3)
    assert out["num_extrapolating"] == 0  # n2p2 wrote no extrapolation warning either
    assert out["energy"] == pytest.approx(energy, rel=1e-13, abs=0)
    assert np.abs(forces).max() > 0.5
    np.testing.assert_allclose(out["forces"], forces, rtol=0, atol=1e-12)


def test_rjk_factor_matters():
    """Control: the same potential read with the wide kinds (types 22/25 in place of 21/24,
    the r_jk bump dropped) misses n2p2 by far, so the match above tests the r_jk factor."""
    model = read_n2p2(POTENTIAL)
    for em in model.element_models:
        for sf in em.symmetry_functions:
            sf.kind = sf.kind.replace("compact_angular_narrow", "compact_angular_wide")
    model = model_from_string(model_to_string(model))
    s = _structure()
    out = kizuna.Potential(model, threads=1).compute(s.positions, s.symbols, s.cell, s.pbc)
    energy, forces = _reference()
    assert abs(out["energy"] - energy) > 1e-2
    assert np.abs(out["forces"] - forces).max() > 1e-2


def test_round_trip_through_both_readers():
    """The model file written for the new kinds reads back (Python reader, then the core's
    reader inside Potential) to the same numbers."""
    model = read_n2p2(POTENTIAL)
    text = model_to_string(model)
    assert "compact_angular_narrow" in text and "weighted_compact_angular_narrow" in text
    again = model_from_string(text)  # the Python reader; Potential() parses with the core's
    s = _structure()
    a = kizuna.Potential(model, threads=1).compute(s.positions, s.symbols, s.cell, s.pbc)
    b = kizuna.Potential(again, threads=1).compute(s.positions, s.symbols, s.cell, s.pbc)
    assert a["energy"] == b["energy"]
    assert np.array_equal(a["forces"], b["forces"])


def test_bad_angles_refused():
    sf = SymmetryFunction("compact_angular_narrow", ("H", "O"), rl=0.5, rc=4.0,
                          angle_left=120.0, angle_right=60.0)
    assert "angle_left must be < angle_right" in _sf_problem(sf)
