"""Wide angular functions by moment tensors (csrc/src/angular_moments.cpp) equal the triplet sums.

Plain `angular_wide` functions with an integer zeta <= 4 are evaluated from per-neighbour moment
tensors instead of the triplet list, by default for centres whose triplets inside the moment
cutoff would cost more (kTripletCostRatio; KIZUNA_TRIPLET_MAX_NEIGHBORS=N: by a plain count of
neighbours inside); KIZUNA_ANGULAR_MOMENTS=0 at model load keeps the triplet path for every
centre, =1 the moment path for every centre. Both paths must give the same symmetry functions, energies, forces, virials and training
products (vjp, jvp) to round-off, on the mlearn grid (examples/training/mlearn.yaml: zeta
{1, 2, 4, 16}, shifted shells) and on two-element models with cross-element pairs and a
non-integer zeta (which stays on triplets); forces also against finite differences.
"""
from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

import kizuna
import model_factory as mf
from kizuna.model import SymmetryFunction
from kizuna.training.symmetry import SymmetryFunctionSpec, generate_symmetry_functions


def mlearn_model(element, seed=1):
    """The mlearn grid (16 radial + 64 angular_wide shifted shells, rc 5.5 Å), random networks."""
    spec = SymmetryFunctionSpec(cutoff=5.5, cutoff_function="poly2", n_radial=16,
                                radial_mode="shifted", r_min=0.5, n_angular=64,
                                angular_kind="angular_wide", angular_mode="shifted",
                                r_min_angular=1.5, zetas=[1, 2, 4, 16], lambdas=[-1, 1])
    sfs = generate_symmetry_functions([element], spec)[element]
    return mf.model_from_sfs([element], sfs, seed=seed, hidden=(12, 10),
                             activations=("tanh", "tanh", "linear"))


def two_element_model():
    """Cross-element and same-element wide pairs, zeta 1..4 and 6 (triplets), 2.5 (triplets)."""
    sfs = [SymmetryFunction("radial", (e,), eta=0.5, rs=0.0, rc=4.5, cutoff="poly2")
           for e in ("Cu", "S")]
    for pair in [("Cu", "Cu"), ("Cu", "S"), ("S", "S")]:
        for eta, rs, zeta, lam in [(0.2, 0.0, 1.0, -1.0), (0.2, 0.0, 1.0, 1.0),
                                   (0.5, 2.0, 2.0, 1.0), (0.5, 2.0, 3.0, -1.0),
                                   (0.1, 0.0, 4.0, 1.0), (0.1, 0.0, 6.0, 1.0),
                                   (0.3, 1.0, 2.5, -1.0)]:
            sfs.append(SymmetryFunction("angular_wide", pair, eta=eta, rs=rs, zeta=zeta, lam=lam,
                                        rc=4.5, cutoff="poly2"))
    return mf.model_from_sfs(["Cu", "S"], sfs, seed=2, hidden=(8, 6),
                             activations=("tanh", "softplus", "linear"))


def perturbed(atoms, seed=0, sigma=0.08):
    rng = np.random.default_rng(seed)
    atoms = atoms.copy()
    atoms.positions += rng.normal(0.0, sigma, atoms.positions.shape)
    return atoms


