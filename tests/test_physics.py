"""Physics invariants of the compiled core (no reference implementation involved).

Proves: forces are -dE/dx (central finite differences) for every symmetry-function kind with
every cutoff function and compact core, in open systems and in small triclinic periodic cells;
the stress is (1/V) dE/dstrain in ASE's convention and Voigt order (and the virial in the core's
order), per-atom stresses sum to it; forces sum to zero; energy and forces are invariant under
translation, rotation (forces and stress rotate) and permutation of like atoms; energy and
forces are continuous when a neighbour crosses the cutoff radius or the inner radius (the hard
cutoff is the control that shows the scan would see a jump); the training operators are
consistent: vjp with beta = dE/dG gives the forces and virial, jvp equals finite differences of
G along a displacement and a strain; and a short NVE run with the imported n2p2 water potential
conserves energy.
"""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms, units
from ase.md.velocitydistribution import Stationary, ZeroRotation
from ase.md.verlet import VelocityVerlet

try:  # ASE >= 3.29
    from ase.md.velocitydistribution import thermalize_momenta
except ImportError:  # older ASE
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta

import kizuna
import model_factory as mf
from model_factory import energy, fd_forces
import reference_impl as ref
from conftest import DATA
from kizuna.model import CORE_KINDS, CUTOFF_KINDS, SymmetryFunction

RC = 4.0
COMPACT = ("compact_radial", "compact_angular_wide", "compact_angular_narrow")
CUTOFF_BASED = ("radial", "angular_narrow", "angular_wide")
TRICLINIC = np.array([[5.2, 0.0, 0.0], [1.1, 4.9, 0.0], [-0.6, 0.8, 5.4]])
SMALL_CELL = TRICLINIC * 0.62  # plane spacings below the cutoff


def calibrated(model, positions, symbols, cell=None, pbc=False):
    """The model with its feature scaling fitted to this structure (networks not saturated)."""
    pot = kizuna.Potential(model, threads=1)
    G, offsets = pot.descriptors(positions, pot.species(symbols), cell, pbc)
    samples = {}
    for i, s in enumerate(symbols):
        samples.setdefault(s, []).append(G[offsets[i]:offsets[i + 1]])
    return kizuna.Potential(mf.fit_scaling(model, samples), threads=1)




def open_structure(seed, n=8, symbols_pool=("H", "O")):
    return mf.random_structure(symbols_pool, n=n, seed=seed, box=3.6, min_distance=1.0)


def small_cell_structure(seed, n=4):
    return mf.random_periodic_structure(SMALL_CELL, n=n, seed=seed, min_distance=1.0)


def geometry(name, seed):
    if name == "open":
        positions, symbols = open_structure(seed)
        return positions, symbols, None, False
    if name == "triclinic":
        positions, symbols = mf.random_periodic_structure(TRICLINIC, n=7, seed=seed,
                                                          min_distance=1.0)
        return positions, symbols, TRICLINIC, True
    positions, symbols = small_cell_structure(seed)
    return positions, symbols, SMALL_CELL, True


def assert_forces_match_fd(pot, positions, symbols, cell, pbc, tol=1e-7):
    forces = pot.compute(positions, symbols, cell, pbc)["forces"]
    numerical = fd_forces(pot, positions, symbols, cell, pbc)
    scale = max(1.0, np.abs(forces).max())
    assert np.abs(forces).max() > 1e-4, "forces vanish: the test would prove nothing"
    error = np.abs(forces - numerical).max()
    assert error < tol * scale, f"max |F - F_fd| = {error:.2e}"


