"""`make demo`: DFT data -> trained kizuna model -> test errors -> molecular dynamics.

1. train a silicon potential on the Zuo et al. (2020) DFT data copied in tests/data/mlearn/Si
   (examples/training/si.yaml with a smaller symmetry-function set and fewer epochs, so that the
   whole demo takes a few minutes on 2 cores),
2. export the best model and print its test-set errors (evaluated by the compiled core),
3. run MD with it: LAMMPS with the kizuna plugin on 2 MPI ranks when the plugin is available
   (kizuna.lammps), otherwise ASE molecular dynamics with kizuna.Calculator; prints which one
   ran, the throughput and the energy drift.

    python examples/demo.py [--out runs/demo] [--epochs 60] [--md-steps 1000]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "examples" / "training" / "si.yaml"


def demo_overrides(out: Path, epochs: int) -> list:
    """The demo's changes to si.yaml: fewer functions, a smaller network, fewer epochs."""
    return [f"output.directory={out}", "threads=2", f"training.epochs={epochs}",
            "symmetry_functions.n_radial=10", "symmetry_functions.n_angular=16",
            "model.hidden_layers=[24,24]", "training.learning_rate=0.005",
            "training.lr_final=0.0001", "training.lbfgs_epochs=20", "output.progress=line"]


def diamond_supercell(n: int = 3):
    from ase.build import bulk

    return bulk("Si", "diamond", a=5.431, cubic=True).repeat((n, n, n))


def write_lammps_data(atoms, path: Path):
    from ase.io import write

    write(path, atoms, format="lammps-data", specorder=["Si"], masses=True)


def run_lammps_md(model_path, atoms, *, steps=1000, temperature=600.0, nprocs=2, workdir):
    """NVE MD in LAMMPS with `pair_style kizuna` on `nprocs` MPI ranks (velocities drawn at
    `temperature` K, 1 fs steps). Returns a dict (engine, steps, atoms, seconds, atom-steps/s,
    energy drift in meV/atom) or None when kizuna.lammps (the plugin) is not available."""
    try:
        from kizuna import lammps as klammps
        klammps.plugin_path()
    except Exception as exc:  # noqa: BLE001 - module or plugin missing: fall back
        print(f"LAMMPS plugin not available here ({type(exc).__name__}: {exc})")
        return None
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_lammps_data(atoms, workdir / "si.data")
    script = f"""units metal
atom_style atomic
boundary p p p
read_data si.data
plugin load ${{kizuna_plugin}}
pair_style kizuna {Path(model_path).resolve()} extrapolation ignore
pair_coeff * * Si
velocity all create {temperature} 4928459 mom yes rot yes dist gaussian
timestep 0.001
fix nve all nve
thermo_style custom step temp pe etotal press
thermo 100
run {steps}
"""
    result = klammps.run(script, workdir, nprocs=nprocs, threads=1, timeout=1800).check()
    table = result.thermo()[-1]
    loop = [line for line in result.log.splitlines() if line.startswith("Loop time")]
    seconds = float(loop[-1].split()[3]) if loop else float("nan")
    etot = np.array(table["TotEng"])
    return {"engine": f"LAMMPS + kizuna plugin, {nprocs} MPI ranks", "steps": steps,
            "atoms": len(atoms), "seconds": seconds,
            "atom_steps_per_s": len(atoms) * steps / seconds,
            "drift_meV_atom": float(1000 * (etot[-1] - etot[0]) / len(atoms)),
            "temperature": float(table["Temp"][-1])}


def run_ase_md(model_path, atoms, *, steps=200, temperature=600.0, threads=2):
    """The same NVE run with ASE's velocity Verlet and kizuna.Calculator (fallback)."""
    from ase import units
    from ase.md import velocitydistribution as vd
    from ase.md.verlet import VelocityVerlet

    from kizuna import Calculator

    atoms = atoms.copy()
    atoms.calc = Calculator(model_path, threads=threads, extrapolation="ignore")
    # thermalize_momenta is ASE >= 3.27's name of MaxwellBoltzmannDistribution
    thermalize = getattr(vd, "thermalize_momenta", None) or vd.MaxwellBoltzmannDistribution
    thermalize(atoms, temperature_K=temperature, rng=np.random.default_rng(4928459))
    vd.Stationary(atoms)
    e0 = atoms.get_total_energy()
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    start = time.perf_counter()
    dyn.run(steps)
    seconds = time.perf_counter() - start
    return {"engine": f"ASE VelocityVerlet + kizuna.Calculator ({threads} threads)",
            "steps": steps, "atoms": len(atoms), "seconds": seconds,
            "atom_steps_per_s": len(atoms) * steps / seconds,
            "drift_meV_atom": float(1000 * (atoms.get_total_energy() - e0) / len(atoms)),
            "temperature": float(atoms.get_temperature())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "runs" / "demo"))
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--md-steps", type=int, default=1000)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from kizuna.training import train

    out = Path(args.out)
    t0 = time.perf_counter()
    print(f"== 1. training on {REPO / 'tests/data/mlearn/Si'} ({CONFIG.name} + demo overrides)",
          flush=True)
    result = train(CONFIG, demo_overrides(out, args.epochs), restart=True)  # always fresh
    t_train = time.perf_counter() - t0
    print(f"\n== 2. exported {result['model']} ({t_train:.0f} s); errors evaluated by the core:")
    print(result["table"])
    test = result["metrics"].get("test")
    atoms = diamond_supercell(4)
    print(f"\n== 3. NVE molecular dynamics, {len(atoms)} Si atoms, 600 K, 1 fs", flush=True)
    md = run_lammps_md(result["model"], atoms, steps=args.md_steps, workdir=out / "lammps")
    if md is None:
        print("-> falling back to ASE molecular dynamics with kizuna.Calculator")
        md = run_ase_md(result["model"], atoms, steps=max(1, args.md_steps // 5))
    print(f"engine: {md['engine']}\n{md['steps']} steps x {md['atoms']} atoms in "
          f"{md['seconds']:.2f} s: {md['atom_steps_per_s']:.3g} atom-steps/s; final T "
          f"{md['temperature']:.0f} K; total-energy drift {md['drift_meV_atom']:+.3f} meV/atom")
    print(f"\n== summary ({time.perf_counter() - t0:.0f} s in all)")
    if test:
        print(f"test errors (Si_test.xyz, 25 structures): energy MAE {test['energy'][0]:.2f} "
              f"meV/atom, force MAE {test['forces'][0]:.4f} eV/Å "
              f"(published NNP: 5.63 meV/atom, 0.109 eV/Å; this is the small demo model)")
    print(f"MD throughput: {md['atom_steps_per_s']:.3g} atom-steps/s ({md['engine']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