def evaluate(model, atoms, moments, monkeypatch, triplet_max=None):
    """Descriptors, energy, forces, virial, vjp and jvp on the moment path (True: every centre),
    the triplet list (False) or the per-centre choice ("auto": a centre with at most
    `triplet_max` neighbours inside the moment cutoff on the triplet list)."""
    if moments == "auto":
        monkeypatch.delenv("KIZUNA_ANGULAR_MOMENTS", raising=False)
    else:
        monkeypatch.setenv("KIZUNA_ANGULAR_MOMENTS", "1" if moments else "0")
    if triplet_max is None:
        monkeypatch.delenv("KIZUNA_TRIPLET_MAX_NEIGHBORS", raising=False)
    else:
        monkeypatch.setenv("KIZUNA_TRIPLET_MAX_NEIGHBORS", str(triplet_max))
    pot = kizuna.Potential(model, threads=1)  # the plan is built when the core parses the model
    pos, sym, cell = atoms.positions, atoms.get_chemical_symbols(), atoms.cell.array
    pbc = np.array(atoms.pbc)
    out = pot.compute(pos, sym, cell, pbc, forces=True, virial=True)
    species = pot.species(sym)
    G, offsets = pot.descriptors(pos, species, cell, pbc)
    rng = np.random.default_rng(5)
    beta = rng.normal(size=G.shape)
    dpos = rng.normal(size=pos.shape)
    vjp = pot.vjp(pos, species, cell, pbc, beta)
    jvp = pot.jvp(pos, species, cell, pbc, dpos=dpos, dstrain=rng.normal(size=(3, 3)))
    return G, out, vjp, jvp


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def flat(x):
    if isinstance(x, (tuple, list)):
        return np.concatenate([flat(v) for v in x])
    return np.ravel(np.asarray(x, float))


CASES = [
    ("Si", lambda: perturbed(bulk("Si", "diamond", a=5.43, cubic=True) * (2, 2, 2))),
    ("Mo", lambda: perturbed(bulk("Mo", "bcc", a=3.16, cubic=True) * (3, 3, 3))),
]


@pytest.mark.parametrize("element,make", CASES, ids=[c[0] for c in CASES])
def test_mlearn_grid_moments_equal_triplets(element, make, monkeypatch):
    model = mlearn_model(element)
    atoms = make()
    G_t, out_t, vjp_t, jvp_t = evaluate(model, atoms, False, monkeypatch)
    G_m, out_m, vjp_m, jvp_m = evaluate(model, atoms, True, monkeypatch)
    # every symmetry function to 1e-12 of its own size (the zeta = 16 ones stay on triplets)
    scale = np.maximum(np.abs(G_t), 1e-12 * np.abs(G_t).max())
    assert np.max(np.abs(G_m - G_t) / scale) < 1e-12
    assert abs(out_m["energy"] - out_t["energy"]) <= 1e-12 * abs(out_t["energy"])
    assert rel(out_m["forces"], out_t["forces"]) < 1e-12
    assert rel(out_m["virial"], out_t["virial"]) < 1e-12
    assert rel(flat(vjp_m), flat(vjp_t)) < 1e-12
    assert rel(flat(jvp_m), flat(jvp_t)) < 1e-12
    assert np.abs(out_t["forces"]).max() > 1e-3  # the comparison means something
    # both paths really ran: sums in another order differ in the last bits somewhere
    assert not np.array_equal(G_m, G_t)


def test_two_elements_moments_equal_triplets(monkeypatch):
    model = two_element_model()
    atoms = perturbed(bulk("CuS", "rocksalt", a=4.6, cubic=True) * (2, 1, 1), seed=3, sigma=0.1)
    G_t, out_t, vjp_t, jvp_t = evaluate(model, atoms, False, monkeypatch)
    G_m, out_m, vjp_m, jvp_m = evaluate(model, atoms, True, monkeypatch)
    scale = np.maximum(np.abs(G_t), 1e-12 * np.abs(G_t).max())
    assert np.max(np.abs(G_m - G_t) / scale) < 1e-12
    assert abs(out_m["energy"] - out_t["energy"]) <= 1e-12 * abs(out_t["energy"])
    assert rel(out_m["forces"], out_t["forces"]) < 1e-12
    assert rel(out_m["virial"], out_t["virial"]) < 1e-12
    assert rel(flat(vjp_m), flat(vjp_t)) < 1e-12
    assert rel(flat(jvp_m), flat(jvp_t)) < 1e-12


def test_moment_forces_match_finite_differences(monkeypatch):
    monkeypatch.setenv("KIZUNA_ANGULAR_MOMENTS", "1")  # every centre on the moment path
    model = two_element_model()
    atoms = perturbed(bulk("CuS", "rocksalt", a=4.6, cubic=True), seed=4, sigma=0.15)
    pot = kizuna.Potential(model, threads=1)
    pos, sym, cell = atoms.positions, atoms.get_chemical_symbols(), atoms.cell.array
    forces = pot.compute(pos, sym, cell, True, forces=True)["forces"]
    fd = mf.fd_forces(pot, pos, sym, cell, True, h=1e-3)
    assert np.abs(forces - fd).max() < 1e-7 * max(1.0, np.abs(fd).max())
    assert np.abs(forces).max() > 1e-3


