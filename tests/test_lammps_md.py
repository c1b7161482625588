"""pair_style kizuna in dynamics: forces and virial against LAMMPS's own finite differences
(fix numdiff, fix numdiff/virial), energy conservation in NVE, and NVT/NPT runs on a triclinic
box (the barostat must expand a box under large positive pressure)."""
from __future__ import annotations

import numpy as np
import pytest

from kizuna.lammps import read_dump, run
from test_lammps_support import lammps_models, setup_script  # noqa: F401

PROBE_IDS = (1, 2, 3, 50, 101, 144)  # atoms displaced by fix numdiff


@pytest.mark.parametrize("config", ["cfg6_ice384_triclinic", "cfgA_cu2s_144"])
def test_forces_and_virial_equal_finite_differences(lammps_models, tmp_path, config):  # noqa: F811
    ids = " ".join(str(i) for i in PROBE_IDS)
    script = setup_script(config, lammps_models) + f"""group probe id {ids}
fix fd probe numdiff 1 1.0e-4
fix fdv all numdiff/virial 1 1.0e-5
compute pvir all pressure NULL virial
dump d all custom 1 fd.dump id fx fy fz f_fd[1] f_fd[2] f_fd[3]
dump_modify d sort id format float %24.17g
run 0
print "P $(c_pvir[1]:%.17g) $(c_pvir[2]:%.17g) $(c_pvir[3]:%.17g) &
$(c_pvir[4]:%.17g) $(c_pvir[5]:%.17g) $(c_pvir[6]:%.17g)"
print "PFD $(f_fdv[1]:%.17g) $(f_fdv[2]:%.17g) $(f_fdv[3]:%.17g) &
$(f_fdv[4]:%.17g) $(f_fdv[5]:%.17g) $(f_fdv[6]:%.17g)"
"""
    result = run(script, tmp_path).check()
    d = read_dump(tmp_path / "fd.dump")
    probe = np.isin(d["id"], PROBE_IDS)
    assert probe.sum() == len(PROBE_IDS)
    analytic = np.column_stack([d[k][probe] for k in ("fx", "fy", "fz")])
    numeric = np.column_stack([d[f"f_fd[{k}]"][probe] for k in (1, 2, 3)])
    assert np.abs(analytic).max() > 0.1  # real forces, not a trivially passing zero
    # central differences with 1e-4 Å: truncation error ~1e-6 eV/Å
    assert np.abs(analytic - numeric).max() < 1e-5
    # pressure (virial part, bar): LAMMPS order xx yy zz xy xz yz; numdiff/virial gives
    # xx yy zz yz xz xy
    (p,), (pfd,) = result.printed("P"), result.printed("PFD")
    pfd_lammps_order = np.array(pfd)[[0, 1, 2, 5, 4, 3]]
    assert np.abs(np.array(p) - pfd_lammps_order).max() < 1e-6 * np.abs(p).max()


def test_nve_conserves_energy(lammps_models, tmp_path):  # noqa: F811
    steps = 20
    script = setup_script("cfg1_liquid1080", lammps_models) + f"""
velocity all create 300 4928459 mom yes rot yes dist gaussian
timestep 0.0005
fix 1 all nve
compute msd all msd
thermo_style custom step temp pe ke etotal c_msd[4]
thermo_modify format float %.15g
thermo 2
run {steps}
"""
    table = run(script, tmp_path).check().thermo()[-1]
    etotal, ke, msd = (np.array(table[k]) for k in ("TotEng", "KinEng", "c_msd[4]"))
    atoms = 1080
    assert len(etotal) == steps // 2 + 1
    assert msd[-1] > 1e-4  # atoms moved (Å^2)
    assert np.ptp(ke) / atoms > 5e-5  # energy flowed between kinetic and potential (eV/atom)
    # 0.5 fs steps: total energy constant to well below 0.1 meV/atom
    assert np.abs(etotal - etotal[0]).max() / atoms < 1e-4


@pytest.mark.parametrize("fix", ["nvt temp 200 200 0.02", "npt temp 200 200 0.02 tri 0 0 0.1"])
def test_nvt_and_npt_on_triclinic_box(lammps_models, tmp_path, fix):  # noqa: F811
    script = setup_script("cfg6_ice384_triclinic", lammps_models) + f"""
velocity all create 200 8812 mom yes rot yes
timestep 0.0005
fix 1 all {fix}
thermo_style custom step temp pe etotal press vol xy xz yz
thermo_modify format float %.15g
thermo 1
run 6
"""
    table = run(script, tmp_path).check().thermo()[-1]
    vol, press = np.array(table["Volume"]), np.array(table["Press"])
    assert np.isfinite(np.array(table["TotEng"])).all()
    if fix.startswith("nvt"):
        assert np.ptp(vol) == 0.0
    else:
        # this ice box is under ~+60 kbar: a barostat driving it to 0 bar must expand it
        assert press[0] > 1e4
        assert (np.diff(vol) > 0).all(), vol
        assert table["Xy"][-1] != table["Xy"][0]


def test_minimize_lowers_energy_and_forces(lammps_models, tmp_path):  # noqa: F811
    script = setup_script("cfg4_ice384", lammps_models) + """
thermo_style custom step pe fmax fnorm
thermo_modify format float %.15g
minimize 0.0 1.0e-3 10 100
"""
    table = run(script, tmp_path).check().thermo()[-1]
    pe, fmax = np.array(table["PotEng"]), np.array(table["Fmax"])
    assert len(pe) >= 2 and table["Step"][-1] > 0
    assert pe[-1] < pe[0] - 0.1  # eV: the ice (not relaxed) relaxes
    assert fmax[-1] < fmax[0]
