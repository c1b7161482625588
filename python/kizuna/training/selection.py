"""Data-driven selection of symmetry functions (input-dimension reduction).

From a generated set, keep the functions that carry the information of the training data, per
element; a selected model is an ordinary model with fewer functions (the core is unchanged).

Methods
-------
``qr`` (column-pivoted QR, the CUR column choice). X is the element's feature matrix over its
training atoms, scaled as the model scales it and centred:

    X[i, k] = factor_k * (G[i, k] - mean_k)      (i: atoms of the element, k: functions)

(factor_k from the model's scaling, e.g. (smax - smin) / sigma_k for scale_sigma, so that every
column has the spread the network sees; centring removes the constant part the first layer's
bias absorbs). ``scipy.linalg.qr(X, pivoting=True)`` orders the columns greedily: each next one
is the column with the largest component orthogonal to the span of those already chosen.
After k columns the relative residual

    r_k = ||R[k:, k:]||_F / ||R||_F = ||X - P_k X||_F / ||X||_F

is the fraction (in Frobenius norm) of the scaled data that the first k columns do not explain
linearly. Exact duplicates and linear combinations of chosen columns have zero residual and are
chosen last; constant functions (factor 0) too.

``sensitivity`` (needs a trained network): the importance of function k is

    s_k = mean_i |dE_i/dG_ik| * std_i(G_ik)      (eV; i over the element's training atoms)

the typical change of the atomic energy when G_k varies by one standard deviation (independent
of the scaling mode). Functions are ranked by s_k, largest first; a redundant pair may both be
kept (the network may use both), which is the known weakness of the method.

How many to keep (per element; exactly one of them)
----------------------------------------------------
* ``keep``: a count (capped at the number of functions);
* ``fraction``: round(fraction x number of functions), at least 1;
* ``tolerance`` (qr only): the smallest k with r_k <= tolerance.

The kept functions stay in their original order (radial before angular, as generated).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError

METHODS = ("qr", "sensitivity")

#: rows of X used by the QR (a seeded random subset beyond this; the QR costs O(rows x n^2))
MAX_ROWS = 20000


@dataclass
class Selection:
    """The outcome for one element: ``order`` ranks every function (best first), ``kept``
    the selected indices in their original order, ``score`` the residual r_k after k = 1..n
    columns (qr) or the sensitivities s of the ranked functions (sensitivity)."""
    method: str
    order: np.ndarray
    kept: np.ndarray
    score: np.ndarray


def how_many(n: int, keep=None, fraction=None, tolerance=None, residual=None) -> int:
    """The number of functions to keep out of n by the rule given (see module doc)."""
    given = [x is not None for x in (keep, fraction, tolerance)]
    if sum(given) != 1:
        raise ConfigError("symmetry-function selection: give exactly one of keep (a count), "
                          "fraction (0 < f <= 1) or tolerance (relative residual)")
    if keep is not None:
        if int(keep) != keep or keep < 1:
            raise ConfigError(f"selection keep: expected a count >= 1, got {keep!r}")
        return min(int(keep), n)
    if fraction is not None:
        if not 0.0 < fraction <= 1.0:
            raise ConfigError(f"selection fraction: expected 0 < fraction <= 1, got {fraction!r}")
        return max(1, min(n, int(round(fraction * n))))
    if residual is None:
        raise ConfigError("selection tolerance: only the qr method has a residual; use keep or "
                          "fraction with the sensitivity method")
    if not 0.0 <= tolerance < 1.0:
        raise ConfigError(f"selection tolerance: expected 0 <= tolerance < 1, got {tolerance!r}")
    below = np.flatnonzero(np.asarray(residual) <= tolerance)
    return int(below[0]) + 1 if len(below) else n


def scaled_features(G: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """X = factor * (G - mean(G)): the features as the network sees them, centred."""
    G = np.asarray(G, dtype=float)
    return (G - G.mean(0)) * np.asarray(factor, dtype=float)


def qr_order(X: np.ndarray, seed: int = 0):
    """(column order, residual r_k for k = 1..n) of the column-pivoted QR of X."""
    from scipy.linalg import qr

    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0:
        raise DataError(f"selection: expected a non-empty (atoms, functions) matrix, got shape "
                        f"{X.shape}")
    if not np.all(np.isfinite(X)):
        raise DataError("selection: the feature matrix has NaN or infinite values")
    if X.shape[0] > MAX_ROWS:
        rows = np.random.default_rng(seed).choice(X.shape[0], MAX_ROWS, replace=False)
        X = X[np.sort(rows)]
    n = X.shape[1]
    _, R, order = qr(X, mode="economic", pivoting=True)
    # ||R[k:, k:]||_F for k = 1..n (rows of R beyond its height are zero)
    total = np.sqrt(np.sum(R * R))
    tail = np.zeros(n)
    for k in range(1, n):
        block = R[k:, k:]
        tail[k - 1] = np.sqrt(np.sum(block * block))
    residual = tail / total if total > 0 else np.zeros(n)
    return np.asarray(order), residual


def select_qr(G, factor, keep=None, fraction=None, tolerance=None, seed=0) -> Selection:
    """Pivoted-QR selection on the element's raw features G (atoms, n) and scaling factor."""
    order, residual = qr_order(scaled_features(G, factor), seed)
    k = how_many(len(order), keep, fraction, tolerance, residual)
    return Selection("qr", order, np.sort(order[:k]), residual)