# ------------------------------------------------------------------- forces = -dE/dx
@pytest.mark.parametrize("where", ["open", "triclinic", "small_cell"])
@pytest.mark.parametrize("cutoff", CUTOFF_KINDS)
@pytest.mark.parametrize("kind", CUTOFF_BASED)
def test_forces_fd_cutoff_based(kind, cutoff, where):
    alpha = 0.3 if cutoff not in ("hard", "tanhu", "tanh") else 0.0
    model = mf.model_from_sfs(["H", "O"], mf.single_kind_sfs(["H", "O"], kind, rc=RC,
                                                             cutoff=cutoff, alpha=alpha), seed=1)
    positions, symbols, cell, pbc = geometry(where, seed=2)
    pot = calibrated(model, positions, symbols, cell, pbc)
    assert_forces_match_fd(pot, positions, symbols, cell, pbc)


@pytest.mark.parametrize("where", ["open", "triclinic", "small_cell"])
@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("core", CORE_KINDS)
@pytest.mark.parametrize("kind", COMPACT)
def test_forces_fd_compact(kind, core, asymmetric, where):
    model = mf.model_from_sfs(["H", "O"], mf.single_kind_sfs(["H", "O"], kind, rc=RC, core=core,
                                                             asymmetric=asymmetric), seed=3)
    positions, symbols, cell, pbc = geometry(where, seed=4)
    pot = calibrated(model, positions, symbols, cell, pbc)
    assert_forces_match_fd(pot, positions, symbols, cell, pbc)


def test_forces_fd_full_model_three_elements_committee():
    model = mf.random_model(("H", "C", "O"), seed=5, committee=3)
    positions, symbols = mf.random_periodic_structure(SMALL_CELL * 1.3, n=6, seed=5,
                                                      symbols_pool=("H", "C", "O"))
    assert_forces_match_fd(kizuna.Potential(model, threads=2), positions, symbols,
                           SMALL_CELL * 1.3, True)


# ----------------------------------------------------------------------------- stress
def strained_energy(pot, positions, symbols, cell, deformation):
    """Energy after x -> (1 + deformation) x for atoms and lattice vectors."""
    F = np.eye(3) + deformation
    return energy(pot, positions @ F.T, symbols, cell @ F.T, True)


