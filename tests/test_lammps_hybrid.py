"""NULL in pair_coeff: argon atoms (type 3, NULL for kizuna) among ice, argon handled by lj/cut
through pair_style hybrid/overlay. kizuna must ignore the argon completely: its energy, forces
and virial on the water equal n2p2's for the water alone, and argon gets no force from it."""
from __future__ import annotations

import numpy as np

import n2p2_reference
from kizuna.lammps import read_dump, run
from test_lammps_support import (HEADER, NKTV2P, data_file, lammps_models,  # noqa: F401
                                 printed)

N_WATER, N_ARGON = 384, 12


def test_null_type_is_ignored_by_kizuna(lammps_models, tmp_path):  # noqa: F811
    script = HEADER + f"""read_data {data_file("cfg4_ice384")} extra/atom/types 1
mass 1 1.00794
mass 2 15.9994
mass 3 39.948
create_atoms 3 random {N_ARGON} 4242 NULL overlap 2.0 maxtry 1000
compute pvir all pressure NULL virial

pair_style hybrid/overlay kizuna {lammps_models["water"]} lj/cut 6.0
pair_coeff * * kizuna H O NULL
pair_coeff * 3 lj/cut 0.0104 3.4
compute e_kizuna all pair kizuna
thermo_style custom step pe c_e_kizuna c_pvir[1]
dump d1 all custom 1 hybrid.dump id type fx fy fz
dump_modify d1 sort id format float %24.17g
run 0
undump d1
print "HYBRID $(pe:%.17g) $(c_e_kizuna:%.17g)"
print "WHYB $(c_pvir[1]*vol/{NKTV2P}:%.17g) $(c_pvir[2]*vol/{NKTV2P}:%.17g) &
$(c_pvir[3]*vol/{NKTV2P}:%.17g) $(c_pvir[4]*vol/{NKTV2P}:%.17g) &
$(c_pvir[5]*vol/{NKTV2P}:%.17g) $(c_pvir[6]*vol/{NKTV2P}:%.17g)"

# the same atoms with only the argon interactions
uncompute e_kizuna
pair_style lj/cut 6.0
pair_coeff * * 0.0 1.0
pair_coeff * 3 0.0104 3.4
thermo_style custom step pe c_pvir[1]
dump d2 all custom 1 lj.dump id type fx fy fz
dump_modify d2 sort id format float %24.17g
run 0
print "LJ $(pe:%.17g)"
print "WLJ $(c_pvir[1]*vol/{NKTV2P}:%.17g) $(c_pvir[2]*vol/{NKTV2P}:%.17g) &
$(c_pvir[3]*vol/{NKTV2P}:%.17g) $(c_pvir[4]*vol/{NKTV2P}:%.17g) &
$(c_pvir[5]*vol/{NKTV2P}:%.17g) $(c_pvir[6]*vol/{NKTV2P}:%.17g)"
"""
    result = run(script, tmp_path).check()
    reference = n2p2_reference.load("cfg4_ice384")  # water alone, computed by n2p2
    pe_hybrid, e_kizuna = printed(result, "HYBRID")
    pe_lj = printed(result, "LJ")[0]
    assert pe_lj != 0.0  # argon does interact (through lj/cut)
    assert abs(e_kizuna - reference.energy) < 1e-8 * abs(reference.energy)
    assert abs(pe_hybrid - pe_lj - reference.energy) < 1e-8 * abs(reference.energy)

    hybrid, lj = read_dump(tmp_path / "hybrid.dump"), read_dump(tmp_path / "lj.dump")
    assert len(hybrid["id"]) == N_WATER + N_ARGON
    f_hybrid = np.column_stack([hybrid[k] for k in ("fx", "fy", "fz")])
    f_lj = np.column_stack([lj[k] for k in ("fx", "fy", "fz")])
    f_kizuna = f_hybrid - f_lj
    argon = hybrid["type"] == 3
    assert np.abs(f_lj[argon]).max() > 1e-4  # argon feels its neighbours
    assert np.abs(f_kizuna[argon]).max() < 1e-12
    assert np.abs(f_kizuna[~argon] - reference.forces).max() < 1e-6

    w_kizuna = np.array(printed(result, "WHYB")) - np.array(printed(result, "WLJ"))
    assert np.abs(w_kizuna - reference.virial).max() < 1e-6 * np.abs(reference.virial).max()