# ------------------------------------------------------------------ weighted wide functions
WEIGHTS = {"Cu": [1.0, -0.7, 0.3], "Ag": [1.0, 0.2, -1.1], "Au": [1.0, 0.9, 0.6]}


def weighted_model():
    """Element-weighted wide functions of three channels (zeta 1..4 by moments; zeta 6 and
    2.5 on triplets; channel 2 only in triplet functions), weighted radial and narrow ones."""
    sfs = [SymmetryFunction("weighted_radial", (), channel=c, eta=0.5, rs=1.0, rc=4.5,
                            cutoff="poly2") for c in (1, 2, 3)]
    for c, params in [(1, [(0.2, 0.0, 1.0, -1.0), (0.2, 0.0, 1.0, 1.0), (0.5, 2.0, 2.0, 1.0),
                           (0.1, 0.0, 4.0, 1.0), (0.1, 0.0, 6.0, -1.0)]),
                      (2, [(0.3, 1.0, 2.5, -1.0), (0.1, 0.0, 6.0, 1.0)]),
                      (3, [(0.5, 2.0, 3.0, -1.0), (0.2, 0.0, 1.0, 1.0), (0.1, 0.0, 4.0, -1.0),
                           (0.5, 2.0, 2.0, 1.0)])]:
        for eta, rs, zeta, lam in params:
            sfs.append(SymmetryFunction("weighted_angular_wide", (), channel=c, eta=eta, rs=rs,
                                        zeta=zeta, lam=lam, rc=4.5, cutoff="poly2"))
    sfs.append(SymmetryFunction("weighted_angular_narrow", (), channel=2, eta=0.1, rs=0.0,
                                zeta=2.0, lam=1.0, rc=4.5, cutoff="poly2"))
    return mf.model_from_sfs(["Cu", "Ag", "Au"], sfs, seed=3, hidden=(8, 6),
                             activations=("tanh", "softplus", "linear"), channel_weights=WEIGHTS)


def alloy(symbols, seed):
    atoms = perturbed(bulk("Cu", "fcc", a=3.9, cubic=True) * (2, 2, 1), seed=seed, sigma=0.1)
    atoms.symbols = [symbols[i % len(symbols)] for i in range(len(atoms))]
    return atoms


# three elements, and two of the three (an element block of every neighbourhood is empty)
@pytest.mark.parametrize("symbols", [("Cu", "Ag", "Au", "Cu", "Au"), ("Au", "Cu")],
                         ids=["three", "two-of-three"])
def test_weighted_moments_equal_triplets(symbols, monkeypatch):
    model = weighted_model()
    atoms = alloy(symbols, seed=7)
    G_t, out_t, vjp_t, jvp_t = evaluate(model, atoms, False, monkeypatch)
    G_m, out_m, vjp_m, jvp_m = evaluate(model, atoms, True, monkeypatch)
    scale = np.maximum(np.abs(G_t), 1e-12 * np.abs(G_t).max())
    assert np.max(np.abs(G_m - G_t) / scale) < 1e-12
    assert abs(out_m["energy"] - out_t["energy"]) <= 1e-12 * abs(out_t["energy"])
    assert rel(out_m["forces"], out_t["forces"]) < 1e-12
    assert rel(out_m["virial"], out_t["virial"]) < 1e-12
    assert rel(flat(vjp_m), flat(vjp_t)) < 1e-12
    assert rel(flat(jvp_m), flat(jvp_t)) < 1e-12
    assert np.abs(out_t["forces"]).max() > 1e-3
    assert not np.array_equal(G_m, G_t)  # the moment path really ran


