"""The CHGNet distillation example works end to end, shortened: examples/distill/si_chgnet.yaml
with CHGNet 0.4.2 as the reference (installed by `make`), a short MD stage and tiny trainings.
The labels are CHGNet's own energies and forces, the student is a committee model file, and
LAMMPS (pair_style kizuna, the student) gives the same energy and forces as the Python core.
The full-length distillation and its measured errors/speed: benchmarks/distill_chgnet.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.io import read, write

from kizuna import Potential
from kizuna.learn import learn
from kizuna.lammps import read_dump, run
from test_lammps_support import require_lammps

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "distill" / "si_chgnet.yaml"
SHORT = ["output.progress=none", "md.stages=[{temperature: 900, steps: 30}]",
         "bootstrap.structures=3", "committee.members=2", "committee.epochs=6",
         "committee.lbfgs_epochs=2", "committee.retrain_epochs=2",
         "committee.retrain_lbfgs_epochs=1", "committee.retrain_every=1",
         "uncertainty.adaptive=false", "uncertainty.max_force_deviation=0.01",
         "uncertainty.cooldown=10", "test.trajectory_steps=4", "test.every=2"]


def test_distilling_chgnet_short_run_and_student_in_lammps(tmp_path):
    from kizuna.learn.reference import make_reference  # chgnet==0.4.2: installed by make

    run_dir = tmp_path / "distill-si"
    summary = learn(str(EXAMPLE), [f"output.directory={run_dir}", *SHORT])
    assert summary["md_steps"] == 30 and summary["bootstrap_calls"] == 3
    assert summary["md_reference_calls"] >= 1  # a tiny threshold: MD asks CHGNet
    assert summary["test"]["frames"] == 2
    labelled = read(run_dir / "labelled.xyz", ":")
    assert len(labelled) == summary["reference_calls"]
    # the stored labels are CHGNet's (float32 network: compare to 1e-4)
    check = labelled[-1].copy()
    check.calc = make_reference("chgnet")
    assert check.get_potential_energy() == pytest.approx(labelled[-1].get_potential_energy(),
                                                         abs=1e-4 * len(check))
    assert np.abs(check.get_forces() - labelled[-1].get_forces()).max() < 1e-3

    # the student in LAMMPS equals the student in Python
    require_lammps()
    student = run_dir / "committee.kzn"
    atoms = labelled[-1].copy()
    write(tmp_path / "si.data", atoms, format="lammps-data", specorder=["Si"], masses=True,
          atom_style="atomic")
    script = f"""plugin load ${{kizuna_plugin}}
units metal
atom_style atomic
boundary p p p
atom_modify map array
read_data si.data
pair_style kizuna {student}
pair_coeff * * Si
dump d all custom 1 f.dump id x y z fx fy fz
dump_modify d sort id format float %24.17g
run 0
print "PE $(pe:%.17g)"
"""
    result = run(script, tmp_path).check()
    pe = result.printed("PE")[0][0]
    d = read_dump(tmp_path / "f.dump")
    core = Potential(student, threads=1).compute(atoms.positions, atoms.get_chemical_symbols(),
                                                 atoms.cell.array, True)
    assert pe == pytest.approx(core["energy"], rel=1e-10)
    forces = np.column_stack([d["fx"], d["fy"], d["fz"]])
    assert np.abs(forces - core["forces"]).max() < 1e-8
