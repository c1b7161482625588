"""Diffusion coefficients from the mean squared displacement at several temperatures, and the
Arrhenius activation energy, each with its statistical uncertainty.

For every temperature T: the repeated cell (minus ``vacancies`` atoms of ``vacancy_species``,
removed at seeded random sites, so that a crystal has carriers) is thermalised and equilibrated
for ``equilibration`` steps, then ``steps`` of Langevin MD (ASE, centre of mass fixed) record
the unwrapped positions every ``every`` steps. The MSD of ``species`` (all atoms if null) is
averaged over atoms and time origins,

    MSD(t) = < |r_i(t0 + t) - r_i(t0)|^2 >_{i, t0},     D = slope / 6   (linear fit of MSD(t)
    for t in [fit_start, fit_end] x the longest lag, the lag at most half the run),

1 Å^2/fs = 0.1 cm^2/s. Uncertainty of D: the recorded run is cut into ``blocks`` consecutive
pieces, D_b is fitted in each the same way, sigma_D = std(D_b) / sqrt(blocks) (standard error
of the mean of the blocks). Arrhenius: ln D = ln D0 - E_a / (k_B T), a weighted least-squares
line through (1/k_B T, ln D) with sigma_lnD = sigma_D / D; sigma_Ea from its covariance, scaled
up by sqrt(chi^2 / dof) when the points scatter more than their error bars (E_a in eV).

Engines (``engine``): ``ase`` runs both sides with ASE's Langevin; ``lammps`` runs the model's
MD in LAMMPS in this process (``learn/lammps_md.LammpsSystem``: ``pair_style kizuna``,
``fix langevin`` with damp = 1/friction + ``fix nve`` + zero momentum, the same protocol),
for large cells; ``compute kizuna/deviation`` gives the extrapolating atoms and the committee
force deviation at every recorded frame. The reference (an ASE calculator) always runs in ASE,
on ``reference_supercell`` when given (a small cell for an expensive reference) with
``reference_vacancies`` (null: ``vacancies``; give the count that keeps the vacancy
concentration of the model's cell, D of a vacancy mechanism is proportional to it).
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
    if hi - lo < 1:
        raise ValueError(f"diffusion: the MSD fit window [{fit_start}, {fit_end}] of {len(t)} "
                         "lags holds fewer than two points; record more frames (steps/every) "
                         "or widen the window")
    slope = np.polyfit(t[lo:hi + 1], np.asarray(msd_values)[lo:hi + 1], 1)[0]
    return float(slope / 6.0)


def fit_trajectory(traj, frame_fs: float, fit_start=0.2, fit_end=1.0, blocks: int = 4) -> dict:
    """traj (frames, atoms, 3) unwrapped, ``frame_fs`` fs between frames: the MSD curve of the
    whole run (lags up to half the run) and D (Å^2/fs) with its standard error.

    With ``blocks`` >= 2 the run is cut into that many consecutive pieces, each fitted alike
    (lags up to half the piece): D = mean(D_b), sigma_D = std(D_b, ddof=1) / sqrt(blocks).
    (A single fit up to half the run is no better: its relative error does not shrink with
    the run's length, the longest lags rest on few independent origins.) With 1 block: the
    fit of the whole run, sigma None."""
    traj = np.asarray(traj)
    max_lag = (len(traj) - 1) // 2
    m = msd(traj, max_lag)
    times = np.arange(max_lag + 1) * frame_fs
    d_full = d = diffusion_coefficient(times, m, fit_start, fit_end)
    d_blocks, sigma = [], None
    if blocks >= 2:
        size = len(traj) // blocks
        if size < 9:
            raise ValueError(f"diffusion: {len(traj)} recorded frames make blocks of {size} "
                             f"frames for blocks: {blocks}; need at least 9 frames per block")
        for b in range(blocks):
            piece = traj[b * size:(b + 1) * size]
            lag = (len(piece) - 1) // 2
            d_blocks.append(diffusion_coefficient(np.arange(lag + 1) * frame_fs,
                                                  msd(piece, lag), fit_start, fit_end))
        d = float(np.mean(d_blocks))
        sigma = float(np.std(d_blocks, ddof=1) / np.sqrt(blocks))
    return {"time_fs": times, "msd": m, "D": d, "D_std": sigma, "D_blocks": d_blocks,
            "D_whole_run": d_full}


def arrhenius(temperatures, d_values):
    """(E_a eV, D0 same unit as D) from ln D = ln D0 - E_a/(k_B T); needs >= 2 temperatures and
    D > 0."""
    fit = arrhenius_fit(temperatures, d_values)
    return (None, None) if fit is None else (fit["activation_energy"], fit["D0"])


def arrhenius_fit(temperatures, d_values, d_errors=None):
    """Weighted Arrhenius fit: {activation_energy, activation_energy_std, D0, chi2_per_dof};
    None with fewer than 2 temperatures or any D <= 0.

    x = 1/(k_B T), y = ln D, sigma_y = sigma_D / D. With errors for every D: weighted least
    squares, sigma_Ea = sqrt(C_00) (C: the covariance from the given sigmas) x
    max(1, sqrt(chi^2/dof)) when dof = n - 2 >= 1. Without errors: an unweighted fit,
    sigma_Ea from the residuals (n >= 3), else None."""
    t, d = np.asarray(temperatures, float), np.asarray(d_values, float)
    if len(t) < 2 or np.any(d <= 0):
        return None
    x, y = 1.0 / (KB * t), np.log(d)
    dof = len(t) - 2
    errs = None if d_errors is None else np.asarray(
        [np.nan if e is None else e for e in d_errors], float)
    if errs is not None and np.all(np.isfinite(errs)) and np.all(errs > 0):
        sy = errs / d
        w = 1.0 / sy ** 2
        # weighted normal equations: [sum w, sum w x; sum w x, sum w x^2] (a, b) = ...
        a_mat = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        cov = np.linalg.inv(a_mat)
        slope, intercept = cov @ np.array([np.sum(w * x * y), np.sum(w * y)])
        chi2 = float(np.sum(w * (y - slope * x - intercept) ** 2))
        scale = max(1.0, chi2 / dof) if dof >= 1 else 1.0
        sigma = float(np.sqrt(cov[0, 0] * scale))
        chi2_dof = chi2 / dof if dof >= 1 else None
    else:
        slope, intercept = np.polyfit(x, y, 1)
        chi2_dof = None
        if dof >= 1:
            res = y - slope * x - intercept
            sigma = float(np.sqrt(np.sum(res ** 2) / dof / np.sum((x - x.mean()) ** 2)))
        else:
            sigma = None
    return {"activation_energy": float(-slope), "activation_energy_std": sigma,
            "D0": float(np.exp(intercept)), "chi2_per_dof": chi2_dof}


def _cell(atoms, supercell, vacancies, rng, vacancy_species=None):
    """The repeated cell minus ``vacancies`` atoms drawn (seeded) among ``vacancy_species``
    (null: among all atoms)."""
    a = atoms.repeat(tuple(supercell))
    if vacancies:
        pool = (np.arange(len(a)) if not vacancy_species else
                np.flatnonzero(np.isin(a.get_chemical_symbols(), vacancy_species)))
        if vacancies >= len(pool):
            what = f"{'/'.join(vacancy_species)} atoms" if vacancy_species else "atoms"
            raise ValueError(f"diffusion: {vacancies} vacancies in a cell of {len(pool)} "
                             f"{what} (supercell {list(supercell)})")
        del a[sorted(rng.choice(pool, vacancies, replace=False).tolist())]
    return a


def _selected(a, cfg):
    return (np.ones(len(a), bool) if not cfg["species"] else
            np.isin(a.get_chemical_symbols(), cfg["species"]))


def run_temperature_lammps(atoms, model_path, threads, watch, cfg, temperature, seed,
                           supercell, vacancies):
    """The model's MD in LAMMPS (see the module docstring): (recorded unwrapped positions of
    the selected atoms, mean temperature, atoms in the cell)."""
    from ..learn.lammps_md import LammpsSystem, _f, model_md_commands

    rng = np.random.default_rng(seed)
    a = _cell(atoms, supercell, vacancies, rng, cfg.get("vacancy_species"))
    a.set_velocities(np.zeros((len(a), 3)))
    system = LammpsSystem(a)
    try:
        lseed = int(rng.integers(1, 900_000_000))
        damp = 1.0 / cfg["friction"] / 1000.0   # ps
        system.commands(model_md_commands(
            system, model_path, threads=threads, uncertainty_every=cfg["every"],
            timestep_fs=cfg["timestep"], temperature=temperature, seed=lseed))
        system.commands([f"fix kz_langevin all langevin {_f(temperature)} {_f(temperature)} "
                         f"{_f(damp)} {lseed + 1} zero yes"])
        lmp = system.lmp
        # one setup, then the runs continue it ("pre no"): a setup at every short run (forces
        # and fix langevin's drag/noise recomputed at the boundary) cooled the system, to
        # ~0.78 x the target with a run every 2 steps
        lmp.command(f"run {int(cfg['equilibration'])} post no")
        select = _selected(a, cfg)
        now = system.atoms()
        step = int(cfg["equilibration"])
        watch.check_distances(now, _where(temperature, True), step)
        traj, temps = [now.positions[select]], []
        for _ in range(cfg["steps"] // cfg["every"]):
            lmp.command(f"run {int(cfg['every'])} pre no post no")
            now = system.atoms()
            step += int(cfg["every"])
            watch.check_distances(now, _where(temperature), step)
            traj.append(now.positions[select])
            temps.append(float(lmp.get_thermo("temp")))
            watch.update({"num_extrapolating": int(lmp.extract_pair("num_extrapolating")),
                          "max_force_deviation": float(lmp.extract_pair("max_force_deviation"))},
                         len(a))
    finally:
        system.close()
    return traj, float(np.mean(temps)), len(a)


def run_temperature(atoms, calc, cfg: dict, temperature: float, seed: int, supercell=None,
                    vacancies=None):
    """ASE Langevin MD (see the module docstring): (recorded positions of the selected atoms,
    mean temperature, atoms in the cell)."""
    rng = np.random.default_rng(seed)
    a = _cell(atoms, supercell or cfg["supercell"],
              cfg["vacancies"] if vacancies is None else vacancies, rng,
              cfg.get("vacancy_species"))
    a.calc = calc
    a.set_constraint(FixCom())
    MaxwellBoltzmannDistribution(a, temperature_K=temperature, rng=rng)
    Stationary(a)
    dyn = Langevin(a, cfg["timestep"] * units.fs, temperature_K=temperature,
                   friction=cfg["friction"] / units.fs, fixcm=False, rng=rng)
    dyn.run(cfg["equilibration"])
    watch = getattr(calc, "watch", None)
    step = int(cfg["equilibration"])
    if watch is not None:  # the close-pair guard at every recorded frame
        watch.check_distances(a, _where(temperature, True), step)
    select = _selected(a, cfg)
    traj = [a.positions[select].copy()]
    temps = []
    for _ in range(cfg["steps"] // cfg["every"]):
        dyn.run(cfg["every"])
        step += int(cfg["every"])
        if watch is not None:
            watch.check_distances(a, _where(temperature), step)
        traj.append(a.positions[select].copy())
        temps.append(a.get_temperature())
    return traj, float(np.mean(temps)), len(a)


def _where(temperature: float, equilibration: bool = False) -> str:
    """Where the MD is, for the close-pair guard's messages."""
    return f"the run at {temperature:g} K" + (" (end of the equilibration)" if equilibration
                                               else "")


