"""Optimisers and learning-rate schedules (state saved in every checkpoint).

* ``adam``: AdamW (decoupled weight decay; plain Adam when weight_decay = 0) on mini-batches of
  ``batch_size`` structures; the learning rate follows ``lr_schedule`` once per epoch:
  constant; exponential lr_k = lr * (lr_final/lr)^(k/epochs); cosine from lr to lr_final;
  plateau: multiplied by ``lr_factor`` after ``lr_patience`` epochs without a better
  validation metric (never below lr_final).
* ``lbfgs``: full-batch L-BFGS with a strong-Wolfe line search; one epoch = one iteration
  (the data set is evaluated in chunks of ``lbfgs_batch_size`` structures).
"""
from __future__ import annotations

import torch


def make_optimizer(name: str, params, t: dict):
    if name == "adam":
        return torch.optim.AdamW(params, lr=t["learning_rate"], weight_decay=t["weight_decay"])
    if name == "lbfgs":
        # one iteration per epoch; max_eval must be given explicitly: torch's default
        # (1.25 x max_iter = 1) leaves the line search no evaluation to backtrack with.
        # Tolerances 0: the loss is small in absolute terms (eV^2) and torch's defaults (1e-7 on
        # the gradient, 1e-9 on the change) would stop early; epochs and early stopping decide.
        return torch.optim.LBFGS(params, lr=1.0, max_iter=1, max_eval=25,
                                 history_size=t["lbfgs_history"], line_search_fn="strong_wolfe",
                                 tolerance_grad=0.0, tolerance_change=0.0)
    raise ValueError(name)


def make_scheduler(optimizer, name: str, t: dict, epochs: int):
    """A torch scheduler stepped once per epoch, or None."""
    lr, lr_final = t["learning_rate"], t["lr_final"]
    if name == "lbfgs" or t["lr_schedule"] == "constant":
        return None
    if t["lr_schedule"] == "exponential":
        gamma = (max(lr_final, 1e-300) / lr) ** (1.0 / max(epochs, 1))
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    if t["lr_schedule"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1),
                                                          eta_min=lr_final)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min",
                                                      factor=t["lr_factor"],
                                                      patience=t["lr_patience"], min_lr=lr_final)


def step_scheduler(scheduler, metric: float):
    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(metric)
    else:
        scheduler.step()


def current_lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
