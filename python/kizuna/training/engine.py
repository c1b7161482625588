"""Descriptor engine: the compiled core's training operators for a set of symmetry functions.

The core's ``descriptors``/``vjp``/``jvp`` only use a model's symmetry functions, so a model with
the training symmetry functions and placeholder networks (one linear layer of zeros, scaling
``none``) turns the core into a descriptor engine. For one structure with features G (flat,
atom i's features at ``offsets[i]``):

    descriptors()          -> G, offsets
    vjp(beta)              -> F = -sum_i beta_i . dG_i/dx   (eV/Å if beta = dE/dG in eV)
                              W = -sum_pairs r_ij (x) dE/dr_ij   (3x3, eV)
    jvp(dpos, dstrain)     -> dG = sum_j dG/dx_j . dpos_j + dG/d(strain) : dstrain
                              (homogeneous strain: dr_ij = dstrain . r_ij)
"""
from __future__ import annotations

import numpy as np

from .. import _core
from ..model import DenseLayer, ElementModel, Member, Model, Scaling
from ..model_io import model_to_string


def placeholder_model(elements, sfs_by_element: dict, meta=None) -> Model:
    """A valid kizuna model with these symmetry functions and zero networks."""
    ems = []
    for e in elements:
        sfs = sfs_by_element[e]
        n = len(sfs)
        zeros = np.zeros(n)
        scaling = Scaling("none", 0.0, 1.0, zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy())
        layer = DenseLayer(np.zeros((1, n)), np.zeros(1), "linear")
        ems.append(ElementModel(e, list(sfs), [Member(scaling, [layer])]))
    return Model(list(elements), ems, dict(meta or {}))


class DescriptorEngine:
    """Core training operators for fixed symmetry functions (one structure per call)."""

    def __init__(self, elements, sfs_by_element: dict, threads: int = 1):
        self.elements = list(elements)
        self.sfs = {e: list(sfs_by_element[e]) for e in self.elements}
        model = placeholder_model(self.elements, self.sfs)
        self._core = _core.Potential(_core.Model.parse(model_to_string(model), "<descriptors>"),
                                     int(threads))
        self.num_features = {e: len(self.sfs[e]) for e in self.elements}
        self.cutoff = model.cutoff

    @property
    def threads(self) -> int:
        return self._core.threads

    @threads.setter
    def threads(self, n: int):
        self._core.threads = int(n)

    def descriptors(self, s):
        """(G flat, offsets) of structure ``s`` (a :class:`~kizuna.training.data.Structure`)."""
        return self._core.descriptors(s.positions, s.species, s.cell, s.pbc)

    def vjp(self, s, beta_flat):
        """(forces (n, 3), virial (3, 3)) = -beta . dG/dx, -sum r_ij (x) dE/dr_ij."""
        return self._core.vjp(s.positions, s.species, s.cell, s.pbc,
                              np.ascontiguousarray(beta_flat, dtype=np.float64))

    def jvp(self, s, dpos=None, dstrain=None):
        """dG (flat) along displacements dpos (n, 3) and/or a strain dstrain (3, 3)."""
        if dpos is not None:
            dpos = np.ascontiguousarray(dpos, dtype=np.float64)
        if dstrain is not None:
            dstrain = np.ascontiguousarray(dstrain, dtype=np.float64)
        return self._core.jvp(s.positions, s.species, s.cell, s.pbc, dpos, dstrain)