def _worker(atoms, calc, cfg, temperature, seed, supercell, vacancies):
    """One temperature in a worker process (``workers``): the run and what its calculator's
    watch saw there (merged into the parent's)."""
    watch = getattr(calc, "watch", None)
    if watch is not None:
        from .common import Watch

        calc.watch = Watch(guard=watch.guard, distance=watch.distance)
    out = run_temperature(atoms, calc, cfg, temperature, seed, supercell, vacancies)
    return out, getattr(calc, "watch", None)


def _run_all(atoms, calc, cfg, supercell, vacancies, seed, lammps, model_path, threads):
    """(traj, mean T, atoms) per temperature; ASE runs in ``workers`` processes at a time."""
    temps = cfg["temperatures"]
    workers = min(int(cfg.get("workers") or 1), len(temps))
    if lammps:
        return [run_temperature_lammps(atoms, model_path, threads, calc.watch, cfg, t, seed + k,
                                       supercell, vacancies) for k, t in enumerate(temps)]
    if workers == 1:
        return [run_temperature(atoms, calc, cfg, t, seed + k, supercell, vacancies)
                for k, t in enumerate(temps)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a fresh interpreter per worker (no forked torch/OpenMP state); the calculator is
    # pickled to each worker (kizuna's Calculator, EMT, CHGNet are picklable)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_worker, atoms, calc, cfg, t, seed + k, supercell, vacancies)
                   for k, t in enumerate(temps)]
        results = [f.result() for f in futures]
    for _, watch in results:
        if watch is not None:
            calc.watch.merge(watch)
    return [r for r, _ in results]


