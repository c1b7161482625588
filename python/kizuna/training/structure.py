"""Labelled structures for training and their validation.

Units (converted by the readers, never later): positions and cell Å, energy eV (total),
forces eV/Å, stress eV/Å^3 in ASE's convention and Voigt order xx yy zz yz xz xy,
sigma = (1/V) dE/d(strain) (positive = tensile; VASP prints the opposite sign, in kBar).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

#: ASE Voigt order xx yy zz yz xz xy as (row, column) of the 3x3 tensor
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


class DataWarning(UserWarning):
    """A structure was skipped (``on_error: skip``)."""


@dataclass
class Structure:
    """One labelled structure. ``name`` locates it for messages (``file#index``)."""

    symbols: list
    positions: np.ndarray          # (n, 3) Å
    cell: np.ndarray = None        # (3, 3) Å, rows = lattice vectors; None for open systems
    pbc: tuple = (False, False, False)
    energy: float = None           # eV, total
    forces: np.ndarray = None      # (n, 3) eV/Å
    stress: np.ndarray = None      # (6,) eV/Å^3, ASE Voigt order and sign
    name: str = "<structure>"
    species: np.ndarray = None     # model species index of each atom (set by bind())

    def __len__(self):
        return len(self.symbols)

    @property
    def volume(self) -> float:
        return abs(float(np.linalg.det(self.cell))) if self.cell is not None else float("nan")

    @property
    def periodic(self) -> bool:
        return self.cell is not None and all(self.pbc)

    def bind(self, elements, training=True) -> None:
        """Set ``species`` (index into ``elements``); unknown elements raise DataError (the
        advice differs for training data and for data a finished model is evaluated on)."""
        index = {e: i for i, e in enumerate(elements)}
        try:
            self.species = np.array([index[s] for s in self.symbols], dtype=np.int32)
        except KeyError as exc:
            advice = ("add it to model.elements or remove this structure" if training else
                      "this model cannot evaluate it: leave such structures out of the data, "
                      "or use (train) a model that has this element")
            raise DataError(f"{self.name}: element {exc.args[0]} is not in the model's elements "
                            f"{list(elements)}; {advice}") from None

    def to_atoms(self):
        from ase import Atoms

        return Atoms(self.symbols, positions=self.positions, cell=self.cell,
                     pbc=self.pbc if self.cell is not None else False)


def check_structure(s: Structure, *, need_energy=True, need_forces=True,
                    min_distance=0.5) -> None:
    """Raise DataError naming the structure and the fix if ``s`` is unusable for training."""
    n = len(s.symbols)
    if n == 0:
        raise DataError(f"{s.name}: structure has no atoms")
    pos = np.asarray(s.positions, dtype=float)
    if pos.shape != (n, 3):
        raise DataError(f"{s.name}: {n} element symbols but positions of shape {pos.shape} "
                        "(inconsistent atom counts)")
    if not np.all(np.isfinite(pos)):
        raise DataError(f"{s.name}: non-finite (NaN/inf) positions")
    if s.cell is not None:
        cell = np.asarray(s.cell, dtype=float)
        if cell.shape != (3, 3) or not np.all(np.isfinite(cell)):
            raise DataError(f"{s.name}: cell must be a finite 3x3 array, got {cell.shape}")
        if any(s.pbc) and abs(np.linalg.det(cell)) < 1e-8:
            raise DataError(f"{s.name}: periodic cell has zero volume")
    if need_energy:
        if s.energy is None:
            raise DataError(f"{s.name}: no energy (the loss uses energies); label it or set "
                            "data.on_error: skip")
        if not np.isfinite(s.energy):
            raise DataError(f"{s.name}: energy is {s.energy}")
    if s.forces is None:
        if need_forces:
            raise DataError(f"{s.name}: no forces (the loss weights forces); give forces, set "
                            "loss.forces_weight: 0, or data.on_error: skip")
    else:
        f = np.asarray(s.forces, dtype=float)
        if f.shape != (n, 3):
            raise DataError(f"{s.name}: {n} atoms but forces of shape {f.shape} (inconsistent "
                            "atom counts)")
        if not np.all(np.isfinite(f)):
            bad = int(np.argwhere(~np.isfinite(f))[0][0])
            raise DataError(f"{s.name}: non-finite force on atom {bad}")
    if s.stress is not None:
        st = np.asarray(s.stress, dtype=float)
        if st.shape != (6,) or not np.all(np.isfinite(st)):
            raise DataError(f"{s.name}: stress must be 6 finite numbers (Voigt xx yy zz yz xz "
                            f"xy, eV/Å^3), got {st}")
        if not s.periodic:
            raise DataError(f"{s.name}: stress given for a non-periodic structure")
    if min_distance > 0 and n > 1:
        _check_distances(s, pos, min_distance)


def closest_pair_below(atoms, min_distance):
    """(i, j, distance in Å) of the first atom i with a neighbour j closer than
    ``min_distance`` (periodic images included), or None. ``atoms``: an ase.Atoms."""
    pos = np.ascontiguousarray(atoms.get_positions(), dtype=float)
    if min_distance <= 0 or len(pos) < 2:
        return None
    periodic = bool(np.any(atoms.pbc))
    return _closest_pair(pos, np.ascontiguousarray(atoms.cell.array, dtype=float)
                         if periodic else None, list(atoms.pbc) if periodic else False,
                         min_distance)


def _closest_pair(pos, cell, pbc, min_distance):
    from .. import _core

    offsets, indices, shifts = _core.neighbor_list(np.ascontiguousarray(pos), cell, pbc,
                                                   float(min_distance))
    if not len(indices):
        return None
    first = int(np.argmax(np.diff(offsets) > 0))  # first atom with a too-close neighbour
    k = int(offsets[first])
    j = int(indices[k])
    return first, j, float(np.linalg.norm(pos[j] + shifts[k] - pos[first]))


def _check_distances(s: Structure, pos, min_distance) -> None:
    cell = None if s.cell is None else np.ascontiguousarray(s.cell, dtype=float)
    pbc = list(s.pbc) if cell is not None else False
    pair = _closest_pair(pos, cell, pbc, min_distance)
    if pair is not None:
        first, j, d = pair
        raise DataError(f"{s.name}: atoms {first} and {j} are {d:.4f} Å apart (closer than "
                        f"data.min_distance = {min_distance} Å; atoms on top of each other?)")


def validate_all(structures, *, on_error="raise", **kwargs) -> list:
    """Check every structure; ``on_error='skip'`` drops bad ones with a DataWarning."""
    good = []
    for s in structures:
        try:
            check_structure(s, **kwargs)
        except DataError as exc:
            if on_error == "raise":
                raise
            warnings.warn(f"skipped: {exc}", DataWarning, stacklevel=2)
            continue
        good.append(s)
    return good
