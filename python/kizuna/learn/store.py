"""Append-only store of labelled structures (extxyz): each structure is written and flushed to
disk (fsync) the moment the reference returns, so a crash or a kill loses nothing."""
from __future__ import annotations

import os
from pathlib import Path

from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write


class LabelledStore:
    def __init__(self, path):
        self.path = Path(path)
        self._count = (None, 0)  # ((size, mtime_ns) of the file, frames)

    def __len__(self) -> int:
        """Frames in the store; read again only when the file changed (the learner asks
        after every MD step)."""
        if not self.path.is_file():
            return 0
        stat = self.path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        if self._count[0] != key:
            self._count = (key, len(self.read()))
        return self._count[1]

    def append(self, atoms, energy, forces, stress=None, info=None) -> None:
        labelled = atoms.copy()
        labelled.calc = None
        for key in list(labelled.arrays):
            if key not in ("numbers", "positions"):
                del labelled.arrays[key]
        labelled.info = dict(info or {})
        labelled.calc = SinglePointCalculator(labelled, energy=energy, forces=forces,
                                              **({"stress": stress} if stress is not None else {}))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as handle:
            write(handle, labelled, format="extxyz")
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list:
        if not self.path.is_file():
            return []
        text = self.path.read_text()
        if not text.strip():
            return []
        # a frame cut off by a crash mid-write is dropped (it was never acknowledged)
        try:
            return read(self.path, ":", format="extxyz")
        except Exception:
            return self._read_complete_frames(text)

    def _read_complete_frames(self, text):
        import io

        lines = text.splitlines(keepends=True)
        frames, i = [], 0
        while i < len(lines):
            try:
                n = int(lines[i])
            except ValueError:
                break
            if i + 2 + n > len(lines):
                break
            chunk = "".join(lines[i:i + 2 + n])
            frames.extend(read(io.StringIO(chunk), ":", format="extxyz"))
            i += 2 + n
        return frames