def compute(atoms, calc, cfg: dict, relax: dict, seed: int = 0, side: str = "model",
            model_path=None, threads: int = 1) -> dict:
    """``side``/``model_path``: with ``engine: lammps`` the model side runs in LAMMPS; the
    reference side runs on ``reference_supercell`` with ``reference_vacancies`` when given."""
    from .common import guard_md

    guard_md(calc, cfg, "diffusion", atoms, side)
    values, sigmas, curves = {}, {}, []
    d_list, s_list = [], []
    lammps = cfg["engine"] == "lammps" and side == "model"
    small = side != "model"
    steps = cfg["reference_steps"] if small and cfg.get("reference_steps") else cfg["steps"]
    cfg = dict(cfg, steps=steps)
    supercell = (cfg["reference_supercell"] if small and cfg.get("reference_supercell")
                 else cfg["supercell"])
    vacancies = (cfg["reference_vacancies"] if small and cfg.get("reference_vacancies")
                 is not None else cfg["vacancies"])
    runs = _run_all(atoms, calc, cfg, supercell, vacancies, seed, lammps, model_path, threads)
    for temperature, (traj, t_mean, natoms) in zip(cfg["temperatures"], runs):
        fit = fit_trajectory(traj, cfg["every"] * cfg["timestep"], cfg["fit_start"],
                             cfg["fit_end"], cfg.get("blocks", 4))
        d_list.append(fit["D"])
        s_list.append(fit["D_std"])
        key = f"D_{temperature:g}K"
        values[key] = fit["D"] * A2_PER_FS_TO_CM2_PER_S
        if fit["D_std"] is not None:
            sigmas[key] = fit["D_std"] * A2_PER_FS_TO_CM2_PER_S
        curves.append({"temperature": temperature, "mean_temperature": t_mean,
                       "engine": "lammps" if lammps else "ase", "supercell": list(supercell),
                       "atoms": natoms, "vacancies": vacancies,
                       "tracers": int(np.asarray(traj).shape[1]),
                       "D_A2_per_fs": fit["D"], "D_std_A2_per_fs": fit["D_std"],
                       "D_blocks_A2_per_fs": fit["D_blocks"],
                       "time_fs": fit["time_fs"].tolist(), "msd": fit["msd"].tolist()})
    arr = arrhenius_fit(cfg["temperatures"], d_list, s_list)
    out = {"values": values, "uncertainty": sigmas, "data": {"curves": curves},
           "fit_window": [cfg["fit_start"], cfg["fit_end"]]}
    if arr is not None:
        values["activation_energy"] = arr["activation_energy"]
        if arr["activation_energy_std"] is not None:
            sigmas["activation_energy"] = arr["activation_energy_std"]
        out["data"]["arrhenius"] = {**arr, "D0_cm2_per_s": arr["D0"] * A2_PER_FS_TO_CM2_PER_S}
    return out


