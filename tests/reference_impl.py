"""A slow, readable numpy reference implementation of a kizuna model's prediction.

Written from the formulas of ``docs/model-format.md`` (not from the C++ kernel) so that the
compiled core can be checked against an independent implementation:

* brute-force neighbour search over periodic images (any triclinic cell, cells smaller than the
  cutoff, open systems, mixed boundary conditions, unwrapped coordinates);
* every symmetry-function kind, cutoff function, compact bump, scaling mode and activation;
* committee members (energy = mean over members), energy offsets and scales;
* forces and virial from analytic derivatives, symmetry function by symmetry function and
  pair by pair (or triplet by triplet), chain-ruled through the networks.

Conventions (those of the core): r_ij = x_j + shift - x_i, F = -dE/dx,
virial W = -sum_{i, j} r_ij (x) dE_i/dr_ij (3 x 3), per-atom virials tallied on the neighbour j
in the order xx yy zz xy xz yz. Units: Å, eV.

Everything is vectorised only over the neighbours (or neighbour pairs) of one centre and one
symmetry function at a time; the code favours being obviously right over being fast.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

# --------------------------------------------------------------------------- core functions
# The polynomials and the exponential bump of the spec, f(x) on [0, 1] with f(0) = 1, f(1) = 0.
# Each is given as value and derivative, written out by hand.


def core_fdf(core: str, x):
    """f(x), df/dx of a core function ('poly1'..'poly4', 'exp') for x in [0, 1]."""
    x = np.asarray(x, dtype=float)
    if core == "poly1":  # (2x - 3) x^2 + 1
        return (2 * x - 3) * x**2 + 1, 6 * x**2 - 6 * x
    if core == "poly2":  # ((15 - 6x) x - 10) x^3 + 1 = -6x^5 + 15x^4 - 10x^3 + 1
        return -6 * x**5 + 15 * x**4 - 10 * x**3 + 1, -30 * x**4 + 60 * x**3 - 30 * x**2
    if core == "poly3":  # (x (x (20x - 70) + 84) - 35) x^4 + 1 = 20x^7 - 70x^6 + 84x^5 - 35x^4 + 1
        return (20 * x**7 - 70 * x**6 + 84 * x**5 - 35 * x**4 + 1,
                140 * x**6 - 420 * x**5 + 420 * x**4 - 140 * x**3)
    if core == "poly4":  # -70x^9 + 315x^8 - 540x^7 + 420x^6 - 126x^5 + 1
        return (-70 * x**9 + 315 * x**8 - 540 * x**7 + 420 * x**6 - 126 * x**5 + 1,
                -630 * x**8 + 2520 * x**7 - 3780 * x**6 + 2520 * x**5 - 630 * x**4)
    if core == "exp":  # exp(1 - 1/(1 - x^2)), 0 at x >= 1
        inside = x < 1.0
        xs = np.where(inside, x, 0.0)
        one_minus = 1.0 - xs**2
        f = np.where(inside, np.exp(1.0 - 1.0 / one_minus), 0.0)
        # d/dx [1 - 1/(1 - x^2)] = -2x / (1 - x^2)^2
        df = np.where(inside, f * (-2.0 * xs / one_minus**2), 0.0)
        return f, df
    raise ValueError(f"unknown core function {core!r}")


# --------------------------------------------------------------------------- cutoff functions
def cutoff_fdf(kind: str, r, rc: float, alpha: float):
    """fc(r) and dfc/dr (spec table 'Cutoff functions'); 0 for r >= rc."""
    r = np.asarray(r, dtype=float)
    inside = r < rc
    if kind in ("tanhu", "tanh"):  # alpha not used
        norm = 1.0 / np.tanh(1.0) ** 3 if kind == "tanh" else 1.0
        t = np.tanh(1.0 - r / rc)
        f = norm * t**3
        df = norm * 3 * t**2 * (1 - t**2) * (-1.0 / rc)
        return np.where(inside, f, 0.0), np.where(inside, df, 0.0)
    rci = alpha * rc
    width = rc - rci
    x = np.clip((r - rci) / width, 0.0, 1.0)
    if kind == "hard":
        f, dfdx = np.ones_like(x), np.zeros_like(x)
    elif kind == "cos":
        f, dfdx = 0.5 * (np.cos(np.pi * x) + 1.0), -0.5 * np.pi * np.sin(np.pi * x)
    elif kind in ("exp", "poly1", "poly2", "poly3", "poly4"):
        f, dfdx = core_fdf(kind, x)
    else:
        raise ValueError(f"unknown cutoff function {kind!r}")
    below = r < rci
    f = np.where(below, 1.0, f)
    df = np.where(below, 0.0, dfdx / width)
    return np.where(inside, f, 0.0), np.where(inside, df, 0.0)


# ----------------------------------------------------------------------------- compact bumps
def compact_fdf(left: float, right: float, core: str, asymmetric: bool, v):
    """Bump C(v) on (left, right) and dC/dv (spec 'Compact bumps')."""
    v = np.asarray(v, dtype=float)
    inside = (v > left) & (v < right)
    centre = 0.5 * (left + right)
    half_width = 0.5 * (right - left)
    a = np.abs(v - centre) / half_width
    da_dv = np.sign(v - centre) / half_width
    a = np.where(inside, a, 0.0)
    if asymmetric:
        y = a * (2.0 - a)
        f, dfdy = core_fdf(core, y)
        dfda = dfdy * (2.0 - 2.0 * a)
    else:
        f, dfda = core_fdf(core, a)
    return np.where(inside, f, 0.0), np.where(inside, dfda * da_dv, 0.0)


# ------------------------------------------------------------------------------ activations
def activation_fdf(name: str, z):
    """y = act(z) and dy/dz for the activations of the spec."""
    z = np.asarray(z, dtype=float)
    logistic = 1.0 / (1.0 + np.exp(-z))
    if name == "linear":
        return z.copy(), np.ones_like(z)
    if name == "tanh":
        return np.tanh(z), 1.0 - np.tanh(z) ** 2
    if name == "logistic":
        return logistic, logistic * (1.0 - logistic)
    if name == "softplus":
        return np.logaddexp(0.0, z), logistic
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0.0).astype(float)
    if name == "gaussian":
        return np.exp(-0.5 * z**2), -z * np.exp(-0.5 * z**2)
    if name == "cos":
        return np.cos(z), -np.sin(z)
    if name == "revlogistic":
        return 1.0 - logistic, -logistic * (1.0 - logistic)
    if name == "negexp":
        return np.exp(-z), -np.exp(-z)
    if name == "harmonic":
        return z**2, 2.0 * z
    if name == "silu":
        return z * logistic, logistic + z * logistic * (1.0 - logistic)
    if name == "shifted_softplus":
        return np.logaddexp(0.0, z) - np.log(2.0), logistic
    raise ValueError(f"unknown activation {name!r}")


def network_fdf(layers, x):
    """NN(x) (scalar) and dNN/dx for a list of DenseLayer (W: n_out x n_in, b, activation)."""
    h = np.asarray(x, dtype=float)
    derivatives = []
    for layer in layers:
        z = layer.weights @ h + layer.bias
        h, dh = activation_fdf(layer.activation, z)
        derivatives.append(dh)
    grad = np.ones(1)  # d NN / d h_last
    for layer, dh in zip(reversed(layers), reversed(derivatives)):
        grad = layer.weights.T @ (grad * dh)
    return float(h[0]), grad


# ---------------------------------------------------------------------------------- scaling
def scaling_shift_factor(scaling):
    """(offset, shift, factor) with x = offset + factor * (G - shift) (spec table 'Scaling')."""
    mode, smin, smax = scaling.mode, scaling.smin, scaling.smax
    lo, hi = np.asarray(scaling.minimum, float), np.asarray(scaling.maximum, float)
    mean, sigma = np.asarray(scaling.mean, float), np.asarray(scaling.sigma, float)
    n = lo.size
    if mode == "none":
        return 0.0, np.zeros(n), np.ones(n)
    if mode == "center":
        return 0.0, mean, np.ones(n)
    if mode == "scale":
        shift, denominator = lo, hi - lo
    elif mode == "scale_center":
        shift, denominator = mean, hi - lo
    elif mode == "scale_sigma":
        shift, denominator = mean, sigma
    else:
        raise ValueError(f"unknown scaling mode {mode!r}")
    factor = np.array([(smax - smin) / d if d != 0.0 else 0.0 for d in denominator])
    return smin, shift, factor


# ------------------------------------------------------------------------ neighbour search
@dataclass
class Neighbor:
    """Neighbour entries of one centre: atom indices j, vectors r_ij = x_j + shift - x_i."""

    index: np.ndarray  # (m,)
    vector: np.ndarray  # (m, 3)
    shift: np.ndarray  # (m, 3)


def image_shifts(cell, pbc, positions, cutoff):
    """All lattice translations n . A (n integer along periodic directions) that can bring any
    atom within `cutoff` of any other.

    Proof of completeness: let P hold the periodic lattice vectors (k x 3) and w = v + n P with
    v = x_j - x_i. Then |w| >= |proj(w)| where proj is the projection on span(P), and
    proj(w) = (t + n) P with t the coordinates of proj(v), so |w| >= s_min(P) |t + n|
    (s_min: smallest singular value). Hence |w| < cutoff requires |t_d + n_d| < cutoff/s_min
    for every d, which bounds n_d given the spread of t over all atom pairs.
    """
    periodic = [d for d in range(3) if pbc[d]]
    if not periodic:
        return np.zeros((1, 3))
    P = np.asarray(cell, dtype=float)[periodic]
    s_min = np.linalg.svd(P, compute_uv=False).min()
    if s_min <= 1e-12 * max(1.0, np.abs(P).max()):
        raise ValueError("degenerate periodic cell")
    t = np.linalg.lstsq(P.T, np.asarray(positions, float).T, rcond=None)[0].T  # (n_atoms, k)
    reach = cutoff / s_min
    spread = t.max(axis=0) - t.min(axis=0) if len(t) else np.zeros(len(periodic))
    ranges = [range(-int(np.ceil(spread[q] + reach)), int(np.ceil(spread[q] + reach)) + 1)
              for q in range(len(periodic))]
    return np.array([np.array(n, dtype=float) @ P for n in product(*ranges)])


def neighbor_lists(positions, cell, pbc, cutoff):
    """Full neighbour lists by brute force: every (j, image) with |r_ij| < cutoff, j != i for
    the zero image. Returns one :class:`Neighbor` per atom."""
    positions = np.asarray(positions, dtype=float)
    pbc = [bool(p) for p in (np.broadcast_to(pbc, 3))]
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=float).reshape(3, 3)
    shifts = image_shifts(cell, pbc, positions, cutoff)
    n = len(positions)
    out = []
    for i in range(n):
        # vectors to every atom j in every image: (n_images, n_atoms, 3)
        vectors = positions[None, :, :] + shifts[:, None, :] - positions[i]
        distance = np.linalg.norm(vectors, axis=2)
        is_self = (np.arange(n)[None, :] == i) & np.all(shifts == 0.0, axis=1)[:, None]
        image, j = np.nonzero((distance < cutoff) & ~is_self)
        out.append(Neighbor(j, vectors[image, j], shifts[image]))
    return out


# ----------------------------------------------------------------------- symmetry functions
def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def radial_value_grad(sf, r_vec):
    """Radial G = sum_j exp(-eta (r - rs)^2) fc(r) and dG/dr_ij (m, 3) for the given pairs."""
    r = np.linalg.norm(r_vec, axis=1)
    fc, dfc = cutoff_fdf(sf.cutoff, r, sf.rc, sf.alpha)
    gauss = np.exp(-sf.eta * (r - sf.rs) ** 2)
    term = gauss * fc
    dterm_dr = gauss * (dfc - 2.0 * sf.eta * (r - sf.rs) * fc)
    return term.sum(), dterm_dr[:, None] * _unit(r_vec)


def compact_radial_value_grad(sf, r_vec):
    """Compact radial G = sum_j C(r) with C the bump on (rl, rc)."""
    r = np.linalg.norm(r_vec, axis=1)
    C, dC = compact_fdf(sf.rl, sf.rc, sf.core, sf.asymmetric, r)
    return C.sum(), dC[:, None] * _unit(r_vec)


def triplet_geometry(r_j, r_k):
    """Distances, unit vectors, cos(theta_jik) and its gradients for arrays of pairs of
    neighbour vectors r_ij (r_j) and r_ik (r_k)."""
    dj, dk = np.linalg.norm(r_j, axis=1), np.linalg.norm(r_k, axis=1)
    uj, uk = r_j / dj[:, None], r_k / dk[:, None]
    cos = np.clip(np.sum(uj * uk, axis=1), -1.0, 1.0)
    dcos_drj = (uk - cos[:, None] * uj) / dj[:, None]
    dcos_drk = (uj - cos[:, None] * uk) / dk[:, None]
    return dj, dk, uj, uk, cos, dcos_drj, dcos_drk


def angular_value_grad(sf, r_j, r_k, narrow: bool):
    """Angular narrow/wide G over the given (j, k) pairs and dG/dr_ij, dG/dr_ik per pair."""
    T, grad_j, grad_k = angular_terms(sf, r_j, r_k, narrow)
    return T.sum(), grad_j, grad_k


def angular_terms(sf, r_j, r_k, narrow: bool):
    """Per (j, k) pair: T = 2^(1-zeta) (1 + lambda c)^zeta * P_j * P_k [* P_jk],
    P(r) = exp(-eta (r - rs)^2) fc(r), and dT/dr_ij, dT/dr_ik."""
    dj, dk, uj, uk, cos, dcos_drj, dcos_drk = triplet_geometry(r_j, r_k)
    base = 1.0 + sf.lam * cos
    A = 2.0 ** (1.0 - sf.zeta) * base**sf.zeta
    dA = 2.0 ** (1.0 - sf.zeta) * sf.zeta * sf.lam * base ** (sf.zeta - 1.0)

    def radial_factor(r):
        fc, dfc = cutoff_fdf(sf.cutoff, r, sf.rc, sf.alpha)
        gauss = np.exp(-sf.eta * (r - sf.rs) ** 2)
        return gauss * fc, gauss * (dfc - 2.0 * sf.eta * (r - sf.rs) * fc)

    Pj, dPj = radial_factor(dj)
    Pk, dPk = radial_factor(dk)
    if narrow:
        r_jk = r_k - r_j
        djk = np.linalg.norm(r_jk, axis=1)
        ujk = r_jk / djk[:, None]
        Pjk, dPjk = radial_factor(djk)
    else:
        ujk = np.zeros_like(uj)
        Pjk, dPjk = np.ones_like(dj), np.zeros_like(dj)
    T = A * Pj * Pk * Pjk
    # dT/dr_ij: through cos, through |r_ij| and through |r_jk| (r_jk = r_ik - r_ij)
    grad_j = (dA * Pj * Pk * Pjk)[:, None] * dcos_drj \
        + (A * dPj * Pk * Pjk)[:, None] * uj \
        - (A * Pj * Pk * dPjk)[:, None] * ujk
    grad_k = (dA * Pj * Pk * Pjk)[:, None] * dcos_drk \
        + (A * Pj * dPk * Pjk)[:, None] * uk \
        + (A * Pj * Pk * dPjk)[:, None] * ujk
    return T, grad_j, grad_k


def compact_angular_value_grad(sf, r_j, r_k):
    """Compact angular G = sum C(r_ij) C(r_ik) [C(r_jk)] C_a(theta) (theta in degrees)."""
    T, grad_j, grad_k = compact_angular_terms(sf, r_j, r_k)
    return T.sum(), grad_j, grad_k


def compact_angular_terms(sf, r_j, r_k):
    """Per (j, k) pair: T = C(r_ij) C(r_ik) C_a(theta) and dT/dr_ij, dT/dr_ik; the narrow kinds
    (n2p2 types 21, 24) multiply T by C(r_jk), r_jk = |r_ik - r_ij|, the same radial bump."""
    dj, dk, uj, uk, cos, dcos_drj, dcos_drk = triplet_geometry(r_j, r_k)
    Cj, dCj = compact_fdf(sf.rl, sf.rc, sf.core, sf.asymmetric, dj)
    Ck, dCk = compact_fdf(sf.rl, sf.rc, sf.core, sf.asymmetric, dk)
    theta = np.degrees(np.arccos(cos))
    Ca, dCa_dtheta = compact_fdf(sf.angle_left, sf.angle_right, sf.core, sf.angle_asymmetric,
                                 theta)
    # dtheta/dcos = -(180/pi) / sin(theta); at theta = 0 or 180 the cos-gradient vectors
    # dcos/dr vanish (u_j parallel to u_k) and so does the derivative of T; take 0 there.
    sin = np.sqrt(1.0 - cos**2)
    safe = sin > 0.0
    dtheta_dcos = np.where(safe, -np.degrees(1.0) / np.where(safe, sin, 1.0), 0.0)
    dT_dcos = Cj * Ck * dCa_dtheta * dtheta_dcos
    T = Cj * Ck * Ca
    grad_j = dT_dcos[:, None] * dcos_drj + (dCj * Ck * Ca)[:, None] * uj
    grad_k = dT_dcos[:, None] * dcos_drk + (Cj * dCk * Ca)[:, None] * uk
    if not sf.kind.endswith("compact_angular_narrow"):
        return T, grad_j, grad_k
    r_jk = r_k - r_j  # T_narrow = T C(r_jk): product rule, dr_jk/dr_ij = -u_jk, dr_jk/dr_ik = +u_jk
    djk = np.linalg.norm(r_jk, axis=1)
    ujk = r_jk / djk[:, None]
    Cjk, dCjk = compact_fdf(sf.rl, sf.rc, sf.core, sf.asymmetric, djk)
    grad_j = Cjk[:, None] * grad_j - (T * dCjk)[:, None] * ujk
    grad_k = Cjk[:, None] * grad_k + (T * dCjk)[:, None] * ujk
    return T * Cjk, grad_j, grad_k


def weighted_value_grad(sf, neighbor_symbols, r_vec, channel_weights):
    """Element-weighted kinds: radial G = sum_j w(Z_j) exp(-eta (r - rs)^2) fc(r) (or C(r) for
    the compact kind) over every neighbour, angular G = sum_{j<k} w(Z_j) w(Z_k) T_jk over every pair of distinct entries,
    w = the weights of channel sf.channel (1-based) of the neighbours' elements."""
    m = len(r_vec)
    grad = np.zeros((m, 3))
    w = np.array([channel_weights[s][sf.channel - 1] for s in neighbor_symbols], dtype=float)
    if sf.kind == "weighted_radial":
        r = np.linalg.norm(r_vec, axis=1)
        fc, dfc = cutoff_fdf(sf.cutoff, r, sf.rc, sf.alpha)
        gauss = np.exp(-sf.eta * (r - sf.rs) ** 2)
        value = np.sum(w * gauss * fc)
        grad = (w * gauss * (dfc - 2.0 * sf.eta * (r - sf.rs) * fc))[:, None] * _unit(r_vec)
        return value, grad
    if sf.kind == "weighted_compact_radial":
        r = np.linalg.norm(r_vec, axis=1)
        C, dC = compact_fdf(sf.rl, sf.rc, sf.core, sf.asymmetric, r)
        return np.sum(w * C), (w * dC)[:, None] * _unit(r_vec)
    j_idx, k_idx = np.triu_indices(m, 1)
    if len(j_idx) == 0:
        return 0.0, grad
    # per-pair terms, each pair weighted: sum_q w_j w_k T_q, gradients likewise
    if sf.kind.startswith("weighted_compact_angular"):
        values, gj, gk = compact_angular_terms(sf, r_vec[j_idx], r_vec[k_idx])
    else:
        values, gj, gk = angular_terms(sf, r_vec[j_idx], r_vec[k_idx],
                                       narrow=sf.kind == "weighted_angular_narrow")
    ww = w[j_idx] * w[k_idx]
    np.add.at(grad, j_idx, ww[:, None] * gj)
    np.add.at(grad, k_idx, ww[:, None] * gk)
    return float(np.sum(ww * values)), grad


