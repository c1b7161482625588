"""Training-set statistics: feature scaling, reference energies, energy scale.

* Feature statistics per element and symmetry function: min, max, mean, sigma (population
  standard deviation) over all training atoms of the element -- stored in the model
  (``stat`` lines), they define the scaling and the extrapolation range.
* Reference energies mu_Z (eV/atom) by least squares from composition:
      min_mu  sum_s (E_s - sum_Z n_sZ mu_Z)^2
  (the minimum-norm solution when compositions are collinear, e.g. a single element).
* Energy scale (eV): the RMS force component times 1 Å when the data have forces, else the
  standard deviation of the per-atom residual (E_s - sum_Z n_sZ mu_Z) / N_s. Forces are
  energy_scale * dNN/dx, so with O(1) features and weights the networks start with forces
  (or energies) of the right size.
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..model import Scaling


def feature_statistics(prepared, elements) -> dict:
    """element -> (min, max, mean, sigma) arrays over the training atoms of that element."""
    out = {}
    for e in elements:
        blocks = [p.G[e].numpy() for p in prepared if e in p.G]
        if not blocks:
            raise DataError(f"no training atom of element {e}; remove it from model.elements "
                            "or add data containing it")
        G = np.concatenate(blocks)
        out[e] = (G.min(0), G.max(0), G.mean(0), G.std(0))
    return out


def make_scaling(stats, mode: str, smin: float, smax: float) -> Scaling:
    lo, hi, mean, sigma = stats
    return Scaling(mode, float(smin), float(smax), lo.copy(), hi.copy(), mean.copy(), sigma.copy())


def composition_matrix(structures, elements) -> np.ndarray:
    C = np.zeros((len(structures), len(elements)))
    for s, row in zip(structures, C):
        for k in range(len(elements)):
            row[k] = np.count_nonzero(s.species == k)
    return C


def fit_reference_energies(structures, elements) -> dict:
    """mu_Z (eV/atom) by least squares over the training structures' total energies."""
    C = composition_matrix(structures, elements)
    E = np.array([s.energy for s in structures], dtype=float)
    mu, *_ = np.linalg.lstsq(C, E, rcond=None)
    return {e: float(m) for e, m in zip(elements, mu)}


def energy_scale(structures, elements, reference: dict, floor=1e-3) -> float:
    """RMS force component x 1 Å (eV) if every structure has forces, else the standard
    deviation of (E_s - sum_Z n_sZ mu_Z) / N_s (eV/atom); at least ``floor``."""
    if structures and all(s.forces is not None for s in structures):
        f = np.concatenate([np.asarray(s.forces).ravel() for s in structures])
        return float(max(np.sqrt(np.mean(f * f)), floor))
    C = composition_matrix(structures, elements)
    mu = np.array([reference[e] for e in elements])
    E = np.array([s.energy for s in structures], dtype=float)
    n = C.sum(1)
    return float(max(np.std((E - C @ mu) / n), floor))