class _Units(dict):
    def __missing__(self, key):
        return "eV" if key == "activation_energy" else "cm²/s"


UNITS = _Units()
# keys that only the model's side uses when the reference has its own (the reuse of a
# reference result, suite.reusable_reference, compares the others)
MODEL_ONLY = ("engine", "supercell", "vacancies", "steps", "stop_extrapolating",
              "stop_patience", "min_distance", "min_distance_action",
              "workers")     # workers: how, not what


def model_config(cfg: dict) -> dict:
    """What the model side's result depends on: the section less the reference's own keys."""
    return {k: v for k, v in cfg.items() if k not in ("reference_supercell",
                                                        "reference_vacancies",
                                                        "reference_steps", "workers")}


def reference_config(cfg: dict) -> dict:
    """What the reference side's result depends on: the section with the reference's own
    cell, vacancies and steps in place of the model's."""
    out = {k: v for k, v in cfg.items() if k not in MODEL_ONLY}
    out["reference_supercell"] = cfg["reference_supercell"] or cfg["supercell"]
    out["reference_vacancies"] = (cfg["vacancies"] if cfg["reference_vacancies"] is None
                                  else cfg["reference_vacancies"])
    out["reference_steps"] = cfg["reference_steps"] or cfg["steps"]
    return out
RELATIVE_ERRORS = ("D_",)   # the report's relative error also for D (cm²/s, far below 1e-2)


