"""Training operators: torch forces/stress equal the core's, and gradients pass gradcheck.

The torch side computes E = sum_i NN(scale(G_i)) from cached G, beta = dE/dG by autograd, and
forces/virials through the core's vjp inside a custom autograd function whose backward is the
core's jvp. The references here are independent: the compiled core's own energy/force/stress
(kizuna.Calculator on the exported model) and finite differences (torch.autograd.gradcheck).
"""
import numpy as np
import pytest
import torch
from ase import Atoms

from kizuna import Calculator, Potential
from kizuna.training.dataset import Batch, EnginePool, prepare
from kizuna.training.export import from_kizuna_model, to_kizuna_model
from kizuna.training.loss import LossWeights, loss_terms, predict, residuals, total_loss
from kizuna.training.ops import _Tangent, core_forces
from kizuna.training.structure import Structure
from model_factory import random_model, random_structure


def _structures(elements, seed=0):
    """A periodic triclinic cell smaller than 2 x cutoff and an open cluster, 2 elements."""
    cell = np.array([[5.2, 0.0, 0.0], [0.7, 4.9, 0.0], [0.4, -0.6, 5.4]])
    pos, sym = random_structure(elements, n=10, seed=seed, cell=cell, min_distance=1.1)
    periodic = Structure(sym, pos, cell=cell, pbc=(True, True, True), energy=0.0,
                         name="periodic")
    pos2, sym2 = random_structure(elements, n=7, seed=seed + 1, box=4.0, min_distance=1.1)
    cluster = Structure(sym2, pos2, energy=0.0, name="cluster")
    return [periodic, cluster]


@pytest.fixture(scope="module")
def setup():
    elements = ["H", "O"]
    model = random_model(elements, seed=3, rc=3.6, hidden=(6, 5),
                         activations=("tanh", "silu", "linear"),
                         kinds=("radial", "angular_narrow", "angular_wide"))
    net, sfs, scalings = from_kizuna_model(model)
    structures = _structures(elements)
    for s in structures:
        s.bind(elements)
    pool = EnginePool(elements, sfs, workers=2)
    prepared = prepare(pool, structures, elements)
    return model, net, sfs, scalings, structures, pool, prepared


def test_torch_energy_forces_stress_equal_core_calculator(setup):
    model, net, sfs, scalings, structures, pool, prepared = setup
    batch = Batch(prepared, model.elements, pool)
    pred = predict(net, batch, forces=True, stress=True)
    # export the torch model again: the file written must give the same numbers in the core
    exported = to_kizuna_model(net, sfs, scalings)
    forces = np.split(pred["forces"].detach().numpy(), np.cumsum(batch.atom_counts)[:-1])
    for k, s in enumerate(structures):
        atoms = Atoms(s.symbols, positions=s.positions, cell=s.cell,
                      pbc=s.pbc if s.cell is not None else False)
        atoms.calc = Calculator(exported, threads=1, extrapolation="ignore")
        e_core = atoms.get_potential_energy()
        f_core = atoms.get_forces()
        assert abs(pred["energy"][k].item() - e_core) <= 1e-10 * abs(e_core)
        assert np.abs(forces[k] - f_core).max() <= 1e-10 * np.abs(f_core).max()
        assert np.abs(f_core).max() > 1e-3  # a non-trivial check
        if s.cell is not None:
            stress = atoms.get_stress()  # ASE order xx yy zz yz xz xy
            assert np.abs(pred["stress"][k].detach().numpy() - stress).max() <= \
                1e-10 * np.abs(stress).max()
    # and the original model (read by the core from its own text) agrees too
    pot = Potential(model, threads=1)
    out = pot.compute(structures[0].positions, structures[0].symbols, structures[0].cell, True)
    assert abs(out["energy"] - pred["energy"][0].item()) <= 1e-10 * abs(out["energy"])


def test_force_operator_gradcheck(setup):
    """d(forces, virial)/d(beta) and its transpose (the jvp backward) against finite
    differences, including the second derivative through the backward operator."""
    model, net, sfs, scalings, structures, pool, prepared = setup
    batch = Batch(prepared, model.elements, pool)
    n_flat = sum(batch.flat_sizes)
    beta = torch.randn(n_flat, dtype=torch.float64, generator=torch.Generator().manual_seed(0),
                       requires_grad=True)
    assert torch.autograd.gradcheck(lambda b: core_forces(b, batch), (beta,), eps=1e-6,
                                    atol=1e-7, rtol=1e-6)
    n_atoms = sum(batch.atom_counts)
    gF = torch.randn(n_atoms, 3, dtype=torch.float64, requires_grad=True)
    gW = torch.randn(batch.size, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: _Tangent.apply(a, b, batch), (gF, gW), eps=1e-6,
                                    atol=1e-7, rtol=1e-6)
    assert torch.autograd.gradgradcheck(lambda b: core_forces(b, batch), (beta,), eps=1e-6,
                                        atol=1e-7, rtol=1e-6)


