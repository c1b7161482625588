"""Random, reproducible kizuna models covering every symmetry-function kind, cutoff function,
activation and scaling mode, and finite-difference helpers (test helper)."""
from __future__ import annotations

import numpy as np

from kizuna.model import (CUTOFF_KINDS, DenseLayer, ElementModel, Member, Model, Scaling,
                          SymmetryFunction)

SMOOTH_CUTOFFS = [c for c in CUTOFF_KINDS if c != "hard"]


def make_sfs(elements, rng, rc=4.0, cutoff="cos", alpha=0.0, kinds=("radial", "angular_narrow",
             "angular_wide", "compact_radial", "compact_angular_wide")):
    sfs = []
    pairs = [(a, b) for i, a in enumerate(elements) for b in elements[i:]]
    for e in elements:
        if "radial" in kinds:
            for eta, rs in [(0.5, 0.0), (1.5, 1.2), (0.05, 2.0)]:
                sfs.append(SymmetryFunction("radial", (e,), eta=eta, rs=rs, rc=rc, cutoff=cutoff,
                                            alpha=alpha))
        if "compact_radial" in kinds:
            sfs.append(SymmetryFunction("compact_radial", (e,), rl=-rc, rc=rc, core="poly2",
                                        asymmetric=True))
            sfs.append(SymmetryFunction("compact_radial", (e,), rl=0.8, rc=rc * 0.8, core="poly3"))
    for pair in pairs:
        for kind in ("angular_narrow", "angular_wide"):
            if kind not in kinds:
                continue
            for eta, rs, zeta, lam in [(0.1, 0.0, 1.0, 1.0), (0.3, 0.5, 4.0, -1.0),
                                       (0.05, 0.0, 2.5, 1.0)]:
                sfs.append(SymmetryFunction(kind, pair, eta=eta, rs=rs, zeta=zeta, lam=lam,
                                            rc=rc, cutoff=cutoff, alpha=alpha))
        if "compact_angular_wide" in kinds:
            sfs.append(SymmetryFunction("compact_angular_wide", pair, rl=-rc, rc=rc,
                                        angle_left=-60.0, angle_right=60.0, core="poly2",
                                        asymmetric=True))
            sfs.append(SymmetryFunction("compact_angular_wide", pair, rl=0.5, rc=rc,
                                        angle_left=60.0, angle_right=180.0, core="poly4",
                                        angle_asymmetric=True))
        if "compact_angular_narrow" in kinds:  # not in the default kinds (n2p2 type 21)
            sfs.append(SymmetryFunction("compact_angular_narrow", pair, rl=-rc, rc=rc,
                                        angle_left=-60.0, angle_right=60.0, core="poly2",
                                        asymmetric=True))
            sfs.append(SymmetryFunction("compact_angular_narrow", pair, rl=0.5, rc=0.9 * rc,
                                        angle_left=40.0, angle_right=180.0, core="poly3",
                                        angle_asymmetric=True))
    return sfs


def random_model(elements=("H", "O"), seed=0, rc=4.0, cutoff="cos", alpha=0.0,
                 hidden=(8, 6), activations=("tanh", "softplus", "linear"), committee=1,
                 mode="scale_center", kinds=None) -> Model:
    rng = np.random.default_rng(seed)
    elements = list(elements)
    ems = []
    for e in elements:
        kw = {} if kinds is None else {"kinds": kinds}
        sfs = make_sfs(elements, rng, rc=rc, cutoff=cutoff, alpha=alpha, **kw)
        n = len(sfs)
        members = [random_member(rng, n, hidden, activations, mode) for _ in range(committee)]
        ems.append(ElementModel(e, sfs, members))
    return Model(elements, ems, {"source": f"tests.model_factory seed {seed}"})


def random_member(rng, n, hidden=(8, 6), activations=("tanh", "softplus", "linear"),
                  mode="scale_center") -> Member:
    """One committee member for n features: random statistics, network and energy map."""
    lo = rng.uniform(0.0, 0.2, n)
    hi = lo + rng.uniform(0.5, 3.0, n)
    mean = 0.5 * (lo + hi)
    sigma = rng.uniform(0.2, 1.0, n)
    sizes = [n, *hidden, 1]
    layers = [DenseLayer(rng.normal(0, 1 / np.sqrt(sizes[i]), (sizes[i + 1], sizes[i])),
                         rng.normal(0, 0.1, sizes[i + 1]), activations[i])
              for i in range(len(sizes) - 1)]
    return Member(Scaling(mode, -1.0, 1.0, lo, hi, mean, sigma), layers,
                  energy_offset=float(rng.normal(-3, 1)),
                  energy_scale=float(rng.uniform(0.5, 2.0)))


