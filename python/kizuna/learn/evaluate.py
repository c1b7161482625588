"""Errors of a learned committee on an independent reference trajectory, and how well the
committee's disagreement ranks the true errors (Spearman rank correlation)."""
from __future__ import annotations

import numpy as np

from .md import dynamics, start_structure, thermalise


def reference_trajectory(cfg: dict, reference, steps: int, every: int, temperature: float,
                         seed: int) -> list:
    """Frames (with reference energies and forces) of an MD run driven by the reference."""
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = start_structure(cfg)
    thermalise(atoms, temperature, seed)
    atoms.calc = reference
    dyn = dynamics(atoms, cfg, temperature, seed)
    frames = []
    for step in range(1, steps + 1):
        dyn.run(1)
        if step % every == 0:
            frame = atoms.copy()
            frame.calc = SinglePointCalculator(frame, energy=atoms.get_potential_energy(),
                                               forces=atoms.get_forces())
            frames.append(frame)
    return frames


def rank_correlation(a, b) -> float:
    """Spearman's rho (average ranks for ties)."""
    def ranks(x):
        x = np.asarray(x, dtype=float)
        order = np.argsort(x, kind="mergesort")
        r = np.empty(len(x))
        r[order] = np.arange(len(x), dtype=float)
        for v in np.unique(x):  # average ranks of ties
            tie = x == v
            r[tie] = r[tie].mean()
        return r
    ra, rb = ranks(a), ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    return float((ra * rb).sum() / np.sqrt((ra ** 2).sum() * (rb ** 2).sum()))


def committee_errors(model_path, frames, threads=1) -> dict:
    from ..potential import Potential

    pot = Potential(model_path, threads=threads)
    e_err, f_err, max_dev, max_err = [], [], [], []
    for frame in frames:
        out = pot.compute_atoms(frame, member_forces=True)
        ref_f = frame.get_forces()
        e_err.append((out["energy"] - frame.get_potential_energy()) / len(frame))
        diff = out["forces"] - ref_f
        f_err.append(diff.ravel())
        max_dev.append(out["max_force_deviation"])
        max_err.append(np.linalg.norm(diff, axis=1).max())
    f = np.concatenate(f_err)
    return {"frames": len(frames),
            "energy_mae_meV_atom": float(np.mean(np.abs(e_err)) * 1e3),
            "forces_mae_eV_A": float(np.mean(np.abs(f))),
            "forces_rmse_eV_A": float(np.sqrt(np.mean(f ** 2))),
            "spearman_max_deviation_vs_max_error": rank_correlation(max_dev, max_err),
            "max_force_deviation": [float(x) for x in max_dev],
            "max_force_error": [float(x) for x in max_err]}


def independent_test(cfg: dict, model_path, reference, save=None) -> dict:
    """Errors on reference trajectories from seeds the learning never used: one trajectory
    per test temperature; the totals over all frames, and per temperature under
    ``by_temperature`` (a list of temperatures probes in- and out-of-distribution frames:
    where the rank correlation of deviation and error matters). With ``save`` (a path) the
    frames are written there (extxyz: reference energy and forces, ``test_temperature``), so
    other models can be scored on the same held-out frames."""
    t = cfg["test"]
    temps = t["temperature"] if isinstance(t["temperature"], list) else [t["temperature"]]
    per, frames = {}, []
    for k, temperature in enumerate(temps):
        part = reference_trajectory(cfg, reference, t["trajectory_steps"], t["every"],
                                    temperature, cfg["seed"] + 4242 + 101 * k)
        for frame in part:
            frame.info["test_temperature"] = float(temperature)
        frames += part
        if len(temps) > 1:
            errors = committee_errors(model_path, part, cfg["threads"])
            per[f"{temperature:g}"] = {k2: v for k2, v in errors.items()
                                      if not isinstance(v, list)}
    if save is not None:
        from ase.io import write

        write(save, frames, format="extxyz")
    out = committee_errors(model_path, frames, cfg["threads"])
    if per:
        out["by_temperature"] = per
    return out
