"""Melt / quench structure: Langevin MD of the repeated cell through a temperature schedule,
then the structure of the quenched glass and (optionally) its vibrational density of states.

The schedule: ``schedule`` (a list of segments {temperature, temperature_end, steps}, the
stages of ``kizuna learn``: the target ramps linearly from temperature to temperature_end over
the segment) or the short form ``melt_steps`` at ``melt_temperature`` then a linear quench to
``final_temperature`` over ``quench_steps``. Then ``sample_steps`` at the final temperature with
a frame every ``sample_every`` steps. Cooling rate of a segment = (T0 - T1) / (steps *
timestep) K/fs (reported per segment).

Engines (``engine``): ``ase`` (ASE's Langevin, target updated every ``ramp_every`` steps, FixCom)
or ``lammps`` for the model (in this process, ``learn/lammps_md.LammpsSystem``: ``pair_style
kizuna``, ``fix langevin T0 T1`` ramped continuously over each segment + ``fix nve`` + zero
momentum; the extrapolating atoms and the committee force deviation every ``ramp_every`` steps).
With ``engine: lammps`` a segment may set a ``pressure`` (GPa): an isotropic Berendsen barostat
(``fix press/berendsen iso P P pressure_damp modulus bulk_modulus dilate all``) then scales the
cell during that segment, dV/dt = -(V / B) (P_target - P) / tau_P (the sampling at the final
temperature keeps the last segment's pressure); the frames carry the current cell.

After the run: the last frame is relaxed at fixed cell (``final_relax_steps``, L-BFGS to
``final_relax_fmax``) - the glass's inherent structure - and, with ``dos``, its vibrational
DOS by stochastic Lanczos quadrature on the finite-difference dynamical matrix (``vdos.py``).

The reference (``reference_mode``): ``same_protocol`` runs the whole schedule with the
reference (ASE), the same seeds - for cheap references. ``model_glass`` judges the model's
glass instead - for expensive ones (CHGNet, DFT) on large cells: the reference relaxes the
model's last frame (the same start structure, the same settings), its relaxed structure's RDF,
bond angles, coordination and DOS are compared with the model's relaxed ones, and optionally
``reference_md_steps`` of the reference's own MD at the final temperature from the model's
last frame give its thermal RDF. Either way the suite adds the reference's energy and force
errors of the model on the model's own sampled frames (the same structures).

Values: mean coordination within ``bond_cutoff``, first RDF peak (Å), mean and standard
deviation of the bond angles (deg), the closest pair (Å; within bond_cutoff), of the sampled
frames and of the relaxed structure; the sampled frames' mean density (g/cm³, model side); the
relaxed structure's pressure (GPa, -tr(sigma)/3 of the potential energy alone, for
calculators that give a stress: at fixed cell, how far each side is from its own equilibrium
density); mean frequency of the DOS (THz). Comparison: RDF difference
int |g_m - g_r| dr / int g_r dr (sampled, relaxed), the same of the relaxed bond-angle
distributions, DOS overlap int min(g_m, g_r) d nu, RMS
distance between the two relaxed structures (model_glass: how far the reference moves the
model's glass).
"""
from __future__ import annotations

import numpy as np
from ase import units
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.neighborlist import neighbor_list

from . import analysis, vdos
from .common import guard_md


def segments(cfg: dict):
    """[(T0, T1, steps)] of the schedule, the sampling at the final temperature excluded."""
    if cfg.get("schedule"):
        return [(float(s["temperature"]), float(s["temperature"] if s.get("temperature_end")
                                                 is None else s["temperature_end"]),
                 int(s["steps"])) for s in cfg["schedule"]]
    out = []
    if cfg["melt_steps"]:
        out.append((cfg["melt_temperature"], cfg["melt_temperature"], cfg["melt_steps"]))
    out.append((cfg["melt_temperature"], cfg["final_temperature"], cfg["quench_steps"]))
    return out


def pressures(cfg: dict):
    """GPa (or None: fixed cell) of every segment; the short form has none."""
    return [s.get("pressure") for s in cfg["schedule"]] if cfg.get("schedule") else \
        [None] * len(segments(cfg))


# 1 eV/Å^3 in GPa; 1 GPa in bar (LAMMPS metal units); amu/Å^3 in g/cm^3
EV_A3_GPA = units.eV / units.Angstrom ** 3 / units.GPa
GPA_BAR = 1.0e4
AMU_A3_G_CM3 = 1.66053906660


def density(atoms) -> float:
    """g/cm³ of a periodic structure."""
    return float(atoms.get_masses().sum() / atoms.get_volume() * AMU_A3_G_CM3)


