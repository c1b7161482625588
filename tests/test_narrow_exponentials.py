"""The narrow angular functions' exponentials (issue 14, water): three ways to form them agree.

A narrow group's triplet carries E_t = exp(-eta_t (r_j-rs)^2) exp(-eta_t (r_k-rs)^2)
exp(-eta_t (r_jk-rs)^2) per exponential term t. When every term of the group has the same shift
rs (n2p2's type 3: rs = 0), this is exp(-eta_t s) with one s per triplet, and when the etas are
integer multiples of the smallest one (n2p2's water potentials: 1, 3, 7, 20 and 1, 30) one
exponential and its integer powers give all terms. Such groups also take the coefficient-form
adjoint (narrow_adjoint). KIZUNA_NARROW_EXPONENTIALS selects the form when a model is parsed:
"product" (per slot and term, the form for groups with different shifts), "terms" (exp(-eta_t s)
per term) and "powers" (the default).

Proves, on groups that take each form by themselves (integer eta ratios with rs = 0 and with a
common rs != 0; a non-integer ratio; a ratio above the largest power; different shifts; the
element-weighted narrow kind), that the core agrees with the independent numpy reference to
1e-10 (G, energy, forces, virial) and its forces with central finite differences; that on one
model the three forms agree to 1e-12 in G, energy, forces, virial, vjp and jvp while really
being different code (not bitwise equal); and that a bad value of the variable is a clear error.
The n2p2 water potential's agreement with n2p2 to 1e-13 on the default form is
tests/test_n2p2_import.py and tests/test_lammps_reference.py.
"""
from __future__ import annotations

import numpy as np
import pytest

import kizuna
import model_factory as mf
import reference_impl as ref
from model_factory import fd_forces
from kizuna.model import SymmetryFunction

RC = 4.0
TRICLINIC = np.array([[5.2, 0.0, 0.0], [1.1, 4.9, 0.0], [-0.6, 0.8, 5.4]])
ANGLES = [(1.0, 1.0), (1.0, -1.0), (4.0, 1.0), (2.5, -1.0)]  # (zeta, lambda); 2.5: non-integer zeta

# (name, [(eta, rs)] of the narrow terms); every (eta, rs) gets each angle of ANGLES
GROUPS = {
    "powers": [(0.05, 0.0), (0.15, 0.0), (0.35, 0.0), (1.0, 0.0)],      # ratios 1, 3, 7, 20
    "powers_shifted": [(0.1, 0.7), (0.2, 0.7), (0.6, 0.7)],              # common rs != 0
    "terms_non_integer": [(0.1, 0.0), (0.37, 0.0)],                      # ratio 3.7
    "terms_above_largest_power": [(0.01, 0.0), (0.4, 0.0)],              # ratio 40 > 32
    "product_mixed_shifts": [(0.1, 0.0), (0.3, 0.8)],
}


def narrow_sfs(terms, cutoff="tanhu", elements=("H", "O")):
    pairs = [(a, b) for i, a in enumerate(elements) for b in elements[i:]]
    return [SymmetryFunction("angular_narrow", pair, eta=eta, rs=rs, zeta=zeta, lam=lam, rc=RC,
                             cutoff=cutoff)
            for pair in pairs for eta, rs in terms for zeta, lam in ANGLES]


def weighted_narrow_sfs():
    return [SymmetryFunction("weighted_angular_narrow", (), channel=c, eta=eta, rs=0.0, zeta=zeta,
                             lam=lam, rc=RC, cutoff="cos")
            for c in (1, 2) for eta in (0.1, 0.3, 0.5) for zeta, lam in ANGLES]


def dense_structure(seed=2, n=14):
    """Enough atoms in a small triclinic cell that every atom has many triplets inside RC."""
    return mf.random_periodic_structure(TRICLINIC, n=n, seed=seed, min_distance=1.0)


def potential(model, monkeypatch, mode):
    if mode is None:
        monkeypatch.delenv("KIZUNA_NARROW_EXPONENTIALS", raising=False)
    else:
        monkeypatch.setenv("KIZUNA_NARROW_EXPONENTIALS", mode)
    return kizuna.Potential(model, threads=1)  # the plan is built when the core parses the model


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / max(1e-300, np.abs(b).max()))