def test_weighted_moment_values_match_explicit_triplet_sum(monkeypatch):
    """One weighted wide function by the definition (numpy triplet sum, ASE neighbour list)."""
    from ase.neighborlist import neighbor_list

    monkeypatch.setenv("KIZUNA_ANGULAR_MOMENTS", "1")  # every centre on the moment path
    model = weighted_model()
    atoms = alloy(("Cu", "Ag", "Au"), seed=8)
    pot = kizuna.Potential(model, threads=1)
    G, offsets = pot.descriptors(atoms.positions, pot.species(atoms.get_chemical_symbols()),
                                 atoms.cell.array, np.array(atoms.pbc))
    sfs = model.element_models[0].symmetry_functions
    s = next(k for k, sf in enumerate(sfs) if sf.kind == "weighted_angular_wide"
             and sf.channel == 3 and sf.zeta == 3.0)
    sf = sfs[s]
    i_idx, D = neighbor_list("iD", atoms, 4.5)
    symbols = atoms.get_chemical_symbols()
    for i in (0, 1):  # a Cu and an Ag centre
        d = D[i_idx == i]
        j_sym = [symbols[j] for j in neighbor_list("j", atoms, 4.5)[i_idx == i]]
        r = np.linalg.norm(d, axis=1)
        x = r / 4.5
        fc = ((15 - 6 * x) * x - 10) * x**3 + 1  # poly2: 1 - 10x^3 + 15x^4 - 6x^5
        a = np.exp(-sf.eta * (r - sf.rs) ** 2) * fc * np.array([WEIGHTS[e][2] for e in j_sym])
        u = d / r[:, None]
        total = 0.0
        for j in range(len(r)):
            for k in range(j + 1, len(r)):
                total += a[j] * a[k] * (1 + sf.lam * u[j] @ u[k]) ** sf.zeta
        expected = 2 ** (1 - sf.zeta) * total
        value = G[offsets[i] + s]  # G: every atom's functions concatenated
        assert abs(value - expected) <= 1e-12 * abs(expected)


def test_weighted_moment_forces_match_finite_differences(monkeypatch):
    monkeypatch.setenv("KIZUNA_ANGULAR_MOMENTS", "1")  # every centre on the moment path
    model = weighted_model()
    atoms = alloy(("Cu", "Ag", "Au", "Au"), seed=9)
    pot = kizuna.Potential(model, threads=1)
    pos, sym, cell = atoms.positions, atoms.get_chemical_symbols(), atoms.cell.array
    forces = pot.compute(pos, sym, cell, True, forces=True)["forces"]
    fd = mf.fd_forces(pot, pos, sym, cell, True, h=1e-3)
    assert np.abs(forces - fd).max() < 1e-7 * max(1.0, np.abs(fd).max())
    assert np.abs(forces).max() > 1e-3


