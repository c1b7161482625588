"""pair_style kizuna with element-weighted symmetry functions: the n2p2 types 12/13 test
potential (tests/data/n2p2/Weighted_HCO) imported and run in LAMMPS (`run 0`, 1 and 2 MPI
ranks) gives nnp-predict's energy and forces (tests/data/n2p2/reference/weighted)."""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from conftest import DATA
from kizuna.lammps import read_dump, run
from kizuna.n2p2 import read_n2p2
from kizuna.training.readers import read_n2p2 as read_input_data
from test_lammps_support import HEADER, printed, require_lammps

POTENTIAL = DATA / "n2p2" / "Weighted_HCO"
REFERENCE = DATA / "n2p2" / "reference" / "weighted"


def _rows(path):
    return [line.split() for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("nprocs", [1, 2])
def test_lammps_matches_nnp_predict(tmp_path, nprocs):
    require_lammps()
    read_n2p2(POTENTIAL).save(tmp_path / "hco.kzn")
    s = read_input_data(REFERENCE / "input.data")[0]
    assert np.allclose(s.cell, np.tril(s.cell))  # LAMMPS's triclinic form: no rotation
    atoms = Atoms(s.symbols, positions=s.positions, cell=s.cell, pbc=True)
    write(tmp_path / "hco.data", atoms, format="lammps-data", specorder=["H", "C", "O"],
          masses=True)
    script = HEADER + f"""read_data {tmp_path / 'hco.data'}
pair_style kizuna {tmp_path / 'hco.kzn'}
pair_coeff * * H C O
dump d1 all custom 1 forces.dump id fx fy fz
dump_modify d1 format float %24.17g sort id
run 0
print "PE $(pe:%.17g)"
"""
    result = run(script, tmp_path / "run", nprocs=nprocs).check()
    energy = printed(result, "PE")[0]
    dump = read_dump(tmp_path / "run" / "forces.dump")
    forces = np.column_stack([dump["fx"], dump["fy"], dump["fz"]])
    expected = np.array([[float(x) for x in row[5:8]] for row in _rows(REFERENCE / "nnforces.out")])
    assert energy == pytest.approx(float(_rows(REFERENCE / "energy.out")[0][3]), rel=1e-12, abs=0)
    np.testing.assert_allclose(forces, expected, rtol=0, atol=1e-10)