def single_kind_sfs(elements, kind, rc=4.0, cutoff="cos", alpha=0.0, core="poly2",
                    asymmetric=False, angle_asymmetric=False):
    """A few symmetry functions of one kind for every neighbour element (pair), with one
    cutoff function (cutoff-based kinds) or one core function (compact kinds); ``asymmetric``
    and ``angle_asymmetric`` set the radial and angular bumps of the compact kinds."""
    elements = list(elements)
    pairs = [(a, b) for i, a in enumerate(elements) for b in elements[i:]]
    sfs = []
    if kind == "radial":
        for e in elements:
            for eta, rs in [(0.3, 0.0), (1.2, 1.5), (0.05, 2.5)]:
                sfs.append(SymmetryFunction("radial", (e,), eta=eta, rs=rs, rc=rc, cutoff=cutoff,
                                            alpha=alpha))
    elif kind in ("angular_narrow", "angular_wide"):
        for pair in pairs:
            for eta, rs, zeta, lam in [(0.1, 0.0, 1.0, 1.0), (0.3, 0.8, 4.0, -1.0),
                                       (0.05, 0.0, 2.5, 1.0), (0.2, 0.0, 1.0, -1.0)]:
                sfs.append(SymmetryFunction(kind, pair, eta=eta, rs=rs, zeta=zeta, lam=lam, rc=rc,
                                            cutoff=cutoff, alpha=alpha))
    elif kind == "compact_radial":
        for e in elements:
            for rl, right in [(-rc, rc), (0.8, 0.8 * rc), (1.5, 0.95 * rc)]:
                sfs.append(SymmetryFunction("compact_radial", (e,), rl=rl, rc=right, core=core,
                                            asymmetric=asymmetric))
    elif kind in ("compact_angular_wide", "compact_angular_narrow"):
        for pair in pairs:
            for rl, right, left, top in [(-rc, rc, -60.0, 60.0), (0.5, rc, 60.0, 180.0),
                                         (0.2, 0.9 * rc, 30.0, 150.0)]:
                sfs.append(SymmetryFunction(kind, pair, rl=rl, rc=right,
                                            angle_left=left, angle_right=top, core=core,
                                            asymmetric=asymmetric,
                                            angle_asymmetric=angle_asymmetric))
    else:
        raise ValueError(f"unknown symmetry-function kind {kind!r}")
    return sfs


def weighted_sfs(kinds=("weighted_radial", "weighted_angular_narrow", "weighted_angular_wide"),
                 channels=(1,), rc=4.0, cutoff="cos", alpha=0.0):
    """A few element-weighted symmetry functions of each kind and weight channel."""
    sfs = []
    for c in channels:
        if "weighted_radial" in kinds:
            for eta, rs in [(0.3, 0.0), (1.2, 1.5), (0.05, 2.5)]:
                sfs.append(SymmetryFunction("weighted_radial", (), channel=c, eta=eta, rs=rs,
                                            rc=rc, cutoff=cutoff, alpha=alpha))
        for kind in ("weighted_angular_narrow", "weighted_angular_wide"):
            if kind in kinds:
                for eta, rs, zeta, lam in [(0.1, 0.0, 1.0, 1.0), (0.3, 0.8, 4.0, -1.0),
                                           (0.05, 0.0, 2.5, 1.0)]:
                    sfs.append(SymmetryFunction(kind, (), channel=c, eta=eta, rs=rs, zeta=zeta,
                                                lam=lam, rc=rc, cutoff=cutoff, alpha=alpha))
        if "weighted_compact_radial" in kinds:
            for rl, right, asym in [(-rc, rc, True), (0.8, 0.8 * rc, False)]:
                sfs.append(SymmetryFunction("weighted_compact_radial", (), channel=c, rl=rl,
                                            rc=right, core="poly2", asymmetric=asym))
        for kind in ("weighted_compact_angular_wide", "weighted_compact_angular_narrow"):
            if kind not in kinds:
                continue
            # narrow: wider supports (few triplets have r_jk < rc as well; features that hardly
            # vary across atoms make the scaled networks ill-conditioned)
            params = ([(-rc, rc, -60.0, 60.0, "poly2"), (0.5, rc, 60.0, 180.0, "poly4"),
                       (0.2, 0.9 * rc, 30.0, 150.0, "exp")] if kind.endswith("wide") else
                      [(-rc, rc, 0.0, 120.0, "poly2"), (0.5, rc, 60.0, 180.0, "poly3"),
                       (-rc, rc, 30.0, 150.0, "exp")])
            for rl, right, left, top, core in params:
                sfs.append(SymmetryFunction(kind, (), channel=c,
                                            rl=rl, rc=right, angle_left=left, angle_right=top,
                                            core=core, asymmetric=rl > 0))
    return sfs


