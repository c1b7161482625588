"""Atomic checkpoints: written to a temporary file, flushed to disk, then renamed over the old
one, so a kill at any moment leaves either the previous or the new checkpoint, never a torn one.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import DataError


def save_checkpoint(path, state: dict) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_checkpoint(path) -> dict:
    try:
        return torch.load(Path(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch raises several kinds for bad files
        raise DataError(f"{path}: cannot read the checkpoint ({type(exc).__name__}: {exc}); "
                        "delete it or start again with --restart") from None


def rng_state() -> dict:
    import random

    import numpy as np

    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    import random

    import numpy as np

    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
