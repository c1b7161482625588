"""Descriptors of every training structure, computed once by the core, and batches of them.

Positions never change during training, so G is computed once per structure and cached
(per element: a (n_atoms_of_element, n_features) block). Forces and stress need the core's
vjp/jvp at every step; a :class:`EnginePool` runs them over the structures of a batch on several
threads (one single-threaded engine per worker, structures assigned round-robin), so results do
not depend on the number of workers.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from .engine import DescriptorEngine
from .structure import VOIGT, Structure


class EnginePool:
    """``workers`` descriptor engines (one core thread each) and a thread pool to drive them."""

    def __init__(self, elements, sfs_by_element: dict, workers: int = 1):
        self.workers = max(1, int(workers))
        self.engines = [DescriptorEngine(elements, sfs_by_element, threads=1)
                        for _ in range(self.workers)]
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None

    @property
    def engine(self) -> DescriptorEngine:
        return self.engines[0]

    def map(self, fn, items) -> list:
        """[fn(engine, item) for item in items], items split round-robin over the engines."""
        items = list(items)
        if self._pool is None or len(items) < 2:
            return [fn(self.engines[0], it) for it in items]
        out = [None] * len(items)

        def work(w):
            engine = self.engines[w]
            for k in range(w, len(items), self.workers):
                out[k] = fn(engine, items[k])

        for future in [self._pool.submit(work, w) for w in range(self.workers)]:
            future.result()
        return out

    def close(self):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


@dataclass
class Prepared:
    """A structure with its cached descriptors, grouped by element."""

    structure: Structure
    n_atoms: int
    flat_size: int
    G: dict             # element -> (n_e, n_features_e) float64 tensor
    flat_index: dict    # element -> (n_e, n_features_e) int64: position in the core's flat G
    energy: float
    forces: torch.Tensor  # (n, 3) or None
    stress: torch.Tensor  # (6,) or None


def prepare(pool: EnginePool, structures, elements) -> list:
    """Compute G of every structure (core ``descriptors``) and group it by element."""

    def one(engine, s):
        G, offsets = engine.descriptors(s)
        return G, offsets

    results = pool.map(one, structures)
    out = []
    for s, (G, offsets) in zip(structures, results):
        Gs, idx = {}, {}
        for k, e in enumerate(elements):
            atoms = np.flatnonzero(s.species == k)
            if len(atoms) == 0:
                continue
            nf = pool.engine.num_features[e]
            flat = offsets[atoms][:, None] + np.arange(nf)[None, :]
            Gs[e] = torch.from_numpy(G[flat])
            idx[e] = torch.from_numpy(flat.astype(np.int64))
        out.append(Prepared(
            structure=s, n_atoms=len(s), flat_size=int(offsets[-1]), G=Gs, flat_index=idx,
            energy=float(s.energy) if s.energy is not None else float("nan"),
            forces=None if s.forces is None else torch.as_tensor(np.asarray(s.forces, dtype=float)),
            stress=None if s.stress is None
            else torch.as_tensor(np.asarray(s.stress, dtype=float))))
    return out


class Batch:
    """Several prepared structures concatenated for one network evaluation.

    * ``G[e]``: features of every atom of element e in the batch; ``owner[e]``: its structure;
    * ``perm``: cat_e(beta_e.flatten())[perm] is beta in the core's flat layout, structure after
      structure (the layout :meth:`vjp` splits);
    * references: ``energy`` (B,), ``n_atoms`` (B,), ``forces`` (N, 3) (NaN where missing),
      ``stress`` (B, 6) with ``stress_mask`` (B,).
    """

    def __init__(self, items, elements, pool: EnginePool):
        self.items = list(items)
        self.pool = pool
        self.elements = [e for e in elements if any(e in p.G for p in self.items)]
        self.size = len(self.items)
        flat_start = np.cumsum([0] + [p.flat_size for p in self.items])
        self.flat_sizes = [p.flat_size for p in self.items]
        self.atom_counts = [p.n_atoms for p in self.items]
        self.G, self.owner, flat_parts = {}, {}, []
        for e in self.elements:
            parts = [(b, p) for b, p in enumerate(self.items) if e in p.G]
            self.G[e] = torch.cat([p.G[e] for _, p in parts])
            self.owner[e] = torch.cat([torch.full((len(p.G[e]),), b, dtype=torch.int64)
                                       for b, p in parts])
            flat_parts.append(torch.cat([(p.flat_index[e] + int(flat_start[b])).reshape(-1)
                                         for b, p in parts]))
        order = torch.cat(flat_parts) if flat_parts else torch.zeros(0, dtype=torch.int64)
        self.perm = torch.empty_like(order)
        self.perm[order] = torch.arange(len(order))
        self.energy = torch.tensor([p.energy for p in self.items], dtype=torch.float64)
        self.n_atoms = torch.tensor(self.atom_counts, dtype=torch.float64)
        self.has_forces = all(p.forces is not None for p in self.items)
        self.forces = torch.cat([p.forces if p.forces is not None
                                 else torch.full((p.n_atoms, 3), float("nan"), dtype=torch.float64)
                                 for p in self.items])
        self.force_mask = torch.cat([torch.full((p.n_atoms,), p.forces is not None)
                                     for p in self.items])
        self.stress_mask = torch.tensor([p.stress is not None for p in self.items])
        self.stress = torch.stack([p.stress if p.stress is not None
                                   else torch.zeros(6, dtype=torch.float64) for p in self.items])
        self.volume = torch.tensor([p.structure.volume if p.structure.cell is not None else 1.0
                                    for p in self.items], dtype=torch.float64)

    # ------------------------------------------------------------------ core operators
    def vjp(self, beta_flat: np.ndarray):
        """Forces (N, 3) and virials (B, 3, 3) for beta (core flat layout, batch order)."""
        chunks = np.split(beta_flat, np.cumsum(self.flat_sizes)[:-1])
        res = self.pool.map(lambda eng, k: eng.vjp(self.items[k].structure, chunks[k]),
                            range(self.size))
        return np.concatenate([r[0] for r in res]), np.stack([r[1] for r in res])

    def jvp(self, dpos: np.ndarray, dstrain: np.ndarray) -> np.ndarray:
        """dG (core flat layout, batch order) for displacements (N, 3) and strains (B, 3, 3)."""
        parts = np.split(dpos, np.cumsum(self.atom_counts)[:-1])
        res = self.pool.map(lambda eng, k: eng.jvp(self.items[k].structure, parts[k], dstrain[k]),
                            range(self.size))
        return np.concatenate(res)

    def element_of_atoms(self) -> list:
        """Element symbol of every atom of the batch, in force order."""
        out = []
        for p in self.items:
            out.extend(p.structure.symbols)
        return out


def voigt_from_virial(W: torch.Tensor, volume: torch.Tensor) -> torch.Tensor:
    """ASE stress (B, 6), eV/Å^3: sigma_ab = -W_ab / V, order xx yy zz yz xz xy (same
    components as kizuna.Calculator)."""
    rows = torch.tensor([a for a, _ in VOIGT])
    cols = torch.tensor([b for _, b in VOIGT])
    return -W[:, rows, cols] / volume[:, None]
