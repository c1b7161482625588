"""Surface energies of slabs cut from the relaxed bulk cell (ase.build.surface; Miller indices
refer to the given cell's vectors: give the conventional cubic cell for cubic crystals):

    gamma = (E_slab - N_slab * E_bulk/atom) / (2 A)    (eV/Å^2; x 16.0218 -> J/m^2)

with A the area of the slab's in-plane cell and the slab's ions relaxed (cell fixed).
"""
from __future__ import annotations

import numpy as np

from .common import relax_positions

EV_PER_A2_TO_J_PER_M2 = 16.021766


def _name(miller) -> str:
    return "gamma_" + "".join(str(int(i)) for i in miller)


def compute(atoms, calc, cfg: dict, relax: dict) -> dict:
    from ase.build import surface

    bulk = atoms.copy()
    bulk.calc = calc
    e_atom = bulk.get_potential_energy() / len(bulk)
    values = {}
    for miller in cfg["miller"]:
        slab = surface(atoms, tuple(miller), cfg["layers"], vacuum=cfg["vacuum"], periodic=True)
        slab.calc = calc
        if cfg["relax_ions"]:
            relax_positions(slab, relax["fmax"], relax["steps"])
        area = float(np.linalg.norm(np.cross(slab.cell[0], slab.cell[1])))
        gamma = (slab.get_potential_energy() - len(slab) * e_atom) / (2 * area)
        values[_name(miller)] = float(gamma * EV_PER_A2_TO_J_PER_M2)
    return {"values": values, "data": {}}


class _Units(dict):
    def __missing__(self, key):
        return "J/m²"


UNITS = _Units()
