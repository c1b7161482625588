"""Readers of the n2p2 reference outputs in tests/data/n2p2/reference (LAMMPS dumps and the
summary JSON)."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from conftest import DATA

REFERENCE = DATA / "n2p2" / "reference"
# the unit factors used by the reference LAMMPS runs (pair_style hdnnp ... cflength cfenergy)
WATER_CFLENGTH = 1.8897261328
WATER_CFENERGY = 0.0367493254


@dataclass
class ReferenceConfig:
    name: str
    symbols: list
    positions: np.ndarray
    cell: np.ndarray  # rows = lattice vectors
    forces: np.ndarray
    atom_energies: np.ndarray
    energy: float
    virial: np.ndarray  # eV, LAMMPS order xx yy zz xy xz yz
    pressure_bar: float
    volume: float


def read_dump(path, type_symbols):
    lines = open(path).read().splitlines()
    i_box = next(i for i, l in enumerate(lines) if l.startswith("ITEM: BOX BOUNDS"))
    triclinic = "xy" in lines[i_box]
    b = [list(map(float, lines[i_box + k].split())) for k in (1, 2, 3)]
    if triclinic:
        (xlo_b, xhi_b, xy), (ylo_b, yhi_b, xz), (zlo, zhi, yz) = b
        xlo = xlo_b - min(0.0, xy, xz, xy + xz)
        xhi = xhi_b - max(0.0, xy, xz, xy + xz)
        ylo = ylo_b - min(0.0, yz)
        yhi = yhi_b - max(0.0, yz)
    else:
        (xlo, xhi), (ylo, yhi), (zlo, zhi) = b
        xy = xz = yz = 0.0
    cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
    i_atoms = next(i for i, l in enumerate(lines) if l.startswith("ITEM: ATOMS"))
    data = np.array([[float(x) for x in l.split()] for l in lines[i_atoms + 1:] if l.strip()])
    data = data[np.argsort(data[:, 0])]
    symbols = [type_symbols[int(t)] for t in data[:, 1]]
    origin = np.array([xlo, ylo, zlo])
    return symbols, data[:, 2:5] - origin, cell, data[:, 5:8], data[:, 8]


def load(name, folder="water", type_symbols=None):
    type_symbols = type_symbols or {1: "H", 2: "O"}
    summary = json.load(open(REFERENCE / "reference_summary.json"))[name]
    symbols, pos, cell, forces, pe = read_dump(REFERENCE / folder / f"{name}.forces.dump",
                                               type_symbols)
    return ReferenceConfig(name, symbols, pos, cell, forces, pe, summary["pe_eV"],
                           np.array(summary["virial_eV_xx_yy_zz_xy_xz_yz"]),
                           summary["press_bar"], summary["volume_A3"])
