"""Torch side of a kizuna model: per-element networks on scaled features.

Atomic energy of atom i of element Z (exactly what the core evaluates, see
``docs/model-format.md``):

    x_i = smin + factor_Z * (G_i - shift_Z)          (scaling from training statistics)
    E_i = energy_offset_Z + energy_scale_Z * NN_Z(x_i)   (eV)

Only the network weights are trainable; scaling, offsets and energy scales (one per element)
are buffers. With ``weighted_sfs`` (``symmetry_functions.learn_weights``) the model also owns
the element-channel weight table (``contraction.weights``, trainable) and takes the
element-resolved features, G = Gres M(w) (``learned_weights.py``).
Activations are written with the same formulas as ``csrc/include/kizuna/formulas.hpp``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from ..model import ACTIVATIONS

_LN2 = math.log(2.0)


def _softplus(x):
    # ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|)  (the core's stable form)
    return torch.clamp(x, min=0.0) + torch.log1p(torch.exp(-torch.abs(x)))


_FUNCTIONS = {
    "linear": lambda x: x,
    "tanh": torch.tanh,
    "logistic": torch.sigmoid,
    "softplus": _softplus,
    "relu": torch.relu,
    "gaussian": lambda x: torch.exp(-0.5 * x * x),
    "cos": torch.cos,
    "revlogistic": lambda x: 1.0 - torch.sigmoid(x),
    "negexp": lambda x: torch.exp(-x),
    "harmonic": lambda x: x * x,
    "silu": lambda x: x * torch.sigmoid(x),
    "shifted_softplus": lambda x: _softplus(x) - _LN2,
}
assert set(_FUNCTIONS) == set(ACTIVATIONS)


def _tensor(values) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float64), dtype=torch.float64)


def activation(name: str):
    try:
        return _FUNCTIONS[name]
    except KeyError:
        raise ConfigError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None


class ElementNetwork(torch.nn.Module):
    """Dense network n_in -> hidden... -> 1; the last layer is linear."""

    def __init__(self, n_in: int, hidden, activations):
        super().__init__()
        sizes = [n_in, *hidden, 1]
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(sizes[k], sizes[k + 1], dtype=torch.float64)
            for k in range(len(sizes) - 1))
        self.activations = list(activations) + ["linear"]
        if len(self.activations) != len(self.layers):
            raise ConfigError("one activation per hidden layer is needed")
        self._f = [activation(a) for a in self.activations]

    def forward(self, x):
        for layer, f in zip(self.layers, self._f):
            x = f(layer(x))
        return x.squeeze(-1)


class AtomicEnergyModel(torch.nn.Module):
    """Per-element networks with fixed feature scaling and energy offsets."""

    def __init__(self, elements, num_features: dict, hidden, activations, *, shift: dict,
                 factor: dict, smin: float, energy_offset: dict, energy_scale,
                 weighted_sfs: dict = None):
        super().__init__()
        self.elements = list(elements)
        self.contraction = None
        if weighted_sfs is not None:
            from .learned_weights import WeightContraction

            self.contraction = WeightContraction(weighted_sfs, self.elements)
        self.nets = torch.nn.ModuleDict({e: ElementNetwork(num_features[e], hidden, activations)
                                         for e in self.elements})
        for e in self.elements:
            self.register_buffer(f"shift_{e}", _tensor(shift[e]))
            self.register_buffer(f"factor_{e}", _tensor(factor[e]))
        self.register_buffer("offsets", _tensor([float(energy_offset[e]) for e in self.elements]))
        if not isinstance(energy_scale, dict):
            energy_scale = {e: energy_scale for e in self.elements}
        self.register_buffer("scales", _tensor([float(energy_scale[e]) for e in self.elements]))
        self.smin = float(smin)
        self.hidden = list(hidden)
        self.hidden_activations = list(activations)

    def forward(self, element: str, G):
        """E_i (eV) of atoms of ``element`` with features G (n, n_features); with learned
        weights G are the element-resolved features (n, n_resolved)."""
        k = self.elements.index(element)
        if self.contraction is not None:
            G = self.contraction(element, G)
        x = self.smin + getattr(self, f"factor_{element}") * (G - getattr(self, f"shift_{element}"))
        return self.offsets[k] + self.scales[k] * self.nets[element](x)

    atomic_energies = forward
