"""Diffusion coefficients from the mean squared displacement at several temperatures, and the
Arrhenius activation energy.

For every temperature T: the repeated cell (minus ``vacancies`` atoms, removed at seeded random
sites, so that a crystal has carriers) is thermalised and equilibrated for ``equilibration``
steps, then ``steps`` of Langevin MD (ASE, centre of mass fixed) record the unwrapped positions
every ``every`` steps. The MSD of ``species`` (all atoms if null) is averaged over atoms and
time origins,

    MSD(t) = < |r_i(t0 + t) - r_i(t0)|^2 >_{i, t0},     D = slope / 6   (linear fit of MSD(t)
    for t in [fit_start, fit_end] x the longest lag, the lag at most half the run),

1 Å^2/fs = 0.1 cm^2/s. Arrhenius: ln D = ln D0 - E_a / (k_B T), fitted over the temperatures
(E_a in eV).

Engines (``engine``): ``ase`` runs both sides with ASE's Langevin; ``lammps`` runs the model's
MD in LAMMPS in this process (``learn/lammps_md.LammpsSystem``: ``pair_style kizuna``,
``fix langevin`` with damp = 1/friction + ``fix nve`` + zero momentum, the same protocol),
for large cells; ``compute kizuna/deviation`` gives the extrapolating atoms and the committee
force deviation at every recorded frame. The reference (an ASE calculator) always runs in ASE,
on ``reference_supercell`` when given (a small cell for an expensive reference).
"""
from __future__ import annotations

import numpy as np
from ase import units
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

KB = units.kB   # eV/K
A2_PER_FS_TO_CM2_PER_S = 0.1


def msd(positions: np.ndarray, max_lag: int) -> np.ndarray:
    """positions (frames, atoms, 3), unwrapped: MSD for lags 0..max_lag (Å^2), averaged over
    atoms and all time origins."""
    out = np.zeros(max_lag + 1)
    for lag in range(1, max_lag + 1):
        d = positions[lag:] - positions[:-lag]
        out[lag] = np.mean(np.sum(d ** 2, axis=2))
    return out


def diffusion_coefficient(times_fs, msd_values, fit_start=0.2, fit_end=1.0) -> float:
    """D in Å^2/fs from a linear fit of MSD(t) = 6 D t + c over a window of the lags."""
    t = np.asarray(times_fs)
    lo, hi = int(fit_start * (len(t) - 1)), int(fit_end * (len(t) - 1))
    slope = np.polyfit(t[lo:hi + 1], np.asarray(msd_values)[lo:hi + 1], 1)[0]
    return float(slope / 6.0)


def arrhenius(temperatures, d_values):
    """(E_a eV, D0 same unit as D) from ln D = ln D0 - E_a/(k_B T); needs >= 2 temperatures and
    D > 0."""
    t, d = np.asarray(temperatures, float), np.asarray(d_values, float)
    if len(t) < 2 or np.any(d <= 0):
        return None, None
    slope, intercept = np.polyfit(1.0 / (KB * t), np.log(d), 1)
    return float(-slope), float(np.exp(intercept))


def _cell(atoms, supercell, vacancies, rng):
    a = atoms.repeat(tuple(supercell))
    if vacancies:
        if vacancies >= len(a):
            raise ValueError(f"diffusion: {vacancies} vacancies in a cell of {len(a)} atoms")
        del a[sorted(rng.choice(len(a), vacancies, replace=False).tolist())]
    return a


def _msd_of(traj, cfg):
    traj = np.asarray(traj)
    max_lag = (len(traj) - 1) // 2
    m = msd(traj, max_lag)
    times = np.arange(max_lag + 1) * cfg["every"] * cfg["timestep"]
    return times, m


