"""Shared pieces of the property suite: a calculator wrapper that records what the model saw
(extrapolating atoms, committee spread) while a property is computed, and relaxations.

Units: eV, Å, eV/Å, eV/Å^3 (ASE's stress), GPa only in reports.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

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
    # the close-pair guard of an MD property (DistanceGuard; None: no check) and the close
    # pairs it let pass with min_distance_action: warn (dicts, the first MAX_EVENTS)
    distance: "DistanceGuard | None" = None
    close_pairs: list = field(default_factory=list)
    close_checks: int = 0
    close_found: int = 0

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
        self.close_checks += other.close_checks
        self.close_found += other.close_found
        self.close_pairs = (self.close_pairs + other.close_pairs)[:MAX_EVENTS]
        for key in ("max_energy_std_per_atom", "max_force_deviation"):
            mine, theirs = getattr(self, key), getattr(other, key)
            if theirs is not None:
                setattr(self, key, theirs if mine is None else max(mine, theirs))

    def check_distances(self, atoms, where: str, step: int) -> None:
        """The close-pair guard on one MD frame (no-op when not armed); see DistanceGuard."""
        if self.distance is None:
            return
        self.close_checks += 1
        event = self.distance.check(atoms, where, step)
        if event is None:
            return
        if not self.close_pairs:  # warn: once, the later ones only in the record
            i, j = event["atoms"]
            warnings.warn(f"{self.distance.name}: atoms {i} and {j} are "
                          f"{event['distance_A']:.3f} Å apart in {where} at step {step} "
                          f"(min_distance {self.distance.min_distance:.3f} Å); going on "
                          "(min_distance_action: warn; this and later close pairs are in "
                          "results.json, watch.min_distance)", RuntimeWarning, stacklevel=2)
        self.close_found += 1
        if len(self.close_pairs) < MAX_EVENTS:
            self.close_pairs.append(event)

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items()
               if k not in ("guard", "run", "distance", "close_pairs", "close_checks",
                            "close_found")}
        if self.distance is not None:
            out["min_distance"] = {"threshold_A": self.distance.min_distance,
                                   "source": self.distance.source,
                                   "action": self.distance.action,
                                   "checks": self.close_checks,
                                   "frames_close": self.close_found,
                                   "close_pairs": list(self.close_pairs)}
        return out


MAX_EVENTS = 20
# min_distance: auto = this fraction of the closest pair of the start structure (the relaxed
# input cell every property starts from). Liquids stay well above it (liquid Si and Cu near
# their melting points: g(r) starts at ~0.8 x the crystal's nearest-neighbour distance);
# two atoms fused into a hole of the model fall below it (a-Si: 1.39 Å = 0.59 x 2.35 Å)
AUTO_FRACTION = 0.65


def closest_pair(atoms, cutoff: float):
    """(i, j, distance Å) of the closest pair closer than ``cutoff`` (periodic images
    included; ASE's neighbour list, wrapped positions), or None."""
    from ase.neighborlist import neighbor_list

    if len(atoms) < 2 and not atoms.pbc.any():
        return None
    i, j, d = neighbor_list("ijd", atoms, float(cutoff))
    if not len(d):
        return None
    k = int(np.argmin(d))
    return int(i[k]), int(j[k]), float(d[k])


@dataclass
class DistanceGuard:
    """Stop (or warn about) MD frames with two atoms closer than ``min_distance`` Å: a pair
    fused in a hole of the model, which the extrapolation count can miss (the fused pair's
    features may stay inside the training range)."""
    name: str            # the property
    min_distance: float  # Å
    action: str          # stop | warn
    source: str          # how min_distance was chosen (for the message)

    def check(self, atoms, where: str, step: int):
        """None when every pair is at least min_distance apart; else the event (warn) or a
        RuntimeError (stop)."""
        pair = closest_pair(atoms, self.min_distance)
        if pair is None:
            return None
        i, j, d = pair
        event = {"where": where, "step": int(step), "atoms": [i, j], "distance_A": d}
        if self.action == "warn":
            return event
        raise RuntimeError(
            f"{self.name}: the model's MD fused atoms {i} and {j} ({atoms[i].symbol}-"
            f"{atoms[j].symbol}), {d:.3f} Å apart, closer than min_distance = "
            f"{self.min_distance:.3f} Å ({self.source}), in {where} at step {step}: the model "
            "has no repulsion there and its training data no such structure. Label this "
            "region with kizuna learn (an MD stage at this temperature), then validate the "
            "new model; or set min_distance_action: warn to go on (min_distance: null: no "
            "check)")


def distance_guard(name: str, cfg: dict, start) -> DistanceGuard | None:
    """The close-pair guard of an MD property from its ``min_distance`` (auto: AUTO_FRACTION
    x the closest pair of ``start``, the structure the property starts from; a number: Å;
    null: none) and ``min_distance_action`` (stop | warn)."""
    value = cfg.get("min_distance", "auto")
    if value is None:
        return None
    if value == "auto":
        pair = closest_pair(start, 6.0)
        if pair is None:  # no neighbour within 6 Å: nothing to compare with
            return None
        value = AUTO_FRACTION * pair[2]
        source = f"auto: {AUTO_FRACTION} x {pair[2]:.3f} Å, the start structure's closest pair"
    else:
        value = float(value)
        source = "min_distance"
    return DistanceGuard(name, value, cfg.get("min_distance_action", "stop"), source)


def guard_md(calc, cfg: dict, name: str = "md", start=None, side: str = "model") -> None:
    """Arm the guards of an MD property on a watched calculator: the extrapolation stop
    (``stop_extrapolating``, ``stop_patience``; a reference never reports extrapolation) and,
    for the model's side with a ``start`` structure, the close-pair guard (``min_distance``,
    ``min_distance_action``)."""
    watch = getattr(calc, "watch", None)
    if watch is not None and cfg.get("stop_extrapolating") is not None:
        watch.guard = (cfg["stop_extrapolating"], cfg["stop_patience"])
    if watch is not None and side == "model" and start is not None:
        watch.distance = distance_guard(name, cfg, start)


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