def symmetry_function_value_grad(sf, neighbor_symbols, r_vec, channel_weights=None):
    """Value of one symmetry function for one centre and dG/dr_ij for every neighbour entry.

    neighbor_symbols: element symbol of each neighbour entry; r_vec: (m, 3) vectors r_ij.
    Angular sums run over unordered pairs of distinct neighbour entries {j, k} whose elements
    are the SF's neighbour pair. channel_weights (Model.channel_weights) for weighted kinds.
    """
    if sf.kind.startswith("weighted_"):
        return weighted_value_grad(sf, neighbor_symbols, r_vec, channel_weights)
    m = len(r_vec)
    grad = np.zeros((m, 3))
    symbols = np.asarray(neighbor_symbols, dtype=object)
    if not sf.is_angular:
        sel = np.flatnonzero(symbols == sf.neighbors[0])
        if sf.kind == "radial":
            value, g = radial_value_grad(sf, r_vec[sel])
        else:
            value, g = compact_radial_value_grad(sf, r_vec[sel])
        grad[sel] = g
        return value, grad
    j_all, k_all = np.triu_indices(m, 1)  # every unordered pair of distinct entries
    e1, e2 = sf.neighbors
    a, b = symbols[j_all], symbols[k_all]
    match = ((a == e1) & (b == e2)) | ((a == e2) & (b == e1))
    if not match.any():
        return 0.0, grad
    j_idx, k_idx = j_all[match], k_all[match]
    if sf.kind.startswith("compact_angular"):
        value, gj, gk = compact_angular_value_grad(sf, r_vec[j_idx], r_vec[k_idx])
    else:
        value, gj, gk = angular_value_grad(sf, r_vec[j_idx], r_vec[k_idx],
                                           narrow=sf.kind == "angular_narrow")
    np.add.at(grad, j_idx, gj)
    np.add.at(grad, k_idx, gk)
    return value, grad


