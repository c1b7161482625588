"""Vacancy formation energy at fixed cell (the calculator's own relaxed cell, repeated):

    E_f = E(N-1, one atom removed, ions relaxed) - (N-1)/N * E(N, perfect supercell)   (eV)
"""
from __future__ import annotations

from .common import relax_positions


def compute(atoms, calc, cfg: dict, relax: dict) -> dict:
    bulk = atoms.repeat(tuple(cfg["supercell"]))
    bulk.calc = calc
    n = len(bulk)
    e_bulk = bulk.get_potential_energy()
    defect = bulk.copy()
    del defect[cfg["site"]]
    defect.calc = calc
    e_unrelaxed = defect.get_potential_energy()
    relax_positions(defect, relax["fmax"], relax["steps"])
    e_def = defect.get_potential_energy()
    ef = e_def - (n - 1) / n * e_bulk
    return {"values": {"formation_energy": float(ef),
                       "unrelaxed_formation_energy": float(e_unrelaxed - (n - 1) / n * e_bulk)},
            "data": {"atoms": n}}


UNITS = {"formation_energy": "eV", "unrelaxed_formation_energy": "eV"}
