"""Element-channel weights learned during training (``symmetry_functions.learn_weights``).

An element-weighted function is a polynomial of the per-element (pair) functions with the same
parameters (``docs/model-format.md``), exactly:

    weighted radial, channel c:   G_c = sum_j w_c(Z_j) g(r_ij)      = sum_e w_c(e) R_e
    weighted angular, channel c:  G_c = sum_{j<k} w_c(Z_j) w_c(Z_k) h_jk
                                      = sum_{e<=e'} w_c(e) w_c(e') A_ee'

with R_e the ``radial``/``compact_radial`` function of neighbour element e and A_ee' the
angular function of the unordered neighbour pair (e, e') (each pair j<k counted once in
exactly one A_ee'). So training with learnable weights computes the element-resolved features
R, A once per structure with the core (the pair set: positions never change), and
:class:`WeightContraction` maps them to the weighted features, G = Gres M(w), with M a sparse
matrix whose entries are w_c(e) or w_c(e) w_c(e'). Everything the loss needs is then exact:

* dG/dw is M's derivative (torch autograd of the contraction);
* beta_res = dE/dGres = M(w) beta (torch), and the forces / virial
  F = -J_res^T beta_res, W = vjp_W(beta_res) come from the core's adjoint on the resolved set
  (``ops.core_forces``), whose own adjoint (the core's jvp) is already differentiable; the
  dependence of F and W on w goes through beta_res = M(w) beta, so dL/dw of force and stress
  terms is exact too (gradchecked in ``tests/test_learned_weights.py``).

Cost: the descriptor passes of training are those of the pair set (time and cached features
grow with E as for ``element_mode: pair``); the networks see the k-channel set, and the
exported model (ASE, LAMMPS) is the plain weighted model with the learned table, as cheap as
fixed weights.

Feature scaling: during training the scaling (shift, factor) stays the one computed with the
initial weights (a fixed affine map, so the loss is a smooth function of w). At export the
statistics of the weighted features are recomputed with the learned weights over the training
atoms (so the file's min/max/mean/sigma, and with them extrapolation detection, describe the
features the model really sees), and the change of scaling is folded into the first layer
(:func:`fold_scaling`): the exported network computes the same energies.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from ..errors import ConfigError
from ..model import WEIGHTED_KINDS

#: weighted kind -> the per-element kind with the same parameters
RESOLVED_KIND = {"weighted_radial": "radial", "weighted_angular_narrow": "angular_narrow",
                 "weighted_angular_wide": "angular_wide",
                 "weighted_compact_radial": "compact_radial",
                 "weighted_compact_angular_wide": "compact_angular_wide",
                 "weighted_compact_angular_narrow": "compact_angular_narrow"}
assert set(RESOLVED_KIND) == set(WEIGHTED_KINDS)


def channel_table(sfs_by_element: dict, elements) -> np.ndarray:
    """The (E, k) weight table the weighted functions carry (``element_weights``)."""
    elements = list(elements)
    values = {}  # (element, channel) -> w
    for e in elements:
        for sf in sfs_by_element[e]:
            if sf.kind not in WEIGHTED_KINDS:
                continue
            w = dict(sf.element_weights)
            if set(w) != set(elements):
                raise ConfigError(f"symmetry_functions.learn_weights: {sf.label()} carries "
                                  f"weights for {sorted(w)}, the model has {elements}")
            for x in elements:
                values.setdefault((x, sf.channel), float(w[x]))
    if not values:
        raise ConfigError("symmetry_functions.learn_weights: the symmetry functions have no "
                          "element-weighted function (set element_mode: weighted)")
    out = np.zeros((len(elements), max(c for _, c in values)))
    for (x, c), v in values.items():
        out[elements.index(x), c - 1] = v
    return out


def _key(sf) -> tuple:
    return tuple(sorted((k, v) for k, v in vars(sf).items()))


def resolve(sfs_by_element: dict, elements) -> tuple:
    """({element: [resolved SymmetryFunction]}, {element: terms}) where terms =
    (res_index, out_index, elem_a, elem_b, channel) int arrays: feature out += Gres[res] *
    w[a, c] * w[b, c] (a = -1: factor 1, b = -1: factor 1; c 0-based)."""
    elements = list(elements)
    pairs = [(i, j) for i in range(len(elements)) for j in range(i, len(elements))]
    resolved, terms = {}, {}
    for e in elements:
        index, res, rows = {}, [], []

        def add(sf):
            key = _key(sf)
            if key not in index:
                index[key] = len(res)
                res.append(sf)
            return index[key]

        for f, sf in enumerate(sfs_by_element[e]):
            if sf.kind not in WEIGHTED_KINDS:
                rows.append((add(sf), f, -1, -1, 0))
                continue
            base = copy.copy(sf)
            base.kind, base.channel, base.element_weights = RESOLVED_KIND[sf.kind], 0, ()
            c = sf.channel - 1
            if not sf.is_angular:
                for a, x in enumerate(elements):
                    r = copy.copy(base)
                    r.neighbors = (x,)
                    rows.append((add(r), f, a, -1, c))
            else:
                for a, b in pairs:
                    r = copy.copy(base)
                    r.neighbors = (elements[a], elements[b])
                    rows.append((add(r), f, a, b, c))
        resolved[e] = res
        terms[e] = tuple(np.array(col, dtype=np.int64) for col in zip(*rows))
    return resolved, terms


class WeightContraction(torch.nn.Module):
    """G = Gres M(w) per centre element; ``weights`` (E, k) is the trainable table."""

    def __init__(self, weighted_sfs: dict, elements):
        super().__init__()
        self.elements = list(elements)
        self.weighted_sfs = {e: list(weighted_sfs[e]) for e in self.elements}
        resolved, terms = resolve(self.weighted_sfs, self.elements)
        self.resolved_sfs = resolved
        self.weights = torch.nn.Parameter(torch.as_tensor(
            channel_table(self.weighted_sfs, self.elements), dtype=torch.float64))
        self.shapes = {}
        for e in self.elements:
            res, out, a, b, c = terms[e]
            self.shapes[e] = (len(resolved[e]), len(self.weighted_sfs[e]))
            for name, arr in zip(("res", "out", "a", "b", "c"), (res, out, a, b, c)):
                self.register_buffer(f"{name}_{e}", torch.from_numpy(arr))

    def matrix(self, element: str) -> torch.Tensor:
        """M(w) (n_resolved, n_features) of a centre element."""
        g = {n: getattr(self, f"{n}_{element}") for n in ("res", "out", "a", "b", "c")}
        w = self.weights
        one = torch.ones(len(g["c"]), dtype=w.dtype)
        wa = torch.where(g["a"] >= 0, w[g["a"].clamp(min=0), g["c"]], one)
        wb = torch.where(g["b"] >= 0, w[g["b"].clamp(min=0), g["c"]], one)
        M = torch.zeros(self.shapes[element], dtype=w.dtype)
        return M.index_put((g["res"], g["out"]), wa * wb, accumulate=True)

    def forward(self, element: str, Gres: torch.Tensor) -> torch.Tensor:
        return Gres @ self.matrix(element)

    def table(self) -> dict:
        """{element: (w_1, ..., w_k)} of the current weights."""
        w = self.weights.detach().numpy()
        return {e: tuple(float(x) for x in w[i]) for i, e in enumerate(self.elements)}

    def weighted_functions(self) -> dict:
        """The weighted functions with the current weights (``element_weights``)."""
        table = self.table()
        out = {}
        for e in self.elements:
            out[e] = []
            for sf in self.weighted_sfs[e]:
                sf = copy.copy(sf)
                if sf.kind in WEIGHTED_KINDS:
                    sf.element_weights = tuple((x, table[x][sf.channel - 1])
                                               for x in self.elements)
                out[e].append(sf)
        return out


@torch.no_grad()
def weighted_statistics(contraction: WeightContraction, prepared) -> dict:
    """element -> (min, max, mean, sigma) of the weighted features of the training atoms
    (``prepared`` holds resolved features) with the contraction's current weights."""
    from .statistics import feature_statistics

    return feature_statistics(contracted(contraction, prepared), contraction.elements)


