"""pair_style kizuna ... device cuda in LAMMPS: run 0 equals device cpu (energy, pressure, virial,
forces, per-atom energies and virials) to 1e-10 relative; 2 MPI ranks sharing one GPU equal 1
rank; an NVE run with re-neighbouring (the list is uploaded only after a build, positions every
step) follows the CPU trajectory; float32 mode's error is printed; committee deviation equals
the CPU's."""
from __future__ import annotations

import numpy as np
import pytest

from kizuna.lammps import read_dump, run
from test_lammps_support import lammps_models, printed, run0  # noqa: F401

CONFIG = "cfg1_liquid1080"


def dump_arrays(dump):
    forces = np.column_stack([dump[k] for k in ("fx", "fy", "fz")])
    stress = np.column_stack([dump[f"c_satom[{k}]"] for k in range(1, 7)])
    return forces, dump["c_peatom"], stress


def relmax(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


@pytest.fixture(scope="module")
def cpu_run(lammps_models, tmp_path_factory):  # noqa: F811
    return run0(CONFIG, lammps_models, tmp_path_factory.mktemp("cpu"))


@pytest.mark.parametrize("nprocs", [1, 2])
def test_run0_gpu_equals_cpu(lammps_models, tmp_path, cpu_run, nprocs):  # noqa: F811
    result, dump = run0(CONFIG, lammps_models, tmp_path, nprocs=nprocs, keywords="device cuda")
    assert f"on {nprocs} procs" in result.output
    assert "device cuda, precision float64" in result.output
    cpu_result, cpu_dump = cpu_run
    pe, pe_cpu = printed(result, "PE")[0], printed(cpu_result, "PE")[0]
    assert abs(pe - pe_cpu) <= 1e-10 * abs(pe_cpu)
    assert relmax(printed(result, "W"), printed(cpu_result, "W")) <= 1e-10
    names = ("forces", "pe/atom", "stress/atom")
    for a, b, name in zip(dump_arrays(dump), dump_arrays(cpu_dump), names):
        assert relmax(a, b) <= 1e-10, name


def test_run0_float32_error_is_reported(lammps_models, tmp_path, cpu_run):  # noqa: F811
    result, dump = run0(CONFIG, lammps_models, tmp_path, keywords="device cuda precision float32")
    cpu_result, cpu_dump = cpu_run
    pe, pe_cpu = printed(result, "PE")[0], printed(cpu_result, "PE")[0]
    f, f_cpu = dump_arrays(dump)[0], dump_arrays(cpu_dump)[0]
    print(f"LAMMPS float32: |dPE|/atom = {abs(pe - pe_cpu) / len(f):.3e} eV, "
          f"max |dF| = {np.abs(f - f_cpu).max():.3e} eV/Å")
    assert 0 < np.abs(f - f_cpu).max() < 1e-3 and abs(pe - pe_cpu) / len(f) < 1e-5


NVE = """velocity all create 600 4928459 mom yes rot yes dist gaussian
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
timestep 0.0005
fix nve all nve
thermo 10
thermo_style custom step pe ke etotal press
thermo_modify format float %24.17g
run 100
"""


@pytest.mark.parametrize("nprocs", [1, 2])
def test_nve_trajectory_follows_cpu(lammps_models, tmp_path, nprocs):  # noqa: F811
    from test_lammps_support import setup_script

    out = {}
    for device in ("cpu", "cuda"):
        script = setup_script(CONFIG, lammps_models, f"device {device}") + NVE
        result = run(script, tmp_path / device, nprocs=nprocs).check()
        out[device] = result.thermo()[-1]
        assert "Neighbor list builds" in result.output
        builds = [line for line in result.output.splitlines() if "Neighbor list builds" in line]
        assert int(builds[-1].split("=")[1]) >= 2, "the run should re-neighbour"
    for column in ("PotEng", "TotEng", "Press"):
        a, b = np.array(out["cuda"][column]), np.array(out["cpu"][column])
        assert np.abs(a - b).max() <= 1e-8 * np.abs(b).max(), (column, a, b)


def test_committee_deviation_gpu_equals_cpu(tmp_path):
    from conftest import DATA
    from kizuna.n2p2 import read_n2p2_committee
    from test_lammps_committee import RUN0, script

    members = [DATA / "n2p2" / "H2O_revPBE0-D3_committee" / f"nnp-{k}" for k in range(1, 9)]
    model = read_n2p2_committee(members, length_unit="bohr", energy_unit="hartree")
    path = tmp_path / "committee.kzn"
    model.save(path)
    dumps = {}
    for device in ("cpu", "cuda"):
        run(script(path, f"device {device}", RUN0), tmp_path / device).check()
        dumps[device] = read_dump(tmp_path / device / "dev.dump")
    for key in dumps["cpu"]:
        if key in ("timestep", "box"):
            continue
        assert relmax(dumps["cuda"][key], dumps["cpu"][key]) <= 1e-10, key