# ------------------------------------------------- angular cutoffs below the largest cutoff
# The moment sums run only over the slots inside the group's cutoff: the gather orders every
# element block by bucket of r between the moment groups' cutoffs below rc_max, and the moment
# loops stop at the bucket's end (AtomKernel::hi_in). Two angular cutoffs (3.0 and 3.6 Å)
# below the radial 4.5 Å one, and one at 4.5 Å: both paths must agree to round-off.
def short_cutoff_model(weighted):
    rcs = [3.0, 3.6, 4.5]
    if weighted:
        sfs = [SymmetryFunction("weighted_radial", (), channel=c, eta=0.5, rs=1.0, rc=4.5,
                                cutoff="poly2") for c in (1, 3)]
        for i, (eta, rs, zeta, lam) in enumerate([(0.2, 0.0, 1.0, -1.0), (0.5, 2.0, 2.0, 1.0),
                                                  (0.1, 0.0, 4.0, 1.0), (0.5, 2.0, 3.0, -1.0),
                                                  (0.1, 0.0, 6.0, -1.0)]):
            for c in (1, 3):
                sfs.append(SymmetryFunction("weighted_angular_wide", (), channel=c, eta=eta,
                                            rs=rs, zeta=zeta, lam=lam, rc=rcs[i % 3], cutoff="poly2"))
        return mf.model_from_sfs(["Cu", "Ag", "Au"], sfs, seed=4, hidden=(8, 6),
                                 activations=("tanh", "softplus", "linear"), channel_weights=WEIGHTS)
    sfs = [SymmetryFunction("radial", (e,), eta=0.5, rs=0.0, rc=4.5, cutoff="poly2")
           for e in ("Cu", "S")]
    for pair in [("Cu", "Cu"), ("Cu", "S"), ("S", "S")]:
        for i, (eta, rs, zeta, lam) in enumerate([(0.2, 0.0, 1.0, -1.0), (0.5, 2.0, 2.0, 1.0),
                                                  (0.1, 0.0, 4.0, 1.0), (0.5, 2.0, 3.0, -1.0),
                                                  (0.1, 0.0, 6.0, 1.0), (0.2, 0.0, 1.0, 1.0)]):
            sfs.append(SymmetryFunction("angular_wide", pair, eta=eta, rs=rs, zeta=zeta, lam=lam,
                                        rc=rcs[i % 3], cutoff="poly2"))
    return mf.model_from_sfs(["Cu", "S"], sfs, seed=5, hidden=(8, 6),
                             activations=("tanh", "softplus", "linear"))


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_short_angular_cutoffs_moments_equal_triplets(weighted, monkeypatch):
    model = short_cutoff_model(weighted)
    if weighted:
        atoms = alloy(("Cu", "Ag", "Au", "Cu", "Au"), seed=9)
    else:
        atoms = perturbed(bulk("CuS", "rocksalt", a=4.6, cubic=True) * (2, 1, 1), seed=4, sigma=0.15)
    G_t, out_t, vjp_t, jvp_t = evaluate(model, atoms, False, monkeypatch)
    G_m, out_m, vjp_m, jvp_m = evaluate(model, atoms, True, monkeypatch)
    # with one neighbour inside 3.0 Å the triplet sum is empty (exactly 0) and the moment path
    # leaves round-off of M^2 - a^2 (~1e-23 here): the floor of the scale is 1e-9 of the largest
    scale = np.maximum(np.abs(G_t), 1e-9 * np.abs(G_t).max())
    assert np.max(np.abs(G_m - G_t) / scale) < 1e-12
    assert abs(out_m["energy"] - out_t["energy"]) <= 1e-12 * abs(out_t["energy"])
    assert rel(out_m["forces"], out_t["forces"]) < 1e-12
    assert rel(out_m["virial"], out_t["virial"]) < 1e-12
    assert rel(flat(vjp_m), flat(vjp_t)) < 1e-12
    assert rel(flat(jvp_m), flat(jvp_t)) < 1e-12
    assert np.abs(out_t["forces"]).max() > 1e-3
    assert not np.array_equal(G_m, G_t)  # the moment path really ran
    assert np.count_nonzero(G_t) > G_t.size // 2  # most centres have pairs inside 3.0 Å


def test_short_angular_cutoff_moment_forces_match_finite_differences(monkeypatch):
    monkeypatch.setenv("KIZUNA_ANGULAR_MOMENTS", "1")  # every centre on the moment path
    model = short_cutoff_model(True)
    atoms = alloy(("Au", "Cu", "Ag"), seed=11)
    pot = kizuna.Potential(model, threads=1)
    pos, sym, cell = atoms.positions, atoms.get_chemical_symbols(), atoms.cell.array
    forces = pot.compute(pos, sym, cell, True, forces=True)["forces"]
    fd = mf.fd_forces(pot, pos, sym, cell, True, h=1e-3)
    assert np.abs(forces - fd).max() < 1e-7 * max(1.0, np.abs(fd).max())
    assert np.abs(forces).max() > 1e-3


# ------------------------------------------------------------ per-centre choice of the path
# By default a centre with few neighbours inside the moment groups' cutoff takes the triplet
# list (cheaper there), the others the moment tensors (ElementModel::triplet_plan). A vacancy
# and strong thermal noise spread the counts, and the threshold is set to the middle of their
# range, so both paths run in one structure: the mixed result equals both pure paths to
# round-off and differs bitwise from each (so both really ran), forces against finite differences.
def mixed_structure():
    atoms = perturbed(bulk("CuS", "rocksalt", a=4.6, cubic=True) * (2, 1, 1), seed=6, sigma=0.25)
    del atoms[3]
    return atoms