def _lammps_atoms(system):
    """The LAMMPS state as ASE Atoms with the current cell (a barostat changes it; the
    system's atoms() keeps the start cell): the box's rows a, b, c rotated back into the
    start structure's orientation, as the positions are."""
    a = system.atoms()
    boxlo, boxhi, xy, yz, xz, _, _ = system.lmp.extract_box()
    h = np.diag(np.subtract(boxhi, boxlo))
    h[1, 0], h[2, 0], h[2, 1] = xy, xz, yz
    a.set_cell(system.prism.vector_to_ase(h), scale_atoms=False)
    return a


def final_temperature(cfg: dict) -> float:
    return segments(cfg)[-1][1]


def cooling_rates(cfg: dict):
    """K/fs of every segment (positive: cooling)."""
    return [(t0 - t1) / (n * cfg["timestep"]) for t0, t1, n in segments(cfg)]


def _frame(atoms):
    f = atoms.copy()
    f.set_constraint()
    f.calc = None
    return f


def run_protocol(atoms, calc, cfg: dict, seed: int):
    """ASE engine: (sampled frames, trace); trace rows [step, target K, kinetic K]."""
    a = atoms.repeat(tuple(cfg["supercell"]))
    a.calc = calc
    a.set_constraint(FixCom())
    rng = np.random.default_rng(seed)
    segs = segments(cfg)
    MaxwellBoltzmannDistribution(a, temperature_K=segs[0][0], rng=rng)
    Stationary(a)
    dyn = Langevin(a, cfg["timestep"] * units.fs, temperature_K=segs[0][0],
                   friction=cfg["friction"] / units.fs, fixcm=False, rng=rng)
    watch = getattr(calc, "watch", None)
    trace = []
    step = 0
    for k, (t0, t1, n) in enumerate(segs):
        done = 0
        while done < n:
            chunk = min(cfg["ramp_every"], n - done)
            target = t0 + (t1 - t0) * (done + chunk) / n
            dyn.set_temperature(temperature_K=target)
            dyn.run(chunk)
            done += chunk
            step += chunk
            trace.append([step, target, a.get_temperature()])
            if watch is not None:  # the close-pair guard at every trace point
                watch.check_distances(a, _where(k, segs, target), step)
    # the sampling at the final temperature: a frame every sample_every steps
    dyn.set_temperature(temperature_K=final_temperature(cfg))
    frames = []
    for _ in range(max(1, cfg["sample_steps"] // cfg["sample_every"])):
        dyn.run(cfg["sample_every"])
        step += cfg["sample_every"]
        trace.append([step, final_temperature(cfg), a.get_temperature()])
        if watch is not None:
            watch.check_distances(a, _where(len(segs), segs, final_temperature(cfg)), step)
        frames.append(_frame(a))
    return frames, trace


def _where(k: int, segs, target: float) -> str:
    """Where in the schedule the MD is, for messages: segment k (0-based; len(segs): the
    sampling at the final temperature) and the current target temperature (K)."""
    if k >= len(segs):
        return f"the sampling at {target:g} K"
    t0, t1, _ = segs[k]
    ramp = f"{t0:g} K" if t0 == t1 else f"{t0:g} -> {t1:g} K"
    return f"segment {k + 1} of {len(segs)} ({ramp}, target {target:.0f} K)"


def run_protocol_lammps(atoms, model_path, threads, watch, cfg: dict, seed: int):
    """LAMMPS engine for the model (see the module docstring): (sampled frames, trace); trace
    rows [step, target K, kinetic K, atoms extrapolating, max force deviation eV/Å, volume
    Å³/atom]."""
    from ..learn.lammps_md import LammpsSystem, _f, model_md_commands

    rng = np.random.default_rng(seed)
    a = atoms.repeat(tuple(cfg["supercell"]))
    a.set_velocities(np.zeros((len(a), 3)))
    segs = segments(cfg)
    every = int(cfg["ramp_every"])
    system = LammpsSystem(a)
    trace, frames = [], []
    try:
        lseed = int(rng.integers(1, 900_000_000))
        damp = 1.0 / cfg["friction"] / 1000.0   # ps
        system.commands(model_md_commands(
            system, model_path, threads=threads, uncertainty_every=every,
            timestep_fs=cfg["timestep"], temperature=segs[0][0], seed=lseed))
        lmp = system.lmp
        t_end = final_temperature(cfg)
        press = pressures(cfg)
        plan = [(t0, t1, n, None, p) for (t0, t1, n), p in zip(segs, press)]
        plan.append((t_end, t_end, max(1, cfg["sample_steps"] // cfg["sample_every"])
                     * cfg["sample_every"], cfg["sample_every"], press[-1]))
        step = 0
        for k, (t0, t1, n, sample, pressure) in enumerate(plan):
            # the ramp over this segment: fix langevin T0 T1 over "run N start S stop S + n"
            system.commands([f"fix kz_langevin all langevin {_f(t0)} {_f(t1)} {_f(damp)} "
                             f"{lseed + 1 + k} zero yes"])
            if pressure is not None:  # bar, ps, bar (units metal)
                system.commands([
                    f"fix kz_baro all press/berendsen iso {_f(pressure * GPA_BAR)} "
                    f"{_f(pressure * GPA_BAR)} {_f(cfg['pressure_damp'] / 1000.0)} "
                    f"modulus {_f(cfg['bulk_modulus'] * GPA_BAR)} dilate all"])
            start, done = step, 0
            chunk_of = sample or every
            while done < n:
                chunk = min(chunk_of, n - done)
                lmp.command(f"run {chunk} start {start} stop {start + n} post no")
                done += chunk
                step += chunk
                n_extra = int(lmp.extract_pair("num_extrapolating"))
                dev = float(lmp.extract_pair("max_force_deviation"))
                watch.update({"num_extrapolating": n_extra, "max_force_deviation": dev}, len(a))
                target = t0 + (t1 - t0) * done / n
                trace.append([step, target, float(lmp.get_thermo("temp")),
                              n_extra, dev, float(lmp.get_thermo("vol")) / len(a)])
                current = _lammps_atoms(system)
                # the close-pair guard at every trace point
                watch.check_distances(current, _where(k, segs, target), step)
                if sample:
                    frames.append(_frame(current))
            system.commands(["unfix kz_langevin"] + (["unfix kz_baro"] if pressure is not None
                                                      else []))
    finally:
        system.close()
    return frames, trace


def relax_final(frame, calc, cfg: dict):
    """The frame relaxed at fixed cell (L-BFGS: no 3N x 3N matrix to diagonalise per step, at
    most final_relax_steps to final_relax_fmax); returns (relaxed atoms, {steps, converged,
    max_force, energy_per_atom})."""
    from ase.optimize import LBFGS

    a = _frame(frame)
    a.set_velocities(np.zeros((len(a), 3)))
    a.calc = calc
    steps = cfg["final_relax_steps"]
    converged = True
    if steps:
        opt = LBFGS(a, logfile=None)
        converged = bool(opt.run(fmax=cfg["final_relax_fmax"], steps=steps))
        steps = opt.nsteps
    fmax = float(np.max(np.linalg.norm(a.get_forces(), axis=1)))
    energy = float(a.get_potential_energy()) / len(a)
    pressure = None
    if a.pbc.all():
        try:  # -tr(sigma)/3, the potential energy's alone (no kinetic part: a 0 K structure)
            pressure = float(-np.mean(a.get_stress(voigt=True)[:3]) * EV_A3_GPA)
        except Exception:  # calculators without a stress (PropertyNotImplementedError ...)
            pressure = None
    out = _frame(a)
    return out, {"steps": int(steps), "converged": converged, "max_force": fmax,
                 "energy_per_atom": energy, "pressure_GPa": pressure}


def _structure(frames, cfg, prefix=""):
    r, g = analysis.rdf(frames, cfg["rdf_rmax"], cfg["rdf_bins"])
    theta, adf = analysis.bond_angles(frames, cfg["bond_cutoff"])
    mean_cn, cn_hist = analysis.coordination(frames, cfg["bond_cutoff"])
    # the closest pair over the frames: atoms fused into a hole of the model (a pair far
    # inside the first RDF peak) show here even when the extrapolation count misses them
    closest = [d.min() for d in (neighbor_list("d", f, cfg["bond_cutoff"]) for f in frames)
               if len(d)]
    values = {f"{prefix}coordination": mean_cn, f"{prefix}rdf_first_peak": float(r[np.argmax(g)])}
    if closest:
        values[f"{prefix}min_distance"] = float(min(closest))
    if np.trapezoid(adf, theta) > 0:  # mean and spread of the bond angles (deg)
        p = adf / np.trapezoid(adf, theta)
        mean = float(np.trapezoid(theta * p, theta))
        values[f"{prefix}bond_angle_mean"] = mean
        values[f"{prefix}bond_angle_std"] = float(np.sqrt(np.trapezoid((theta - mean) ** 2 * p,
                                                                       theta)))
    data = {f"{prefix}r": r.tolist(), f"{prefix}g": g.tolist(), f"{prefix}theta": theta.tolist(),
            f"{prefix}adf": adf.tolist(), f"{prefix}coordination_histogram": cn_hist}
    return values, data


def _after(frame, calc, cfg, seed, values, data):
    """Relax the last frame, its structure and (dos) its vibrational DOS into values/data."""
    relaxed, info = relax_final(frame, calc, cfg)
    v, d = _structure([relaxed], cfg, "relaxed_")
    values.update(v)
    values["relaxed_energy_per_atom"] = info["energy_per_atom"]
    if info["pressure_GPa"] is not None:
        values["relaxed_pressure"] = info["pressure_GPa"]
    data.update(d)
    data["relaxation"] = info
    data["relaxed_positions"] = relaxed.positions.tolist()
    if cfg["dos"]:
        res = vdos.vdos(relaxed, calc, steps=cfg["dos_lanczos_steps"],
                        vectors=cfg["dos_vectors"], displacement=cfg["dos_displacement"],
                        sigma=cfg["dos_sigma"], freq_range=cfg["dos_range"],
                        pitch=cfg["dos_pitch"], seed=seed)
        values["dos_mean_frequency"] = res["mean_frequency"]
        values["dos_imaginary_fraction"] = res["imaginary_fraction"]
        data["dos"] = {"frequency": res["frequency"].tolist(), "g": res["dos"].tolist(),
                       "calls": res["calls"]}


def compute(atoms, calc, cfg: dict, relax: dict, seed: int = 0, side: str = "model",
            model_path=None, threads: int = 1, model_result=None) -> dict:
    """One side of the property. ``side``/``model_path``: with ``engine: lammps`` the model
    side runs in LAMMPS; ``model_result``: the model side's result (with its frames), which
    the reference judges with ``reference_mode: model_glass``."""
    guard_md(calc, cfg, "melt_quench", atoms, side)
    judge = side != "model" and cfg["reference_mode"] == "model_glass"
    values, data = {}, {"cooling_rates_K_per_fs": cooling_rates(cfg),
                        "timestep_fs": cfg["timestep"],
                        "segments": [list(s) for s in segments(cfg)],
                        "pressures_GPa": pressures(cfg)}
    data["cooling_rate_K_per_fs"] = max(data["cooling_rates_K_per_fs"])  # the fastest
    if judge:
        if model_result is None or "frames" not in model_result:
            raise RuntimeError("reference_mode model_glass: the model's melt-quench did not "
                               "give frames to judge")
        last = model_result["frames"][-1]
        data["start"] = "the model's last frame"
        frames = []
        if cfg["reference_md_steps"]:
            frames = _reference_md(last, calc, cfg, seed)
            v, d = _structure(frames, cfg)
            values.update(v)
            data.update(d)
        _after(last, calc, cfg, seed, values, data)
        return {"values": values, "data": data, "frames": frames}
    if cfg["engine"] == "lammps" and side == "model":
        frames, trace = run_protocol_lammps(atoms, model_path, threads, calc.watch, cfg, seed)
    else:
        frames, trace = run_protocol(atoms, calc, cfg, seed)
    data["trace"] = trace
    data["engine"] = cfg["engine"] if side == "model" else "ase"
    v, d = _structure(frames, cfg)
    values.update(v)
    if frames[0].pbc.all():
        values["density"] = float(np.mean([density(f) for f in frames]))
    data.update(d)
    _after(frames[-1], calc, cfg, seed, values, data)
    return {"values": values, "frames": frames, "data": data}


GUARD_KEYS = ("stop_extrapolating", "stop_patience", "min_distance", "min_distance_action")


def reference_config(cfg: dict) -> dict:
    """What the reference side depends on: the section less the guards of the model's MD
    (a reference is never guarded), so that an earlier reference result stays reusable."""
    return {k: v for k, v in cfg.items() if k not in GUARD_KEYS}


def _reference_md(start, calc, cfg, seed):
    """The reference's own MD at the final temperature from ``start`` (positions and
    velocities of the model's last frame): frames every sample_every steps."""
    a = _frame(start)
    a.set_velocities(start.get_velocities())
    a.calc = calc
    a.set_constraint(FixCom())
    dyn = Langevin(a, cfg["timestep"] * units.fs, temperature_K=final_temperature(cfg),
                   friction=cfg["friction"] / units.fs, fixcm=False,
                   rng=np.random.default_rng(seed + 1))
    frames = []
    for _ in range(max(1, cfg["reference_md_steps"] // cfg["sample_every"])):
        dyn.run(cfg["sample_every"])
        frames.append(_frame(a))
    return frames


UNITS = {"coordination": "", "rdf_first_peak": "Å", "relaxed_coordination": "",
         "relaxed_rdf_first_peak": "Å", "relaxed_energy_per_atom": "eV/atom",
         "density": "g/cm³", "relaxed_pressure": "GPa", "min_distance": "Å",
         "relaxed_min_distance": "Å", "bond_angle_mean": "deg",
         "bond_angle_std": "deg", "relaxed_bond_angle_mean": "deg",
         "relaxed_bond_angle_std": "deg",
         "dos_mean_frequency": "THz", "dos_imaginary_fraction": ""}


def _rdf_difference(x, gm, gr) -> float:
    x, gm, gr = map(np.asarray, (x, gm, gr))
    return float(np.trapezoid(np.abs(gm - gr), x) / np.trapezoid(gr, x))


def compare(model: dict, reference: dict) -> dict:
    m, r = model["data"], reference["data"]
    out = {}
    if "g" in m and "g" in r:
        out["rdf_difference"] = _rdf_difference(m["r"], m["g"], r["g"])
    if "relaxed_g" in m and "relaxed_g" in r:
        out["relaxed_rdf_difference"] = _rdf_difference(m["relaxed_r"], m["relaxed_g"],
                                                        r["relaxed_g"])
        # the same measure for the bond-angle distributions: int |p_m - p_r| dθ / int p_r dθ
        out["relaxed_adf_difference"] = _rdf_difference(m["relaxed_theta"], m["relaxed_adf"],
                                                        r["relaxed_adf"])
        pm, pr = np.asarray(m["relaxed_positions"]), np.asarray(r["relaxed_positions"])
        if pm.shape == pr.shape and r.get("start") == "the model's last frame":
            # the same start structure, two relaxations: how far apart they end (no
            # wrapping: BFGS moves atoms continuously from the same positions)
            out["relaxed_rms_distance_A"] = float(np.sqrt(np.mean(np.sum((pm - pr) ** 2, 1))))
    if "dos" in m and "dos" in r:
        out["dos_overlap"] = vdos.overlap(m["dos"]["frequency"], m["dos"]["g"], r["dos"]["g"])
    return out


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
            "force_mae_eV_A_on_model_frames": float(np.mean(np.concatenate(df))),
            "frames_compared": len(frames)}


PANELS = 4


def plot(axes, results) -> None:
    ax, ax2, ax3, ax4 = axes
    for label, res, style in results:
        d = res["data"]
        if "g" in d:
            ax.plot(d["r"], d["g"], color=style, label=f"{label} (sampled)")
            ax2.plot(d["theta"], d["adf"], color=style, label=f"{label} (sampled)")
        if "relaxed_g" in d:
            ax.plot(d["relaxed_r"], d["relaxed_g"], color=style, ls="--", lw=1,
                    label=f"{label} (relaxed last frame)")
            ax2.plot(d["relaxed_theta"], d["relaxed_adf"], color=style, ls="--", lw=1,
                     label=f"{label} (relaxed)")
        if d.get("trace"):
            t = np.asarray(d["trace"], dtype=float)
            time_ps = t[:, 0] * d.get("timestep_fs", 1.0) / 1000.0
            ax3.plot(time_ps, t[:, 2], color=style, lw=0.8, label=f"{label}: kinetic T")
            ax3.plot(time_ps, t[:, 1], color="k", lw=0.8, ls=":")
            if t.shape[1] > 3:
                twin = getattr(ax3, "_kz_twin", None) or ax3.twinx()
                ax3._kz_twin = twin
                twin.plot(time_ps, t[:, 3], color="C2", lw=0.8, label="atoms extrapolating")
                twin.set_ylabel("atoms extrapolating", color="C2")
        if "dos" in d:
            ax4.plot(d["dos"]["frequency"], d["dos"]["g"], color=style, label=label)
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r)")
    ax.set_title("radial distribution")
    ax.legend(fontsize=7)
    ax2.set_xlabel("bond angle (deg)")
    ax2.set_ylabel("probability density")
    ax2.set_title("bond-angle distribution")
    ax2.legend(fontsize=7)
    ax3.set_xlabel("t (ps)")
    ax3.set_ylabel("T (K); dotted: target")
    ax3.set_title("the schedule")
    ax3.legend(fontsize=7, loc="upper right")
    ax4.set_xlabel("frequency (THz)")
    ax4.set_ylabel("DOS (1/THz)")
    ax4.set_title("vibrational DOS of the relaxed last frame")
    if ax4.lines:
        ax4.legend(fontsize=7)
