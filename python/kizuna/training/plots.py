"""PNG learning curves and parity plots (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curves(rows: list, path) -> Path:
    """Energy and force RMSE (train, validation) per epoch, log scale."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    epoch = np.array([int(r["epoch"]) for r in rows])

    def column(name):
        return np.array([float(r[name]) if r[name] not in ("", None) else np.nan for r in rows])

    for ax, (label, train, val) in zip(axes, [
            ("energy RMSE (meV/atom)", "train_energy_rmse_meV_atom", "val_energy_rmse_meV_atom"),
            ("force RMSE (eV/Å)", "train_forces_rmse_eV_A", "val_forces_rmse_eV_A")]):
        ax.plot(epoch, column(train), label="train (running)")
        ax.plot(epoch, column(val), label="validation")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parity(predictions: dict, path, title="") -> Path:
    """Energy per atom and force components (one panel per element), predicted vs reference,
    for each data set in ``predictions`` ({'train': Predictions, 'test': ...})."""
    plt = _plt()
    elements = sorted(set().union(*[set(p.force_elements.tolist()) for p in predictions.values()
                                    if p.force_elements is not None]))
    n = 1 + len(elements)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4))
    axes = np.atleast_1d(axes)
    for name, p in predictions.items():
        ok = np.isfinite(p.energy_ref)
        axes[0].scatter(p.energy_ref[ok] / p.n_atoms[ok], p.energy[ok] / p.n_atoms[ok], s=8,
                        label=name, alpha=0.7)
        for ax, e in zip(axes[1:], elements):
            if p.forces is None:
                continue
            m = p.force_elements == e
            ax.scatter(p.forces_ref[m].ravel(), p.forces[m].ravel(), s=3, label=name, alpha=0.5)
    axes[0].set_xlabel("reference energy (eV/atom)")
    axes[0].set_ylabel("predicted energy (eV/atom)")
    for ax, e in zip(axes[1:], elements):
        ax.set_xlabel(f"reference force on {e} (eV/Å)")
        ax.set_ylabel(f"predicted force on {e} (eV/Å)")
    for ax in axes:
        lo, hi = ax.get_xlim()
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.7)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