def model_from_sfs(elements, sfs, seed=0, hidden=(8, 6), activations=("tanh", "softplus", "linear"),
                   committee=1, mode="scale_center", channel_weights=None) -> Model:
    """A random model whose every element uses the symmetry functions `sfs` (a list, or a
    function element -> list); channel_weights (element -> weights) for weighted kinds."""
    rng = np.random.default_rng(seed)
    elements = list(elements)
    ems = []
    for e in elements:
        element_sfs = sfs(e) if callable(sfs) else list(sfs)
        members = [random_member(rng, len(element_sfs), hidden, activations, mode)
                   for _ in range(committee)]
        ems.append(ElementModel(e, element_sfs, members))
    return Model(elements, ems, {"source": f"tests.model_factory.model_from_sfs seed {seed}"},
                 channel_weights=dict(channel_weights or {}))


def random_structure(symbols_pool=("H", "O"), n=12, seed=0, cell=None, min_distance=0.9,
                     box=4.5):
    """Random atoms with a minimum distance (open box of side `box` or inside `cell`)."""
    rng = np.random.default_rng(seed)
    pos = []
    frac_cell = np.array(cell) if cell is not None else np.eye(3) * box
    while len(pos) < n:
        p = rng.uniform(0, 1, 3) @ frac_cell
        if all(np.linalg.norm(p - q) > min_distance for q in pos):
            pos.append(p)
    symbols = [symbols_pool[i % len(symbols_pool)] for i in range(n)]
    return np.array(pos), symbols


def random_periodic_structure(cell, n=12, seed=0, pbc=True, symbols_pool=("H", "O"),
                              min_distance=0.9):
    """Random atoms in `cell` (rows = lattice vectors), at least `min_distance` from every other
    atom and from every periodic image (periodic directions as in `pbc`), their own included."""
    rng = np.random.default_rng(seed)
    cell = np.asarray(cell, dtype=float)
    pbc = np.broadcast_to(pbc, 3)
    reach = [range(-2, 3) if p else range(1) for p in pbc]
    images = np.array([np.array([a, b, c], dtype=float) @ cell
                       for a in reach[0] for b in reach[1] for c in reach[2]])
    lengths = np.linalg.norm(images, axis=1)
    if np.any((lengths > 0) & (lengths <= min_distance)):
        raise ValueError("cell too small for this minimum distance")
    pos = []
    for _ in range(100000):
        p = rng.uniform(0, 1, 3) @ cell
        if all(np.linalg.norm(q + images - p, axis=1).min() > min_distance for q in pos):
            pos.append(p)
            if len(pos) == n:
                break
    if len(pos) < n:
        raise ValueError(f"could not place {n} atoms {min_distance} Å apart")
    symbols = [symbols_pool[i % len(symbols_pool)] for i in range(n)]
    return np.array(pos), symbols


def fit_scaling(model, samples, margin=0.1):
    """Set every member's feature statistics from sample G values so that the networks work
    in their sensitive range: samples maps element -> (n_samples, n_features). The range is
    widened by `margin` of its width plus 5 % of the feature's size (so that features which
    barely vary do not get huge scaling factors)."""
    for symbol, em in zip(model.elements, model.element_models):
        G = np.asarray(samples.get(symbol, np.zeros((0, em.num_features))), dtype=float)
        if len(G) == 0:
            continue
        lo, hi = G.min(axis=0), G.max(axis=0)
        pad = margin * (hi - lo) + 0.05 * (np.abs(G).max(axis=0) + 0.01)
        for member in em.members:
            s = member.scaling
            s.minimum, s.maximum = lo - pad, hi + pad
            s.mean, s.sigma = G.mean(axis=0), G.std(axis=0) + pad
    return model


# ------------------------------------------------------------------ finite differences
def energy(pot, positions, symbols, cell=None, pbc=False):
    """The potential's energy (eV) of one structure, without forces."""
    return pot.compute(positions, symbols, cell, pbc, forces=False)["energy"]


def fd_forces(pot, positions, symbols, cell=None, pbc=False, h=1e-4):
    """-dE/dx by fourth-order central differences (error O(h^4))."""
    forces = np.zeros_like(positions)
    for i in range(len(positions)):
        for a in range(3):
            def E(t):
                moved = positions.copy()
                moved[i, a] += t
                return energy(pot, moved, symbols, cell, pbc)
            forces[i, a] = -(8 * (E(h) - E(-h)) - (E(2 * h) - E(-2 * h))) / (12 * h)
    return forces
