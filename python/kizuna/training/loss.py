"""Predictions of a batch and the training loss.

    L = w_E * mean_s ((E_s - E_s^ref) / N_s)^2          energy per atom, eV^2
      + w_F * mean_{atoms, xyz} (F - F^ref)^2            forces, (eV/Å)^2
      + w_S * mean_{s with stress, 6} (sigma - sigma^ref)^2   stress, (eV/Å^3)^2

Forces and stress are exact derivatives of the model energy (core adjoint, see ops.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .dataset import Batch, voigt_from_virial
from .ops import core_forces


@dataclass
class LossWeights:
    energy: float = 1.0
    forces: float = 1.0
    stress: float = 0.0


def predict(model, batch: Batch, forces=True, stress=False, create_graph=False) -> dict:
    """Energies (B,) and, as asked, forces (N, 3) and stress (B, 6) of a batch."""
    need_grad = forces or stress
    Gs = {e: batch.G[e].detach().requires_grad_(need_grad) for e in batch.elements}
    energy = torch.zeros(batch.size, dtype=torch.float64)
    for e in batch.elements:
        energy = energy.index_add(0, batch.owner[e], model(e, Gs[e]))
    out = {"energy": energy}
    if need_grad:
        betas = torch.autograd.grad(energy.sum(), [Gs[e] for e in batch.elements],
                                    create_graph=create_graph)
        beta_flat = torch.cat([b.reshape(-1) for b in betas])[batch.perm]
        F, W = core_forces(beta_flat, batch)
        out["forces"] = F
        out["virial"] = W
        if stress:
            out["stress"] = voigt_from_virial(W, batch.volume)
    return out


def loss_terms(pred: dict, batch: Batch) -> dict:
    """Mean squared errors (eV^2 per atom^2, (eV/Å)^2, (eV/Å^3)^2) of the terms present."""
    terms = {"energy": torch.mean(((pred["energy"] - batch.energy) / batch.n_atoms) ** 2)}
    if "forces" in pred and bool(batch.force_mask.any()):
        m = batch.force_mask
        terms["forces"] = torch.mean((pred["forces"][m] - batch.forces[m]) ** 2)
    if "stress" in pred and bool(batch.stress_mask.any()):
        m = batch.stress_mask
        terms["stress"] = torch.mean((pred["stress"][m] - batch.stress[m]) ** 2)
    return terms


def total_loss(terms: dict, w: LossWeights) -> torch.Tensor:
    loss = w.energy * terms["energy"]
    if "forces" in terms:
        loss = loss + w.forces * terms["forces"]
    if "stress" in terms:
        loss = loss + w.stress * terms["stress"]
    return loss
