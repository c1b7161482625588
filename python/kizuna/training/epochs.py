"""One epoch of each optimiser, and evaluation of batches (no state of their own)."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import KizunaError
from .dataset import Batch
from .loss import loss_terms, predict, total_loss


class NonFiniteLoss(KizunaError, ArithmeticError):
    """The training loss became NaN or infinite (the run diverged); the trainer adds the epoch."""


def check_finite(terms: dict, loss, what: str) -> None:
    """Raise NonFiniteLoss naming the loss terms that are not finite (energy, forces, stress)."""
    value = float(loss.detach())
    if math.isfinite(value):
        return
    values = {key: float(v.detach()) for key, v in terms["penalty"].items()}
    bad = [f"{key} {v}" for key, v in values.items() if not math.isfinite(v)] or \
        [f"{key} {v:.3g}" for key, v in values.items()]
    raise NonFiniteLoss(f"{what}: the loss is {value} (non-finite terms: "
                        f"{', '.join(bad)})")


def adam_epoch(net, opt, run, weights, *, seed, epoch, batch_size, stress, clip=None,
               ema=None, on_batch=None) -> dict:
    """Mini-batch steps over the training structures in the order drawn from (seed, epoch).
    Returns running training errors (eV/atom, eV/Å) of the live weights."""
    data = run.train
    perm = np.random.default_rng([seed, epoch]).permutation(len(data))
    acc = {"loss": 0.0, "energy": 0.0, "forces": 0.0, "n": 0}
    for k in range(0, len(data), batch_size):
        batch = Batch([data[i] for i in perm[k:k + batch_size]], run.elements, run.pool)
        pred = predict(net, batch, forces=weights.forces > 0, stress=stress, create_graph=True)
        terms = loss_terms(pred, batch, weights)
        loss = total_loss(terms, weights)
        check_finite(terms, loss, f"batch {k // batch_size + 1}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        if ema is not None:
            ema.update(net)
        acc["n"] += batch.size
        acc["loss"] += loss.item() * batch.size
        acc["energy"] += terms["energy"].item() * batch.size
        acc["forces"] += (terms["forces"].item() if "forces" in terms else 0.0) * batch.size
        if on_batch is not None:
            on_batch(min(k + batch_size, len(data)), len(data),
                     math.sqrt(acc["energy"] / acc["n"]), math.sqrt(acc["forces"] / acc["n"]))
    n = max(acc["n"], 1)
    return {"loss": acc["loss"] / n, "energy_rmse": math.sqrt(acc["energy"] / n),
            "forces_rmse": math.sqrt(acc["forces"] / n)}


def lbfgs_epoch(net, opt, chunks, weights, *, stress) -> dict:
    """One L-BFGS iteration on the full training set (evaluated in chunks). The reported
    errors are those at the start point (the line search also evaluates trial points). If the
    iteration made no progress (failed line search), the L-BFGS memory is cleared so that the
    next iteration restarts from steepest descent instead of repeating the same failure."""
    n_total = sum(b.size for b in chunks)
    first = {}

    def closure():
        opt.zero_grad(set_to_none=True)
        acc = {"loss": 0.0, "energy": 0.0, "forces": 0.0}
        for b in chunks:
            pred = predict(net, b, forces=weights.forces > 0, stress=stress, create_graph=True)
            terms = loss_terms(pred, b, weights)
            loss = total_loss(terms, weights) * (b.size / n_total)
            check_finite(terms, loss, "L-BFGS evaluation")
            loss.backward()
            acc["loss"] += loss.item()
            acc["energy"] += terms["energy"].item() * b.size / n_total
            acc["forces"] += (terms["forces"].item() if "forces" in terms else 0.0) \
                * b.size / n_total
        if not first:
            first.update(acc)
        return acc["loss"]

    before = [p.detach().clone() for p in net.parameters()]
    opt.step(closure)
    restarted = all(torch.equal(a, p) for a, p in zip(before, net.parameters()))
    if restarted:
        opt.state.clear()
    return {"loss": first["loss"], "energy_rmse": math.sqrt(first["energy"]),
            "forces_rmse": math.sqrt(first["forces"]), "restarted": restarted}


def evaluate_batches(net, batches, weights, *, stress) -> dict:
    """Loss, MAE and RMSE (eV/atom, eV/Å, eV/Å^3) of a data set (torch predictions, which equal
    the core's: tests/test_training_ops.py)."""
    if not batches:
        return {}
    parts = {"energy": [], "forces": [], "stress": []}
    loss_sum, n = 0.0, 0
    for b in batches:
        pred = predict(net, b, forces=True, stress=stress, create_graph=False)
        terms = loss_terms(pred, b, weights)
        loss = total_loss(terms, weights)
        check_finite(terms, loss, "validation")
        loss_sum += loss.item() * b.size
        n += b.size
        parts["energy"].append(((pred["energy"] - b.energy) / b.n_atoms).detach().numpy())
        if b.force_mask.any():
            d = (pred["forces"] - b.forces)[b.force_mask]
            parts["forces"].append(d.detach().numpy().ravel())
        if "stress" in pred and b.stress_mask.any():
            d = (pred["stress"] - b.stress)[b.stress_mask]
            parts["stress"].append(d.detach().numpy().ravel())
    out = {"loss": loss_sum / n}
    for key, values in parts.items():
        if values:
            d = np.concatenate(values)
            out[key + "_rmse"] = float(np.sqrt(np.mean(d * d)))
            out[key + "_mae"] = float(np.mean(np.abs(d)))
    return out


def selection_metric(name: str, val: dict, weights, train_loss: float) -> float:
    """The validation number that picks the best epoch (lower is better).

    mae: sqrt(w_E) MAE_E + sqrt(w_F) MAE_F + sqrt(w_S) MAE_S -- the loss weights applied to
    absolute errors, robust to a few outlier structures; loss: the weighted mean squared loss;
    or a single error. Without validation data: the training loss."""
    if not val:
        return train_loss
    if name == "mae":
        out = math.sqrt(weights.energy) * val["energy_mae"]
        if "forces_mae" in val:
            out += math.sqrt(weights.forces) * val["forces_mae"]
        if "stress_mae" in val:
            out += math.sqrt(weights.stress) * val["stress_mae"]
        return out
    return val[name]
