"""The CUDA kernels themselves, run on the CPU: csrc/cuda/{descriptor,network,force}_kernel.cuh
compiled as host code under a CPU emulation of CUDA threads (tests/cuda_emulation: one OS thread
per GPU thread, warp intrinsics as 32-thread barriers, 2 blocks of 2 warps) and compared with
the CPU core. This executes the kernels' own logic -- the ballot/popc neighbour sort, the
compacted triplet queue, warp sums, shared-memory regions, shared and global atomics, the
network's warp layout, committee passes, the slot-overflow detection -- which the host reference
(test_cuda_packing.py) does not. It cannot show GPU-only problems (the real memory model, timing,
the GPU's math library): tests/gpu does, on a GPU."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from extra_builds import build_cpu_only
from model_factory import random_model


@pytest.fixture(scope="module")
def emulator():
    path = build_cpu_only("kizuna_emulate_kernels") / "tests" / "cuda_emulation" / "kizuna_emulate_kernels"
    assert path.is_file(), path
    return path


def write_structure(path, positions, species, cell=None):
    periodic = cell is not None
    cell = np.zeros((3, 3)) if cell is None else cell
    lines = [f"{len(species)} {int(periodic)}", " ".join(repr(float(c)) for c in np.ravel(cell))]
    lines += [f"{s} " + " ".join(repr(float(v)) for v in p) for s, p in zip(species, positions)]
    path.write_text("\n".join(lines) + "\n")


def emulate(emulator, tmp_path, model, positions, species, cell, precision):
    model.save(tmp_path / "model.kzn")
    write_structure(tmp_path / "structure.txt", positions, species, cell)
    result = subprocess.run([str(emulator), str(tmp_path / "model.kzn"),
                             str(tmp_path / "structure.txt"), precision],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    assert out["error_code"] == 0 and out["overflow_after"] == 0 and out["flags_written"] == 1
    assert out["extrapolating"] == out["extrapolating_cpu"]
    return out


ERRORS = ("err_energy", "err_G", "err_forces", "err_virial", "err_atom_energies",
          "err_atom_virials", "err_member_energies", "err_member_forces")


def check(out, precision):
    errors = {k: out[k] for k in ERRORS}
    if precision == "float64":
        assert max(errors.values()) < 1e-10, errors
    else:  # float arithmetic, float64 sums
        assert 1e-10 < errors["err_forces"] < 1e-3, errors
        assert errors["err_G"] < 1e-4 and errors["err_energy"] < 1e-4, errors


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_kernels_equal_cpu_dense_periodic_committee(emulator, tmp_path, precision):
    """Every symmetry-function kind, two members, 40 atoms in a 6 Å cell (more than 32
    neighbours per centre: the run with 32 slots must report the overflow)."""
    rng = np.random.default_rng(41)
    model = random_model(seed=11, committee=2, cutoff="poly2", alpha=0.1)
    cell = np.array([[6.0, 0.0, 0.0], [0.5, 6.2, 0.0], [-0.3, 0.4, 5.9]])
    positions = rng.uniform(0, 1, (40, 3)) @ cell
    species = [1 if i % 3 == 0 else 0 for i in range(40)]
    out = emulate(emulator, tmp_path, model, positions, species, cell, precision)
    assert out["max_kept"] > 32
    assert out["overflow_seen"] == 1 and out["kept_at_overflow"] == out["max_kept"]
    check(out, precision)


@pytest.mark.parametrize("cutoff", ["cos", "tanh", "exp"])
def test_kernels_equal_cpu_open_cluster(emulator, tmp_path, cutoff):
    rng = np.random.default_rng(42)
    model = random_model(seed=12, cutoff=cutoff, activations=("silu", "gaussian", "linear"))
    positions = rng.uniform(-2.5, 2.5, (24, 3))
    species = [1 if i % 3 == 0 else 0 for i in range(24)]
    check(emulate(emulator, tmp_path, model, positions, species, None, "float64"), "float64")


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_kernels_equal_cpu_weighted_kinds(emulator, tmp_path, precision):
    """Every element-weighted kind with two channels on three elements (every slot of a centre
    in one group; the weights carried by the groups' cutoff entries), a triclinic cell."""
    import model_factory as mf
    from test_weighted import ELEMENTS, TRICLINIC, calibrated, weighted_model

    cell = TRICLINIC
    positions, symbols = mf.random_periodic_structure(cell, n=14, seed=43, min_distance=1.0,
                                                      symbols_pool=ELEMENTS)
    model = calibrated(weighted_model(seed=5), positions, symbols, cell, True)
    species = [ELEMENTS.index(s) for s in symbols]
    check(emulate(emulator, tmp_path, model, positions, species, cell, precision), precision)


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_kernels_equal_cpu_compact_narrow_n2p2(emulator, tmp_path, precision):
    """n2p2 types 21 and 24 (compact angular narrow, plain and weighted: the r_jk leg in
    both kernels) with types 2, 22 and 25, 24 atoms in a triclinic cell."""
    from conftest import DATA
    from kizuna.n2p2 import read_n2p2
    from kizuna.training.readers import read_n2p2 as read_input_data

    model = read_n2p2(DATA / "n2p2" / "CompactNarrow_HCO")
    s = read_input_data(DATA / "n2p2" / "reference" / "compact_narrow" / "input.data")[0]
    species = [model.elements.index(e) for e in s.symbols]
    check(emulate(emulator, tmp_path, model, s.positions, species, s.cell, precision), precision)


def test_kernels_equal_cpu_water_n2p2(emulator, tmp_path):
    """The imported n2p2 water potential (tanh^3 cutoff, 6.35 Å) on eight molecules of ice."""
    from conftest import DATA
    from kizuna.n2p2 import read_n2p2
    from n2p2_reference import WATER_CFENERGY, WATER_CFLENGTH, load

    model = read_n2p2(DATA / "n2p2" / "H2O_RPBE-D3", cflength=WATER_CFLENGTH,
                      cfenergy=WATER_CFENERGY)
    ref = load("cfg4_ice384")
    oxygens = [i for i, s in enumerate(ref.symbols) if s == "O"][:8]
    keep = []
    for o in oxygens:  # each oxygen with its two nearest hydrogens
        hydrogens = [i for i, s in enumerate(ref.symbols) if s == "H"]
        d = np.linalg.norm(ref.positions[hydrogens] - ref.positions[o], axis=1)
        keep += [o] + [hydrogens[k] for k in np.argsort(d)[:2]]
    positions = ref.positions[keep]
    species = [model.elements.index(ref.symbols[i]) for i in keep]
    for precision in ("float64", "float32"):
        check(emulate(emulator, tmp_path, model, positions, species, None, precision), precision)
