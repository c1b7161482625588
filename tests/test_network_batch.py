"""The atomic networks evaluated in batches (csrc/src/network_batch.cpp): the core runs the
networks of up to 8 atoms of one element at once (a GEMM per layer), in blocks of centres
that close early when the centres have many neighbours. Reference: the networks evaluated
here in numpy, atom by atom, on the core's symmetry functions (Potential.descriptors); the
forces of the numpy dE/dG through the core's vjp. Widths 24 and 13 cover the full register
tile (24 columns) and a padded one (13 of 16); two elements interleaved, a 3-member committee,
blocks of 8 (sparse cluster) and blocks closed early (dense cluster)."""
from __future__ import annotations

import numpy as np
import pytest

import kizuna
from model_factory import random_model, random_structure


def _activation(name, z):
    if name == "linear":
        return z, np.ones_like(z)
    if name == "tanh":
        t = np.tanh(z)
        return t, 1.0 - t * t
    if name == "softplus":
        return np.logaddexp(0.0, z), 1.0 / (1.0 + np.exp(-z))
    raise ValueError(name)


def _network(layers, x):
    """NN(x) and dNN/dx of one member, plain numpy."""
    h, derivs = x, []
    for layer in layers:
        h, d = _activation(layer.activation, layer.weights @ h + layer.bias)
        derivs.append(d)
    g = np.ones(1)
    for layer, d in zip(reversed(layers), reversed(derivs)):
        g = layer.weights.T @ (g * d)
    return h[0], g


def _reference(model, G, offsets, species):
    """Per-atom mean energy, per member energies (n, M), mean dE/dG and each member's dE/dG."""
    n, M = len(species), len(model.element_models[0].members)
    energies = np.zeros((n, M))
    beta = np.zeros_like(G)
    member_beta = np.zeros((M, len(G)))
    for i, s in enumerate(species):
        em = model.element_models[s]
        Gi = G[offsets[i]:offsets[i + 1]]
        for m, member in enumerate(em.members):
            shift, factor, offset = member.scaling.shift_factor()
            y, dydx = _network(member.layers, offset + factor * (Gi - shift))
            energies[i, m] = member.energy_offset + member.energy_scale * y
            member_beta[m, offsets[i]:offsets[i + 1]] = member.energy_scale * dydx * factor
    for m in range(M):
        beta += member_beta[m] / M
    return energies, beta, member_beta


@pytest.fixture(scope="module")
def model():
    return random_model(("H", "O"), seed=11, rc=4.0, hidden=(24, 13),
                        activations=("tanh", "softplus", "linear"), committee=3)


@pytest.mark.parametrize("n, box", [(45, 7.5), (110, 7.5)], ids=["sparse", "dense"])
def test_batched_networks_equal_atom_by_atom_numpy(model, n, box):
    pos, sym = random_structure(("H", "O", "O"), n=n, seed=4, box=box, min_distance=0.85)
    species = np.array([model.elements.index(s) for s in sym])
    pot = kizuna.Potential(model, threads=1)
    G, offsets = pot.descriptors(pos, species)
    energies, beta, member_beta = _reference(model, G, offsets, species)
    out = pot.compute(pos, sym, atom_energies=True, member_energies=True)
    assert np.allclose(out["energies"], energies.mean(axis=1), rtol=1e-12, atol=1e-12)
    assert np.allclose(out["member_energies"], energies.sum(axis=0), rtol=1e-12, atol=1e-11)
    forces, _ = pot.vjp(pos, species, None, False, beta)
    assert np.abs(out["forces"] - forces).max() < 1e-11
    members = pot.compute(pos, sym, member_forces=True)
    for m in range(len(member_beta)):
        fm, _ = pot.vjp(pos, species, None, False, member_beta[m])
        assert np.abs(members["member_forces"][m] - fm).max() < 1e-11


def test_blocks_do_not_change_the_results(model):
    """Other atom orders (other blocks, other element mixes per block) and two threads give
    the same per-atom energies and forces."""
    pos, sym = random_structure(("H", "O"), n=37, seed=9, box=7.0, min_distance=0.85)
    ref = kizuna.Potential(model, threads=1).compute(pos, sym, atom_energies=True)
    order = np.random.default_rng(0).permutation(len(sym))
    perm = kizuna.Potential(model, threads=1).compute(pos[order], [sym[k] for k in order],
                                                       atom_energies=True)
    assert np.allclose(perm["energies"], ref["energies"][order], rtol=1e-13, atol=1e-13)
    assert np.abs(perm["forces"] - ref["forces"][order]).max() < 1e-12
    two = kizuna.Potential(model, threads=2).compute(pos, sym, atom_energies=True)
    assert np.allclose(two["energies"], ref["energies"], rtol=1e-13, atol=1e-13)
    assert np.abs(two["forces"] - ref["forces"]).max() < 1e-12
