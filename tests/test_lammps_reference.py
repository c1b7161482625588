"""pair_style kizuna `run 0` against n2p2's own LAMMPS outputs and against the Python core.

n2p2 reference (tests/data/n2p2/reference, written by n2p2's pair_style hdnnp in LAMMPS with
17 digits): energy to 1e-8 relative, forces to 1e-6 eV/Å, pressure to 1e-6 relative.
Python core (kizuna.Potential with its own periodic neighbour list): same physics through a
different neighbour list and summation order, so agreement to round-off.
"""
from __future__ import annotations

import numpy as np
import pytest

import n2p2_reference
from kizuna import Potential
from test_lammps_support import (CONFIGS, NKTV2P, SYSTEMS, lammps_models,  # noqa: F401
                                 printed, run0)


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def case(request, lammps_models, tmp_path_factory):  # noqa: F811
    config = request.param
    system = CONFIGS[config][0]
    result, dump = run0(config, lammps_models, tmp_path_factory.mktemp(config))
    reference = n2p2_reference.load(config, SYSTEMS[system]["folder"], SYSTEMS[system]["types"])
    ours = n2p2_reference.read_dump(result.workdir / "forces.dump", SYSTEMS[system]["types"])
    return dict(config=config, system=system, result=result, dump=dump, reference=reference,
                ours=ours, model=lammps_models[system])


def test_same_configuration_as_reference(case):
    # the reference dump holds the positions n2p2 saw (cfg6: after change_box, as here)
    _, pos, cell, _, _ = case["ours"]
    ref = case["reference"]
    assert np.abs(cell - ref.cell).max() < 1e-12
    assert np.abs(pos - ref.positions).max() < 1e-10


def test_energy_matches_n2p2(case):
    pe = printed(case["result"], "PE")[0]
    ref = case["reference"].energy
    assert abs(pe - ref) / abs(ref) < 1e-8, (pe, ref)


def test_forces_match_n2p2(case):
    forces = np.column_stack([case["dump"][k] for k in ("fx", "fy", "fz")])
    assert np.abs(forces - case["reference"].forces).max() < 1e-6


def test_atom_energies_match_n2p2(case):
    ref = case["reference"].atom_energies
    assert np.abs(case["dump"]["c_peatom"] - ref).max() < 1e-8 * np.abs(ref).max()


def test_pressure_and_virial_match_n2p2(case):
    result, ref = case["result"], case["reference"]
    press = printed(result, "PRESS")[0]
    assert abs(press - ref.pressure_bar) / abs(ref.pressure_bar) < 1e-6, (press, ref.pressure_bar)
    virial = np.array(printed(result, "W"))
    scale = np.abs(ref.virial).max()
    assert np.abs(virial - ref.virial).max() < 1e-6 * scale, (virial, ref.virial)


def test_per_atom_sums_equal_globals(case):
    result = case["result"]
    pe = printed(result, "PE")[0]
    assert abs(printed(result, "PESUM")[0] - pe) < 1e-10 * abs(pe)
    # compute stress/atom is -(per-atom virial) in bar*Å^3: sum_i s_i = -W * nktv2p
    virial = np.array(printed(result, "W"))
    stress_sum = np.array(printed(result, "SSUM"))
    assert np.abs(-stress_sum / NKTV2P - virial).max() < 1e-9 * np.abs(virial).max()


def test_matches_python_core(case):
    symbols, pos, cell, forces, atom_energies = case["ours"]
    out = Potential(case["model"], threads=1).compute(
        pos, symbols, cell=cell, pbc=True, virial=True, atom_energies=True, atom_virials=True)
    result, dump = case["result"], case["dump"]
    pe = printed(result, "PE")[0]
    assert abs(out["energy"] - pe) < 1e-11 * abs(pe)
    assert np.abs(out["forces"] - forces).max() < 1e-9
    assert np.abs(out["energies"] - atom_energies).max() < 1e-9
    virial = np.array(printed(result, "W"))
    assert np.abs(out["virial"] - virial).max() < 1e-9 * np.abs(virial).max()
    # per-atom virials: LAMMPS's (ghost contributions summed back) equal the core's
    stress = np.column_stack([dump[f"c_satom[{k}]"] for k in range(1, 7)])
    assert np.abs(-stress / NKTV2P - out["atom_virials"]).max() < 1e-9 * np.abs(virial).max()
