"""Melt / quench structure: Langevin MD (ASE) of the repeated cell with each calculator, the
same protocol and seeds: ``melt_steps`` at ``melt_temperature``, a linear quench to
``final_temperature`` over ``quench_steps`` (temperature set every ``ramp_every`` steps;
cooling rate = (T_melt - T_final) / (quench_steps * timestep) K/fs), then ``sample_steps`` at
``final_temperature`` with a frame every ``sample_every`` steps.

Values: mean coordination within ``bond_cutoff`` and the position of the first RDF peak (Å).
Comparison: RDF difference int |g_m - g_r| dr / int g_r dr and, on the model's own frames,
the reference's energy and force errors of the model (the same structures).
"""
from __future__ import annotations

import numpy as np
from ase import units
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from . import analysis
from .common import guard_md


def run_protocol(atoms, calc, cfg: dict, seed: int):
    a = atoms.repeat(tuple(cfg["supercell"]))
    a.calc = calc
    a.set_constraint(FixCom())
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(a, temperature_K=cfg["melt_temperature"], rng=rng)
    Stationary(a)
    dyn = Langevin(a, cfg["timestep"] * units.fs, temperature_K=cfg["melt_temperature"],
                   friction=cfg["friction"] / units.fs, fixcm=False, rng=rng)
    temperatures = []
    dyn.attach(lambda: temperatures.append(a.get_temperature()), interval=cfg["ramp_every"])
    dyn.run(cfg["melt_steps"])
    t0, t1, n = cfg["melt_temperature"], cfg["final_temperature"], cfg["quench_steps"]
    done = 0
    while done < n:
        chunk = min(cfg["ramp_every"], n - done)
        dyn.set_temperature(temperature_K=t0 + (t1 - t0) * (done + chunk) / n)
        dyn.run(chunk)
        done += chunk
    dyn.set_temperature(temperature_K=t1)
    frames = []
    for _ in range(max(1, cfg["sample_steps"] // cfg["sample_every"])):
        dyn.run(cfg["sample_every"])
        f = a.copy()
        f.set_constraint()
        f.calc = None
        frames.append(f)
    return frames, temperatures


def compute(atoms, calc, cfg: dict, relax: dict, seed: int = 0) -> dict:
    guard_md(calc, cfg)
    frames, temps = run_protocol(atoms, calc, cfg, seed)
    r, g = analysis.rdf(frames, cfg["rdf_rmax"], cfg["rdf_bins"])
    theta, adf = analysis.bond_angles(frames, cfg["bond_cutoff"])
    mean_cn, cn_hist = analysis.coordination(frames, cfg["bond_cutoff"])
    values = {"coordination": mean_cn, "rdf_first_peak": float(r[np.argmax(g)])}
    return {"values": values, "frames": frames,
            "data": {"r": r.tolist(), "g": g.tolist(), "theta": theta.tolist(),
                     "adf": adf.tolist(), "coordination_histogram": cn_hist,
                     "temperatures": temps,
                     "cooling_rate_K_per_fs": (cfg["melt_temperature"] - cfg["final_temperature"])
                     / (cfg["quench_steps"] * cfg["timestep"])}}


UNITS = {"coordination": "", "rdf_first_peak": "Å"}


def compare(model: dict, reference: dict) -> dict:
    m, r = model["data"], reference["data"]
    x = np.asarray(m["r"])
    gm, gr = np.asarray(m["g"]), np.asarray(r["g"])
    return {"rdf_difference": float(np.trapezoid(np.abs(gm - gr), x) / np.trapezoid(gr, x))}


def errors_on_frames(frames, model_calc, reference_calc) -> dict:
    """Energy (meV/atom) and force (eV/Å) MAE of the model vs the reference on the same frames."""
    de, df = [], []
    for f in frames:
        a = f.copy()
        a.calc = model_calc
        em, fm = a.get_potential_energy(), a.get_forces()
        a.calc = reference_calc
        er, fr = a.get_potential_energy(), a.get_forces()
        de.append(abs(em - er) / len(a))
        df.append(np.abs(fm - fr).ravel())
    return {"energy_mae_meV_atom_on_model_frames": float(1000 * np.mean(de)),
            "force_mae_eV_A_on_model_frames": float(np.mean(np.concatenate(df)))}


def plot(axes, results) -> None:
    ax, ax2 = axes
    for label, res, style in results:
        d = res["data"]
        ax.plot(d["r"], d["g"], color=style, label=label)
        ax2.plot(d["theta"], d["adf"], color=style, label=label)
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r)")
    ax.set_title("radial distribution (quenched)")
    ax.legend()
    ax2.set_xlabel("bond angle (deg)")
    ax2.set_ylabel("probability density")
    ax2.set_title("bond-angle distribution")
    ax2.legend()
