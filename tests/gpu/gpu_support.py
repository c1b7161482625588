"""Helpers of the GPU tests: the systems compared between device cuda and the CPU, and the
comparison itself (relative errors, all reported on failure)."""
from __future__ import annotations

import numpy as np

from conftest import DATA
from kizuna.n2p2 import read_n2p2
from n2p2_reference import WATER_CFENERGY, WATER_CFLENGTH, load

TOLERANCE = 1e-10  # float64: GPU vs CPU, relative


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else float(np.linalg.norm(a))


def water_model():
    return read_n2p2(DATA / "n2p2" / "H2O_RPBE-D3", cflength=WATER_CFLENGTH,
                     cfenergy=WATER_CFENERGY)


def water_system(name: str):
    """(positions, symbols, cell, pbc) of an n2p2 reference configuration, or 'cluster': the
    molecules of the liquid within 9 Å of its centre as an open system."""
    if name == "cluster":
        ref = load("cfg1_liquid1080")
        centre = ref.cell.sum(axis=0) / 2
        keep = np.linalg.norm(ref.positions - centre, axis=1) < 9.0
        return ref.positions[keep], [s for s, k in zip(ref.symbols, keep) if k], None, False
    ref = load(name)
    return ref.positions, ref.symbols, ref.cell, True


def errors(gpu: dict, cpu: dict) -> dict:
    """Relative error of every array both results have."""
    out = {}
    for key, value in cpu.items():
        if key in gpu and key != "num_extrapolating":
            out[key] = rel(gpu[key], value)
    return out


def assert_close(gpu: dict, cpu: dict, tolerance: float = TOLERANCE, what: str = ""):
    errs = errors(gpu, cpu)
    bad = {k: v for k, v in errs.items() if not v <= tolerance}
    assert not bad, f"{what}: GPU differs from CPU beyond {tolerance}: {errs}"
    if "num_extrapolating" in cpu:
        assert gpu["num_extrapolating"] == cpu["num_extrapolating"]
    return errs