def test_virial_transpose_convention(setup):
    """beta . J_strain(eps) = -sum_ab eps_ab W_ba for a non-symmetric eps and random beta (the
    identity the backward relies on), from the core's vjp and jvp separately."""
    model, net, sfs, scalings, structures, pool, prepared = setup
    s = structures[0]
    engine = pool.engine
    G, _ = engine.descriptors(s)
    rng = np.random.default_rng(1)
    beta = rng.normal(size=len(G))
    eps = rng.normal(size=(3, 3))
    _, W = engine.vjp(s, beta)
    lhs = beta @ engine.jvp(s, dstrain=eps)
    assert lhs == pytest.approx(-np.sum(eps * W.T), rel=1e-10)
    # and the strain jvp is the derivative of G under a homogeneous deformation (FD, Å)
    h = 1e-6
    deformed = Structure(s.symbols, s.positions @ (np.eye(3) + h * eps).T,
                         cell=s.cell @ (np.eye(3) + h * eps).T, pbc=s.pbc)
    deformed.species = s.species
    fd = (engine.descriptors(deformed)[0] - G) / h
    assert np.abs(fd - engine.jvp(s, dstrain=eps)).max() < 1e-4 * np.abs(fd).max()


@pytest.mark.parametrize("function", ["mse", "huber"])
def test_loss_gradients_gradcheck(function):
    """Gradients of the energy+force+stress loss w.r.t. every network weight (double backward
    through the network, the core operators in between) against finite differences; for
    Huber, the deltas put force residuals on both sides of the kink."""
    elements = ["H", "O"]
    model = random_model(elements, seed=5, rc=3.2, hidden=(3,), activations=("tanh", "linear"),
                         kinds=("radial", "angular_wide"))
    net, sfs, scalings = from_kizuna_model(model)
    s = _structures(elements, seed=4)[0]
    rng = np.random.default_rng(2)
    s.energy = -12.0
    s.forces = rng.normal(size=(len(s), 3))
    s.stress = rng.normal(size=6) * 0.01
    s.bind(elements)
    pool = EnginePool(elements, sfs, workers=1)
    batch = Batch(prepare(pool, [s], elements), elements, pool)
    names = [n for n, _ in net.named_parameters()]
    weights = LossWeights(1.0, 0.7, 30.0, function=function, delta_energy=0.5,
                          delta_forces=0.8, delta_stress=0.005)

    def loss_fn(*values):
        state = dict(zip(names, values))
        model_of_values = lambda e, G: torch.func.functional_call(net, state, (e, G))  # noqa: E731
        pred = predict(model_of_values, batch, forces=True, stress=True, create_graph=True)
        return total_loss(loss_terms(pred, batch, weights), weights)

    inputs = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())
    assert len(inputs) == 8  # 2 elements x 2 layers x (weights, bias)
    terms = loss_terms(predict(net, batch, forces=True, stress=True), batch, weights)
    assert set(terms) == {"energy", "forces", "stress", "penalty"}
    if function == "huber":
        r = residuals(predict(net, batch, forces=True, stress=True), batch)["forces"].abs()
        assert (r < 0.8).any() and (r > 0.8).any(), "deltas must straddle the residuals"
    assert torch.autograd.gradcheck(loss_fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_huber_penalty_values():
    """rho(x) = x^2 up to delta, delta (2|x| - delta) beyond: continuous value and slope at the
    kink, equal to the squared error for small residuals, linear growth for large ones."""
    w = LossWeights(function="huber", delta_forces=0.1)
    x = torch.tensor([0.0, 0.05, -0.1, 0.3, -2.0], dtype=torch.float64)
    expected = [0.0, 0.0025, 0.01, 0.1 * (0.6 - 0.1), 0.1 * (4.0 - 0.1)]
    for xi, ei in zip(x, expected):
        assert w.penalty(xi.reshape(1), "forces").item() == pytest.approx(ei, rel=1e-12)
    small = torch.linspace(-0.09, 0.09, 7, dtype=torch.float64)
    assert w.penalty(small, "forces").item() == pytest.approx(torch.mean(small ** 2).item())
    k = torch.tensor([0.1 - 1e-9, 0.1 + 1e-9], dtype=torch.float64, requires_grad=True)
    slopes = [torch.autograd.grad(w.penalty(k[i:i + 1], "forces"), k)[0][i].item()
              for i in range(2)]
    assert slopes[0] == pytest.approx(0.2, rel=1e-6) and slopes[1] == pytest.approx(0.2)
    big = torch.tensor([50.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.grad(w.penalty(big, "forces"), big)[0].item() == pytest.approx(0.2)
    assert LossWeights().penalty(x, "forces").item() == pytest.approx(torch.mean(x ** 2).item())