# -------------------------------------------------------------------------------- the model
@dataclass
class Prediction:
    energy: float
    energies: np.ndarray  # (n,)
    forces: np.ndarray  # (n, 3)
    virial: np.ndarray  # (3, 3): W = -sum r_ij (x) dE/dr_ij
    atom_virials: np.ndarray  # (n, 6) xx yy zz xy xz yz, tallied on the neighbour
    member_energies: np.ndarray  # (committee,)
    G: list  # per atom: features (n_features of its element)
    dG: list  # per atom: (n_features, m, 3) dG/dr_ij for its neighbour entries
    beta: list  # per atom: dE/dG
    neighbors: list  # per atom: Neighbor
    extrapolating: np.ndarray  # (n,) bool

    def virial_voigt(self):
        """Virial in the core order xx yy zz xy xz yz."""
        W = self.virial
        return np.array([W[0, 0], W[1, 1], W[2, 2], W[0, 1], W[0, 2], W[1, 2]])

    def stress(self, volume):
        """ASE stress (xx yy zz yz xz xy) = -W / V."""
        W = self.virial
        return -np.array([W[0, 0], W[1, 1], W[2, 2], W[1, 2], W[0, 2], W[0, 1]]) / volume

    def beta_flat(self):
        return np.concatenate(self.beta) if self.beta else np.zeros(0)

    def G_flat(self):
        return np.concatenate(self.G) if self.G else np.zeros(0)


