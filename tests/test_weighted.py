"""Element-weighted symmetry functions (weighted_radial, weighted_angular_narrow/_wide).

Proves: forces are -dE/dx and the stress is dE/dstrain for every weighted kind; the core agrees
with the numpy reference (tests/reference_impl.py: energies, forces, virial, jvp); an identity
that needs neither: one weighted function equals the weighted sum of the per-element (pair)
functions with the same parameters, G_w = sum_e w_e G(e) (radial) and
sum_{e <= f} w_e w_f G(e, f) (angular); the model file round-trips through both readers; bad
weight tables are refused with the same verdict by both readers; the CUDA backend's arithmetic on
its packed layout (the host reference of the kernels) equals the CPU core on every weighted kind
(the kernels themselves: test_cuda_emulation.py).
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import kizuna
import model_factory as mf
import reference_impl as ref
from kizuna import _core, _packed
from kizuna.errors import ModelFormatError
from kizuna.model import SymmetryFunction
from kizuna.model_io import model_from_string, model_to_string

RC = 4.0
ELEMENTS = ["H", "C", "O"]
WEIGHTS = {"H": (1.0, 0.3), "C": (1.0, -0.7), "O": (1.0, 1.9)}
TRICLINIC = np.array([[5.2, 0.0, 0.0], [1.1, 4.9, 0.0], [-0.6, 0.8, 5.4]])
SMALL_CELL = TRICLINIC * 0.62
KINDS = ("weighted_radial", "weighted_angular_narrow", "weighted_angular_wide",
         "weighted_compact_radial", "weighted_compact_angular_wide",
         "weighted_compact_angular_narrow")
CUTOFF_KINDS = KINDS[:3]


def weighted_model(kinds=KINDS, cutoff="cos", alpha=0.0, seed=1, channels=(1, 2)):
    sfs = mf.weighted_sfs(kinds, channels=channels, rc=RC, cutoff=cutoff, alpha=alpha)
    return mf.model_from_sfs(ELEMENTS, sfs, seed=seed, channel_weights=WEIGHTS)


def geometry(where, seed=2):
    if where == "open":
        positions, symbols = mf.random_structure(ELEMENTS, n=8, seed=seed, box=3.6,
                                                 min_distance=1.0)
        return positions, symbols, None, False
    cell = TRICLINIC if where == "triclinic" else SMALL_CELL
    positions, symbols = mf.random_periodic_structure(cell, n=7 if where == "triclinic" else 4,
                                                      seed=seed, min_distance=1.0,
                                                      symbols_pool=ELEMENTS)
    return positions, symbols, cell, True


def calibrated(model, positions, symbols, cell=None, pbc=False):
    """The model with its scaling fitted to this structure (networks not saturated)."""
    pot = kizuna.Potential(model, threads=1)
    G, offsets = pot.descriptors(positions, pot.species(symbols), cell, pbc)
    samples = {}
    for i, s in enumerate(symbols):
        samples.setdefault(s, []).append(G[offsets[i]:offsets[i + 1]])
    return mf.fit_scaling(model, samples)


# ------------------------------------------------------------------- forces and stress
FORCE_CASES = [(kind, cutoff) for kind in CUTOFF_KINDS for cutoff in ("cos", "poly2", "tanh", "exp")] + \
    [(kind, "cos") for kind in KINDS[3:]]  # compact kinds: their bumps, no cutoff function


@pytest.mark.parametrize("where", ["open", "triclinic", "small_cell"])
@pytest.mark.parametrize("kind, cutoff", FORCE_CASES)
def test_forces_are_minus_energy_gradient(kind, cutoff, where):
    alpha = 0.3 if cutoff not in ("tanh",) else 0.0
    positions, symbols, cell, pbc = geometry(where)
    model = calibrated(weighted_model((kind,), cutoff, alpha), positions, symbols, cell, pbc)
    pot = kizuna.Potential(model, threads=1)
    forces = pot.compute(positions, symbols, cell, pbc)["forces"]
    h = 3e-5  # fourth-order differences: error ~ h^4 F^(5) (1e-6 at h = 1e-4 in the small cell)
    numerical = mf.fd_forces(pot, positions, symbols, cell, pbc, h=h)
    assert np.abs(forces).max() > 1e-4, "forces vanish: the test would prove nothing"
    error = np.abs(forces - numerical).max()
    assert error < 1e-7 * max(1.0, np.abs(forces).max()), f"max |F - F_fd| = {error:.2e}"


@pytest.mark.parametrize("where", ["triclinic", "small_cell"])
def test_stress_is_strain_derivative(where):
    positions, symbols, cell, pbc = geometry(where, seed=3)
    model = calibrated(weighted_model(seed=3), positions, symbols, cell, pbc)
    pot = kizuna.Potential(model, threads=1)
    h = 1e-6
    dE = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            F = np.eye(3)
            F[a, b] += h
            plus = mf.energy(pot, positions @ F.T, symbols, cell @ F.T, True)
            F[a, b] -= 2 * h
            minus = mf.energy(pot, positions @ F.T, symbols, cell @ F.T, True)
            dE[a, b] = (plus - minus) / (2 * h)
    W = -dE  # virial = -dE/d(deformation); symmetric by rotation invariance
    virial = pot.compute(positions, symbols, cell, True, virial=True)["virial"]
    assert np.abs(W).max() > 1e-4
    assert np.allclose(virial, [W[0, 0], W[1, 1], W[2, 2], W[0, 1], W[0, 2], W[1, 2]],
                       rtol=0, atol=1e-7 * np.abs(W).max()), (virial, W)


# ----------------------------------------------------------------- reference and identities
@pytest.mark.parametrize("where", ["open", "small_cell"])
def test_matches_reference(where):
    positions, symbols, cell, pbc = geometry(where, seed=4)
    model = calibrated(weighted_model(seed=4), positions, symbols, cell, pbc)
    out = kizuna.Potential(model, threads=1).compute(positions, symbols, cell, pbc, virial=True)
    expected = ref.predict(model, positions, symbols, cell, pbc)
    assert abs(out["energy"] - expected.energy) < 1e-11 * max(1.0, abs(expected.energy))
    assert np.allclose(out["forces"], expected.forces, rtol=0,
                       atol=1e-10 * np.abs(expected.forces).max())
    assert np.allclose(out["virial"], expected.virial_voigt(), rtol=0,
                       atol=1e-10 * np.abs(expected.virial).max())


@pytest.mark.parametrize("direction", ["displacement", "strain"])
def test_jvp_and_vjp_match_reference(direction):
    positions, symbols, cell, pbc = geometry("small_cell", seed=5)
    model = weighted_model(seed=5)
    pot = kizuna.Potential(model, threads=1)
    species = pot.species(symbols)
    rng = np.random.default_rng(5)
    dpos = rng.normal(size=positions.shape) if direction == "displacement" else None
    dstrain = rng.normal(size=(3, 3)) * 0.3 if direction == "strain" else None
    dG = pot._core.jvp(positions, species, cell, pbc, dpos, dstrain)
    expected = ref.predict(model, positions, symbols, cell, pbc)
    exact = ref.descriptor_directional_derivative(expected, dpos, dstrain)
    assert np.abs(exact).max() > 1e-2
    assert np.allclose(dG, exact, rtol=0, atol=1e-10 * np.abs(exact).max())
    beta = [rng.normal(size=len(g)) for g in expected.G]
    forces, _ = pot._core.vjp(positions, species, cell, pbc, np.concatenate(beta))
    ref_forces = np.zeros_like(positions)
    for i, nb in enumerate(expected.neighbors):
        g = np.einsum("s,smk->mk", beta[i], expected.dG[i])
        np.add.at(ref_forces, nb.index, -g)
        ref_forces[i] += g.sum(axis=0)
    assert np.allclose(forces, ref_forces, rtol=0, atol=1e-10 * np.abs(ref_forces).max())


@pytest.mark.parametrize("kind", KINDS)
def test_weighted_equals_weighted_sum_of_pair_functions(kind):
    """G_w(channel c) = sum_e w_c(e) G(e) for radial, sum_{e<=f} w_c(e) w_c(f) G(e, f) for
    angular: computed by the core both ways, with no reference involved."""
    positions, symbols, cell, pbc = geometry("triclinic", seed=6)
    if "compact" in kind:
        params = dict(rl=0.4, rc=RC, core="poly3", asymmetric=True)
        if "angular" in kind:
            params.update(angle_left=40.0, angle_right=170.0, angle_asymmetric=True)
    else:
        params = dict(eta=0.3, rs=0.8, rc=RC, cutoff="poly2", alpha=0.2)
        if kind != "weighted_radial":
            params.update(zeta=2.5, lam=-1.0)
    plain_kind = kind.replace("weighted_", "")
    pair_sfs, coefficients = [], []
    for c in (1, 2):
        w = {e: WEIGHTS[e][c - 1] for e in ELEMENTS}
        if kind in ("weighted_radial", "weighted_compact_radial"):
            for e in ELEMENTS:
                pair_sfs.append(SymmetryFunction(plain_kind, (e,), **params))
                coefficients.append((c, w[e]))
        else:
            for i, e in enumerate(ELEMENTS):
                for f in ELEMENTS[i:]:
                    pair_sfs.append(SymmetryFunction(plain_kind, (e, f), **params))
                    coefficients.append((c, w[e] * w[f]))
    weighted = [SymmetryFunction(kind, (), channel=c, **params) for c in (1, 2)]
    model = mf.model_from_sfs(ELEMENTS, weighted + pair_sfs, channel_weights=WEIGHTS)
    pot = kizuna.Potential(model, threads=1)
    G, offsets = pot.descriptors(positions, pot.species(symbols), cell, pbc)
    G = G.reshape(len(symbols), -1)
    for c in (1, 2):
        combined = sum(coef * G[:, 2 + s] for s, (ch, coef) in enumerate(coefficients) if ch == c)
        assert np.abs(G[:, c - 1]).max() > 1e-3
        assert np.allclose(G[:, c - 1], combined, rtol=1e-12, atol=1e-13), (c, G[:, c - 1],
                                                                            combined)


def test_descriptor_size_does_not_depend_on_elements():
    sfs = mf.weighted_sfs(channels=(1, 2), rc=RC)
    one = mf.model_from_sfs(["Cu"], sfs, channel_weights={"Cu": (1.0, 0.5)})
    six = mf.model_from_sfs(["Al", "Cu", "Ag", "Au", "Ni", "Pd"], sfs,
                            channel_weights={e: (1.0, 0.1 * k) for k, e in
                                             enumerate(["Al", "Cu", "Ag", "Au", "Ni", "Pd"])})
    for model in (one, six):
        core = _core.Model.parse(model_to_string(model), "<test>")
        assert all(core.num_features(e) == len(sfs) for e in range(len(model.elements)))


# --------------------------------------------------------------------------- model file
def test_round_trip_and_summary():
    model = weighted_model()
    text = model_to_string(model)
    assert "channels 2" in text and "weights O 1.0 1.9" in text
    assert "sf weighted_angular_narrow channel=2 eta=" in text
    back = model_from_string(text)
    assert back.channel_weights == WEIGHTS
    assert [(sf.kind, sf.channel, sf.eta, sf.zeta) for sf in back.element_models[0].symmetry_functions] \
        == [(sf.kind, sf.channel, sf.eta, sf.zeta) for sf in model.element_models[0].symmetry_functions]
    # the functions carry their channel's weights; a model built from them alone is the same
    assert back.element_models[1].symmetry_functions[-1].element_weights == (
        ("H", 0.3), ("C", -0.7), ("O", 1.9))
    assert model_to_string(back) == text
    back.channel_weights = {}
    assert model_to_string(back) == text
    assert "weighted_radial(ch1)" in back.summary()


def _both_refuse(text, match):
    with pytest.raises(ModelFormatError, match=match):
        model_from_string(text, "<py>")
    with pytest.raises(ModelFormatError, match=match):
        _core.Model.parse(text, "<core>")


def _unchecked(text):
    return "\n".join(line for line in text.splitlines() if not line.startswith("checksum"))


@pytest.mark.parametrize("edit, match", [
    (lambda t: t.replace("channels 2", "channels 3"), "weights H <3 values>"),
    (lambda t: t.replace("weights C 1.0 -0.7\n", ""), "expected 'weights C <2 values>'"),
    (lambda t: t.replace("weights C 1.0 -0.7", "weights C 1.0 nan"), "weight 2 of C"),
    (lambda t: t.replace("channel=2", "channel=3", 1), r"channel must be in 1\.\.2"),
    (lambda t: t.replace("channel=2", "channel=0", 1), "channel must be an integer >= 1"),
    (lambda t: t.replace("sf weighted_radial channel=1", "sf weighted_radial H channel=1", 1),
     "expected <name>=<value>, got 'H'"),
])
def test_bad_weight_tables_are_refused_by_both_readers(edit, match):
    text = _unchecked(model_to_string(weighted_model()))
    edited = edit(text)
    assert edited != text
    _both_refuse(edited, match)


def test_weighted_kind_without_channels_statement_is_refused():
    text = _unchecked(model_to_string(weighted_model()))
    lines = [ln for ln in text.splitlines() if not ln.startswith(("channels", "weights"))]
    _both_refuse("\n".join(lines), "no 'channels' statement")


@pytest.mark.parametrize("where", ["open", "triclinic", "small_cell"])
def test_cuda_host_reference_equals_cpu(where):
    """Every weighted kind, two channels: each channel of a weighted angular group is a packed
    group of its own whose cutoff entry carries the channel's weights (fc_j w_c(Z_j)); weighted
    compact groups get a unit cutoff entry that carries them."""
    from test_cuda_packing import compare_reference

    positions, symbols, cell, pbc = geometry(where)
    model = calibrated(weighted_model(), positions, symbols, cell, pbc)
    core = _core.Model.parse(model_to_string(model), "<test>")
    packed = _packed._pack_model(core)
    weighted = [g for g in packed["groups"] if g["e1"] == -1]
    # per centre element: one group per kind and channel; a weighted wide group whose zetas
    # are partly integer <= 4 is split by the plan into a moments part and a triplet part
    # (docs/design.md, "Weighted moments"), and packing keeps that split: 2 groups per channel
    per_kind = Counter(g["kind"] for g in weighted)
    assert len(per_kind) == len(KINDS)
    assert sorted(per_kind.values()) == [2 * len(ELEMENTS)] * (len(KINDS) - 1) + [4 * len(ELEMENTS)]
    compare_reference(model, positions, symbols, cell, pbc, 1e-10)
