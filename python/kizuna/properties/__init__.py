"""Property suite: a model and a reference side by side (`kizuna validate CONFIG.yaml`).

    from kizuna.properties import validate
    results = validate("examples/validate/cu_emt.yaml")      # also writes report.md + PNGs

One module per property (``eos``, ``elastic``, ``phonons``, ``vacancy``, ``neb``, ``surface``,
``meltquench``, ``diffusion``), each with ``compute(atoms, calc, cfg, relax)`` usable on its
own with any ASE calculator; ``analysis`` holds RDF / bond angles / coordination;
``report`` writes the Markdown report. docs/validate.md is the guide.
"""
from .suite import MODULES, run_suite, validate

__all__ = ["MODULES", "run_suite", "validate"]
