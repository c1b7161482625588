"""Layered LiNi1/3Mn1/3Co1/3O2 (NMC111), alpha-NaFeO2 type (R-3m), for nmc_chgnet.yaml.

    python examples/distill/nmc111_structure.py        # writes examples/distill/nmc111.xyz

The R-3m cell in its hexagonal setting (3 formula units, 12 atoms): Li on 3a (0, 0, 0), the
transition metal (TM) on 3b (0, 0, 1/2), O on 6c (0, 0, z). Lattice parameters of NMC111
from X-ray diffraction, a = 2.867 Å, c = 14.246 Å (Yabuuchi and Ohzuku, J. Power Sources
119-121, 171 (2003)); z(O) = 0.2412, a typical Rietveld value for NMC111 (LiCoO2: 0.2396).
That gives TM-O = 1.97 Å and Li-O = 2.11 Å, six O around each cation.

Ni, Mn and Co are ordered in every TM layer on the sqrt3 x sqrt3 R30° superlattice
(Ohzuku's model of NMC111): the in-plane supercell with vectors (2, 1) and (-1, 1) of the
hexagonal cell has 3 TM sites per layer, one on each of the three sublattices labelled by
(u + v) mod 3 (u, v the site's coordinates in the hexagonal cell; the supercell vectors do
not change it), and sublattice 0, 1, 2 holds Ni, Mn, Co. The 36-atom cell
(4.97 x 4.97 x 14.25 Å) is repeated twice along its first vector: 72 atoms,
Li18 Ni6 Mn6 Co6 O36, 9.93 x 4.97 x 14.25 Å.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

A, C, Z_O = 2.867, 14.246, 0.2412          # Å, Å, fractional
TM_ORDER = ("Ni", "Mn", "Co")              # sublattice 0, 1, 2
REPEAT = (2, 1, 1)


def nmc111(repeat=REPEAT):
    """The ordered NMC111 supercell (ASE Atoms): 36 * prod(repeat) atoms."""
    from ase import Atoms
    from ase.build import make_supercell
    from ase.spacegroup import crystal

    hexcell = crystal(["Li", "Co", "O"], basis=[(0, 0, 0), (0, 0, 0.5), (0, 0, Z_O)],
                      spacegroup=166, cellpar=[A, A, C, 90, 90, 120])
    atoms = make_supercell(hexcell, [[2, 1, 0], [-1, 1, 0], [0, 0, 1]])
    uv = np.linalg.solve(hexcell.cell.T, atoms.positions.T).T[:, :2]   # hexagonal fractions
    sublattice = np.rint(uv.sum(axis=1)).astype(int) % 3
    symbols = np.array(atoms.get_chemical_symbols(), dtype=object)
    tm = symbols == "Co"
    symbols[tm] = [TM_ORDER[k] for k in sublattice[tm]]
    atoms.set_chemical_symbols(symbols.tolist())
    atoms = atoms.repeat(tuple(repeat))
    return Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell,
                 pbc=True)                 # plain: no space-group tags


def main(argv=None):
    from ase.io import write

    out = Path(argv[0]) if argv else Path(__file__).with_name("nmc111.xyz")
    atoms = nmc111()
    write(out, atoms, format="extxyz")
    print(f"{out}: {atoms.get_chemical_formula()} ({len(atoms)} atoms), cell "
          f"{' x '.join(f'{x:.3f}' for x in atoms.cell.lengths())} Å")


if __name__ == "__main__":
    main(sys.argv[1:])
