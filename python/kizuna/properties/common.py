"""Shared pieces of the property suite: a calculator wrapper that records what the model saw
(extrapolating atoms, committee spread) while a property is computed, and relaxations.

Units: eV, Å, eV/Å, eV/Å^3 (ASE's stress), GPa only in reports.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from ase.calculators.calculator import Calculator, all_changes


@dataclass
class Watch:
    """What one calculator saw during one property: calls, the most atoms extrapolating in one
    call, calls with any, and the largest committee spreads (None for a plain calculator)."""
    calls: int = 0
    max_extrapolating: int = 0
    atoms_at_max: int = 0                          # atoms of the structure of that call
    calls_extrapolating: int = 0
    max_energy_std_per_atom: float | None = None   # eV/atom, committee energy spread / N
    max_force_deviation: float | None = None       # eV/Å, largest per-atom force spread
    # (fraction, calls): stop when more than fraction x atoms extrapolate in this many
    # consecutive calls (MD properties set it for the model; None: never)
    guard: tuple | None = None
    run: int = 0

    def update(self, results: dict, natoms: int) -> None:
        self.calls += 1
        n = results.get("num_extrapolating")
        if n is not None and self.guard is not None:
            fraction, calls = self.guard
            self.run = self.run + 1 if int(n) > fraction * natoms else 0
            if self.run >= calls:
                raise RuntimeError(
                    f"the model's MD left its training range: {int(n)} of {natoms} atoms "
                    f"extrapolating, more than {fraction:g} of them for {calls} consecutive "
                    f"steps (stopped after {self.calls} calls). Learn this region (kizuna learn) "
                    "or set stop_extrapolating: null to go on regardless")
        if n is not None:
            if int(n) > self.max_extrapolating or self.atoms_at_max == 0:
                self.max_extrapolating, self.atoms_at_max = int(n), natoms
            self.calls_extrapolating += int(n) > 0
        std = results.get("energy_std")
        if std is not None:
            v = float(std) / max(natoms, 1)
            self.max_energy_std_per_atom = max(self.max_energy_std_per_atom or 0.0, v)
        dev = results.get("max_force_deviation")
        if dev is not None:
            self.max_force_deviation = max(self.max_force_deviation or 0.0, float(dev))

    def merge(self, other: "Watch") -> None:
        """Add what ``other`` saw (e.g. a worker process's watch) to this one."""
        self.calls += other.calls
        self.calls_extrapolating += other.calls_extrapolating
        if other.max_extrapolating > self.max_extrapolating or self.atoms_at_max == 0:
            self.max_extrapolating, self.atoms_at_max = other.max_extrapolating, \
                other.atoms_at_max
        for key in ("max_energy_std_per_atom", "max_force_deviation"):
            mine, theirs = getattr(self, key), getattr(other, key)
            if theirs is not None:
                setattr(self, key, theirs if mine is None else max(mine, theirs))

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("guard", "run")}


def guard_md(calc, cfg: dict) -> None:
    """Arm the extrapolation stop of an MD property (``stop_extrapolating``,
    ``stop_patience``) on a watched calculator (a reference never reports extrapolation)."""
    watch = getattr(calc, "watch", None)
    if watch is not None and cfg.get("stop_extrapolating") is not None:
        watch.guard = (cfg["stop_extrapolating"], cfg["stop_patience"])


class Watched(Calculator):
    """Forwards every calculation to ``inner`` (any ASE calculator) and records, per call, the
    kizuna extras of ``inner.results`` in ``self.watch``. One inner calculator serves all
    structures of a property (NEB images included): results are recomputed when atoms change.
    kizuna's ExtrapolationWarning is silenced here: the count is in the report instead."""

    def __init__(self, inner, name: str = "model"):
        super().__init__()
        self.inner = inner
        self.side = name
        self.implemented_properties = list(getattr(inner, "implemented_properties",
                                                   ["energy", "forces", "stress"]))
        if "free_energy" not in self.implemented_properties:
            self.implemented_properties.append("free_energy")
        self.watch = Watch()

    def reset_watch(self) -> Watch:
        self.watch = Watch()
        return self.watch

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        from ..calculator import ExtrapolationWarning

        work = self.atoms.copy()
        work.calc = self.inner
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtrapolationWarning)
            for prop in properties:
                if prop == "free_energy":
                    self.results[prop] = work.get_potential_energy(force_consistent=False)
                    continue
                self.results[prop] = self.inner.get_property(prop, work)
            if "energy" not in self.results:
                self.results["energy"] = self.inner.get_property("energy", work)
        self.results.setdefault("free_energy", self.results["energy"])
        self.watch.update(self.inner.results, len(work))


def relax_positions(atoms, fmax: float = 0.005, steps: int = 500):
    """Relax ionic positions at fixed cell (BFGS, |F| < fmax eV/Å). Returns the number of steps;
    raises RuntimeError when not converged."""
    from ase.optimize import BFGS

    if len(atoms) < 2:
        return 0
    opt = BFGS(atoms, logfile=None)
    if not opt.run(fmax=fmax, steps=steps):
        fnow = float(np.max(np.linalg.norm(atoms.get_forces(), axis=1)))
        raise RuntimeError(f"ionic relaxation not converged in {steps} steps "
                           f"(max force {fnow:.3g} eV/Å > {fmax})")
    return opt.nsteps


def relax_cell(atoms, fmax: float = 0.005, steps: int = 500):
    """Relax positions and cell (FrechetCellFilter, hydrostatic + shear; |F| < fmax eV/Å and
    stress*V/N comparably small)."""
    from ase.optimize import BFGS

    try:
        from ase.filters import FrechetCellFilter as CellFilter
    except ImportError:  # ase < 3.23
        from ase.constraints import ExpCellFilter as CellFilter
    opt = BFGS(CellFilter(atoms), logfile=None)
    if not opt.run(fmax=fmax, steps=steps):
        raise RuntimeError(f"cell relaxation not converged in {steps} steps (fmax {fmax} eV/Å)")
    return opt.nsteps
