"""Elastic constants implied by a data set's own labelled strained cells (no new DFT).

Benchmarks such as Zuo et al. (2020, the mlearn data) ship an "Elastic" group: copies of a
ground-state cell h0 (rows = lattice vectors) deformed to h = h0 F^T, each labelled with the
DFT stress. From them the DFT elastic tensor follows without any new calculation, and the
model's on the same cells (stress from the calculator), so both are compared on identical
structures.

Strain of a cell: F = (h0^-1 h)^T, Green-Lagrange E = (F^T F - I)/2, in Voigt form with
engineering shears e = (E11, E22, E33, 2 E23, 2 E13, 2 E12). Fit (least squares over the cells
whose largest strain-tensor component |E_ij| is <= ``max_strain``, the unstrained cell
included):

    sigma_i(e) = sigma_i(0) + sum_j C_ij e_j        (ASE sign: tension > 0; eV/Å^3 -> GPa)

The Cauchy stress and the Lagrangian strain agree with the linear theory to first order; with
strains +-d of each component the second-order terms cancel in the fit.

**Clamped or relaxed ions.** The ions of these cells are where the homogeneous deformation puts
them (mlearn: fractional coordinates of the ground state). For diamond Si the shear then
leaves forces on the two sublattices, and C44 from these cells is the *clamped-ion* (unrelaxed)
C44^0, larger than the relaxed C44 of :mod:`~kizuna.properties.elastic`. C11, C12 of cubic
crystals need no internal relaxation (the strained cell keeps the forces zero).

mlearn json (``outputs.virial_stress``: VASP, kBar, xx yy zz xy yz zx, compression positive) is
read by the training reader :func:`kizuna.training.readers.read_mlearn_json` (sign and order
proven in tests/test_data_readers.py); e.g. the Si cell compressed by 2 % along x has
+31.6 kBar in xx, i.e. sigma_xx = -3.16 GPa in ASE's sign.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from ase import Atoms, units

def lagrangian_strain(h0, h) -> np.ndarray:
    """Voigt Green-Lagrange strain (engineering shears) taking cell h0 to h (rows = vectors)."""
    f = np.linalg.solve(np.asarray(h0, float), np.asarray(h, float)).T   # h = h0 F^T
    e = 0.5 * (f.T @ f - np.eye(3))
    return np.array([e[0, 0], e[1, 1], e[2, 2], 2 * e[1, 2], 2 * e[0, 2], 2 * e[0, 1]])


def read_mlearn(path, group: str = "Elastic") -> list:
    """The structures of one group of an mlearn json file as ASE Atoms, with ``info``: energy
    (eV), stress (ASE Voigt, eV/Å^3; converted by the training reader
    :func:`kizuna.training.readers.read_mlearn_json`) and description."""
    from ..training.readers import read_mlearn_json

    entries = json.loads(Path(path).read_text())
    out = []
    for k, (entry, s) in enumerate(zip(entries, read_mlearn_json(path))):
        if entry.get("group") != group:
            continue
        if s.stress is None or s.energy is None:
            raise ValueError(f"{path}: entry {k}: no outputs.virial_stress or energy")
        atoms = Atoms(s.symbols, positions=s.positions, cell=s.cell, pbc=True)
        atoms.info.update(energy=float(s.energy), stress=np.asarray(s.stress, dtype=float),
                          description=str(entry.get("description", "")))
        out.append(atoms)
    if not out:
        raise ValueError(f"{path}: no structure of group {group!r}")
    return out


def ground_state(frames: list) -> Atoms:
    """The cell the others are strained from: the frame with the smallest stress (its
    largest |component|), i.e. the unstrained equilibrium cell."""
    return min(frames, key=lambda a: float(np.abs(a.info["stress"]).max()))


def fit(frames: list, stresses: list, reference: Atoms, max_strain: float = 0.021) -> dict:
    """C (6x6 GPa, symmetrised) from the stresses (eV/Å^3, ASE Voigt) of ``frames`` strained
    from ``reference``; only frames with max |e| <= ``max_strain`` are used. Also returns the
    strains and the residual stress sigma(0) (GPa)."""
    strains = np.array([lagrangian_strain(reference.cell, a.cell) for a in frames])
    sig = np.asarray(stresses, dtype=float) / units.GPa
    tensor = np.abs(strains) * np.array([1, 1, 1, 0.5, 0.5, 0.5])   # |E_ij| of each cell
    use = tensor.max(axis=1) <= max_strain
    active = np.abs(strains[use]).max(axis=0) > 1e-6        # components that were strained
    if use.sum() < active.sum() + 1 or not active.any():
        raise ValueError(f"only {int(use.sum())} cells within |strain| <= {max_strain}: too few "
                         "to fit the elastic constants")
    design = np.hstack([np.ones((use.sum(), 1)), strains[use][:, active]])
    coef, *_ = np.linalg.lstsq(design, sig[use], rcond=None)
    c = np.zeros((6, 6))
    c[:, active] = coef[1:].T                                # C_ij = d sigma_i / d e_j
    c = 0.5 * (c + c.T)
    return {"C": c, "sigma0": coef[0], "strains": strains, "used": use}


def summary(c) -> dict:
    """Cubic averages of a 6x6 tensor (GPa): C11, C12, C44 (mean over equivalent entries),
    B = (C11 + 2 C12)/3, and C' = (C11 - C12)/2."""
    c = np.asarray(c)
    c11 = float(np.mean(np.diag(c)[:3]))
    c12 = float(np.mean([c[0, 1], c[0, 2], c[1, 2]]))
    c44 = float(np.mean(np.diag(c)[3:]))
    return {"C11": c11, "C12": c12, "C44": c44, "B": (c11 + 2 * c12) / 3,
            "C'": (c11 - c12) / 2}


def compare(frames: list, calc, max_strain: float = 0.021) -> dict:
    """The data set's elastic constants and the calculator's on the same cells (same fit).
    Returns {"dataset": summary, "model": summary, "C_dataset", "C_model" (6x6 GPa),
    "energy_error_per_atom" (eV, model - data set, per cell), "cells_used"}."""
    ref = ground_state(frames)
    data = fit(frames, [a.info["stress"] for a in frames], ref, max_strain)
    stresses, errors = [], []
    for a in frames:
        b = a.copy()
        b.calc = calc
        stresses.append(b.get_stress(voigt=True))
        errors.append((b.get_potential_energy() - a.info["energy"]) / len(a))
    model = fit(frames, stresses, ref, max_strain)
    return {"dataset": summary(data["C"]), "model": summary(model["C"]),
            "C_dataset": data["C"].tolist(), "C_model": model["C"].tolist(),
            "reference_cell": np.asarray(ref.cell).tolist(),
            "energy_error_per_atom": [float(e) for e in errors],
            "cells_used": int(data["used"].sum()), "cells": len(frames)}