def inside_counts(atoms, rc):
    from ase.neighborlist import neighbor_list

    return np.bincount(neighbor_list("i", atoms, rc), minlength=len(atoms))


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_per_centre_choice_equals_both_paths(weighted, monkeypatch):
    model = short_cutoff_model(weighted) if weighted else two_element_model()
    atoms = alloy(("Cu", "Ag", "Au", "Cu", "Au"), seed=12) if weighted else mixed_structure()
    if weighted:
        atoms.positions += np.random.default_rng(1).normal(0, 0.2, atoms.positions.shape)
        del atoms[5]
    counts = inside_counts(atoms, 4.5)  # every moment group here has rc 4.5 Å
    threshold = int(np.median(counts))
    assert counts.min() <= threshold < counts.max()  # some centres take each path
    G_t, out_t, vjp_t, jvp_t = evaluate(model, atoms, False, monkeypatch)
    G_m, out_m, vjp_m, jvp_m = evaluate(model, atoms, True, monkeypatch)
    G_a, out_a, vjp_a, jvp_a = evaluate(model, atoms, "auto", monkeypatch, triplet_max=threshold)
    scale = np.maximum(np.abs(G_t), 1e-9 * np.abs(G_t).max())
    for G, out, vjp, jvp in [(G_t, out_t, vjp_t, jvp_t), (G_m, out_m, vjp_m, jvp_m)]:
        assert np.max(np.abs(G_a - G) / scale) < 1e-12
        assert abs(out_a["energy"] - out["energy"]) <= 1e-12 * abs(out["energy"])
        assert rel(out_a["forces"], out["forces"]) < 1e-12
        assert rel(out_a["virial"], out["virial"]) < 1e-12
        assert rel(flat(vjp_a), flat(vjp)) < 1e-12
        assert rel(flat(jvp_a), flat(jvp)) < 1e-12
        assert not np.array_equal(G_a, G)  # the other path ran for some centres
    assert np.abs(out_t["forces"]).max() > 1e-3
    # the default choice (the cost estimate per centre, no threshold) agrees as well
    G_d, out_d, vjp_d, jvp_d = evaluate(model, atoms, "auto", monkeypatch)
    assert np.max(np.abs(G_d - G_t) / scale) < 1e-12
    assert rel(out_d["forces"], out_t["forces"]) < 1e-12
    assert rel(flat(vjp_d), flat(vjp_t)) < 1e-12
    # every centre on one path, from the threshold alone
    G_low, *_ = evaluate(model, atoms, "auto", monkeypatch, triplet_max=-1)
    G_high, *_ = evaluate(model, atoms, "auto", monkeypatch, triplet_max=counts.max())
    assert np.array_equal(G_low, G_m) and np.array_equal(G_high, G_t)


def test_per_centre_choice_forces_match_finite_differences(monkeypatch):
    monkeypatch.delenv("KIZUNA_ANGULAR_MOMENTS", raising=False)
    atoms = mixed_structure()
    monkeypatch.setenv("KIZUNA_TRIPLET_MAX_NEIGHBORS", str(int(np.median(inside_counts(atoms, 4.5)))))
    pot = kizuna.Potential(two_element_model(), threads=1)
    pos, sym, cell = atoms.positions, atoms.get_chemical_symbols(), atoms.cell.array
    forces = pot.compute(pos, sym, cell, True, forces=True)["forces"]
    fd = mf.fd_forces(pot, pos, sym, cell, True, h=1e-3)
    assert np.abs(forces - fd).max() < 1e-7 * max(1.0, np.abs(fd).max())
    assert np.abs(forces).max() > 1e-3


def test_bad_triplet_threshold_is_reported(monkeypatch):
    monkeypatch.setenv("KIZUNA_TRIPLET_MAX_NEIGHBORS", "ten")
    with pytest.raises(Exception, match="KIZUNA_TRIPLET_MAX_NEIGHBORS must be an integer"):
        kizuna.Potential(two_element_model(), threads=1)
