"""Python front of the compiled core: :class:`Potential` evaluates a model on a structure."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import _core
from .errors import InputError, NumericalError
from .model import Model
from .model_io import (model_from_string, model_to_string, note_missing_checksum,
                       read_model_text)

#: LAMMPS/core virial order -> index: xx yy zz xy xz yz
VIRIAL_ORDER = ("xx", "yy", "zz", "xy", "xz", "yz")


def _as_model(model) -> tuple:
    """(python Model, model text, source name) from a path, a Model or a model text."""
    if isinstance(model, Model):
        return model, model_to_string(model), "<model>"
    if isinstance(model, str) and model.startswith("kizuna-model"):
        return model_from_string(model), model, "<string>"
    if isinstance(model, (str, Path)) and Path(model).exists():
        path = Path(model)
        text = read_model_text(path)  # the same text goes to both readers
        m = model_from_string(text, str(path))
        note_missing_checksum(m, path)
        return m, text, str(path)
    raise InputError(f"model must be a kizuna model file, a Model or model text; got {model!r} "
                     "(file not found?)")


class Potential:
    """A kizuna model compiled for evaluation.

    >>> pot = Potential("water.kzn", threads=1)
    >>> out = pot.compute(positions, ["O", "H", "H"], cell=None)   # open system
    >>> out["energy"], out["forces"]

    ``device="cuda"`` evaluates on a GPU (``device_id`` picks one, default 0), with
    ``precision="float64"`` (default) or ``"float32"`` (float arithmetic, float64 sums); it
    raises :class:`~kizuna.errors.UnsupportedError` when this build has no CUDA backend
    (``kizuna._core.has_cuda``) or no GPU is usable. On the GPU, ``compute``, ``descriptors``
    and ``vjp`` run there; ``jvp`` (training) is CPU-only. ``threads`` only concerns the CPU
    (and the neighbour list, which is always built on the CPU).
    """

    def __init__(self, model, threads: int = 0, device: str = "cpu", precision: str = "float64",
                 device_id: int = -1):
        if device not in ("cpu", "cuda"):
            raise InputError(f"device must be 'cpu' or 'cuda', got {device!r}")
        if precision not in ("float64", "float32"):
            raise InputError(f"precision must be 'float64' or 'float32', got {precision!r}")
        self.model, text, source = _as_model(model)
        self.source = source  # the model's file name (or "<model>", "<string>"), for messages
        self._core_model = _core.Model.parse(text, source)
        self._core = _core.Potential(self._core_model, threads, device, precision, device_id)
        self.elements = list(self.model.elements)
        self._index = {e: i for i, e in enumerate(self.elements)}

    @property
    def cutoff(self) -> float:
        return self.model.cutoff

    @property
    def device(self) -> str:
        """'cpu' or 'cuda'."""
        return self._core.device

    @property
    def precision(self) -> str:
        """'float64' or 'float32' (CUDA only)."""
        return self._core.precision

    @property
    def device_name(self) -> str:
        """'cpu', or the GPU's name and ordinal."""
        return self._core.device_name

    @property
    def threads(self) -> int:
        return self._core.threads

    @threads.setter
    def threads(self, n: int):
        self._core.threads = int(n)

    def species(self, symbols) -> np.ndarray:
        """Element symbols (or atomic numbers) -> model species indices; unknown elements raise."""
        from ase.data import chemical_symbols

        out = np.empty(len(symbols), dtype=np.int32)
        for i, s in enumerate(symbols):
            if not isinstance(s, str):
                s = chemical_symbols[int(s)]
            idx = self._index.get(s)
            if idx is None:
                raise InputError(f"atom {i} is {s}, which this model does not know; the model's "
                                 f"elements are {self.elements}")
            out[i] = idx
        return out

    def compute(self, positions, symbols, cell=None, pbc=False, *, forces=True, virial=False,
                atom_energies=False, atom_virials=False, member_energies=False,
                extrapolation_flags=False, member_forces=False) -> dict:
        """Energy (eV) and, as asked, forces (eV/Å), virial (eV, order xx yy zz xy xz yz:
        W = -sum r_ij (x) dE/dr_ij), per-atom energies and virials, committee member energies,
        per-atom extrapolation flags. ``num_extrapolating`` counts atoms with a feature outside
        the training range stored in the model. For committees, ``member_forces=True`` adds
        ``member_forces`` (M, n, 3), ``force_std`` (n,) = sqrt(mean_m |F_m - <F>|^2) and
        ``max_force_deviation`` (eV/Å); the forces are then the members' mean.

        A non-finite energy (of any atom or in total), virial or force raises
        :class:`~kizuna.errors.NumericalError` naming the model: the model overflows on this
        structure and its numbers must not be used."""
        positions = np.ascontiguousarray(positions, dtype=np.float64)
        species = self.species(symbols)
        if cell is not None:
            cell = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3)
        try:
            out = self._core.compute(positions, species, cell, pbc, forces, virial,
                                     atom_energies, atom_virials, member_energies,
                                     extrapolation_flags, member_forces)
        except NumericalError as exc:
            raise NumericalError(f"model {self.source}: {exc}") from None
        if forces and not np.isfinite(out["forces"]).all():
            bad = np.flatnonzero(~np.isfinite(out["forces"]).all(axis=1))
            raise NumericalError(f"model {self.source}: the forces on {bad.size} atom(s) are not "
                                 f"finite (e.g. atoms {bad[:10].tolist()}): the model overflows "
                                 "on this structure")
        return out

    def compute_atoms(self, atoms, **kwargs) -> dict:
        """:meth:`compute` for an ``ase.Atoms``."""
        return self.compute(atoms.positions, atoms.get_chemical_symbols(),
                            np.asarray(atoms.cell), atoms.pbc.tolist(), **kwargs)

    # ------------------------------------------------------------------ training operators
    # Features of atom i are G[offsets[i]:offsets[i+1]] (its element's symmetry functions).
    def descriptors(self, positions, species, cell=None, pbc=False):
        """(G, offsets): the symmetry functions of every atom, concatenated."""
        return self._core.descriptors(*self._args(positions, species, cell), pbc)

    def vjp(self, positions, species, cell, pbc, beta):
        """(forces, virial 3x3) for a given beta = dE/dG (laid out like G):
        forces = -sum_i beta_i . dG_i/dx, virial W = -sum r_ij (x) dE/dr_ij."""
        return self._core.vjp(*self._args(positions, species, cell), pbc,
                              np.ascontiguousarray(beta, dtype=np.float64))

    def jvp(self, positions, species, cell, pbc, dpos=None, dstrain=None):
        """dG along atom displacements dpos (n, 3) and/or a strain dstrain (3x3,
        dr_ij = dstrain . r_ij)."""
        return self._core.jvp(*self._args(positions, species, cell), pbc, dpos, dstrain)

    @staticmethod
    def _args(positions, species, cell):
        positions = np.ascontiguousarray(positions, dtype=np.float64)
        species = np.ascontiguousarray(species, dtype=np.int32)
        if cell is not None:
            cell = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3)
        return positions, species, cell
