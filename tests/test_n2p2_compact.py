"""n2p2's polynomial ("compact") symmetry functions (types 20 and 22, subtypes p2 and p2a) checked
against an evaluation that does not share kizuna's reading of the subtype (issue 15).

The functions below are transcribed from n2p2's source (61daa0df): CoreFunction (POLY2 and the
asymmetric map x -> (2 - x) x), CompactFunction (a = |v - centre| / half-width),
SymFncBaseComp::setCompactFunction (the 'a' suffix: cr.setAsymmetric(true), the radial bump only),
SymFncBaseCompAng::setParameters (ca.setCoreFunction(cr.getCoreFunctionType()): the angular bump
takes the core type and stays symmetric), SymFncCompRad / SymFncCompAngw::calculate (the sums,
the open intervals rl < r < rc, the angle window in radians). This file reads input.nn itself,
orders the functions by n2p2's own table (sf_table_from_n2p2_log.txt, column ln = input.nn line)
and computes in the potential's units (Bohr). The strongest check compares with n2p2 itself:
nnp-predict's energies and forces on two frames (tests/data/n2p2/reference/compact).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import kizuna
from conftest import DATA, shared_dir
from kizuna.n2p2 import BOHR_IN_ANGSTROM, HARTREE_IN_EV, read_n2p2
from kizuna.training.readers import read_n2p2 as read_input_data

ETHYLBENZENE = DATA / "n2p2" / "Ethylbenzene_SCAN"
ANISOLE_CONFIG = DATA / "n2p2" / "configurations" / "Anisole.input.data"
REFERENCE = DATA / "n2p2" / "reference" / "compact"  # nnp-predict outputs, see its README


# ------------------------------------------------------------- n2p2's formulas, transcribed
def poly2(x):
    """CoreFunction::fPOLY2: ((15 - 6x) x - 10) x^3 + 1."""
    return ((15.0 - 6.0 * x) * x - 10.0) * x ** 3 + 1.0


def compact(v, left, right, asymmetric):
    """CompactFunction::f with a POLY2 core; CoreFunction::f maps x -> (2 - x) x when
    asymmetric."""
    centre, width = 0.5 * (left + right), 0.5 * (right - left)
    x = abs(v - centre) / width
    if asymmetric:
        x = (2.0 - x) * x
    return poly2(x)


def parse_input_nn(path):
    """{input.nn line number: (centre, type, parameters)} of the symfunction_short lines."""
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        t = line.split("#", 1)[0].split()
        if t and t[0] == "symfunction_short":
            out[number] = t[1:]
    return out


def n2p2_order(path):
    """{element: [input.nn line of each function in n2p2's network input order]} from n2p2's
    own listing (sf_table_from_n2p2_log.txt)."""
    order, element = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("Short range atomic symmetry functions element"):
            element = line.split()[-2]
            order[element] = []
        elif element and line.strip() and line.split()[0].isdigit():
            order[element].append(int(line.split()[-1]))
    return order


def hand_values(sf, i, pos, symbols, angle_asymmetric=False):
    """G of atom i for one symfunction_short line (positions in Bohr). ``angle_asymmetric``
    True gives the reading this test must rule out (the angular bump asymmetric too)."""
    typ = int(sf[1])
    subtype = sf[-1]
    assert subtype in ("p2", "p2a"), f"this transcription covers p2/p2a only, got {subtype}"
    asym = subtype.endswith("a")
    d = np.linalg.norm(pos - pos[i], axis=1)
    others = [j for j in range(len(pos)) if j != i]
    if typ == 20:  # ec 20 e1 rl rc subtype
        e1, rl, rc = sf[2], float(sf[3]), float(sf[4])
        return sum(compact(d[j], rl, rc, asym) for j in others
                   if symbols[j] == e1 and rl < d[j] < rc)
    assert typ == 22, f"unexpected type {typ}"
    # ec 22 e1 e2 rl rc angle_left angle_right subtype
    e1, e2 = sf[2], sf[3]
    rl, rc = float(sf[4]), float(sf[5])
    left, right = math.radians(float(sf[6])), math.radians(float(sf[7]))
    total = 0.0
    for j, k in itertools.combinations(others, 2):
        if sorted((symbols[j], symbols[k])) != sorted((e1, e2)):
            continue
        if not (rl < d[j] < rc and rl < d[k] < rc):
            continue
        rij, rik = pos[j] - pos[i], pos[k] - pos[i]
        cos = rij @ rik / (d[j] * d[k])
        if cos <= -1.0 or cos >= 1.0:
            continue
        theta = math.acos(cos)
        if theta < left or theta > right:
            continue
        total += (compact(d[j], rl, rc, asym) * compact(d[k], rl, rc, asym)
                  * compact(theta, left, right, asym and angle_asymmetric))
    return total


def small_molecule():
    """A distorted ethane C2H6 (8 atoms, Bohr): C-C, C-H, H-H pairs, angles 30-180 degrees."""
    ang = np.array([[0.0, 0.0, 0.765], [0.0, 0.0, -0.765],
                    [0.0, 1.018, 1.164], [-0.882, -0.509, 1.164], [0.882, -0.509, 1.164],
                    [0.0, -1.018, -1.164], [-0.882, 0.509, -1.164], [0.882, 0.509, -1.164]])
    ang = ang + np.random.default_rng(7).normal(0.0, 0.08, ang.shape)
    return ang / BOHR_IN_ANGSTROM, ["C", "C", "H", "H", "H", "H", "H", "H"]


# --------------------------------------------------------------------------------- tests
def _compare_descriptors(directory, table, pos_bohr, symbols, has_asymmetric=True):
    model = read_n2p2(directory, length_unit="bohr", energy_unit="hartree")
    pot = kizuna.Potential(model, threads=1)
    G, offsets = pot.descriptors(pos_bohr * BOHR_IN_ANGSTROM, pot.species(symbols))
    lines = parse_input_nn(directory / "input.nn")
    order = n2p2_order(table)
    worst, wrong_reading = 0.0, 0.0
    for i, e in enumerate(symbols):
        mine = G[offsets[i]:offsets[i + 1]]
        assert len(mine) == len(order[e])
        ref = np.array([hand_values(lines[ln], i, pos_bohr, symbols) for ln in order[e]])
        old = np.array([hand_values(lines[ln], i, pos_bohr, symbols, angle_asymmetric=True)
                        for ln in order[e]])
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12,
                                   err_msg=f"atom {i} ({e})")
        worst = max(worst, np.max(np.abs(mine - ref)))
        wrong_reading = max(wrong_reading, np.max(np.abs(old - ref)))
    # the molecule exercises the difference: the other reading is far off
    assert wrong_reading > 1e-2 if has_asymmetric else wrong_reading == 0.0, wrong_reading
    return worst


def test_ethylbenzene_descriptors_match_n2p2_formulas():
    _compare_descriptors(ETHYLBENZENE, ETHYLBENZENE / "sf_table_from_n2p2_log.txt",
                         *small_molecule())


def test_anisole_descriptors_match_n2p2_formulas():
    root = shared_dir()
    if root is None:
        pytest.skip("../shared/peers/n2p2 (Anisole_SCAN, 2.3 MB) not present")
    directory = root / "peers" / "n2p2" / "potentials" / "Anisole_SCAN"
    pos, symbols = small_molecule()
    pos = np.vstack([pos, pos[2] + [0.0, 2.3, 0.9]])  # an O near the molecule
    _compare_descriptors(directory, directory / "sf_table_from_n2p2_log.txt", pos,
                         symbols + ["O"])


def test_dmabn_descriptors_match_n2p2_formulas():
    root = shared_dir()
    if root is None:
        pytest.skip("../shared/peers/n2p2 (DMABN_SCAN, 1.7 MB) not present")
    directory = root / "peers" / "n2p2" / "potentials" / "DMABN_SCAN"
    pos, symbols = small_molecule()
    pos = np.vstack([pos, pos[0] + [0.0, 2.6, 0.4]])  # an N near the molecule
    _compare_descriptors(directory, directory / "sf_table_from_n2p2_log.txt", pos,
                         symbols + ["N"], has_asymmetric=False)


def _against_n2p2(directory, config, reference):
    """kizuna's import of an n2p2 potential on a frame like its training data, against the DFT
    energy of the frame and nnp-predict's energy and forces (tests/data/n2p2/reference/compact).
    With the angular bump wrongly asymmetric: 280 of 288 (Ethylbenzene) and 188 of 256 (Anisole)
    atoms flagged, energies off by 0.26 and 0.33 eV/atom."""
    model = read_n2p2(directory, length_unit="bohr", energy_unit="hartree")
    s = read_input_data(config, "bohr", "hartree")[0]
    out = kizuna.Potential(model, threads=1).compute(s.positions, s.symbols, s.cell, s.pbc)
    n = len(s.symbols)
    # n2p2 wrote no extrapolation warning for these frames
    assert out["num_extrapolating"] == 0, f"{out['num_extrapolating']} of {n} atoms extrapolate"
    assert abs(out["energy"] - s.energy) / n < 3e-3, "far from the SCAN energy of the frame"
    rows = [line.split() for line in (reference / "energy.out").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    e_n2p2 = float(rows[0][3]) * HARTREE_IN_EV
    forces = np.array([[float(x) for x in line.split()[5:8]]
                       for line in (reference / "nnforces.out").read_text().splitlines()
                       if line.strip() and not line.startswith("#")])
    forces *= HARTREE_IN_EV / BOHR_IN_ANGSTROM
    assert int(rows[0][1]) == n and forces.shape == (n, 3)
    assert out["energy"] == pytest.approx(e_n2p2, rel=1e-12, abs=0)
    np.testing.assert_allclose(out["forces"], forces, rtol=0, atol=1e-10)


def test_ethylbenzene_matches_nnp_predict():
    _against_n2p2(ETHYLBENZENE, ETHYLBENZENE / "input.data", REFERENCE / "ethylbenzene")


def test_dmabn_matches_nnp_predict():
    """DMABN_SCAN has plain p2 functions only (it agreed before the fix): a control."""
    root = shared_dir()
    if root is None:
        pytest.skip("../shared/peers/n2p2 (DMABN_SCAN, 1.7 MB) not present")
    _against_n2p2(root / "peers" / "n2p2" / "potentials" / "DMABN_SCAN",
                  DATA / "n2p2" / "configurations" / "DMABN.input.data", REFERENCE / "dmabn")


def test_anisole_matches_nnp_predict():
    root = shared_dir()
    if root is None:
        pytest.skip("../shared/peers/n2p2 (Anisole_SCAN, 2.3 MB) not present")
    _against_n2p2(root / "peers" / "n2p2" / "potentials" / "Anisole_SCAN", ANISOLE_CONFIG,
                  REFERENCE / "anisole")


def test_all_shared_n2p2_potentials_load():
    """Every potential of ../shared/peers/n2p2/potentials imports, writes and reads back."""
    root = shared_dir()
    if root is None:
        pytest.skip("../shared/peers/n2p2 not present")
    from kizuna.model_io import model_from_string, model_to_string

    folders = sorted(p for p in (root / "peers" / "n2p2" / "potentials").iterdir() if p.is_dir())
    assert len(folders) >= 9
    for folder in folders:
        if (folder / "input.nn").is_file():
            model = read_n2p2(folder, length_unit="bohr" if "Cu2S" not in folder.name else None,
                              energy_unit="hartree" if "Cu2S" not in folder.name else None)
        else:  # a committee: nnp-1, nnp-2, ...
            from kizuna.n2p2 import read_n2p2_committee

            model = read_n2p2_committee(sorted(folder.glob("nnp-*")), length_unit="bohr",
                                        energy_unit="hartree")
        text = model_to_string(model)
        assert model_to_string(model_from_string(text, folder.name)) == text
        assert kizuna._core.Model.parse(text, folder.name).checksum is not None


def test_files_without_angle_asymmetric_keep_their_old_meaning(tmp_path):
    """A file written before 'angle_asymmetric' existed reads with angle_asymmetric = asymmetric
    (its predictions do not change); an n2p2 import among them is named for re-import."""
    import re

    import model_factory as mf
    from kizuna.errors import ModelIntegrityWarning
    from kizuna.model_io import model_to_string, read_model

    sfs = mf.single_kind_sfs(["H", "O"], "compact_angular_wide", asymmetric=True)
    model = mf.model_from_sfs(["H", "O"], sfs, seed=4)
    model.meta["source"] = "n2p2 import of /somewhere"
    text = model_to_string(model)
    assert " asymmetric=1 angle_asymmetric=0" in text
    old = re.sub(r" angle_asymmetric=[01]", "", text)
    old = "\n".join(line for line in old.split("\n") if not line.startswith("checksum"))
    path = tmp_path / "old.kzn"
    path.write_text(old)
    with pytest.warns(ModelIntegrityWarning) as record:
        legacy = read_model(path)
    messages = [str(w.message) for w in record]
    assert any("re-import the n2p2 potential" in m for m in messages)
    assert any("no checksum line" in m for m in messages)
    assert all(sf.angle_asymmetric for em in legacy.element_models
               for sf in em.symmetry_functions if sf.asymmetric)
    assert kizuna._core.Model.load(str(path)).legacy_angle_asymmetric
    assert not kizuna._core.Model.parse(text, "new").legacy_angle_asymmetric
    for em in model.element_models:
        for sf in em.symmetry_functions:
            sf.angle_asymmetric = sf.asymmetric
    pos, symbols = mf.random_structure(n=8, seed=5)
    with pytest.warns(ModelIntegrityWarning):
        a = kizuna.Potential(path).compute(pos, symbols)["energy"]
    assert a == kizuna.Potential(model).compute(pos, symbols)["energy"]