def assert_close(actual, expected, what, tol=1e-10):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    error = float(np.abs(actual - expected).max(initial=0.0))
    assert error <= tol * scale, f"{what}: max deviation {error:.3e} > {tol * scale:.3e}"


def model_for(name):
    if name == "weighted":
        return mf.model_from_sfs(["H", "O"], weighted_narrow_sfs(), seed=4,
                                 channel_weights={"H": (1.0, -0.5), "O": (2.0, 1.5)})
    return mf.model_from_sfs(["H", "O"], narrow_sfs(GROUPS[name]), seed=1)


@pytest.mark.parametrize("name", list(GROUPS) + ["weighted"])
def test_default_form_matches_reference_and_finite_differences(name, monkeypatch):
    model = model_for(name)
    positions, symbols = dense_structure()
    pot = potential(model, monkeypatch, None)
    expected = ref.predict(model, positions, symbols, TRICLINIC, True)
    out = pot.compute(positions, symbols, TRICLINIC, True, forces=True, virial=True)
    G, _ = pot.descriptors(positions, pot.species(symbols), TRICLINIC, True)
    assert_close(G, expected.G_flat(), "G")
    assert abs(out["energy"] - expected.energy) <= 1e-10 * abs(expected.energy)
    assert_close(out["forces"], expected.forces, "forces")
    assert_close(out["virial"], expected.virial_voigt(), "virial")
    assert np.abs(expected.forces).max() > 1e-3  # the comparison means something
    numerical = fd_forces(pot, positions, symbols, TRICLINIC, True)
    scale = max(1.0, np.abs(out["forces"]).max())
    assert np.abs(out["forces"] - numerical).max() < 1e-7 * scale


def evaluate(pot, positions, symbols):
    species = pot.species(symbols)
    out = pot.compute(positions, symbols, TRICLINIC, True, forces=True, virial=True)
    G, _ = pot.descriptors(positions, species, TRICLINIC, True)
    rng = np.random.default_rng(5)
    beta = rng.normal(size=G.shape)
    vjp = pot.vjp(positions, species, TRICLINIC, True, beta)
    jvp = pot.jvp(positions, species, TRICLINIC, True, dpos=rng.normal(size=positions.shape),
                  dstrain=rng.normal(size=(3, 3)))
    flat = lambda x: np.concatenate([np.ravel(v) for v in (x.values() if isinstance(x, dict) else x)])
    return G, out, flat(vjp), flat(jvp)


@pytest.mark.parametrize("name", ["powers", "powers_shifted", "weighted"])
def test_three_forms_agree(name, monkeypatch):
    model = model_for(name)
    positions, symbols = dense_structure(seed=7)
    results = {mode: evaluate(potential(model, monkeypatch, mode), positions, symbols)
               for mode in ("product", "terms", "powers")}
    G0, out0, vjp0, jvp0 = results["product"]
    assert np.abs(out0["forces"]).max() > 1e-3
    for mode in ("terms", "powers"):
        G, out, vjp, jvp = results[mode]
        scale = np.maximum(np.abs(G0), 1e-12 * np.abs(G0).max())
        assert np.max(np.abs(G - G0) / scale) < 1e-12, mode
        assert abs(out["energy"] - out0["energy"]) <= 1e-12 * abs(out0["energy"]), mode
        assert rel(out["forces"], out0["forces"]) < 1e-12, mode
        assert rel(out["virial"], out0["virial"]) < 1e-12, mode
        assert rel(vjp, vjp0) < 1e-12, mode
        assert rel(jvp, jvp0) < 1e-12, mode
        # the forms really differ (round-off in the last bits somewhere)
        assert not np.array_equal(G, G0), mode
        assert not np.array_equal(out["forces"], out0["forces"]), mode
    # powers differ from per-term exponentials (every model here has a power > 1)
    assert not np.array_equal(results["terms"][0], results["powers"][0])


def test_bad_mode_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("KIZUNA_NARROW_EXPONENTIALS", "fast")
    with pytest.raises(Exception, match="KIZUNA_NARROW_EXPONENTIALS must be 'powers', 'terms' or "
                                        "'product'.*got 'fast'"):
        kizuna.Potential(model_for("powers"), threads=1)
