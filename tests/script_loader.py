"""Import a script of the repository (examples/, benchmarks/) as a module, by its path."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script(path):
    """The module of the script at ``path`` (absolute, or relative to the repository root),
    executed once per call; its name is the file's stem."""
    path = Path(path)
    path = path if path.is_absolute() else ROOT / path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