class _Features:
    def __init__(self, G):
        self.G = G


@torch.no_grad()
def contracted(contraction: WeightContraction, prepared) -> list:
    """Objects with ``G`` = {element: weighted features} of prepared (resolved) structures."""
    M = {e: contraction.matrix(e) for e in contraction.elements}
    return [_Features({e: G @ M[e] for e, G in p.G.items()}) for p in prepared]


def fold_scaling(layer_w: np.ndarray, layer_b: np.ndarray, old: tuple, new: tuple) -> tuple:
    """First-layer weights and bias for inputs scaled with ``new`` = (shift, factor, smin)
    instead of ``old``, the same function of G:

        x_old = smin_o + f_o (G - s_o),  G = s_n + (x_new - smin_n) / f_n
        x_old = [smin_o + f_o (s_n - s_o) - r smin_n] + r x_new,   r = f_o / f_n
        W x_old + b = (W diag r) x_new + b + W [smin_o + f_o (s_n - s_o) - r smin_n]

    (f_o = 0: x_old is the constant smin_o, r = 0). Returns None when some feature has
    f_o != 0 but f_n = 0 (constant with the new weights: the old map cannot be expressed)."""
    s_o, f_o, smin_o = old
    s_n, f_n, smin_n = new
    if np.any((f_o != 0) & (f_n == 0)):
        return None
    r = np.where(f_o != 0, f_o / np.where(f_n != 0, f_n, 1.0), 0.0)
    const = smin_o + f_o * (s_n - s_o) - r * smin_n
    return layer_w * r[None, :], layer_b + layer_w @ const
