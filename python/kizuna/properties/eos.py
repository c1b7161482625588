"""Equation of state: energies of isotropically scaled copies of the structure (ions relaxed
at each volume when the cell has more than one atom), fitted by ase.eos (Birch-Murnaghan).

E(V) = E0 + 9 V0 B0/16 [ (x-1)^3 B' + (x-1)^2 (6 - 4 x) ],  x = (V0/V)^(2/3)
Results: E0 (eV/atom), V0 (Å^3/atom), a0 (Å, of the conventional cell when the crystal is
cubic, also from a primitive cell: spglib), B0 (GPa), B' (-).
"""
from __future__ import annotations

import numpy as np
from ase import units
from ase.eos import EquationOfState

from .common import relax_positions

SCHEMA_HELP = "equation of state: volumes V0*(1+s)^3 for s in +-strain"


def compute(atoms, calc, cfg: dict, relax: dict) -> dict:
    """``atoms``: the (relaxed) structure; ``cfg``: {strain, points, eos}."""
    n = len(atoms)
    strains = np.linspace(-cfg["strain"], cfg["strain"], cfg["points"])
    volumes, energies = [], []
    for s in strains:
        a = atoms.copy()
        a.set_cell(atoms.cell * (1.0 + s), scale_atoms=True)
        a.calc = calc
        if cfg["relax_ions"]:
            relax_positions(a, relax["fmax"], relax["steps"])
        volumes.append(a.get_volume() / n)
        energies.append(a.get_potential_energy() / n)
    eos = EquationOfState(volumes, energies, eos=cfg["eos"])
    v0, e0, b0 = eos.fit()
    bp = float(eos.eos_parameters[2]) if cfg["eos"] in ("birchmurnaghan", "murnaghan",
                                                        "vinet", "pouriertarantola") else None
    out = {"E0": float(e0), "V0": float(v0), "B0": float(b0 / units.GPa)}
    if bp is not None:
        out["B'"] = bp
    per_cubic_cell = _atoms_per_cubic_cell(atoms)
    if per_cubic_cell:
        # lattice constant of the conventional cubic cell from the fitted volume per atom
        out["a0"] = float((v0 * per_cubic_cell) ** (1.0 / 3.0))
    return {"values": out, "data": {"volumes": volumes, "energies": energies}}


def _atoms_per_cubic_cell(atoms) -> int | None:
    """Atoms in the conventional cubic cell of the crystal: len(atoms) for a cubic cell, else
    from spglib (e.g. 8 for the 2-atom primitive cell of diamond); None when not cubic."""
    lengths, angles = atoms.cell.lengths(), atoms.cell.angles()
    if np.allclose(lengths, lengths[0], rtol=1e-6) and np.allclose(angles, 90.0, atol=1e-6):
        return len(atoms)
    try:
        import spglib
    except ImportError:   # spglib comes with phonopy; without it only cubic cells get a0
        return None
    import warnings

    with warnings.catch_warnings():   # spglib 2.x: a DeprecationWarning about error handling
        warnings.simplefilter("ignore", DeprecationWarning)
        data = spglib.get_symmetry_dataset((np.asarray(atoms.cell),
                                            atoms.get_scaled_positions(), atoms.numbers),
                                           symprec=1e-3)
    if data is None or not 195 <= data.number <= 230:   # the cubic space groups
        return None
    return len(data.std_types)


UNITS = {"E0": "eV/atom", "V0": "Å³/atom", "B0": "GPa", "B'": "", "a0": "Å"}


def plot(ax, results: dict) -> None:
    """E(V) - E0 of each calculator (its own fitted minimum: absolute energies of different
    codes, e.g. a model of VASP data and Quantum ESPRESSO, have different zeros) and its
    fitted curve."""
    for label, res, style in results:
        v, e = np.asarray(res["data"]["volumes"]), np.asarray(res["data"]["energies"])
        e0 = res.get("values", {}).get("E0", float(e.min()))
        ax.plot(v, 1000 * (e - e0), style + "o", label=label)
        eos = EquationOfState(v, e, eos="birchmurnaghan")
        try:
            eos.fit()
            vv = np.linspace(v.min(), v.max(), 100)
            ax.plot(vv, 1000 * (eos.func(vv, *eos.eos_parameters) - e0), style + "-", lw=1)
        except Exception:  # a failed fit is already in the values; the plot shows points
            pass
    ax.set_xlabel("volume (Å³/atom)")
    ax.set_ylabel("E − E0 (meV/atom)")
    ax.set_title("equation of state")
    ax.legend()
