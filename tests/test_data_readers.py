"""Data readers: every format, unit conversion at the reader, and the error messages.

Expected values come from the files' text (parsed here independently) or from numbers written
by the test itself, never from the reader under test.
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from conftest import DATA, shared_dir
from kizuna.errors import DataError
from kizuna.training.readers import (BOHR_IN_ANGSTROM, HARTREE_IN_EV, read_structures)
from kizuna.training.sources import split_indices
from kizuna.training.structure import DataWarning, check_structure, validate_all

SI_TRAIN = DATA / "mlearn" / "Si" / "Si_train.xyz"


def _first_frame_by_hand(path):
    """Parse frame 0 of the mlearn extxyz with plain string operations."""
    lines = Path(path).read_text().splitlines()
    n = int(lines[0])
    energy = float(lines[1].split("energy=")[1].split()[0])
    rows = [line.split() for line in lines[2:2 + n]]
    pos = np.array([[float(v) for v in r[1:4]] for r in rows])
    forces = np.array([[float(v) for v in r[4:7]] for r in rows])
    return n, energy, pos, forces


def test_extxyz_mlearn_energy_and_force_key():
    n, energy, pos, forces = _first_frame_by_hand(SI_TRAIN)
    s = read_structures(SI_TRAIN, index="0")[0]
    assert len(s) == n and s.energy == energy
    assert np.array_equal(s.positions, pos) and np.array_equal(s.forces, forces)
    assert s.stress is None and s.cell.shape == (3, 3) and all(s.pbc)
    assert s.name.endswith("Si_train.xyz#0")
    assert len(read_structures(SI_TRAIN)) == 214


def test_ase_file_with_stress_and_traj(tmp_path):
    """extxyz and ASE trajectories written with a calculator keep energy, forces, stress."""
    rng = np.random.default_rng(0)
    atoms = Atoms("Cu4", positions=rng.uniform(0, 3.6, (4, 3)), cell=np.eye(3) * 3.6, pbc=True)
    stress = rng.normal(size=6) * 0.01
    forces = rng.normal(size=(4, 3))
    atoms.calc = SinglePointCalculator(atoms, energy=-12.5, forces=forces, stress=stress)
    for name in ("a.extxyz", "a.traj"):
        write(tmp_path / name, [atoms, atoms])
        s = read_structures(tmp_path / name)
        assert len(s) == 2
        assert s[1].energy == -12.5
        assert np.allclose(s[1].forces, forces, atol=1e-12)
        assert np.allclose(s[1].stress, stress, atol=1e-12)


def test_extxyz_virial_key_is_minus_stress_times_volume(tmp_path):
    text = ("2\nLattice=\"4 0 0 0 5 0 0 0 6\" Properties=species:S:1:pos:R:3 energy=-3.0 "
            "virial=\"1 0.5 0 0.5 2 0 0 0 3\" pbc=\"T T T\"\nCu 0 0 0\nCu 2 2 2\n")
    (tmp_path / "v.xyz").write_text(text)
    s = read_structures(tmp_path / "v.xyz")[0]
    # ASE Voigt xx yy zz yz xz xy; stress = -virial / V, V = 120 Å^3
    assert np.allclose(s.stress, -np.array([1, 2, 3, 0, 0, 0.5]) / 120.0)
    assert s.forces is None


N2P2 = """begin
comment two atoms in bohr and hartree
lattice 10.0 0.0 0.0
lattice 0.0 10.0 0.0
lattice 0.0 0.0 10.0
atom 1.0 2.0 3.0 Si 0.0 0.0 0.1 0.2 0.3
atom 4.0 5.0 6.0 Si 0.0 0.0 -0.1 -0.2 -0.3
energy -7.5
charge 0.0
end
begin
atom 0.0 0.0 0.0 H 0.0 0.0 0.0 0.0 0.0
atom 1.5 0.0 0.0 H 0.0 0.0 0.0 0.0 0.0
energy -1.0
charge 0.0
end
"""


def test_n2p2_input_data_units(tmp_path):
    path = tmp_path / "input.data"
    path.write_text(N2P2)
    s = read_structures(path, length_unit="bohr", energy_unit="hartree")
    assert len(s) == 2
    assert s[0].positions[1, 2] == pytest.approx(6.0 * BOHR_IN_ANGSTROM, rel=1e-15)
    assert s[0].cell[0, 0] == pytest.approx(10.0 * BOHR_IN_ANGSTROM, rel=1e-15)
    assert s[0].energy == pytest.approx(-7.5 * HARTREE_IN_EV, rel=1e-15)
    assert s[0].forces[0, 1] == pytest.approx(0.2 * HARTREE_IN_EV / BOHR_IN_ANGSTROM, rel=1e-15)
    assert s[1].cell is None and not any(s[1].pbc)
    assert s[1].name.endswith("input.data:11")
    plain = read_structures(path)
    assert plain[0].energy == -7.5 and plain[0].positions[0, 0] == 1.0


def test_n2p2_errors_name_the_line(tmp_path):
    path = tmp_path / "input.data"
    path.write_text(N2P2.replace("atom 4.0 5.0 6.0 Si 0.0 0.0 -0.1 -0.2 -0.3",
                                 "atom 4.0 5.0 x Si 0.0 0.0 -0.1 -0.2 -0.3"))
    with pytest.raises(DataError, match=r"input.data:7: cannot read"):
        read_structures(path)
    path.write_text(N2P2[:N2P2.rindex("end")])
    with pytest.raises(DataError, match=r"line 11 has no 'end'"):
        read_structures(path)


def _write_deepmd(folder, with_virial=True, n_frames=3):
    rng = np.random.default_rng(1)
    (folder / "set.000").mkdir(parents=True)
    (folder / "type.raw").write_text("0\n1\n1\n")
    (folder / "type_map.raw").write_text("O\nH\n")
    box = np.tile(np.diag([5.0, 6.0, 7.0]).ravel(), (n_frames, 1))
    coord = rng.uniform(0, 4, (n_frames, 9))
    np.save(folder / "set.000" / "box.npy", box)
    np.save(folder / "set.000" / "coord.npy", coord)
    np.save(folder / "set.000" / "energy.npy", np.array([-1.0, -2.0, -3.0])[:n_frames])
    np.save(folder / "set.000" / "force.npy", rng.normal(size=(n_frames, 9)))
    virial = rng.normal(size=(n_frames, 9))
    if with_virial:
        np.save(folder / "set.000" / "virial.npy", virial)
    return coord, virial


def test_deepmd_folder(tmp_path):
    coord, virial = _write_deepmd(tmp_path / "sys")
    s = read_structures(tmp_path / "sys")
    assert [x.symbols for x in s] == [["O", "H", "H"]] * 3
    assert np.array_equal(s[2].positions, coord[2].reshape(3, 3))
    assert s[1].energy == -2.0
    v = virial[0].reshape(3, 3)
    expected = -np.array([v[0, 0], v[1, 1], v[2, 2], v[1, 2], v[0, 2], v[0, 1]]) / 210.0
    assert np.allclose(s[0].stress, expected, rtol=1e-14)


def test_deepmd_inconsistent_counts(tmp_path):
    _write_deepmd(tmp_path / "sys")
    np.save(tmp_path / "sys" / "set.000" / "energy.npy", np.zeros(2))
    with pytest.raises(DataError, match=r"energy.npy: 2 values, expected 3 frames"):
        read_structures(tmp_path / "sys")


def test_deepmd_water_example():
    root = shared_dir()
    if root is None:
        pytest.skip("../shared/data not present")
    s = read_structures(root / "data" / "deepmd_water" / "data_1")
    assert len(s) == 160 and len(s[0]) == 192
    assert s[0].symbols.count("O") == 64 and s[0].forces.shape == (192, 3)


def test_mlearn_json_stress_sign_and_units_from_energy_differences():
    """For the Elastic series of the mlearn Si set (same structure, strained in small steps),
    E(c) - E(a) must equal V_b sigma_b : (eps_c - eps_a) to first order, with sigma in ASE's
    convention (eV/Å^3, positive = tensile). This fixes the sign, the kBar unit and the
    component order of the JSON's virial_stress."""
    root = shared_dir()
    if root is None:
        pytest.skip("../shared/data not present")
    path = root / "data" / "mlearn" / "json" / "Si" / "training.json"
    entries = json.loads(path.read_text())
    elastic = [k for k, e in enumerate(entries) if e["group"] == "Elastic"]
    s = read_structures(path)
    checked = 0
    for a, b, c in zip(elastic, elastic[1:], elastic[2:]):
        F_ab = np.linalg.solve(s[a].cell, s[b].cell).T
        F_bc = np.linalg.solve(s[b].cell, s[c].cell).T
        e_ab, e_bc = 0.5 * (F_ab + F_ab.T) - np.eye(3), 0.5 * (F_bc + F_bc.T) - np.eye(3)
        # symmetric small steps within one series
        if np.abs(e_ab).max() > 0.02 or np.abs(e_ab - e_bc).max() > 0.1 * np.abs(e_ab).max():
            continue
        sig = np.zeros((3, 3))
        for value, (i, j) in zip(s[b].stress, [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]):
            sig[i, j] = sig[j, i] = value
        predicted = s[b].volume * np.sum(sig * (e_ab + e_bc))
        actual = s[c].energy - s[a].energy
        assert predicted == pytest.approx(actual, rel=0.05), (a, b, c)
        checked += 1
    assert checked >= 6


