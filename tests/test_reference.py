"""The compiled core agrees with the independent numpy reference (tests/reference_impl.py).

Proves, to ~1e-10, that `kizuna.Potential` / `kizuna.Calculator` compute the model of
docs/model-format.md: symmetry-function values G, energy, per-atom and committee-member
energies, forces, virial and per-atom virials, extrapolation flags, for every symmetry-function
kind with every cutoff function and compact core, every activation and scaling mode,
committees, 1-3 elements, open, periodic (orthorhombic, triclinic, cells smaller than twice the
cutoff and than the cutoff itself, unwrapped coordinates) and mixed boundary conditions.
"""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

import kizuna
import model_factory as mf
import reference_impl as ref
from kizuna.model import ACTIVATIONS, CORE_KINDS, CUTOFF_KINDS, SCALING_MODES, SymmetryFunction

TOL = 1e-10
RC = 4.0
CUTOFF_BASED = ("radial", "angular_narrow", "angular_wide")
COMPACT = ("compact_radial", "compact_angular_wide", "compact_angular_narrow")
TRICLINIC = np.array([[5.2, 0.0, 0.0], [1.1, 4.9, 0.0], [-0.6, 0.8, 5.4]])


def assert_close(actual, expected, what, tol=TOL):
    """max |actual - expected| <= tol * max(1, max |expected|)."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    error = float(np.abs(actual - expected).max(initial=0.0))
    assert error <= tol * scale, f"{what}: max deviation {error:.3e} > {tol * scale:.3e}"


def compare(model, positions, symbols, cell=None, pbc=False, threads=1):
    """Run the core and the reference on one structure and compare every output."""
    pot = kizuna.Potential(model, threads=threads)
    expected = ref.predict(model, positions, symbols, cell, pbc)
    out = pot.compute(positions, symbols, cell, pbc, forces=True, virial=True,
                      atom_energies=True, atom_virials=True, member_energies=True,
                      extrapolation_flags=True)
    G, offsets = pot.descriptors(positions, pot.species(symbols), cell, pbc)
    assert np.array_equal(np.diff(offsets), [len(g) for g in expected.G])
    assert_close(G, expected.G_flat(), "G")
    assert abs(out["energy"] - expected.energy) <= TOL * abs(expected.energy), "energy"
    assert_close(out["energies"], expected.energies, "per-atom energies")
    assert_close(out["member_energies"], expected.member_energies, "member energies")
    assert_close(out["forces"], expected.forces, "forces")
    assert_close(out["virial"], expected.virial_voigt(), "virial")
    assert_close(out["atom_virials"], expected.atom_virials, "per-atom virials")
    assert np.array_equal(out["extrapolating"].astype(bool), expected.extrapolating)
    assert out["num_extrapolating"] == expected.extrapolating.sum()
    # the comparison means something: forces are not all zero
    assert np.abs(expected.forces).max() > 1e-3 or len(positions) == 1
    return expected, out


def triclinic_structure(n=8, seed=0, symbols_pool=("H", "O")):
    return mf.random_periodic_structure(TRICLINIC, n=n, seed=seed, symbols_pool=symbols_pool,
                                        min_distance=1.0)


# ------------------------------------------------------------- kinds x cutoffs x cores
@pytest.mark.parametrize("alpha", [0.0, 0.35])
@pytest.mark.parametrize("cutoff", CUTOFF_KINDS)
@pytest.mark.parametrize("kind", CUTOFF_BASED)
def test_cutoff_based_kind(kind, cutoff, alpha):
    model = mf.model_from_sfs(["H", "O"], mf.single_kind_sfs(["H", "O"], kind, rc=RC,
                                                             cutoff=cutoff, alpha=alpha), seed=1)
    positions, symbols = triclinic_structure(seed=2)
    compare(model, positions, symbols, TRICLINIC, True)


@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("core", CORE_KINDS)
@pytest.mark.parametrize("kind", COMPACT)
def test_compact_kind(kind, core, asymmetric):
    model = mf.model_from_sfs(["H", "O"], mf.single_kind_sfs(["H", "O"], kind, rc=RC, core=core,
                                                             asymmetric=asymmetric), seed=3)
    positions, symbols = triclinic_structure(seed=4)
    compare(model, positions, symbols, TRICLINIC, True)


@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("core", CORE_KINDS)
def test_compact_angular_asymmetric_angle(core, asymmetric):
    """angle_asymmetric=1 (the angular bump asymmetric), with either radial bump."""
    sfs = mf.single_kind_sfs(["H", "O"], "compact_angular_wide", rc=RC, core=core,
                             asymmetric=asymmetric, angle_asymmetric=True)
    model = mf.model_from_sfs(["H", "O"], sfs, seed=3)
    positions, symbols = triclinic_structure(seed=4)
    compare(model, positions, symbols, TRICLINIC, True)


# ----------------------------------------------------------------------- geometries
def water_cluster():
    """Three water molecules (open system)."""
    molecule = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    centres = [np.zeros(3), np.array([2.8, 0.3, 0.2]), np.array([0.9, 2.6, -0.8])]
    rng = np.random.default_rng(5)
    positions = []
    for c in centres:
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        positions.extend(molecule @ q.T + c)
    return np.array(positions), ["O", "H", "H"] * 3


def test_open_molecule():
    positions, symbols = water_cluster()
    compare(mf.random_model(seed=6), positions, symbols)


def test_isolated_atom_and_far_cluster():
    """An atom with no neighbour at all (G = 0) next to a small cluster."""
    positions, symbols = water_cluster()
    positions = np.vstack([positions, [[40.0, -30.0, 25.0]]])
    expected, _ = compare(mf.random_model(seed=6), positions, symbols + ["O"])
    assert len(expected.neighbors[-1].index) == 0


def test_collinear_gaussian_angular():
    """Linear chains: cos(theta) = +-1 exactly, where (1 + lambda cos)^zeta has base 0 for
    lambda = -+1 (zeta = 1, integer and non-integer zeta)."""
    sfs = [SymmetryFunction(kind, ("O", "O"), eta=0.2, rs=0.0, zeta=zeta, lam=lam, rc=RC,
                            cutoff="cos")
           for kind in ("angular_narrow", "angular_wide")
           for zeta in (1.0, 2.5, 4.0) for lam in (1.0, -1.0)]
    sfs.append(SymmetryFunction("radial", ("O",), eta=0.1, rs=0.0, rc=RC))
    model = mf.model_from_sfs(["O"], sfs, seed=20)
    line = np.array([[0.0, 0.0, 0.0], [1.25, 0.0, 0.0], [2.5, 0.0, 0.0], [3.5, 0.0, 0.0]])
    compare(model, line, ["O"] * 4)
    compare(model, line @ np.linalg.qr(np.random.default_rng(20).normal(size=(3, 3)))[0],
            ["O"] * 4)


def test_periodic_orthorhombic():
    cell = np.diag([6.5, 7.0, 6.0])
    positions, symbols = mf.random_periodic_structure(cell, n=16, seed=7)
    compare(mf.random_model(seed=7), positions, symbols, cell, True)


@pytest.mark.parametrize("scale,n_atoms,limit", [(0.95, 8, 2 * RC), (0.62, 3, RC)],
                         ids=["below_2rc", "below_rc"])
def test_triclinic_small_cell(scale, n_atoms, limit):
    """Cells whose lattice-plane spacings are below 2 rc and below rc (several images of one
    neighbour; below rc every atom also sees images of itself)."""
    cell = TRICLINIC * scale
    spacings = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[[1, 2, 0]],
                                                                  cell[[2, 0, 1]]), axis=1)
    assert spacings.max() < limit
    positions, symbols = mf.random_periodic_structure(cell, n=n_atoms, seed=8)
    expected, _ = compare(mf.random_model(seed=8), positions, symbols, cell, True)
    if limit == RC:
        assert all(np.any(nb.index == i) for i, nb in enumerate(expected.neighbors))


def test_single_atom_in_tiny_cell():
    cell = np.array([[2.2, 0.0, 0.0], [0.4, 2.3, 0.0], [0.3, -0.5, 2.25]])
    expected, _ = compare(mf.random_model(seed=9), np.array([[0.2, 0.3, 0.1]]), ["O"], cell, True)
    assert len(expected.neighbors[0].index) >= 12  # many images of itself


def test_unwrapped_coordinates():
    """Atoms outside the cell (shifted by lattice vectors) give the same result as wrapped."""
    positions, symbols = triclinic_structure(seed=10)
    jumps = np.random.default_rng(10).integers(-2, 3, size=(len(positions), 3))
    model = mf.random_model(seed=10)
    expected, out = compare(model, positions + jumps @ TRICLINIC, symbols, TRICLINIC, True)
    wrapped = ref.predict(model, positions, symbols, TRICLINIC, True)
    assert_close(expected.forces, wrapped.forces, "reference: wrapped vs unwrapped")


@pytest.mark.parametrize("pbc,zero_vector", [([True, True, False], False),
                                             ([True, True, False], True),
                                             ([True, False, False], True)],
                         ids=["slab", "slab_zero_c", "wire_zero_bc"])
def test_mixed_pbc(pbc, zero_vector):
    cell = np.array([[5.0, 0.0, 0.0], [0.9, 4.6, 0.0], [0.0, 0.0, 7.0]])
    positions, symbols = mf.random_periodic_structure(cell, n=10, seed=11, pbc=pbc)
    if zero_vector:
        cell = cell.copy()
        for d in range(3):
            if not pbc[d]:
                cell[d] = 0.0
    compare(mf.random_model(seed=11), positions, symbols, cell, pbc)


# ----------------------------------------------------------------- model variants
def test_three_elements():
    elements = ("H", "C", "O")
    positions, symbols = mf.random_periodic_structure(TRICLINIC, n=12, seed=12,
                                                      symbols_pool=elements)
    compare(mf.random_model(elements, seed=12), positions, symbols, TRICLINIC, True)


def test_committee_of_three():
    positions, symbols = triclinic_structure(n=10, seed=13)
    expected, out = compare(mf.random_model(seed=13, committee=3), positions, symbols,
                            TRICLINIC, True)
    assert np.ptp(expected.member_energies) > 1e-3  # the members differ


def test_committee_members_with_different_scaling_modes():
    model = mf.random_model(seed=21, committee=len(SCALING_MODES))
    for em in model.element_models:
        for member, mode in zip(em.members, SCALING_MODES):
            member.scaling.mode = mode
    positions, symbols = triclinic_structure(n=10, seed=21)
    compare(model, positions, symbols, TRICLINIC, True)


@pytest.mark.parametrize("where", ["hidden", "output"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation(activation, where):
    # (a chain of two negexp layers gives forces of 1e8 eV/Å, so one hidden layer each)
    activations = ((activation, "tanh", "linear") if where == "hidden"
                   else ("tanh", "tanh", activation))
    positions, symbols = triclinic_structure(seed=14)
    model = mf.random_model(seed=14, activations=activations)
    compare(model, positions, symbols, TRICLINIC, True)


@pytest.mark.parametrize("mode", SCALING_MODES)
def test_scaling_mode(mode):
    model = mf.random_model(seed=15, mode=mode)
    # one constant feature (zero range and sigma) per element: factor 0
    for em in model.element_models:
        for member in em.members:
            s = member.scaling
            s.maximum[2] = s.minimum[2]
            s.sigma[2] = 0.0
    positions, symbols = triclinic_structure(seed=15)
    compare(model, positions, symbols, TRICLINIC, True)


def test_mixed_functions_in_one_element():
    """Functions of every kind with different cutoff radii, cutoff kinds, inner radii, shared
    and distinct (eta, rs) and (zeta, lambda), large and non-integer zeta, neighbour pairs
    listed in both orders, and a duplicated function, all in one element."""
    sfs = [
        SymmetryFunction("radial", ("H",), eta=0.4, rs=0.5, rc=3.0, cutoff="poly2", alpha=0.2),
        SymmetryFunction("radial", ("H",), eta=0.4, rs=0.5, rc=4.5, cutoff="cos"),
        SymmetryFunction("radial", ("O",), eta=0.0, rs=0.0, rc=3.5, cutoff="tanh"),
        SymmetryFunction("radial", ("O",), eta=0.0, rs=0.0, rc=3.5, cutoff="tanh"),
        SymmetryFunction("angular_narrow", ("O", "H"), eta=0.1, rs=0.0, zeta=1.0, lam=-1.0,
                         rc=4.5, cutoff="poly3", alpha=0.1),
        SymmetryFunction("angular_narrow", ("H", "O"), eta=0.1, rs=0.0, zeta=3.7, lam=1.0,
                         rc=4.5, cutoff="poly3", alpha=0.1),
        SymmetryFunction("angular_narrow", ("H", "H"), eta=0.1, rs=0.0, zeta=70.0, lam=1.0,
                         rc=3.2, cutoff="exp"),
        SymmetryFunction("angular_wide", ("H", "O"), eta=0.1, rs=0.0, zeta=16.0, lam=-1.0,
                         rc=4.5, cutoff="poly3", alpha=0.1),
        SymmetryFunction("angular_wide", ("H", "O"), eta=0.3, rs=1.0, zeta=16.0, lam=-1.0,
                         rc=4.5, cutoff="poly3", alpha=0.1),
        SymmetryFunction("angular_wide", ("O", "O"), eta=0.02, rs=0.0, zeta=2.0, lam=1.0,
                         rc=2.5, cutoff="tanhu"),
        SymmetryFunction("compact_radial", ("O",), rl=1.0, rc=2.0, core="poly1"),
        SymmetryFunction("compact_angular_wide", ("O", "H"), rl=0.5, rc=3.0, angle_left=70.0,
                         angle_right=140.0, core="exp"),
        SymmetryFunction("compact_angular_wide", ("H", "O"), rl=-2.0, rc=4.5, angle_left=90.0,
                         angle_right=200.0, core="poly3", asymmetric=True),
    ]
    model = mf.model_from_sfs(["H", "O"], sfs, seed=19)
    positions, symbols = mf.random_periodic_structure(TRICLINIC, n=12, seed=19)
    compare(model, positions, symbols, TRICLINIC, True)


def test_threads_agree():
    positions, symbols = mf.random_periodic_structure(TRICLINIC, n=12, seed=16)
    compare(mf.random_model(seed=16), positions, symbols, TRICLINIC, True, threads=2)


def test_calculator():
    """ASE calculator: energy, energies, forces, stress = -W/V and per-atom stresses."""
    positions, symbols = triclinic_structure(n=10, seed=17)
    model = mf.random_model(seed=17)
    expected = ref.predict(model, positions, symbols, TRICLINIC, True)
    atoms = Atoms(symbols, positions=positions, cell=TRICLINIC, pbc=True)
    atoms.calc = kizuna.Calculator(model, threads=1, extrapolation="ignore")
    volume = atoms.get_volume()
    assert abs(atoms.get_potential_energy() - expected.energy) <= TOL * abs(expected.energy)
    assert_close(atoms.get_potential_energies(), expected.energies, "energies")
    assert_close(atoms.get_forces(), expected.forces, "forces")
    assert_close(atoms.get_stress(), expected.stress(volume), "stress")
    av = expected.atom_virials  # xx yy zz xy xz yz -> ASE xx yy zz yz xz xy
    assert_close(atoms.get_stresses(), -av[:, [0, 1, 2, 5, 4, 3]] / volume, "per-atom stresses")


# --------------------------------------------------------------- known core bugs
COLLINEAR_SFS = [
    SymmetryFunction("compact_angular_wide", ("O", "O"), rl=-RC, rc=RC, angle_left=-60.0,
                     angle_right=60.0, core="poly2"),
    SymmetryFunction("radial", ("O",), eta=0.1, rs=0.0, rc=RC),
]


def test_compact_angular_collinear_periodic_images():
    """A single atom in a 1.5 Å cubic cell sees images at a and 2a: theta = 0 exactly, where
    the bump on (-60, 60) degrees is 1. Core bug: the triplet is dropped (cos = 1 skipped)."""
    model = mf.model_from_sfs(["O"], COLLINEAR_SFS, seed=18)
    compare(model, np.zeros((1, 3)), ["O"], np.eye(3) * 1.5, True)


def test_compact_angular_linear_molecule():
    """O3 on a line: from an end atom both neighbours lie at theta = 0. Core bug as above."""
    model = mf.model_from_sfs(["O"], COLLINEAR_SFS, seed=18)
    positions = np.array([[0.0, 0.0, 0.0], [1.25, 0.0, 0.0], [2.5, 0.0, 0.0]])
    compare(model, positions, ["O"] * 3)
