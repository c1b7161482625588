"""Committee uncertainty in LAMMPS: `compute ID all kizuna/deviation` gives the per-atom force
deviation (per-atom vector), its maximum (scalar, usable by fix halt through a variable) and
the committee energy spread; values equal the Python core's on the same configuration, on 1 and
2 MPI ranks (member forces of ghost atoms are summed back to their owners)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import DATA
from kizuna import Potential
from kizuna.lammps import read_dump, run
from kizuna.n2p2 import read_n2p2_committee
from test_lammps_support import data_file, require_lammps

HEADER = """plugin load ${kizuna_plugin}
units metal
boundary p p p
atom_style atomic
atom_modify map array
"""


@pytest.fixture(scope="module")
def committee_model(tmp_path_factory):
    require_lammps()
    members = [DATA / "n2p2" / "H2O_revPBE0-D3_committee" / f"nnp-{k}" for k in range(1, 9)]
    model = read_n2p2_committee(members, length_unit="bohr", energy_unit="hartree")
    path = tmp_path_factory.mktemp("committee") / "committee.kzn"
    model.save(path)
    return path


def script(model, keywords="", body=""):
    return (HEADER + f"read_data {data_file('cfg4_ice384')}\n"
            "mass 1 1.00794\nmass 2 15.9994\n"
            f"pair_style kizuna {model} {keywords}\npair_coeff * * H O\n" + body)


RUN0 = """compute dev all kizuna/deviation
variable maxdev equal c_dev
dump d all custom 1 dev.dump id type x y z c_dev
dump_modify d sort id format float %24.17g
run 0
print "DEV $(c_dev:%.17g) $(c_dev[1]:%.17g) $(c_dev[2]:%.17g) $(c_dev[3]:%.17g)"
print "PE $(pe:%.17g)"
"""


@pytest.mark.parametrize("nprocs", [1, 2])
def test_deviation_matches_python_core(committee_model, tmp_path, nprocs):
    result = run(script(committee_model, body=RUN0), tmp_path, nprocs=nprocs).check()
    scalar, dev1, energy_std, n_extra = result.printed("DEV")[0]
    pe = result.printed("PE")[0][0]
    d = read_dump(tmp_path / "dev.dump")
    box = d["box"]
    cell = np.diag([b[1] - b[0] for b in box])
    positions = np.column_stack([d["x"], d["y"], d["z"]]) - [b[0] for b in box]
    symbols = ["H" if t == 1 else "O" for t in d["type"]]
    core = Potential(committee_model, threads=1).compute(
        positions, symbols, cell, True, member_forces=True, member_energies=True)
    assert pe == pytest.approx(core["energy"], rel=1e-12)
    assert np.abs(np.array(d["c_dev"]) - core["force_std"]).max() < 1e-10
    assert scalar == pytest.approx(core["max_force_deviation"], rel=1e-10)
    assert dev1 == scalar
    assert energy_std == pytest.approx(np.std(core["member_energies"]), rel=1e-8, abs=1e-10)
    assert n_extra == core["num_extrapolating"]


def test_fix_halt_stops_on_the_deviation(committee_model, tmp_path):
    body = """compute dev all kizuna/deviation
variable maxdev equal c_dev
velocity all create 300 4928459 dist gaussian
fix nve all nve
thermo_style custom step pe c_dev
thermo 1
fix stop all halt 1 v_maxdev > 1e-4 error continue
run 20
print "AFTER $(step)"
"""
    result = run(script(committee_model, body=body), tmp_path).check()
    # the deviation of an equilibrium-like ice is ~1e-2 eV/Å, far above 1e-4: stops at step 1
    assert result.printed("AFTER") == [[1.0]]


def test_uncertainty_every_skips_member_forces(committee_model, tmp_path):
    body = """compute dev all kizuna/deviation
velocity all create 300 4928459 dist gaussian
fix nve all nve
thermo_style custom step pe c_dev[1]
thermo 1
run 4
"""
    result = run(script(committee_model, "uncertainty_every 3", body), tmp_path).check()
    table = result.thermo()[-1]
    dev = table["c_dev[1]"]
    # computed at steps 0 and 3, held in between
    assert dev[1] == dev[0] and dev[2] == dev[0] and dev[3] != dev[0] and dev[4] == dev[3]


def test_deviation_needs_a_committee(tmp_path):
    require_lammps()
    from kizuna.n2p2 import read_n2p2

    single = read_n2p2(DATA / "n2p2" / "H2O_RPBE-D3")
    single.save(tmp_path / "single.kzn")
    result = run(script(tmp_path / "single.kzn", body=RUN0), tmp_path)
    assert result.returncode != 0
    assert "compute kizuna/deviation needs a committee model" in result.output


def test_uncertainty_every_zero_is_reported(committee_model, tmp_path):
    result = run(script(committee_model, "uncertainty_every 0", RUN0), tmp_path)
    assert result.returncode != 0
    assert "has not computed the committee force spread" in result.output