@pytest.mark.parametrize("cell", [TRICLINIC, SMALL_CELL], ids=["triclinic", "small_cell"])
def test_stress_matches_strain_derivative(cell):
    model = mf.random_model(seed=6)
    positions, symbols = mf.random_periodic_structure(cell, n=8 if cell is TRICLINIC else 4,
                                                      seed=6, min_distance=1.0)
    pot = kizuna.Potential(model, threads=1)
    volume = abs(np.linalg.det(cell))
    h = 1e-6
    dE = np.zeros((3, 3))  # dE/d(deformation_ab)
    for a in range(3):
        for b in range(3):
            step = np.zeros((3, 3))
            step[a, b] = h
            dE[a, b] = (strained_energy(pot, positions, symbols, cell, step)
                        - strained_energy(pot, positions, symbols, cell, -step)) / (2 * h)
    sigma = dE / volume
    assert np.abs(sigma - sigma.T).max() < 1e-8  # rotation invariance makes it symmetric
    atoms = Atoms(symbols, positions=positions, cell=cell, pbc=True)
    atoms.calc = kizuna.Calculator(model, threads=1, extrapolation="ignore")
    stress = atoms.get_stress()  # ASE Voigt: xx yy zz yz xz xy
    expected = [sigma[0, 0], sigma[1, 1], sigma[2, 2], sigma[1, 2], sigma[0, 2], sigma[0, 1]]
    assert np.abs(sigma).max() > 1e-4
    assert np.allclose(stress, expected, rtol=0, atol=1e-6 * np.abs(sigma).max()), (stress,
                                                                                 expected)
    # core virial, order xx yy zz xy xz yz: W = -V sigma
    virial = pot.compute(positions, symbols, cell, True, virial=True)["virial"]
    W = -volume * sigma
    assert np.allclose(virial, [W[0, 0], W[1, 1], W[2, 2], W[0, 1], W[0, 2], W[1, 2]],
                       rtol=0, atol=1e-8 * volume)
    # per-atom stresses sum to the stress
    stresses = atoms.get_stresses()
    assert stresses.shape == (len(atoms), 6)
    assert np.allclose(stresses.sum(axis=0), stress, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------ invariances
@pytest.fixture(scope="module")
def full_model():
    return mf.random_model(("H", "C", "O"), seed=7, committee=2)


def periodic_case():
    positions, symbols = mf.random_periodic_structure(TRICLINIC, n=10, seed=8,
                                                      symbols_pool=("H", "C", "O"))
    return positions, symbols, TRICLINIC, True


def open_case():
    positions, symbols = mf.random_structure(("H", "C", "O"), n=10, seed=9, box=4.0)
    return positions, symbols, None, False


CASES = {"open": open_case, "periodic": periodic_case}


@pytest.mark.parametrize("case", CASES)
def test_forces_sum_to_zero(full_model, case):
    positions, symbols, cell, pbc = CASES[case]()
    pot = kizuna.Potential(full_model, threads=1)
    forces = pot.compute(positions, symbols, cell, pbc)["forces"]
    assert np.abs(forces).max() > 1e-3
    assert np.abs(forces.sum(axis=0)).max() < 1e-12 * len(forces) * np.abs(forces).max()


@pytest.mark.parametrize("case", CASES)
def test_translation_invariance(full_model, case):
    positions, symbols, cell, pbc = CASES[case]()
    pot = kizuna.Potential(full_model, threads=1)
    a = pot.compute(positions, symbols, cell, pbc, atom_energies=True)
    b = pot.compute(positions + [3.7, -11.2, 0.45], symbols, cell, pbc, atom_energies=True)
    assert abs(a["energy"] - b["energy"]) < 1e-12 * abs(a["energy"])
    assert np.allclose(a["energies"], b["energies"], rtol=0, atol=1e-12)
    assert np.allclose(a["forces"], b["forces"], rtol=0, atol=1e-11)


@pytest.mark.parametrize("case", CASES)
def test_rotation_invariance(full_model, case):
    positions, symbols, cell, pbc = CASES[case]()
    q, _ = np.linalg.qr(np.random.default_rng(10).normal(size=(3, 3)))
    R = q * np.sign(np.linalg.det(q))  # proper rotation
    pot = kizuna.Potential(full_model, threads=1)
    a = pot.compute(positions, symbols, cell, pbc, virial=pbc)
    rotated_cell = None if cell is None else cell @ R.T
    b = pot.compute(positions @ R.T, symbols, rotated_cell, pbc, virial=pbc)
    assert abs(a["energy"] - b["energy"]) < 1e-12 * abs(a["energy"])
    assert np.allclose(b["forces"], a["forces"] @ R.T, rtol=0, atol=1e-11)
    if pbc:
        def full(v):  # xx yy zz xy xz yz -> 3 x 3
            return np.array([[v[0], v[3], v[4]], [v[3], v[1], v[5]], [v[4], v[5], v[2]]])
        assert np.allclose(full(b["virial"]), R @ full(a["virial"]) @ R.T, rtol=0, atol=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_permutation_invariance(full_model, case):
    positions, symbols, cell, pbc = CASES[case]()
    order = np.random.default_rng(11).permutation(len(positions))
    pot = kizuna.Potential(full_model, threads=1)
    a = pot.compute(positions, symbols, cell, pbc, atom_energies=True)
    b = pot.compute(positions[order], [symbols[i] for i in order], cell, pbc, atom_energies=True)
    assert abs(a["energy"] - b["energy"]) < 1e-12 * abs(a["energy"])
    assert np.allclose(b["energies"], a["energies"][order], rtol=0, atol=1e-12)
    assert np.allclose(b["forces"], a["forces"][order], rtol=0, atol=1e-12)


# --------------------------------------------------------------- smoothness at the cutoff
def scan_model(kind, cutoff="cos", alpha=0.0, core="poly2"):
    if kind in CUTOFF_BASED:
        sfs = mf.single_kind_sfs(["H", "O"], kind, rc=RC, cutoff=cutoff, alpha=alpha)
    else:
        sfs = mf.single_kind_sfs(["H", "O"], kind, rc=RC, core=core)
    return mf.model_from_sfs(["H", "O"], sfs, seed=12)


def crossing_jump(model, distance, eps=1e-10):
    """Atom 1 moves along u away from atom 0 (atoms 2 and 3 stay within range of all) from
    r = distance - eps to distance + eps. Returns the energy change not explained by the
    forces, E(b) - E(a) + eps (F1(a) + F1(b)) . u (O(eps^3) for a smooth energy, O(1) for a
    jump), the largest force change (O(eps) for continuous forces) and the force scale."""
    symbols = ["O", "H", "O", "H"]
    pot = calibrated(model, crossing_positions(distance), symbols)
    results = [pot.compute(crossing_positions(r), symbols)
               for r in (distance - eps, distance + eps)]
    u = CROSSING_DIRECTION
    dE = abs(results[1]["energy"] - results[0]["energy"]
             + eps * (results[0]["forces"][1] + results[1]["forces"][1]) @ u)
    dF = np.abs(results[0]["forces"] - results[1]["forces"]).max()
    return dE, dF, np.abs(results[0]["forces"]).max()


CROSSING_DIRECTION = np.array([0.6, 0.8, 0.0])


def crossing_positions(r):
    return np.array([[0.0, 0.0, 0.0], r * CROSSING_DIRECTION, [1.1, 0.4, 0.9], [0.3, 1.2, -0.6]])


@pytest.mark.parametrize("cutoff", [c for c in CUTOFF_KINDS if c != "hard"])
@pytest.mark.parametrize("kind", CUTOFF_BASED)
def test_smooth_when_neighbour_crosses_cutoff(kind, cutoff):
    """C1 cutoffs: jumps of order eps^2 (energy) and eps (forces) only."""
    dE, dF, F = crossing_jump(scan_model(kind, cutoff), RC)
    assert F > 1e-2, "no force on the moving atom: the scan would prove nothing"
    assert dE < 1e-12 and dF < 1e-6 * max(1.0, F), (dE, dF, F)


@pytest.mark.parametrize("cutoff", ["cos", "exp", "poly1", "poly2", "poly3", "poly4"])
@pytest.mark.parametrize("kind", CUTOFF_BASED)
def test_smooth_when_neighbour_crosses_inner_radius(kind, cutoff):
    dE, dF, F = crossing_jump(scan_model(kind, cutoff, alpha=0.6), 0.6 * RC)
    assert F > 1e-2, "no force on the moving atom: the scan would prove nothing"
    assert dE < 1e-12 and dF < 1e-6 * max(1.0, F), (dE, dF, F)


@pytest.mark.parametrize("core", CORE_KINDS)
@pytest.mark.parametrize("kind", COMPACT)
def test_smooth_when_neighbour_leaves_compact_support(kind, core):
    dE, dF, F = crossing_jump(scan_model(kind, core=core), RC)
    assert F > 1e-2, "no force on the moving atom: the scan would prove nothing"
    assert dE < 1e-12 and dF < 1e-6 * max(1.0, F), (dE, dF, F)


@pytest.mark.parametrize("kind", CUTOFF_BASED)
def test_hard_cutoff_jump_is_seen(kind):
    """Control: the same scan does see the discontinuity of the hard cutoff."""
    dE, dF, F = crossing_jump(scan_model(kind, "hard"), RC)
    assert dE > 1e-4 and dF > 1e-3 * max(1.0, F), (dE, dF, F)


def test_energy_continuous_through_collinear_geometry():
    """Bending a linear O3 by 1e-6 rad changes the energy by far less than 1e-6 eV (the bump
    is flat at theta = 0). Fails because the core drops compact-angular triplets with
    cos(theta) = +-1 exactly (see test_reference)."""
    sfs = [SymmetryFunction("compact_angular_wide", ("O", "O"), rl=-RC, rc=RC,
                            angle_left=-60.0, angle_right=60.0, core="poly2"),
           SymmetryFunction("radial", ("O",), eta=0.1, rs=0.0, rc=RC)]
    pot = kizuna.Potential(mf.model_from_sfs(["O"], sfs, seed=13), threads=1)
    line = np.array([[0.0, 0.0, 0.0], [1.25, 0.0, 0.0], [2.5, 0.0, 0.0]])
    bent = line.copy()
    bent[2, 1] = 2.5e-6
    dE = abs(energy(pot, line, ["O"] * 3) - energy(pot, bent, ["O"] * 3))
    assert dE < 1e-6, f"energy jumps by {dE:.3e} eV at the collinear geometry"


# ------------------------------------------------------------------ training operators
#: the default kinds of model_factory plus compact_angular_narrow (n2p2 type 21)
WITH_NARROW = ("radial", "angular_narrow", "angular_wide", "compact_radial",
               "compact_angular_wide", "compact_angular_narrow")
KIND_SETS = pytest.mark.parametrize("kinds", [None, WITH_NARROW], ids=["default", "with_narrow"])


def operator_case(name):
    if name == "open":
        positions, symbols = open_structure(14, n=8)
        return positions, symbols, None, False
    positions, symbols = small_cell_structure(14, n=4)
    return positions, symbols, SMALL_CELL, True


@KIND_SETS
@pytest.mark.parametrize("case", ["open", "small_cell"])
def test_vjp_with_dE_dG_gives_forces_and_virial(case, kinds):
    positions, symbols, cell, pbc = operator_case(case)
    model = mf.random_model(seed=14, kinds=kinds)
    pot = kizuna.Potential(model, threads=1)
    beta = ref.predict(model, positions, symbols, cell, pbc).beta_flat()
    species = pot.species(symbols)
    forces, W = pot._core.vjp(positions, species, cell, pbc, beta)
    out = pot.compute(positions, symbols, cell, pbc, virial=True)
    v = out["virial"]  # xx yy zz xy xz yz
    assert np.abs(out["forces"]).max() > 1e-3
    assert np.allclose(forces, out["forces"], rtol=0, atol=1e-12)
    assert np.allclose(W, [[v[0], v[3], v[4]], [v[3], v[1], v[5]], [v[4], v[5], v[2]]],
                       rtol=0, atol=1e-11)


@KIND_SETS
@pytest.mark.parametrize("case", ["open", "small_cell"])
def test_vjp_random_beta_matches_reference(case, kinds):
    """vjp is the adjoint of dG/dx for any beta, not only for dE/dG."""
    positions, symbols, cell, pbc = operator_case(case)
    model = mf.random_model(seed=15, kinds=kinds)
    pot = kizuna.Potential(model, threads=1)
    expected = ref.predict(model, positions, symbols, cell, pbc)
    rng = np.random.default_rng(15)
    beta = [rng.normal(size=len(g)) for g in expected.G]
    forces, W = pot._core.vjp(positions, pot.species(symbols), cell, pbc, np.concatenate(beta))
    ref_forces, ref_W = np.zeros_like(positions), np.zeros((3, 3))
    for i, nb in enumerate(expected.neighbors):
        g = np.einsum("s,smk->mk", beta[i], expected.dG[i])
        np.add.at(ref_forces, nb.index, -g)
        ref_forces[i] += g.sum(axis=0)
        ref_W -= nb.vector.T @ g
    assert np.allclose(forces, ref_forces, rtol=0, atol=1e-10 * np.abs(ref_forces).max())
    assert np.allclose(W, ref_W, rtol=0, atol=1e-10 * np.abs(ref_W).max())


@KIND_SETS
@pytest.mark.parametrize("case", ["open", "small_cell"])
@pytest.mark.parametrize("direction", ["displacement", "strain"])
def test_jvp_matches_finite_differences(case, direction, kinds):
    positions, symbols, cell, pbc = operator_case(case)
    if direction == "strain" and not pbc:
        cell = np.diag([20.0, 20.0, 20.0])  # strain of an open system: positions only
    model = mf.random_model(seed=16, kinds=kinds)
    pot = kizuna.Potential(model, threads=1)
    species = pot.species(symbols)
    rng = np.random.default_rng(16)
    dpos = rng.normal(size=positions.shape) if direction == "displacement" else None
    dstrain = rng.normal(size=(3, 3)) * 0.3 if direction == "strain" else None
    dG = pot._core.jvp(positions, species, cell, pbc, dpos, dstrain)

    def G_at(t):
        if dpos is not None:
            return pot.descriptors(positions + t * dpos, species, cell, pbc)[0]
        F = np.eye(3) + t * dstrain
        return pot.descriptors(positions @ F.T, species, None if cell is None else cell @ F.T,
                               pbc)[0]

    h = 1e-6
    numerical = (G_at(h) - G_at(-h)) / (2 * h)
    assert np.abs(dG).max() > 1e-2
    assert np.allclose(dG, numerical, rtol=0, atol=1e-7 * np.abs(dG).max())
    exact = ref.descriptor_directional_derivative(ref.predict(model, positions, symbols, cell, pbc),
                                                  dpos, dstrain)
    assert np.allclose(dG, exact, rtol=0, atol=1e-10 * np.abs(exact).max())


# ------------------------------------------------------------------------- NVE water
def water_cluster(n_molecules=32):
    """Whole molecules nearest the centre of the n2p2 reference liquid (cfg1), as a cluster."""
    from n2p2_reference import load

    cfg = load("cfg1_liquid1080")
    symbols = np.array(cfg.symbols)
    lengths = np.diag(cfg.cell)

    def minimum_image(v):
        return v - np.round(v / lengths) * lengths

    centre = lengths / 2
    oxygens, hydrogens = np.flatnonzero(symbols == "O"), np.flatnonzero(symbols == "H")
    nearest = oxygens[np.argsort(np.linalg.norm(minimum_image(cfg.positions[oxygens] - centre),
                                                axis=1))[:n_molecules]]
    positions = []
    for o in nearest:
        to_h = minimum_image(cfg.positions[hydrogens] - cfg.positions[o])
        two = np.argsort(np.linalg.norm(to_h, axis=1))[:2]
        assert np.linalg.norm(to_h[two], axis=1).max() < 1.2  # a whole molecule
        x_o = centre + minimum_image(cfg.positions[o] - centre)
        positions += [x_o, x_o + to_h[two[0]], x_o + to_h[two[1]]]
    return Atoms(["O", "H", "H"] * n_molecules, positions=positions)


def test_nve_energy_conservation_water():
    model = kizuna.n2p2.read_n2p2(DATA / "n2p2" / "H2O_RPBE-D3")
    atoms = water_cluster(32)
    atoms.calc = kizuna.Calculator(model, threads=1, extrapolation="ignore")
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(17))
    Stationary(atoms)
    ZeroRotation(atoms)
    timestep_fs, steps = 0.25, 600
    dyn = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    total = [atoms.get_total_energy()]
    dyn.attach(lambda: total.append(atoms.get_total_energy()), interval=1)
    dyn.run(steps)
    n = len(atoms)
    per_atom = (np.array(total) - total[0]) / n
    time_ps = np.arange(len(total)) * timestep_fs * 1e-3
    drift = np.polyfit(time_ps, per_atom, 1)[0]  # eV/atom/ps
    print(f"NVE water, {n} atoms, dt {timestep_fs} fs, {steps} steps: drift "
          f"{drift * 1e3:.2e} meV/atom/ps, max |E - E0| {np.abs(per_atom).max() * 1e3:.2e} "
          f"meV/atom, final T {atoms.get_temperature():.0f} K")
    assert atoms.get_temperature() > 100  # it moved
    # a 1 % error in the forces gives ~0.1 meV/atom/ps and ~1.2e-4 eV/atom here
    assert abs(drift) < 2e-5
    assert np.abs(per_atom).max() < 1e-4
