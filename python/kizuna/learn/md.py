"""Molecular dynamics for on-the-fly learning (ASE): start structures, stages, snapshots."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase import units
from ase.constraints import FixCom
from ase.io import read, write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet

from ..errors import ConfigError


def start_structure(cfg: dict):
    s = cfg["structure"]
    if s["file"]:
        try:
            atoms = read(s["file"])
        except Exception as exc:  # ASE raises many types for unreadable files
            raise ConfigError(f"structure.file {s['file']}: cannot read it ({exc})") from None
    else:
        from ase.build import bulk

        try:
            atoms = bulk(**s["bulk"])
        except TypeError as exc:
            raise ConfigError(f"structure.bulk {s['bulk']}: {exc}") from None
    repeat = s["repeat"]
    if not (isinstance(repeat, (list, tuple)) and len(repeat) == 3
            and all(isinstance(r, int) and r >= 1 for r in repeat)):
        raise ConfigError(f"structure.repeat must be three integers >= 1, got {repeat!r}")
    atoms = atoms.repeat(tuple(repeat))
    atoms.calc = None
    return atoms


def stage_structure(base, stage: dict, seed: int):
    """The start structure of a stage: strained isotropically, with vacancies (seeded)."""
    atoms = base.copy()
    if stage["strain"]:
        atoms.set_cell(atoms.cell * (1.0 + stage["strain"]), scale_atoms=True)
    if stage["vacancies"]:
        species = stage.get("vacancy_species")
        missing = sorted(set(species or ()) - set(atoms.get_chemical_symbols()))
        if missing:
            raise ConfigError(f"md.stages: vacancy_species {', '.join(missing)}: not in the "
                              f"structure (its elements: "
                              f"{', '.join(sorted(set(atoms.get_chemical_symbols())))})")
        pool = (np.arange(len(atoms)) if not species else
                np.flatnonzero(np.isin(atoms.get_chemical_symbols(), species)))
        if stage["vacancies"] >= len(pool):
            what = f"{'/'.join(species)} atoms" if species else "atoms"
            raise ConfigError(f"md.stages: {stage['vacancies']} vacancies in a structure of "
                              f"{len(pool)} {what}")
        rng = np.random.default_rng(seed)
        del atoms[sorted(rng.choice(pool, stage["vacancies"], replace=False).tolist())]
    return atoms


def stage_temperature(stage: dict, step: int) -> float:
    """The thermostat's target (K) at step ``step`` (0..steps) of a stage: constant, or the
    linear ramp T(s) = T0 + (T1 - T0) s / steps with T0 = temperature, T1 = temperature_end
    (the target of the step that ends at s; LAMMPS's fix langevin tstart tstop over
    ``run N start 0 stop steps`` computes the same)."""
    t0, t1 = stage["temperature"], stage.get("temperature_end")
    if t1 is None:
        return float(t0)
    return float(t0 + (t1 - t0) * step / stage["steps"])


def describe_stage(stage: dict) -> str:
    """'3000 K', or '3000->1500 K' for a ramp."""
    t1 = stage.get("temperature_end")
    return (f"{stage['temperature']:.0f} K" if t1 is None
            else f"{stage['temperature']:.0f}->{t1:.0f} K")


def thermalise(atoms, temperature: float, seed: int):
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature,
                                 rng=np.random.default_rng(seed))
    Stationary(atoms)


def dynamics(atoms, cfg: dict, temperature: float, seed: int):
    md = cfg["md"]
    if md["friction"] > 0:
        atoms.set_constraint(FixCom())  # the thermostat must not make the cell drift
        return Langevin(atoms, md["timestep"] * units.fs, temperature_K=temperature,
                        friction=md["friction"] / units.fs, fixcm=False,
                        rng=np.random.default_rng(seed))
    return VelocityVerlet(atoms, md["timestep"] * units.fs)


def save_snapshot(atoms, path: Path, where: dict = None) -> None:
    """Positions, momenta and cell, written atomically; ``where`` (stage, step of that state)
    goes into the frame's info (a continued stage checks that it starts from the previous
    stage's end)."""
    snap = atoms.copy()
    snap.calc = None
    snap.set_constraint()
    for key in ("stage", "step", "stage_end"):
        snap.info.pop(key, None)
    snap.info.update(where or {})
    tmp = path.with_name(path.name + ".tmp")
    write(tmp, snap, format="extxyz")
    with open(tmp, "a") as handle:
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def load_snapshot(path: Path):
    atoms = read(path, format="extxyz")
    atoms.calc = None
    return atoms


class AseMD:
    """The learner's MD engine on ASE dynamics (``md.engine: ase``): one step per ``advance``,
    the committee calculator's results after it."""

    def __init__(self, atoms, cfg: dict, stage: dict, step: int, seed: int, calculator):
        self.atoms = atoms
        self._calculator = calculator
        self.stage, self.step = stage, step
        self.thermostat = cfg["md"]["friction"] > 0
        atoms.calc = calculator()
        self.dyn = dynamics(atoms, cfg, stage_temperature(stage, step), seed)

    def advance(self, limit: int, threshold, extrapolation: bool):
        """One step (whatever ``limit``, threshold and extrapolation): (1, max force
        deviation, atoms extrapolating). A ramp sets the target of the step ending at s + 1
        before it (the same as LAMMPS)."""
        if self.thermostat and self.stage.get("temperature_end") is not None:
            self.dyn.set_temperature(temperature_K=stage_temperature(self.stage, self.step + 1))
        self.dyn.run(1)
        self.step += 1
        r = self.atoms.calc.results
        return 1, float(r["max_force_deviation"]), int(r["num_extrapolating"])

    def current(self):
        return self.atoms

    def reload(self):
        self.atoms.calc = self._calculator()

    def close(self):
        pass
