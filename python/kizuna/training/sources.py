"""Data sources of a training config -> validated structures, and the seeded split."""
from __future__ import annotations

import hashlib

import numpy as np

from ..errors import DataError
from .readers import read_structures
from .structure import validate_all


def load_sources(sources: list, *, on_error="raise", min_distance=0.5, need_energy=True,
                 need_forces=True, max_structures=None) -> list:
    """Read every source (config ``data.train`` / ``data.test`` entries) and check each
    structure (errors name the structure; ``on_error='skip'`` drops bad ones with a warning)."""
    out = []
    for src in sources:
        out += read_structures(src["path"], format=src["format"], index=src["index"],
                               length_unit=src["length_unit"], energy_unit=src["energy_unit"],
                               energy_key=src["energy_key"], forces_key=src["forces_key"],
                               stress_key=src["stress_key"], type_map=src["type_map"],
                               use_stress=src["use_stress"])
    if max_structures is not None:
        out = out[:max_structures]
    return validate_all(out, on_error=on_error, need_energy=need_energy, need_forces=need_forces,
                        min_distance=min_distance)


def split_indices(n: int, validation_fraction: float, test_fraction: float, seed: int):
    """(train, validation, test) index arrays: a seeded permutation of the structures, cut by
    fractions (rounded down; at least one validation structure when the fraction is > 0)."""
    perm = np.random.default_rng([seed, 2**31 - 1]).permutation(n)
    n_val = max(1, int(n * validation_fraction)) if validation_fraction > 0 else 0
    n_test = max(1, int(n * test_fraction)) if test_fraction > 0 else 0
    if n - n_val - n_test < 1:
        raise DataError(f"{n} structures are too few for validation_fraction "
                        f"{validation_fraction} and test_fraction {test_fraction}")
    val, test, train = perm[:n_val], perm[n_val:n_val + n_test], perm[n_val + n_test:]
    return np.sort(train), np.sort(val), np.sort(test)


def data_hash(structures) -> str:
    """sha256 (first 16 hex digits) of symbols, positions, cells, energies, forces, stresses."""
    h = hashlib.sha256()
    for s in structures:
        h.update(" ".join(s.symbols).encode())
        for a in (s.positions, s.cell, s.forces, s.stress):
            if a is not None:
                h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        h.update(np.float64(np.nan if s.energy is None else s.energy).tobytes())
    return h.hexdigest()[:16]


def elements_of(structures) -> list:
    """Elements present, ordered by atomic number."""
    from ase.data import atomic_numbers

    return sorted({e for s in structures for e in s.symbols}, key=lambda e: atomic_numbers[e])
