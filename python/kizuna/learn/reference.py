"""The reference of on-the-fly learning: any ASE calculator, named in the config.

    reference: emt                                   # ase.calculators.emt.EMT()
    reference: chgnet                                # CHGNet universal potential (chgnet package)
    reference: {calculator: "ase.calculators.lj:LennardJones", kwargs: {sigma: 2.3}}
    reference: {type: espresso, command: pw.x, pseudopotentials: {Si: Si.pbe-rrkj.UPF},
                ecutwfc: 24, kpts: [2, 2, 2]}       # Quantum ESPRESSO (espresso.py)
"""
from __future__ import annotations

import importlib

from ..errors import ConfigError

ALIASES = {
    "emt": "ase.calculators.emt:EMT",
    "lj": "ase.calculators.lj:LennardJones",
}


TYPES = ("espresso",)


class ReferenceFailed(RuntimeError):
    """A reference call that gave no trustworthy label (DFT: every try failed - SCF not
    converged, crashed, killed, timed out). The learner skips the structure and records the
    reasons in events.jsonl."""

    def __init__(self, message, attempts=()):
        super().__init__(message)
        self.attempts = list(attempts)  # [{"try": k, "reason": ..., "seconds": ...}, ...]


def make_reference(spec, workdir=None):
    """An ASE calculator from a name, ``module:Class`` path, {calculator, kwargs} mapping, or
    a {type: espresso, ...} mapping (``workdir``: the run folder; DFT scratch goes to
    ``workdir/dft/scratch`` unless the spec names a scratch folder)."""
    if isinstance(spec, dict) and "type" in spec:
        if spec["type"] == "espresso":
            from .espresso import make_espresso

            return make_espresso(spec, workdir)
        raise ConfigError(f"reference: unknown type {spec['type']!r}; known: {', '.join(TYPES)}")
    if isinstance(spec, dict):
        unknown = set(spec) - {"calculator", "kwargs"}
        if unknown or "calculator" not in spec:
            raise ConfigError(f"reference: expected {{calculator: <name or module:Class>, "
                              f"kwargs: {{...}}}} or {{type: espresso, ...}}, got keys "
                              f"{sorted(spec)}")
        name, kwargs = spec["calculator"], dict(spec.get("kwargs") or {})
    else:
        name, kwargs = str(spec), {}
    if name.lower() == "chgnet":
        return _chgnet(**kwargs)
    path = ALIASES.get(name.lower(), name)
    if ":" not in path:
        raise ConfigError(f"reference: unknown calculator {name!r}; use 'emt', 'chgnet' or "
                          "'package.module:ClassName'")
    module_name, class_name = path.split(":", 1)
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"reference: cannot import {path!r} ({exc})") from None
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"reference: {path}({kwargs}) failed: {exc}") from None


def _chgnet(**kwargs):
    try:
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator
    except ImportError:
        raise ConfigError("reference 'chgnet' needs the chgnet package: "
                          "pip install -c constraints.txt chgnet==0.4.2") from None
    kwargs.setdefault("use_device", "cpu")
    return CHGNetCalculator(model=CHGNet.load(verbose=False), **kwargs)
