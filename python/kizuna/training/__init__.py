"""Training kizuna models on DFT data (energies, forces, stress).

The compiled core computes the symmetry functions and their derivatives (descriptors, vjp,
jvp); torch owns only the per-element networks and the optimiser. Entry points:

* :func:`train` -- ``kizuna train config.yaml``: data -> split -> symmetry functions -> fit ->
  checkpoints -> exported model, metrics and plots;
* :func:`export` -- a run folder or checkpoint -> model file;
* :func:`evaluate` -- a model on labelled data: MAE/RMSE per element, parity plots.

See docs/training.md and examples/training/si.yaml.
"""
from .api import evaluate, export, model_from_checkpoint, train  # noqa: F401
from .config import load_config, validate_config  # noqa: F401
from .readers import read_structures  # noqa: F401
from .structure import Structure  # noqa: F401
from .symmetry import SymmetryFunctionSpec, generate_symmetry_functions  # noqa: F401
