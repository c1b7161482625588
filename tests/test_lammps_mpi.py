"""pair_style kizuna under MPI: 1, 2 and 4 ranks (oversubscribed on small machines) give the same
energy, forces, per-atom energies and virial to 1e-10 relative, and per-atom sums equal the
globals on every decomposition. Orthogonal liquid water and a triclinic Cu2S cell. The core's
OpenMP threads (pair_style keyword threads) agree as well."""
from __future__ import annotations

import numpy as np
import pytest

from test_lammps_support import NKTV2P, lammps_models, printed, run0  # noqa: F401

RANKS = (1, 2, 4)


@pytest.fixture(scope="module", params=["cfg1_liquid1080", "cfgA_cu2s_144"])
def runs(request, lammps_models, tmp_path_factory):  # noqa: F811
    out = {}
    for n in RANKS:
        result, dump = run0(request.param, lammps_models,
                            tmp_path_factory.mktemp(f"{request.param}_np{n}"), nprocs=n)
        assert f"on {n} procs" in result.output, f"LAMMPS did not run on {n} ranks"
        out[n] = (result, dump)
    return out


@pytest.mark.parametrize("n", RANKS[1:])
def test_energy_and_virial_agree(runs, n):
    pe1 = printed(runs[1][0], "PE")[0]
    pen = printed(runs[n][0], "PE")[0]
    assert abs(pen - pe1) <= 1e-10 * abs(pe1), (pe1, pen)
    w1 = np.array(printed(runs[1][0], "W"))
    wn = np.array(printed(runs[n][0], "W"))
    assert np.abs(wn - w1).max() <= 1e-10 * np.abs(w1).max()


@pytest.mark.parametrize("n", RANKS[1:])
def test_forces_and_atom_energies_agree(runs, n):
    d1, dn = runs[1][1], runs[n][1]
    assert np.array_equal(d1["id"], dn["id"])
    f1 = np.column_stack([d1[k] for k in ("fx", "fy", "fz")])
    fn = np.column_stack([dn[k] for k in ("fx", "fy", "fz")])
    assert np.abs(fn - f1).max() <= 1e-10 * np.abs(f1).max()
    e1, en = d1["c_peatom"], dn["c_peatom"]
    assert np.abs(en - e1).max() <= 1e-10 * np.abs(e1).max()
    s1 = np.column_stack([d1[f"c_satom[{k}]"] for k in range(1, 7)])
    sn = np.column_stack([dn[f"c_satom[{k}]"] for k in range(1, 7)])
    assert np.abs(sn - s1).max() <= 1e-10 * np.abs(s1).max()


@pytest.mark.parametrize("n", RANKS)
def test_per_atom_sums_equal_globals(runs, n):
    result = runs[n][0]
    pe = printed(result, "PE")[0]
    assert abs(printed(result, "PESUM")[0] - pe) <= 1e-10 * abs(pe)
    virial = np.array(printed(result, "W"))
    stress_sum = np.array(printed(result, "SSUM"))
    assert np.abs(-stress_sum / NKTV2P - virial).max() <= 1e-9 * np.abs(virial).max()
    # the sum of the forces vanishes (momentum conservation), ghosts summed back correctly
    d = runs[n][1]
    total = np.array([d[k].sum() for k in ("fx", "fy", "fz")])
    assert np.abs(total).max() < 1e-9 * len(d["id"]) * np.abs(d["fx"]).max()


@pytest.mark.parametrize("threads", [2, 3])
def test_openmp_threads_agree(lammps_models, tmp_path, threads):  # noqa: F811
    config = "cfg6_ice384_triclinic"
    one, d1 = run0(config, lammps_models, tmp_path / "t1", keywords="threads 1")
    many, dn = run0(config, lammps_models, tmp_path / "tn", keywords=f"threads {threads}")
    pe1, pen = printed(one, "PE")[0], printed(many, "PE")[0]
    assert abs(pen - pe1) <= 1e-10 * abs(pe1)
    for key in ("fx", "fy", "fz", "c_peatom", "c_satom[1]", "c_satom[6]"):
        assert np.abs(dn[key] - d1[key]).max() <= 1e-10 * np.abs(d1[key]).max(), key
    w1, wn = np.array(printed(one, "W")), np.array(printed(many, "W"))
    assert np.abs(wn - w1).max() <= 1e-10 * np.abs(w1).max()
