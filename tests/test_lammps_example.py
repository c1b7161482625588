"""examples/lammps/in.water runs as documented (LAMMPS_PLUGIN_PATH, serial and 2 MPI ranks) and
both give the same energies; a few steps only."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kizuna.lammps import run
from test_lammps_support import lammps_models  # noqa: F401

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lammps"


def test_water_example_serial_and_two_ranks(lammps_models, tmp_path):  # noqa: F811
    variables = {"model": lammps_models["water"], "data": EXAMPLE / "water_1080.data",
                 "steps_nvt": 2, "steps_nve": 2, "thermo": 1}
    script = (EXAMPLE / "in.water").read_text()
    tables, finals = [], []
    for ranks in (1, 2):
        result = run(script, tmp_path / f"np{ranks}", nprocs=ranks, variables=variables,
                     autoload=True, input_name="in.water").check()
        assert f"on {ranks} procs" in result.output
        tables.append(result.thermo())
        finals.append(result.printed("FINAL")[0])
    assert finals[0][1:] == [1080.0, 0.002]  # atoms, simulated time in ps (4 steps of 0.5 fs)
    assert abs(finals[0][0] - finals[1][0]) < 1e-10 * abs(finals[0][0])
    for a, b in zip(*tables):
        for key in ("PotEng", "TotEng", "Press", "c_pe_sum"):
            assert np.allclose(a[key], b[key], rtol=1e-9, atol=1e-6), key
        assert np.allclose(a["PotEng"], a["c_pe_sum"], rtol=1e-12)