def run_temperature_lammps(atoms, model_path, threads, watch, cfg, temperature, seed,
                           supercell):
    """The model's MD in LAMMPS (see the module docstring); positions unwrapped."""
    from ..lammps import plugin_path
    from ..learn.lammps_md import LammpsSystem, _f, _quote

    rng = np.random.default_rng(seed)
    a = _cell(atoms, supercell, cfg["vacancies"], rng)
    a.set_velocities(np.zeros((len(a), 3)))
    system = LammpsSystem(a)
    try:
        lseed = int(rng.integers(1, 900_000_000))
        damp = 1.0 / cfg["friction"] / 1000.0   # ps
        system.commands([
            f"plugin load {_quote(plugin_path())}",
            f"pair_style kizuna {_quote(model_path)} extrapolation warn warn_every 1000000000 "
            f"uncertainty_every {int(cfg['every'])} threads {int(threads)}",
            "pair_coeff * * " + " ".join(system.elements),
            "neighbor 1.0 bin", "neigh_modify every 1 delay 0 check yes",
            f"timestep {_f(cfg['timestep'] / 1000.0)}",
            "compute kz_dev all kizuna/deviation",
            f"velocity all create {_f(temperature)} {lseed} dist gaussian mom yes rot no",
            "fix kz_nve all nve",
            f"fix kz_langevin all langevin {_f(temperature)} {_f(temperature)} {_f(damp)} "
            f"{lseed + 1} zero yes",
            "fix kz_momentum all momentum 1 linear 1 1 1",
            "thermo_style custom step temp pe c_kz_dev[1] c_kz_dev[3]", "thermo 0"])
        lmp = system.lmp
        if cfg["equilibration"]:
            lmp.command(f"run {int(cfg['equilibration'])} post no")
        select = (np.ones(len(a), bool) if not cfg["species"] else
                  np.isin(a.get_chemical_symbols(), cfg["species"]))
        traj, temps = [system.atoms().positions[select]], []
        for _ in range(cfg["steps"] // cfg["every"]):
            lmp.command(f"run {int(cfg['every'])} post no")
            traj.append(system.atoms().positions[select])
            temps.append(float(lmp.get_thermo("temp")))
            watch.update({"num_extrapolating": int(lmp.extract_pair("num_extrapolating")),
                          "max_force_deviation": float(lmp.extract_pair("max_force_deviation"))},
                         len(a))
    finally:
        system.close()
    times, m = _msd_of(traj, cfg)
    return times, m, float(np.mean(temps))


def run_temperature(atoms, calc, cfg: dict, temperature: float, seed: int, supercell=None):
    rng = np.random.default_rng(seed)
    a = _cell(atoms, supercell or cfg["supercell"], cfg["vacancies"], rng)
    a.calc = calc
    a.set_constraint(FixCom())
    MaxwellBoltzmannDistribution(a, temperature_K=temperature, rng=rng)
    Stationary(a)
    dyn = Langevin(a, cfg["timestep"] * units.fs, temperature_K=temperature,
                   friction=cfg["friction"] / units.fs, fixcm=False, rng=rng)
    dyn.run(cfg["equilibration"])
    select = (np.ones(len(a), bool) if not cfg["species"] else
              np.isin(a.get_chemical_symbols(), cfg["species"]))
    traj = [a.positions[select].copy()]
    temps = []
    for _ in range(cfg["steps"] // cfg["every"]):
        dyn.run(cfg["every"])
        traj.append(a.positions[select].copy())
        temps.append(a.get_temperature())
    times, m = _msd_of(traj, cfg)
    return times, m, float(np.mean(temps))


def compute(atoms, calc, cfg: dict, relax: dict, seed: int = 0, side: str = "model",
            model_path=None, threads: int = 1) -> dict:
    """``side``/``model_path``: with ``engine: lammps`` the model side runs in LAMMPS."""
    from .common import guard_md

    guard_md(calc, cfg)
    values, curves = {}, []
    d_list = []
    lammps = cfg["engine"] == "lammps" and side == "model"
    supercell = (cfg["reference_supercell"] if side != "model" and cfg["reference_supercell"]
                 else cfg["supercell"])
    for k, temperature in enumerate(cfg["temperatures"]):
        if lammps:
            times, m, t_mean = run_temperature_lammps(atoms, model_path, threads, calc.watch,
                                                      cfg, temperature, seed + k, supercell)
        else:
            times, m, t_mean = run_temperature(atoms, calc, cfg, temperature, seed + k,
                                               supercell)
        d = diffusion_coefficient(times, m, cfg["fit_start"], cfg["fit_end"])
        d_list.append(d)
        values[f"D_{temperature:g}K"] = d * A2_PER_FS_TO_CM2_PER_S
        curves.append({"temperature": temperature, "mean_temperature": t_mean,
                       "engine": "lammps" if lammps else "ase", "supercell": list(supercell),
                       "time_fs": times.tolist(), "msd": m.tolist()})
    ea, d0 = arrhenius(cfg["temperatures"], d_list)
    if ea is not None:
        values["activation_energy"] = ea
    return {"values": values, "data": {"curves": curves}}


class _Units(dict):
    def __missing__(self, key):
        return "eV" if key == "activation_energy" else "cm²/s"


UNITS = _Units()


def plot(axes, results) -> None:
    ax, ax2 = axes
    for label, res, style in results:
        temps, ds = [], []
        for k, c in enumerate(res["data"]["curves"]):
            ax.plot(c["time_fs"], c["msd"], color=style, alpha=0.4 + 0.6 * (k + 1) /
                    len(res["data"]["curves"]), label=f"{label} {c['temperature']:g} K")
            d = res["values"].get(f"D_{c['temperature']:g}K")
            if d and d > 0:
                temps.append(c["temperature"])
                ds.append(d)
        if temps:
            ax2.semilogy(1000.0 / np.asarray(temps), ds, "o-", color=style, label=label)
    ax.set_xlabel("t (fs)")
    ax.set_ylabel("MSD (Å²)")
    ax.set_title("mean squared displacement")
    ax.legend(fontsize=7)
    ax2.set_xlabel("1000 / T (1/K)")
    ax2.set_ylabel("D (cm²/s)")
    ax2.set_title("Arrhenius")
    ax2.legend()