def _good():
    return read_structures(SI_TRAIN, index="0")[0]


def test_missing_forces_and_nan_errors_name_the_structure():
    s = _good()
    s.forces = None
    with pytest.raises(DataError, match=r"Si_train.xyz#0: no forces"):
        check_structure(s)
    check_structure(s, need_forces=False)
    s = _good()
    s.energy = float("nan")
    with pytest.raises(DataError, match=r"#0: energy is nan"):
        check_structure(s)
    s = _good()
    s.forces[5, 1] = np.nan
    with pytest.raises(DataError, match=r"#0: non-finite force on atom 5"):
        check_structure(s)


def test_overlapping_atoms_and_inconsistent_counts():
    s = _good()
    s.positions[7] = s.positions[3] + [0.01, 0.0, 0.0]
    with pytest.raises(DataError, match=r"atoms 3 and 7 are 0.0100 Å apart"):
        check_structure(s)
    s = _good()
    s.forces = s.forces[:-1]
    with pytest.raises(DataError, match=r"63 atoms but forces of shape \(62, 3\)"):
        check_structure(s)


def test_skip_bad_structures_with_a_warning():
    good, bad = _good(), _good()
    bad.forces = None
    bad.name = "bad.xyz#9"
    with pytest.warns(DataWarning, match=r"skipped: bad.xyz#9: no forces"):
        kept = validate_all([good, bad, good], on_error="skip")
    assert len(kept) == 2
    with pytest.raises(DataError, match="bad.xyz#9"):
        validate_all([good, bad], on_error="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(validate_all([good], on_error="skip")) == 1


def test_unknown_element_and_missing_file(tmp_path):
    s = _good()
    with pytest.raises(DataError, match=r"element Si is not in the model's elements \['Ge'\]"):
        s.bind(["Ge"])
    with pytest.raises(DataError, match="no such data file"):
        read_structures(tmp_path / "nothing.xyz")


def test_split_is_seeded_disjoint_and_complete():
    a = split_indices(100, 0.1, 0.2, seed=3)
    b = split_indices(100, 0.1, 0.2, seed=3)
    c = split_indices(100, 0.1, 0.2, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    assert [len(x) for x in a] == [70, 10, 20]
    assert sorted(np.concatenate(a).tolist()) == list(range(100))