def compare(model: dict, reference: dict) -> dict:
    """D_model / D_reference at every temperature both have (a factor is how D errors are
    read: 1 is perfect)."""
    out = {}
    for key, dm in model["values"].items():
        dr = reference["values"].get(key)
        if key.startswith("D_") and dr and dr > 0:
            out[f"ratio_{key}"] = dm / dr
    return out


def plot(axes, results) -> None:
    """Left: the MSD of every whole run (solid) with its linear fit over the fit window
    (dashed; the reported D is the mean of the blocks' fits); right: D(T) with its standard
    error and the weighted Arrhenius line."""
    ax, ax2 = axes
    for label, res, style in results:
        temps, ds, errs = [], [], []
        curves = res["data"]["curves"]
        cfg_window = res.get("fit_window")
        for k, c in enumerate(curves):
            alpha = 0.35 + 0.65 * (k + 1) / len(curves)
            cell = "×".join(str(n) for n in c.get("supercell", []))
            ax.plot(c["time_fs"], c["msd"], color=style, alpha=alpha,
                    label=f"{label} {c['temperature']:g} K" + (f" ({c.get('atoms')} at., "
                                                               f"{cell})" if cell else ""))
            t, m = np.asarray(c["time_fs"]), np.asarray(c["msd"])
            if "D_A2_per_fs" in c and len(t) > 2:
                lo = int((cfg_window or [0.2, 1.0])[0] * (len(t) - 1))
                hi = int((cfg_window or [0.2, 1.0])[1] * (len(t) - 1))
                slope, intercept = np.polyfit(t[lo:hi + 1], m[lo:hi + 1], 1)
                ax.plot(t[lo:hi + 1], slope * t[lo:hi + 1] + intercept, "--", color=style,
                        alpha=alpha, lw=0.8)
            d = res["values"].get(f"D_{c['temperature']:g}K")
            if d and d > 0:
                temps.append(c["temperature"])
                ds.append(d)
                errs.append(res.get("uncertainty", {}).get(f"D_{c['temperature']:g}K") or 0)
        if temps:
            x = 1000.0 / np.asarray(temps)
            ea = res["values"].get("activation_energy")
            sea = res.get("uncertainty", {}).get("activation_energy")
            ax2.errorbar(x, ds, yerr=errs, fmt="o", color=style, capsize=3,
                         label=label + ("" if ea is None else f": E_a = {ea:.2f}" +
                                        ("" if sea is None else f" ± {sea:.2f}") + " eV"))
            arr = res["data"].get("arrhenius")
            if arr:
                xx = np.linspace(x.min(), x.max(), 20)
                ax2.plot(xx, arr["D0_cm2_per_s"] * np.exp(-arr["activation_energy"] /
                                                            (KB * 1000.0 / xx)), "-",
                         color=style, lw=1)
            ax2.set_yscale("log")
    ax.set_xlabel("t (fs)")
    ax.set_ylabel("MSD (Å²)")
    ax.set_title("MSD of each whole run (dashed: its linear fit; D: mean of the blocks)",
                 fontsize=9)
    ax.legend(fontsize=7)
    ax2.set_xlabel("1000 / T (1/K)")
    ax2.set_ylabel("D (cm²/s)")
    ax2.set_title("Arrhenius")
    ax2.legend(fontsize=7)