def select_by_score(score, keep=None, fraction=None) -> Selection:
    """Rank by an importance score (largest first) and keep the top ones."""
    score = np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="stable")
    k = how_many(len(score), keep, fraction, None, None)
    return Selection("sensitivity", order, np.sort(order[:k]), score[order])


def sensitivities(net, element: str, G) -> np.ndarray:
    """s_k = mean_i |dE_i/dG_ik| * std_i(G_ik) (eV) of a torch AtomicEnergyModel."""
    import torch

    G = torch.as_tensor(np.asarray(G, dtype=float)).clone().requires_grad_(True)
    energy = net(element, G).sum()
    (grad,) = torch.autograd.grad(energy, G)
    return (grad.abs().mean(0) * G.detach().std(0, unbiased=False)).numpy()


def feature_matrices(prepared, elements) -> dict:
    """element -> G (atoms of the element in the prepared structures, functions)."""
    out = {}
    for e in elements:
        blocks = [p.G[e].numpy() for p in prepared if e in p.G]
        if not blocks:
            raise DataError(f"selection: no training atom of element {e}")
        out[e] = np.concatenate(blocks)
    return out


def select_functions(method, matrices: dict, factors: dict, *, keep=None, fraction=None,
                     tolerance=None, net=None, seed=0) -> dict:
    """element -> Selection for every element of ``matrices`` (G per element)."""
    if method not in METHODS:
        raise ConfigError(f"selection method {method!r}: expected one of {', '.join(METHODS)}")
    out = {}
    for e, G in matrices.items():
        if method == "qr":
            out[e] = select_qr(G, factors[e], keep, fraction, tolerance, seed)
        else:
            if net is None:
                raise ConfigError("the sensitivity method needs a trained model")
            if tolerance is not None:
                how_many(1, None, None, tolerance, None)  # raises the explanation
            out[e] = select_by_score(sensitivities(net, e, G), keep, fraction)
    return out


def format_selection(selections: dict, sfs_by_element: dict) -> str:
    """A short text report: per element, how many kept and (qr) the residual left."""
    lines = []
    for e, s in selections.items():
        n, k = len(s.order), len(s.kept)
        extra = f", residual {s.score[k - 1]:.3g}" if s.method == "qr" else ""
        angular = sum(sfs_by_element[e][j].is_angular for j in s.kept)
        lines.append(f"{e}: kept {k} of {n} symmetry functions ({k - angular} radial, "
                     f"{angular} angular; {s.method}{extra})")
    return "\n".join(lines)


def select_for_config(cfg: dict, p_train, sfs_by_element: dict, elements) -> dict:
    """The ``symmetry_functions.select`` step of a training run: statistics of the full set on
    the training structures, the model's scaling factors, the selection; returns the reduced
    functions per element and writes ``selection.txt`` to the run folder."""
    from pathlib import Path

    from .statistics import feature_statistics, make_scaling

    sel, m = cfg["symmetry_functions"]["select"], cfg["model"]
    stats = feature_statistics(p_train, elements)
    factors = {e: make_scaling(stats[e], m["scaling"], m["scale_min"],
                               m["scale_max"]).shift_factor()[1] for e in elements}
    selections = select_functions(sel["method"], feature_matrices(p_train, elements), factors,
                                  keep=sel["keep"], fraction=sel["fraction"],
                                  tolerance=sel["tolerance"], seed=cfg["seed"])
    out = Path(cfg["output"]["directory"])
    if out.is_dir():
        (out / "selection.txt").write_text(format_selection(selections, sfs_by_element) + "\n")
    return {e: [sfs_by_element[e][k] for k in selections[e].kept] for e in elements}
