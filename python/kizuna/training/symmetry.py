"""Symmetry-function sets generated from a short spec (Å, n2p2 definitions).

Radial functions, per neighbour element (``docs/model-format.md``):

    G = sum_j exp(-eta (r_ij - rs)^2) fc(r_ij)

* ``shifted``: centres rs_k = r_min + k*d (k = 0..n-1, d = (rc - r_min)/n), one common width
  eta = 1/(2 d^2) (Gaussians of standard deviation d that tile [r_min, rc));
* ``centered``: rs = 0 and widths r_k = r_min + k*(rc - r_min)/(n-1), eta_k = 1/(2 r_k^2)
  (nested Gaussians, the classic Behler grid);
* ``mixed``: half of each (centred first).

Angular functions, per unordered neighbour pair (``angular_wide`` by default, or
``angular_narrow``):

    G = 2^(1-zeta) sum_{j<k} (1 + lambda cos t_ijk)^zeta exp(-eta (r_ij^2 + r_ik^2 [+ r_jk^2]))
        fc(r_ij) fc(r_ik) [fc(r_jk)]

on the grid (eta, rs) x zeta x lambda: zeta in ``zetas`` (default 1, 2, 4, 16), lambda = +-1 and
n = ``n_angular / (len(zetas) * len(lambdas))`` radial terms (``angular_mode``):

* ``centered``: rs = 0 and widths eta_k = 1/(2 r_k^2), r_k evenly spaced in
  [r_min_angular, rc] (the widest first): the classic grid, every angle out to r_k;
* ``shifted``: shells rs_k = r_min_angular + (k + 1/2) d, d = (rc - r_min_angular)/n, one
  width eta = 1/(2 d^2): the angular distribution of the neighbours at distance ~rs_k (both
  r_ij and r_ik near rs_k; the radial-angular coupling of ANI-type and SOAP descriptors),
  best with ``angular_wide`` (``angular_narrow`` also puts r_jk near rs_k);
* ``mixed``: the first half centred, the rest shifted.

The functions of one (kind, neighbours) share exponential terms and angular factors in the core,
so a grid costs little more than its widest member.

``element_mode`` says how neighbour elements enter:

* ``pair`` (default): the grids above per neighbour element (radial) and per unordered
  neighbour pair (angular): n_radial E + n_angular E(E+1)/2 functions per atom for E elements;
* ``weighted``: the same grids as element-weighted functions (``weighted_radial``,
  ``weighted_<angular_kind>``: every neighbour, weighted by w_c(Z_j); every pair by
  w_c(Z_j) w_c(Z_k)), once per weight channel c = 1..k, k = min(``channels``, E):
  k (n_radial + n_angular) functions per atom, whatever E.

Fixed channel weights (:func:`channel_weights`): the model's elements sorted by atomic number
get evenly spaced positions t in [-1, 1] (t = 2 rank/(E-1) - 1; t = 0 for one element) and
channel c the Chebyshev polynomial w_c = T_{c-1}(t): channel 1 is 1 for every element (the
plain density, what a one-element model sees), channel 2 is linear in the rank, channel 3
quadratic, ... With k = E channels the weighted radial set is an invertible linear map of the
per-element set (Chebyshev polynomials on distinct nodes), so fewer channels compress it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..model import CUTOFF_KINDS, SymmetryFunction

RADIAL_MODES = ("shifted", "centered", "mixed")
ANGULAR_MODES = ("centered", "shifted", "mixed")
ANGULAR_KINDS = ("angular_wide", "angular_narrow")
ELEMENT_MODES = ("pair", "weighted")


@dataclass
class SymmetryFunctionSpec:
    """A short description of a symmetry-function set (lengths in Å)."""

    cutoff: float = 5.5
    cutoff_function: str = "poly2"
    cutoff_alpha: float = 0.0
    n_radial: int = 16
    radial_mode: str = "shifted"
    r_min: float = 0.5
    n_angular: int = 32
    angular_kind: str = "angular_wide"
    angular_mode: str = "centered"
    r_min_angular: float = 1.5
    zetas: list = field(default_factory=lambda: [1.0, 2.0, 4.0, 16.0])
    lambdas: list = field(default_factory=lambda: [-1.0, 1.0])
    angular_cutoff: float | None = None  # Å; None: the same as cutoff
    element_mode: str = "pair"  # pair | weighted (see the module docstring)
    channels: int = 2  # weighted: weight channels (at most the number of elements are used)

    @property
    def rc_angular(self) -> float:
        return float(self.cutoff if self.angular_cutoff is None else self.angular_cutoff)

    def check(self, where="symmetry_functions") -> None:
        def bad(key, message):
            raise ConfigError(f"{where}.{key}: {message}")

        if not self.cutoff > 0:
            bad("cutoff", f"must be > 0 Å, got {self.cutoff}")
        if self.cutoff_function not in CUTOFF_KINDS or self.cutoff_function == "hard":
            bad("cutoff_function", f"must be one of {', '.join(CUTOFF_KINDS[1:])}, got "
                f"{self.cutoff_function!r}")
        if not 0 <= self.cutoff_alpha < 1:
            bad("cutoff_alpha", f"must be in [0, 1), got {self.cutoff_alpha}")
        if self.n_radial < 0 or self.n_angular < 0 or self.n_radial + self.n_angular == 0:
            bad("n_radial", "n_radial and n_angular must be >= 0 and not both 0")
        if self.radial_mode not in RADIAL_MODES:
            bad("radial_mode", f"must be one of {', '.join(RADIAL_MODES)}, got "
                f"{self.radial_mode!r}")
        if not 0 <= self.r_min < self.cutoff:
            bad("r_min", f"must be in [0, cutoff={self.cutoff}), got {self.r_min}")
        if self.angular_cutoff is not None and not 0 < self.angular_cutoff <= self.cutoff:
            bad("angular_cutoff", f"must be in (0, cutoff={self.cutoff}] Å, got "
                f"{self.angular_cutoff}")
        if not 0 < self.r_min_angular < self.rc_angular:
            bad("r_min_angular", f"must be in (0, angular cutoff={self.rc_angular}), got "
                f"{self.r_min_angular}")
        if self.angular_mode not in ANGULAR_MODES:
            bad("angular_mode", f"must be one of {', '.join(ANGULAR_MODES)}, got "
                f"{self.angular_mode!r}")
        if self.angular_kind not in ANGULAR_KINDS:
            bad("angular_kind", f"must be one of {', '.join(ANGULAR_KINDS)}, got "
                f"{self.angular_kind!r}")
        if self.element_mode not in ELEMENT_MODES:
            bad("element_mode", f"must be one of {', '.join(ELEMENT_MODES)}, got "
                f"{self.element_mode!r}")
        if not (isinstance(self.channels, (int, np.integer)) and self.channels >= 1):
            bad("channels", f"must be an integer >= 1, got {self.channels!r}")
        if not self.zetas or any(not z >= 1 for z in self.zetas):
            bad("zetas", f"must be a non-empty list of numbers >= 1, got {self.zetas}")
        if not self.lambdas or any(lam not in (-1, 1) for lam in self.lambdas):
            bad("lambdas", f"must be a non-empty list of -1 and/or 1, got {self.lambdas}")
        per_eta = len(self.zetas) * len(self.lambdas)
        if self.n_angular % per_eta:
            lo = self.n_angular // per_eta * per_eta
            bad("n_angular", f"must be a multiple of len(zetas)*len(lambdas) = {per_eta} "
                f"(one eta per {per_eta} functions), got {self.n_angular}; use {lo or per_eta} "
                f"or {lo + per_eta}")
        if self.radial_mode == "mixed" and self.n_radial == 1:
            bad("n_radial", "radial_mode 'mixed' needs n_radial >= 2")
        if self.angular_mode == "mixed" and 0 < self.n_angular < 2 * per_eta:
            bad("n_angular", f"angular_mode 'mixed' needs n_angular >= 2*{per_eta} (one "
                f"centred and one shifted width), got {self.n_angular}")


def _centred_etas(n: int, r_lo: float, r_hi: float) -> np.ndarray:
    """eta_k = 1/(2 r_k^2) for n widths r_k evenly spaced in [r_lo, r_hi], widest first."""
    if n == 1:
        widths = np.array([r_hi])
    else:
        widths = np.linspace(r_hi, r_lo, n)
    return 1.0 / (2.0 * widths ** 2)


def radial_parameters(spec: SymmetryFunctionSpec) -> list:
    """(eta, rs) pairs of the radial grid."""
    rc, n = spec.cutoff, spec.n_radial
    if n == 0:
        return []
    n_centred = {"centered": n, "shifted": 0, "mixed": n // 2}[spec.radial_mode]
    n_shifted = n - n_centred
    out = [(float(eta), 0.0) for eta in _centred_etas(n_centred, max(spec.r_min, 0.5), rc)] \
        if n_centred else []
    if n_shifted:
        d = (rc - spec.r_min) / n_shifted
        eta = 1.0 / (2.0 * d * d)
        out += [(eta, float(spec.r_min + k * d)) for k in range(n_shifted)]
    return out


def angular_parameters(spec: SymmetryFunctionSpec) -> list:
    """(eta, rs, zeta, lambda) of the angular grid."""
    per_eta = len(spec.zetas) * len(spec.lambdas)
    n = spec.n_angular // per_eta
    if n == 0:
        return []
    n_centred = {"centered": n, "shifted": 0, "mixed": n // 2}[spec.angular_mode]
    n_shifted = n - n_centred
    terms = [(float(eta), 0.0) for eta in
             _centred_etas(n_centred, spec.r_min_angular, spec.rc_angular)] if n_centred else []
    if n_shifted:
        d = (spec.rc_angular - spec.r_min_angular) / n_shifted
        terms += [(1.0 / (2.0 * d * d), float(spec.r_min_angular + (k + 0.5) * d))
                  for k in range(n_shifted)]
    return [(eta, rs, float(z), float(lam)) for eta, rs in terms for z in spec.zetas
            for lam in spec.lambdas]


def channel_weights(elements, channels: int) -> dict:
    """{element: (w_1, ..., w_k)}, k = min(channels, E): w_c = T_{c-1}(t_e), t_e evenly spaced
    in [-1, 1] over the elements sorted by atomic number (module docstring)."""
    from ase.data import atomic_numbers

    elements = list(elements)
    order = sorted(elements, key=lambda e: atomic_numbers[e])
    n = len(order)
    k = min(int(channels), n)
    t = {e: (2.0 * r / (n - 1) - 1.0 if n > 1 else 0.0) for r, e in enumerate(order)}
    return {e: tuple(float(np.polynomial.chebyshev.chebval(t[e], [0.0] * c + [1.0]))
                     for c in range(k)) for e in elements}


def _weighted_functions(elements, spec: SymmetryFunctionSpec) -> list:
    table = channel_weights(elements, spec.channels)
    k = len(next(iter(table.values())))
    common = dict(rc=float(spec.cutoff), cutoff=spec.cutoff_function,
                  alpha=float(spec.cutoff_alpha))
    angular = {**common, "rc": spec.rc_angular}
    sfs = []
    for c in range(1, k + 1):
        weights = tuple((e, table[e][c - 1]) for e in elements)
        sfs += [SymmetryFunction("weighted_radial", (), channel=c, element_weights=weights,
                                 eta=eta, rs=rs, **common)
                for eta, rs in radial_parameters(spec)]
        sfs += [SymmetryFunction("weighted_" + spec.angular_kind, (), channel=c,
                                 element_weights=weights, eta=eta, rs=rs, zeta=z, lam=lam,
                                 **angular) for eta, rs, z, lam in angular_parameters(spec)]
    return sfs


def generate_symmetry_functions(elements, spec: SymmetryFunctionSpec) -> dict:
    """{element: [SymmetryFunction, ...]}: the same grid for every centre element, radial per
    neighbour element, angular per unordered neighbour pair (in ``elements`` order); with
    ``element_mode: weighted`` the grids as weighted functions, one set per channel."""
    spec.check()
    elements = list(elements)
    if spec.element_mode == "weighted":
        sfs = _weighted_functions(elements, spec)
        return {e: list(sfs) for e in elements}
    pairs = [(a, b) for i, a in enumerate(elements) for b in elements[i:]]
    common = dict(rc=float(spec.cutoff), cutoff=spec.cutoff_function,
                  alpha=float(spec.cutoff_alpha))
    sfs = []
    for e in elements:
        sfs += [SymmetryFunction("radial", (e,), eta=eta, rs=rs, **common)
                for eta, rs in radial_parameters(spec)]
    angular = {**common, "rc": spec.rc_angular}
    for pair in pairs:
        sfs += [SymmetryFunction(spec.angular_kind, pair, eta=eta, rs=rs, zeta=z, lam=lam,
                                 **angular) for eta, rs, z, lam in angular_parameters(spec)]
    return {e: list(sfs) for e in elements}
