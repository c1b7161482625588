"""Convergence of the Quantum ESPRESSO reference of si_mlearn_qe.yaml (pw.x, PBE,
Si.pbe-rrkj.UPF from Debian's quantum-espresso-data), on the 2-atom diamond cell.

For each (ecutwfc, k grid) it prints, relative to the most converged setting (last row):
the energy per atom (meV/atom; only differences between structures matter, so also the
energy difference between a cell compressed by 2 % and the equilibrium one), the pressure
(GPa), the shear stress of a cell strained by 1 % in yz (GPa, ~ C44 x 0.01), and the force on
an atom displaced by 0.03 Å (eV/Å, ~ the optical-phonon force constant).

    python examples/validate/si_qe_convergence.py          # ~1 CPU-minute
    python examples/validate/si_qe_convergence.py --json out.json
"""
from __future__ import annotations

import argparse
import json
import resource

import numpy as np
from ase import units
from ase.build import bulk

from kizuna.learn.espresso import make_espresso

A = 5.47  # Å, near the PBE lattice constant (VASP PAW in the mlearn data: 5.4688)
BASE = {"type": "espresso", "command": "pw.x", "pseudopotentials": {"Si": "Si.pbe-rrkj.UPF"},
        "xc": "PBE", "smearing": None, "conv_thr": 1e-10}
# (ecutwfc Ry, n of the n x n x n k grid, offset 0: Gamma-centred, 1: shifted by half a step).
# One grid for the four structures of a row: kspacing would change it between them (a grid
# jump is a spurious energy step). si_mlearn_qe.yaml's kspacing 0.058 1/Å gives 6x6x6
# (Γ-centred) for every cell of its EOS (+-2 %) and elastic (+-1 %) runs.
SETTINGS = [(20, 6, 0), (24, 6, 0), (30, 6, 0), (40, 6, 0), (30, 6, 1), (30, 8, 0),
            (30, 8, 1), (40, 11, 0)]


def structures():
    eq = bulk("Si", "diamond", a=A)
    small = bulk("Si", "diamond", a=A * 0.98)
    shear = eq.copy()
    eps = np.zeros((3, 3))
    eps[1, 2] = eps[2, 1] = 0.005                 # engineering yz strain 0.01
    shear.set_cell(eq.cell @ (np.eye(3) + eps), scale_atoms=True)
    moved = eq.copy()
    moved.positions[1, 0] += 0.03
    return eq, small, shear, moved


def _child_cpu() -> float:
    """CPU seconds (user + system) of the finished pw.x child processes."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(ecut: float, n: int, offset: int) -> dict:
    calc = make_espresso({**BASE, "ecutwfc": ecut, "kpts": [n] * 3, "koffset": [offset] * 3})
    eq, small, shear, moved = structures()
    out, t0 = {}, _child_cpu()
    for name, a in (("eq", eq), ("small", small), ("shear", shear), ("moved", moved)):
        a.calc = calc
        out[name] = {"e": a.get_potential_energy() / len(a), "s": a.get_stress().tolist(),
                     "f": a.get_forces().tolist()}
    return {"ecutwfc": ecut, "kgrid": n, "koffset": offset,
            "E_per_atom": out["eq"]["e"],
            "dE_compressed": out["small"]["e"] - out["eq"]["e"],
            "pressure_GPa": -np.mean(out["eq"]["s"][:3]) / units.GPa,
            "dP_compressed_GPa": -(np.mean(out["small"]["s"][:3])
                                   - np.mean(out["eq"]["s"][:3])) / units.GPa,
            "shear_stress_GPa": out["shear"]["s"][3] / units.GPa,
            "force_displaced": out["moved"]["f"][1][0],
            "cpu_s": _child_cpu() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args(argv)
    rows = []
    for ecut, n, offset in SETTINGS:
        rows.append(measure(ecut, n, offset))
        print(f"done ecutwfc={ecut} k grid={n} koffset={offset}", flush=True)
    best = rows[-1]
    print("| ecutwfc (Ry) | k grid (2-atom cell) | ΔE/atom (meV) | "
          "Δ[E(a·0.98) − E(a)] (meV/atom) | ΔP (GPa) | Δ[P(a·0.98) − P(a)] (GPa) | "
          "Δσ_yz (GPa) | ΔF (eV/Å) | CPU s (4 calls) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        grid = "×".join([str(r["kgrid"])] * 3) + (", shifted" if r["koffset"] else ", Γ-centred")
        print(f"| {r['ecutwfc']} | {grid} | "
              f"{1000 * (r['E_per_atom'] - best['E_per_atom']):+.2f} | "
              f"{1000 * (r['dE_compressed'] - best['dE_compressed']):+.3f} | "
              f"{r['pressure_GPa'] - best['pressure_GPa']:+.3f} | "
              f"{r['dP_compressed_GPa'] - best['dP_compressed_GPa']:+.3f} | "
              f"{r['shear_stress_GPa'] - best['shear_stress_GPa']:+.4f} | "
              f"{r['force_displaced'] - best['force_displaced']:+.4f} | {r['cpu_s']:.0f} |")
    print(f"most converged (last row): P = {best['pressure_GPa']:.3f} GPa at a = {A} Å, "
          f"P(a·0.98) − P(a) = {best['dP_compressed_GPa']:.3f} GPa, "
          f"σ_yz = {best['shear_stress_GPa']:.4f} GPa, F = {best['force_displaced']:.4f} eV/Å")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
