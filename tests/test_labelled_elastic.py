"""Elastic constants from a data set's labelled strained cells (kizuna.properties.
labelled_elastic): the mlearn json reader (VASP virial order and sign, kBar) and the fit,
against the strain-stress finite differences of kizuna.properties.elastic on EMT Cu."""
from __future__ import annotations

import json

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT

from kizuna.errors import KizunaError
from kizuna.properties import elastic
from kizuna.properties.labelled_elastic import (compare, fit, lagrangian_strain, read_mlearn,
                                                summary)


def _deformed(atoms, mode: int, eta: float):
    """A copy under the Green-Lagrange strain E with E_mode = eta (shear: E_kl = E_lk = eta),
    deformation F upper triangular as in pymatgen's Strain.get_deformation_matrix (so the
    fit must recover the strain from the cells, not assume a convention)."""
    pairs = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    e = np.zeros((3, 3))
    k, l = pairs[mode]
    e[k, l] = e[l, k] = eta
    # F^T F = I + 2E, F upper triangular: Cholesky of I + 2E, transposed
    f = np.linalg.cholesky(np.eye(3) + 2 * e).T
    out = atoms.copy()
    out.set_cell(np.asarray(atoms.cell) @ f.T, scale_atoms=True)
    return out


def _mlearn_entry(atoms, group="Elastic"):
    """An mlearn json entry: stress as VASP writes it (xx yy zz xy yz zx, kBar, compression
    positive), written out here independently of the reader."""
    s = atoms.get_stress(voigt=True)               # ASE: xx yy zz yz xz xy, eV/Å^3, tension > 0
    kbar = -s / (0.1 * units.GPa)
    virial = [kbar[0], kbar[1], kbar[2], kbar[5], kbar[3], kbar[4]]
    return {"group": group, "description": "test",
            "structure": {"lattice": {"matrix": np.asarray(atoms.cell).tolist()},
                          "sites": [{"species": [{"element": sym, "occu": 1}],
                                     "xyz": pos.tolist()}
                                    for sym, pos in zip(atoms.get_chemical_symbols(),
                                                        atoms.positions)]},
            "outputs": {"energy": atoms.get_potential_energy(), "forces": [],
                        "virial_stress": virial}}


def test_lagrangian_strain_of_a_sheared_cell():
    a = bulk("Cu", "fcc", a=3.6, cubic=True)
    b = _deformed(a, 5, 0.02)                      # E_xy = 0.02: engineering e6 = 0.04
    assert np.allclose(lagrangian_strain(a.cell, b.cell), [0, 0, 0, 0, 0, 0.04], atol=1e-12)


def test_emt_elastic_constants_from_labelled_cells(tmp_path):
    a = bulk("Cu", "fcc", a=3.59, cubic=True)      # near EMT's equilibrium, 4 atoms
    a.calc = EMT()
    cells = [a.copy()]
    for mode in range(6):
        for eta in (-0.02, -0.01, 0.01, 0.02, 0.05):   # the 5 % cells lie outside the fit
            cells.append(_deformed(a, mode, eta))
    entries = []
    for c in cells:
        c.calc = EMT()
        entries.append(_mlearn_entry(c))
    entries.append({**_mlearn_entry(cells[1]), "group": "AIMD-NVT"})   # another group: skipped
    path = tmp_path / "training.json"
    path.write_text(json.dumps(entries))
    frames = read_mlearn(path)
    assert len(frames) == len(cells)
    # the reader's stress is ASE's (sign and order), back from the VASP kBar convention
    assert np.allclose(frames[3].info["stress"], cells[3].get_stress(), atol=1e-9)
    assert np.allclose(frames[25].info["stress"], cells[25].get_stress(), atol=1e-9)

    res = compare(frames, EMT(), max_strain=0.021)   # the model's side: EMT itself
    assert res["cells_used"] == 1 + 6 * 4
    assert np.allclose(res["C_model"], res["C_dataset"], atol=1e-6)
    assert max(abs(e) for e in res["energy_error_per_atom"]) < 1e-9
    # independent: ASE-cell strain-stress finite differences (properties.elastic, +-0.5 %)
    ref = elastic.compute(a.copy(), EMT(), {"strains": [-0.005, 0.005], "relax_ions": False,
                                           "components": ["C11", "C12", "C44"]}, {})
    got = res["dataset"]
    for key in ("C11", "C12", "C44"):
        # +-1, 2 % central differences vs +-0.5 %: third-order terms differ by ~1 %
        assert got[key] == pytest.approx(ref["values"][key], rel=0.02), key
    assert got["B"] == pytest.approx((got["C11"] + 2 * got["C12"]) / 3)


def test_summary_of_a_cubic_tensor():
    c = np.zeros((6, 6))
    c[:3, :3] = 60.0
    c[[0, 1, 2], [0, 1, 2]] = 150.0
    c[[3, 4, 5], [3, 4, 5]] = 80.0
    s = summary(c)
    assert (s["C11"], s["C12"], s["C44"], s["B"], s["C'"]) == (150.0, 60.0, 80.0, 90.0, 45.0)


def test_bad_input_says_what(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps([{"group": "Elastic", "structure": {}, "outputs": {}}]))
    with pytest.raises(KizunaError, match="not an mlearn entry"):   # the training reader's
        read_mlearn(path)
    a = bulk("Cu", "fcc", a=3.6, cubic=True)
    a.calc = EMT()
    path.write_text(json.dumps([_mlearn_entry(a, group="Surface")]))
    with pytest.raises(ValueError, match="no structure of group 'Elastic'"):
        read_mlearn(path)
    with pytest.raises(ValueError, match="too few"):
        fit([a, _deformed(a, 0, 0.1)], [np.zeros(6), np.ones(6)], a, max_strain=0.02)
