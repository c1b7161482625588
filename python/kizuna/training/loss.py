"""Predictions of a batch and the training loss.

    L = w_E * mean_s rho_E((E_s - E_s^ref) / N_s)        energy per atom (eV/atom)
      + w_F * mean_{atoms, xyz} rho_F(F - F^ref)         forces (eV/Å)
      + w_S * mean_{s with stress, 6} rho_S(sigma - sigma^ref)   stress (eV/Å^3)

rho(x) = x^2 for ``function: mse``. For ``function: huber``, rho is the Huber penalty scaled
to equal x^2 for small residuals,

    rho(x) = x^2                     |x| <= delta
           = delta (2|x| - delta)    |x| >  delta,

so the weights mean the same in both; residuals beyond delta pull linearly (bounded gradient),
which fits the mean absolute error rather than letting a few large residuals dominate.

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
    function: str = "mse"          # "mse" | "huber"
    delta_energy: float = 1e-3     # eV/atom, Huber threshold
    delta_forces: float = 0.05     # eV/Å
    delta_stress: float = 1e-3     # eV/Å^3

    def penalty(self, residual: torch.Tensor, key: str) -> torch.Tensor:
        """mean rho(residual) of one term (see the module docstring)."""
        if self.function == "mse":
            return torch.mean(residual ** 2)
        delta = getattr(self, "delta_" + key)
        a = residual.abs()
        return torch.mean(torch.where(a <= delta, residual ** 2, delta * (2.0 * a - delta)))


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


def residuals(pred: dict, batch: Batch) -> dict:
    """Prediction minus reference of the terms present: energy per atom (B,), force
    components and stress components (flat)."""
    out = {"energy": (pred["energy"] - batch.energy) / batch.n_atoms}
    if "forces" in pred and bool(batch.force_mask.any()):
        m = batch.force_mask
        out["forces"] = (pred["forces"][m] - batch.forces[m]).reshape(-1)
    if "stress" in pred and bool(batch.stress_mask.any()):
        m = batch.stress_mask
        out["stress"] = (pred["stress"][m] - batch.stress[m]).reshape(-1)
    return out


def loss_terms(pred: dict, batch: Batch, w: LossWeights | None = None) -> dict:
    """Mean squared errors ((eV/atom)^2, (eV/Å)^2, (eV/Å^3)^2) of the terms present, for
    reports, and under "penalty" the mean penalties that the loss weights (equal to the
    mean squared errors for ``mse``)."""
    r = residuals(pred, batch)
    terms = {key: torch.mean(v ** 2) for key, v in r.items()}
    if w is None or w.function == "mse":
        terms["penalty"] = {key: terms[key] for key in r}
    else:
        terms["penalty"] = {key: w.penalty(v, key) for key, v in r.items()}
    return terms


def total_loss(terms: dict, w: LossWeights) -> torch.Tensor:
    p = terms["penalty"]
    loss = w.energy * p["energy"]
    if "forces" in p:
        loss = loss + w.forces * p["forces"]
    if "stress" in p:
        loss = loss + w.stress * p["stress"]
    return loss
