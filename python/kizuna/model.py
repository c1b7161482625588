"""The kizuna model: elements, symmetry functions, feature scaling, networks.

A :class:`Model` is plain data (numpy arrays and dataclasses). It is read from and written to the
versioned text format specified in ``docs/model-format.md`` by :mod:`kizuna.model_io`; the
compiled core parses the same text. Units are eV and Å throughout.

Atomic energy of an atom of element Z, committee member m:

    x   = scale(G)                       (per-feature linear map, see :class:`Scaling`)
    E_i = energy_offset + energy_scale * NN_m(x)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _core

FORMAT_VERSION = 1

#: n2p2 ``cutoff_type`` number -> kizuna cutoff name (same functions, same numbering).
CUTOFF_KINDS = ("hard", "cos", "tanhu", "tanh", "exp", "poly1", "poly2", "poly3", "poly4")
#: Core functions of the compact (polynomial) symmetry functions.
CORE_KINDS = ("poly1", "poly2", "poly3", "poly4", "exp")
ACTIVATIONS = ("linear", "tanh", "logistic", "softplus", "relu", "gaussian", "cos",
               "revlogistic", "negexp", "harmonic", "silu", "shifted_softplus")
SCALING_MODES = ("none", "scale", "center", "scale_center", "scale_sigma")

#: The symmetry-function kinds, from the core's table (csrc/include/kizuna/sf_kinds.hpp): per kind
#: (name, family, weighted, n2p2 type number or 0, parameters in file order). A new kind is a line
#: there; these tables follow.
SF_KIND_TABLE = tuple((name, family, weighted, n2p2, tuple(parameters.split()))
                      for name, family, weighted, n2p2, parameters in _core.sf_kinds)
SF_KINDS = tuple(k[0] for k in SF_KIND_TABLE)
#: element-weighted kinds: no neighbour elements, a weight channel instead (Model.channel_weights)
WEIGHTED_KINDS = tuple(k[0] for k in SF_KIND_TABLE if k[2])
RADIAL_KINDS = tuple(k[0] for k in SF_KIND_TABLE if k[1] in ("radial", "compact_radial"))
COMPACT_KINDS = tuple(k[0] for k in SF_KIND_TABLE if k[1].startswith("compact"))
#: the compact angular families (a bump in the angle between angle_left and angle_right)
COMPACT_ANGULAR_KINDS = tuple(k[0] for k in SF_KIND_TABLE
                              if k[1] in ("compact_angular", "compact_angular_narrow"))
#: the families whose functions carry zeta and lambda (Gaussian angular)
GAUSSIAN_ANGULAR_KINDS = tuple(k[0] for k in SF_KIND_TABLE
                               if k[1] in ("angular_narrow", "angular_wide"))
#: parameters each symmetry-function kind carries (in file order)
SF_PARAMETERS = {k[0]: k[4] for k in SF_KIND_TABLE}
#: n2p2 symmetry-function type number -> kind (the importer, kizuna.n2p2)
N2P2_SF_TYPES = {k[3]: k[0] for k in SF_KIND_TABLE if k[3]}
#: integer parameters (the weight channel, 1-based)
INT_PARAMETERS = ("channel",)
#: 0/1 flags; a file without ``angle_asymmetric`` means angle_asymmetric = asymmetric (the meaning
#: of ``asymmetric`` in files written before the flag existed, docs/model-format.md)
BOOL_PARAMETERS = ("asymmetric", "angle_asymmetric")
OPTIONAL_PARAMETERS = ("angle_asymmetric",)
STRING_PARAMETERS = {"cutoff": CUTOFF_KINDS, "core": CORE_KINDS}


@dataclass
class SymmetryFunction:
    """One atom-centred symmetry function (n2p2 definitions, Å).

    radial:          G = sum_j exp(-eta (r_ij - rs)^2) fc(r_ij)
    angular_narrow:  G = 2^(1-zeta) sum_{j<k} (1 + lambda cos t)^zeta
                         exp(-eta [(r_ij-rs)^2 + (r_ik-rs)^2 + (r_jk-rs)^2]) fc(r_ij) fc(r_ik) fc(r_jk)
    angular_wide:    as narrow without the r_jk terms
    compact_radial:  G = sum_j C_r(r_ij), C_r a polynomial bump on [rl, rc]
    compact_angular_wide: G = sum_{j<k} C_r(r_ij) C_r(r_ik) C_a(t), C_a a bump on
                         [angle_left, angle_right] (degrees)
    compact_angular_narrow: the same times C_r(r_jk) (n2p2 type 21)

    weighted_radial: G = sum_j w_c(Z_j) exp(-eta (r_ij - rs)^2) fc(r_ij), over every neighbour
    weighted_angular_narrow / _wide: the angular sums over every pair j<k, each triplet weighted
                         by w_c(Z_j) w_c(Z_k)
    weighted_compact_radial / _angular_wide / _angular_narrow: the compact kinds likewise
                         (n2p2 types 23, 25, 24)
    (w_c: the weight of channel ``channel`` of the neighbour's element, Model.channel_weights;
    n2p2's types 12 and 13 are one channel with w = Z)

    ``asymmetric`` makes the radial bump C_r asymmetric, ``angle_asymmetric`` the angular bump
    C_a (n2p2's subtypes p1a..p4a set only the radial one).
    """

    kind: str
    neighbors: tuple  # element symbols: one for radial kinds, two for angular kinds, none for weighted
    eta: float = 0.0
    rs: float = 0.0
    zeta: float = 1.0
    lam: float = 1.0
    rc: float = 0.0
    cutoff: str = "cos"
    alpha: float = 0.0
    rl: float = 0.0
    angle_left: float = 0.0
    angle_right: float = 180.0
    core: str = "poly2"
    asymmetric: bool = False
    angle_asymmetric: bool = False
    channel: int = 0  # weighted kinds: 1-based weight channel
    #: weighted kinds: the channel's weights as ((symbol, w), ...), a copy of the model's table
    #: (Model.channel_weights) that travels with the function, so that a list of functions
    #: (training, generators) is self-contained; the file stores the model's table only
    element_weights: tuple = ()

    @property
    def is_angular(self) -> bool:
        return self.kind not in RADIAL_KINDS

    @property
    def is_weighted(self) -> bool:
        return self.kind in WEIGHTED_KINDS

    def label(self) -> str:
        """Kind and neighbours (or weight channel), e.g. ``radial(O)``, ``weighted_radial(ch1)``."""
        return f"{self.kind}(ch{self.channel})" if self.is_weighted else \
            f"{self.kind}({'-'.join(self.neighbors)})"

    def parameters(self) -> dict:
        """The parameters of this kind, in file order, keyed by their file names."""
        out = {}
        for name in SF_PARAMETERS[self.kind]:
            value = getattr(self, "lam" if name == "lambda" else name)
            out[name] = value
        return out


@dataclass
class Scaling:
    """Per-feature linear map x = smin + factor * (G - shift), the n2p2 variants.

    mode          shift   factor
    none          0       1 (and smin = 0)
    scale         min     (smax - smin) / (max - min)
    center        mean    1 (and smin = 0)
    scale_center  mean    (smax - smin) / (max - min)
    scale_sigma   mean    (smax - smin) / sigma
    A feature with zero range (or sigma) gets factor 0. ``minimum``/``maximum`` are also the
    training range used for extrapolation detection.
    """

    mode: str
    smin: float
    smax: float
    minimum: np.ndarray
    maximum: np.ndarray
    mean: np.ndarray
    sigma: np.ndarray

    def shift_factor(self):
        lo, hi, mean, sigma = self.minimum, self.maximum, self.mean, self.sigma
        width = self.smax - self.smin
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.mode == "none":
                return np.zeros_like(lo), np.ones_like(lo), 0.0
            if self.mode == "center":
                return mean.copy(), np.ones_like(lo), 0.0
            if self.mode == "scale":
                shift, denom = lo, hi - lo
            elif self.mode == "scale_center":
                shift, denom = mean, hi - lo
            else:  # scale_sigma
                shift, denom = mean, sigma
            factor = np.where(denom != 0.0, width / np.where(denom != 0.0, denom, 1.0), 0.0)
        return shift.copy(), factor, self.smin

    def apply(self, G: np.ndarray) -> np.ndarray:
        shift, factor, offset = self.shift_factor()
        return offset + factor * (G - shift)


@dataclass
class DenseLayer:
    """y = activation(W x + b); W has shape (n_out, n_in)."""

    weights: np.ndarray
    bias: np.ndarray
    activation: str

    @property
    def n_in(self) -> int:
        return self.weights.shape[1]

    @property
    def n_out(self) -> int:
        return self.weights.shape[0]


@dataclass
class Member:
    """One committee member's part of an element: scaling, network, energy map."""

    scaling: Scaling
    layers: list
    energy_offset: float = 0.0  # eV
    energy_scale: float = 1.0  # eV per network output unit


@dataclass
class ElementModel:
    symbol: str
    symmetry_functions: list
    members: list  # one Member per committee member

    @property
    def num_features(self) -> int:
        return len(self.symmetry_functions)


@dataclass
class Model:
    elements: list  # element symbols in model order (index = species id in the core)
    element_models: list  # ElementModel, same order as elements
    meta: dict = field(default_factory=dict)
    #: weights of the weighted symmetry-function kinds: element symbol -> (w_1, ..., w_k), the
    #: same k for every element; empty when the model has no weighted kinds
    channel_weights: dict = field(default_factory=dict)
    #: "crc32:<hex>" when read from a file whose checksum was verified; None otherwise
    checksum: str | None = field(default=None, compare=False, repr=False)

    @property
    def committee_size(self) -> int:
        return len(self.element_models[0].members)

    @property
    def num_channels(self) -> int:
        return len(next(iter(self.channel_weights.values()))) if self.channel_weights else 0

    @property
    def cutoff(self) -> float:
        return max(sf.rc for em in self.element_models for sf in em.symmetry_functions)

    def element(self, symbol: str) -> ElementModel:
        try:
            return self.element_models[self.elements.index(symbol)]
        except ValueError:
            raise KeyError(f"element {symbol!r} is not in this model; it has {self.elements}") from None

    def to_string(self) -> str:
        from .model_io import model_to_string

        return model_to_string(self)

    def save(self, path) -> None:
        from .model_io import write_model

        write_model(self, path)

    def summary(self) -> str:
        from .model_io import model_summary

        return model_summary(self)
