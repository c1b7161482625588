"""Shifted radial grids by a recurrence (RadialGroup::chain, csrc/src/model_plan.cpp).

Radial functions of one eta and equally spaced rs, G_m = sum_j exp(-eta (r_j - rs_m)^2) fc(r_j),
are evaluated with two exponentials per neighbour: E_{m+1} = E_m exp(2 eta delta (r - rs_0))
exp(-eta delta^2 (2m + 1)). The values must equal the definition (numpy, ASE neighbour list) to
round-off, also where the plan refuses the recurrence (a steep eta whose exponentials would
underflow: the direct path), and the forces must match finite differences.
"""
from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.neighborlist import neighbor_list

import kizuna
import model_factory as mf
from kizuna.model import SymmetryFunction

RC = 5.0


def grid_model(eta, n=10, r_min=0.5, r_max=4.55):
    """n radial functions of one eta on equally spaced rs (the students' shifted grid), plus an
    unequally spaced pair (no chain) so both paths run in one model."""
    rs = np.linspace(r_min, r_max, n)
    sfs = [SymmetryFunction("radial", ("Si",), eta=eta, rs=float(r), rc=RC, cutoff="poly2")
           for r in rs]
    sfs += [SymmetryFunction("radial", ("Si",), eta=0.7, rs=r, rc=4.0, cutoff="poly2")
            for r in (0.0, 1.3)]
    return mf.model_from_sfs(["Si"], sfs, seed=3, hidden=(8, 6),
                             activations=("tanh", "softplus", "linear"))


def silicon(seed=0):
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * (2, 2, 2)
    atoms.positions += np.random.default_rng(seed).normal(0.0, 0.1, atoms.positions.shape)
    return atoms


def poly2(x):
    return np.where(x < 1.0, ((15 - 6 * x) * x - 10) * x**3 + 1, 0.0)


@pytest.mark.parametrize("eta", [2.4691358024691357, 40.0], ids=["chain", "steep-direct"])
def test_shifted_grid_equals_definition(eta):
    model = grid_model(eta)
    atoms = silicon()
    pot = kizuna.Potential(model, threads=1)
    G, offsets = pot.descriptors(atoms.positions, pot.species(atoms.get_chemical_symbols()),
                                 atoms.cell.array, np.array(atoms.pbc))
    sfs = model.element_models[0].symmetry_functions
    i_idx, d = neighbor_list("id", atoms, RC)
    worst = 0.0
    for i in range(0, len(atoms), 7):
        r = d[i_idx == i]
        for s, sf in enumerate(sfs):
            expected = np.sum(np.exp(-sf.eta * (r - sf.rs) ** 2) * poly2(r / sf.rc))
            value = G[offsets[i] + s]
            worst = max(worst, abs(value - expected) / max(abs(expected), 1e-300))
            # every term here is >= e^-50 of the largest one: relative round-off only
            assert abs(value - expected) <= 1e-13 * max(abs(expected), 1e-30), (i, s, value, expected)
    assert worst > 0.0 or eta > 10  # the comparison is not vacuous


def test_shifted_grid_forces_match_finite_differences():
    model = grid_model(2.4691358024691357)
    atoms = silicon(seed=1)
    atoms = atoms[:40]  # a non-periodic cluster (surfaces: varied distances)
    atoms.pbc = False
    pot = kizuna.Potential(model, threads=1)
    pos, sym = atoms.positions, atoms.get_chemical_symbols()
    forces = pot.compute(pos, sym, None, False, forces=True)["forces"]
    fd = mf.fd_forces(pot, pos, sym, None, False, h=1e-4)
    assert np.abs(forces - fd).max() < 1e-7 * max(1.0, np.abs(fd).max())
    assert np.abs(forces).max() > 1e-3
