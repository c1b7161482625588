"""Structure analysis of frames (numpy + ase.neighborlist): radial distribution function,
bond-angle distribution and coordination numbers.

g(r) = n(r) / (N * rho * 4 pi r^2 dr), n(r) = pairs (i, j != i) at distance in [r, r+dr),
rho = N / V (all species together), averaged over frames.
Bond angles: for each atom, the angles between every two neighbours within ``cutoff`` (deg).
Coordination: neighbours within ``cutoff`` per atom.
"""
from __future__ import annotations

import numpy as np
from ase.neighborlist import neighbor_list


def rdf(frames, rmax: float, bins: int):
    edges = np.linspace(0.0, rmax, bins + 1)
    hist = np.zeros(bins)
    for atoms in frames:
        d = neighbor_list("d", atoms, rmax)
        h, _ = np.histogram(d, edges)
        rho = len(atoms) / atoms.get_volume()
        shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
        hist += h / (len(atoms) * rho * shell)
    r = 0.5 * (edges[1:] + edges[:-1])
    return r, hist / max(len(frames), 1)


def bond_angles(frames, cutoff: float, bins: int = 90):
    angles = []
    for atoms in frames:
        i, vec = neighbor_list("iD", atoms, cutoff)
        for a in np.unique(i):
            v = vec[i == a]
            if len(v) < 2:
                continue
            u = v / np.linalg.norm(v, axis=1)[:, None]
            cos = np.clip(u @ u.T, -1.0, 1.0)
            iu = np.triu_indices(len(u), 1)
            angles.append(np.degrees(np.arccos(cos[iu])))
    angles = np.concatenate(angles) if angles else np.zeros(0)
    edges = np.linspace(0.0, 180.0, bins + 1)
    h, _ = np.histogram(angles, edges, density=True)
    return 0.5 * (edges[1:] + edges[:-1]), h


def coordination(frames, cutoff: float):
    """(mean coordination, histogram {n: fraction})."""
    counts = []
    for atoms in frames:
        i = neighbor_list("i", atoms, cutoff)
        counts.append(np.bincount(i, minlength=len(atoms)))
    counts = np.concatenate(counts)
    values, number = np.unique(counts, return_counts=True)
    return float(counts.mean()), {int(v): float(c / counts.size) for v, c in zip(values, number)}