def atom_descriptors(model, positions, symbols, cell=None, pbc=False):
    """G of every atom and dG/dr_ij of every neighbour entry (and the neighbour lists)."""
    symbols = list(symbols)
    neighbors = neighbor_lists(positions, cell, pbc, model.cutoff)
    G, dG = [], []
    for i, nb in enumerate(neighbors):
        em = model.element(symbols[i])
        nb_symbols = [symbols[j] for j in nb.index]
        values, grads = [], []
        for sf in em.symmetry_functions:
            value, grad = symmetry_function_value_grad(sf, nb_symbols, nb.vector,
                                                       model.channel_weights)
            values.append(value)
            grads.append(grad)
        G.append(np.array(values))
        dG.append(np.array(grads).reshape(len(values), len(nb.index), 3))
    return G, dG, neighbors


def predict(model, positions, symbols, cell=None, pbc=False) -> Prediction:
    """Energy, per-atom energies, forces, virials, committee energies, G and beta."""
    positions = np.asarray(positions, dtype=float)
    symbols = list(symbols)
    n = len(positions)
    G, dG, neighbors = atom_descriptors(model, positions, symbols, cell, pbc)
    committee = model.committee_size
    energies = np.zeros(n)
    member_energies = np.zeros(committee)
    forces = np.zeros((n, 3))
    virial = np.zeros((3, 3))
    atom_virials = np.zeros((n, 6))
    betas = []
    extrapolating = np.zeros(n, dtype=bool)
    for i in range(n):
        em = model.element(symbols[i])
        beta = np.zeros(em.num_features)
        lo = np.min([m.scaling.minimum for m in em.members], axis=0)
        hi = np.max([m.scaling.maximum for m in em.members], axis=0)
        eps = 1e-12 * np.maximum(np.abs(lo), np.abs(hi))  # spec: round-off slack
        extrapolating[i] = bool(np.any((G[i] < lo - eps) | (G[i] > hi + eps)))
        for m, member in enumerate(em.members):
            offset, shift, factor = scaling_shift_factor(member.scaling)
            x = offset + factor * (G[i] - shift)
            y, dy_dx = network_fdf(member.layers, x)
            e_member = member.energy_offset + member.energy_scale * y
            member_energies[m] += e_member
            energies[i] += e_member / committee
            beta += member.energy_scale * dy_dx * factor / committee
        betas.append(beta)
        # dE_i/dr_ij for every neighbour entry: sum_s beta_s dG_s/dr_ij
        g = np.einsum("s,smk->mk", beta, dG[i])
        nb = neighbors[i]
        for entry, j in enumerate(nb.index):
            forces[j] -= g[entry]
            forces[i] += g[entry]
            outer = -np.outer(nb.vector[entry], g[entry])
            virial += outer
            atom_virials[j] += [outer[0, 0], outer[1, 1], outer[2, 2], outer[0, 1], outer[0, 2],
                                outer[1, 2]]
    return Prediction(float(energies.sum()), energies, forces, virial, atom_virials,
                      member_energies, G, dG, betas, neighbors, extrapolating)


def descriptor_directional_derivative(prediction, dpos=None, dstrain=None):
    """dG along atom displacements dpos (n, 3) and a homogeneous strain (dr_ij = dstrain r_ij),
    from the analytic dG/dr_ij of a :class:`Prediction` (flattened like G_flat)."""
    out = []
    for i, nb in enumerate(prediction.neighbors):
        dr = np.zeros_like(nb.vector)
        if dpos is not None:
            dr += dpos[nb.index] - dpos[i]
        if dstrain is not None:
            dr += nb.vector @ np.asarray(dstrain).T
        out.append(np.einsum("smk,mk->s", prediction.dG[i], dr))
    return np.concatenate(out) if out else np.zeros(0)
