"""Elastic tensor from stress-strain finite differences, ions relaxed in every strained cell.

For each Voigt component j (1..6) the relaxed cell h (rows = lattice vectors) is deformed to
h' = h (I + eps), eps symmetric with eps_jj = d (j <= 3) or eps_kl = eps_lk = d/2 (shear, so
that the engineering strain is d), for every d in ``strains``; the ions are relaxed at that
fixed cell (ASE BFGS) and the stress sigma (ASE: sigma = (1/V) dE/d eps, Voigt xx yy zz yz xz
xy) is fitted linearly:  sigma_i(d) = sigma_i(0) + C_ij d  ->  C_ij (eV/Å^3 -> GPa).
The residual stress sigma(0) of the reference cell drops out of the slope.

Why not matcalc's ElasticityCalc: it fits with pymatgen's ElasticTensor and brings matcalc's
own dependency pins; the fit here is ten lines of numpy on the same principle (strained cells,
relaxed ions, linear stress-strain fit), with no new dependency.
"""
from __future__ import annotations

import numpy as np
from ase import units

from .common import relax_positions

_VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
COMPONENTS = [f"C{i}{j}" for i in range(1, 7) for j in range(i, 7)]


def strain_matrix(j: int, d: float) -> np.ndarray:
    """Symmetric strain tensor of Voigt component j (0..5) with engineering strain d."""
    eps = np.zeros((3, 3))
    k, l = _VOIGT[j]
    if k == l:
        eps[k, k] = d
    else:
        eps[k, l] = eps[l, k] = d / 2.0
    return eps


def compute(atoms, calc, cfg: dict, relax: dict) -> dict:
    strains = np.asarray(cfg["strains"], dtype=float)
    cell0 = np.asarray(atoms.cell)
    c = np.zeros((6, 6))
    stresses = np.zeros((6, len(strains), 6))
    for j in range(6):
        for m, d in enumerate(strains):
            a = atoms.copy()
            a.set_cell(cell0 @ (np.eye(3) + strain_matrix(j, d)), scale_atoms=True)
            a.calc = calc
            if cfg["relax_ions"]:
                relax_positions(a, relax["fmax"], relax["steps"])
            stresses[j, m] = a.get_stress(voigt=True)
        for i in range(6):
            c[i, j] = np.polyfit(strains, stresses[j, :, i], 1)[0]
    c = 0.5 * (c + c.T) / units.GPa   # symmetrised, GPa
    values = {name: float(c[int(name[1]) - 1, int(name[2]) - 1]) for name in cfg["components"]}
    # Voigt averages: B_V = (C11+C22+C33 + 2(C12+C13+C23))/9,
    # G_V = (C11+C22+C33 - (C12+C13+C23) + 3(C44+C55+C66))/15
    diag, off = np.trace(c[:3, :3]), c[0, 1] + c[0, 2] + c[1, 2]
    values["B_V"] = float((diag + 2 * off) / 9)
    values["G_V"] = float((diag - off + 3 * np.trace(c[3:, 3:])) / 15)
    return {"values": values, "data": {"C": c.tolist(), "strains": strains.tolist(),
                                       "stresses": (stresses / units.GPa).tolist()}}


UNITS = {**{name: "GPa" for name in COMPONENTS}, "B_V": "GPa", "G_V": "GPa"}


def plot(ax, results) -> None:
    """The 6x6 tensors side by side: model (left half of each cell, as bars) vs reference."""
    names = [n for n in results[0][1]["values"]]
    x = np.arange(len(names))
    width = 0.8 / len(results)
    for k, (label, res, style) in enumerate(results):
        ax.bar(x + k * width, [res["values"][n] for n in names], width, label=label,
               color=style)
    ax.set_xticks(x + width * (len(results) - 1) / 2)
    ax.set_xticklabels(names, rotation=45)
    ax.set_ylabel("GPa")
    ax.set_title("elastic constants")
    ax.legend()
