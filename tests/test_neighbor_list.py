"""`kizuna._core.neighbor_list` finds exactly the pairs a brute-force image search finds.

Proves that the cell-list neighbour search returns the same set of (i, j, image) entries,
without duplicates and with correct Cartesian image shifts (r_ij = x_j + shift - x_i), for open
systems, periodic cubic and skewed triclinic cells, cells smaller than the cutoff (several
images of one neighbour and of the atom itself), mixed boundary conditions with zero cell
vectors along the open directions, unwrapped coordinates, sparse open systems and a single
atom in a tiny cell, also when OpenMP gives fewer threads than requested; and that NaN
coordinates and degenerate periodic cells raise InputError.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from itertools import product

import numpy as np
import pytest

from kizuna import InputError, _core


def brute_force_pairs(positions, cell, pbc, cutoff):
    """Counter of (i, j, n0, n1, n2) with |x_j + n . cell - x_i| < cutoff, n integer along
    periodic directions (0 along open ones), excluding (i, i, 0, 0, 0)."""
    positions = np.asarray(positions, float)
    periodic = [d for d in range(3) if pbc[d]]
    ranges = [range(1)] * 3
    if periodic:
        P = np.asarray(cell, float)[periodic]
        # |x_j - x_i + n P| >= s_min(P) |t_j - t_i + n| (t: coordinates of the projection on
        # span(P)), so |n_d| <= spread_d + cutoff / s_min is enough (see reference_impl).
        s_min = np.linalg.svd(P, compute_uv=False).min()
        t = np.linalg.lstsq(P.T, positions.T, rcond=None)[0].T
        spread = t.max(axis=0) - t.min(axis=0)
        for q, d in enumerate(periodic):
            k = int(np.ceil(spread[q] + cutoff / s_min)) + 1
            ranges[d] = range(-k, k + 1)
    found = Counter()
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, float)
    for n in product(*ranges):
        shift = np.array(n, float) @ cell
        d = positions[None, :, :] + shift - positions[:, None, :]
        close = np.linalg.norm(d, axis=2) < cutoff
        if n == (0, 0, 0):
            np.fill_diagonal(close, False)
        for i, j in zip(*np.nonzero(close)):
            found[(int(i), int(j), *n)] += 1
    return found


def core_pairs(positions, cell, pbc, cutoff):
    """Counter of (i, j, n0, n1, n2) from the core list; checks shifts are lattice vectors."""
    offsets, indices, shifts = _core.neighbor_list(np.asarray(positions, float), cell, pbc,
                                                   cutoff)
    n_atoms = len(positions)
    assert offsets.shape == (n_atoms + 1,) and offsets[0] == 0
    assert len(indices) == offsets[-1] == len(shifts)
    periodic = [d for d in range(3) if pbc[d]]
    found = Counter()
    for i in range(n_atoms):
        for e in range(offsets[i], offsets[i + 1]):
            j, shift = int(indices[e]), shifts[e]
            n = np.zeros(3)
            if periodic:
                P = np.asarray(cell, float)[periodic]
                coefficients = np.linalg.lstsq(P.T, shift, rcond=None)[0]
                n[periodic] = np.round(coefficients)
                assert np.abs(coefficients - n[periodic]).max() < 1e-8, "shift not a lattice vector"
            lattice = n @ (np.zeros((3, 3)) if cell is None else np.asarray(cell, float))
            assert np.abs(shift - lattice).max() < 1e-9, f"shift {shift} != {lattice}"
            found[(i, j, *(int(v) for v in n))] += 1
    return found


def check(positions, cell, pbc, cutoff):
    pbc = list(np.broadcast_to(pbc, 3))
    expected = brute_force_pairs(positions, cell, pbc, cutoff)
    got = core_pairs(positions, cell, pbc, cutoff)
    assert max(got.values(), default=1) == 1, "duplicate entries"
    missing, extra = expected - got, got - expected
    assert not missing and not extra, (f"{len(missing)} missing (e.g. {list(missing)[:3]}), "
                                       f"{len(extra)} extra (e.g. {list(extra)[:3]})")
    return expected


def random_positions(n, cell, seed):
    return np.random.default_rng(seed).uniform(0, 1, (n, 3)) @ np.asarray(cell, float)


SKEWED = np.array([[4.0, 0.0, 0.0], [3.4, 3.1, 0.0], [-2.9, 2.6, 3.6]])


def test_open_cluster():
    positions = random_positions(40, np.eye(3) * 7.0, seed=1)
    pairs = check(positions, None, False, 3.0)
    assert len(pairs) > 100


def test_open_with_cell_given():
    positions = random_positions(30, SKEWED, seed=2)
    check(positions, SKEWED, False, 3.0)


def test_open_sparse():
    """Two clusters 200 Å apart and a lone atom: few bins for a big empty volume."""
    a = random_positions(20, np.eye(3) * 4.0, seed=3)
    b = random_positions(20, np.eye(3) * 4.0, seed=4) + [200.0, -150.0, 90.0]
    positions = np.vstack([a, b, [[-300.0, 0.0, 0.0]]])
    pairs = check(positions, None, False, 2.5)
    assert not any(i == 40 or j == 40 for i, j, *_ in pairs)


@pytest.mark.parametrize("cutoff", [1.5, 3.7])
def test_periodic_cubic(cutoff):
    cell = np.eye(3) * 9.0
    check(random_positions(120, cell, seed=5), cell, True, cutoff)


def test_triclinic_skewed():
    check(random_positions(30, SKEWED, seed=6), SKEWED, True, 3.3)


@pytest.mark.parametrize("cell", [np.eye(3) * 2.5, SKEWED * 0.6], ids=["cubic", "skewed"])
def test_cell_smaller_than_cutoff(cell):
    pairs = check(random_positions(3, cell, seed=7), cell, True, 4.2)
    neighbour_images = Counter((i, j) for i, j, *_ in pairs)
    assert any(i != j and count > 1 for (i, j), count in neighbour_images.items())
    assert all(neighbour_images[(i, i)] > 1 for i in range(3))  # images of itself


@pytest.mark.parametrize("pbc,zeroed", [([True, True, False], [2]),
                                        ([True, False, True], [1]),
                                        ([True, False, False], [1, 2]),
                                        ([False, True, False], [0, 2]),
                                        ([True, True, False], [])],
                         ids=["xy_zero_c", "xz_zero_b", "x_zero_bc", "y_zero_ac", "xy_skewed_c"])
def test_mixed_pbc(pbc, zeroed):
    base = np.array([[4.2, 0.0, 0.0], [1.3, 3.9, 0.0], [0.7, -0.9, 6.0]])
    positions = random_positions(25, base, seed=8)
    positions[:, 2] += np.linspace(-6.0, 6.0, 25)  # spread beyond the cell along open directions
    cell = base.copy()
    cell[zeroed] = 0.0
    check(positions, cell, pbc, 3.6)


def test_unwrapped_coordinates():
    """Atoms displaced by lattice vectors: the same pairs and the same distances."""
    positions = random_positions(20, SKEWED, seed=9)
    jumps = np.random.default_rng(9).integers(-3, 4, size=(20, 3))
    unwrapped = positions + jumps @ SKEWED
    check(unwrapped, SKEWED, True, 3.4)
    check(unwrapped, SKEWED, [True, False, True], 3.4)

    def distances(p):
        offsets, indices, shifts = _core.neighbor_list(p, SKEWED, True, 3.4)
        centres = np.repeat(np.arange(len(p)), np.diff(offsets))
        return np.sort(np.linalg.norm(p[indices] + shifts - p[centres], axis=1))

    assert np.allclose(distances(unwrapped), distances(positions), rtol=0, atol=1e-9)


def test_atoms_on_cell_boundaries():
    """Atoms exactly on lattice points, faces and just below zero (wrapping edge cases)."""
    cell = SKEWED
    fractional = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 1.0, 0.25],
                           [-1e-17, 0.3, 0.6], [0.999999999999999, 0.2, -1e-16],
                           [0.25, 0.75, 1.0 - 1e-16]])
    check(fractional @ cell, cell, True, 3.0)


def test_many_bins_triclinic():
    cell = SKEWED * 2.5
    check(random_positions(150, cell, seed=12), cell, True, 2.0)


@pytest.mark.parametrize("cell", [np.eye(3) * 0.9,
                                  np.array([[1.1, 0.0, 0.0], [0.8, 0.7, 0.0], [0.3, 0.4, 0.9]])],
                         ids=["cubic", "triclinic"])
def test_single_atom_tiny_cell(cell):
    pairs = check(np.array([[0.3, -0.2, 5.0]]), cell, True, 3.1)
    assert len(pairs) > 50 and all(i == j == 0 for i, j, *_ in pairs)


@pytest.mark.parametrize("env", [{"OMP_NUM_THREADS": "4", "OMP_THREAD_LIMIT": "1"},
                                 {"OMP_NUM_THREADS": "4", "OMP_DYNAMIC": "true"}],
                         ids=["thread_limit", "dynamic"])
def test_fewer_threads_than_requested(env):
    """The OpenMP runtime may give a parallel region fewer threads than omp_get_max_threads()
    (OMP_DYNAMIC, OMP_THREAD_LIMIT, nested regions); the list must still be complete.
    Core bug: build_neighbor_list splits the atoms into omp_get_max_threads() fixed chunks and
    chunks without a thread are silently skipped (atoms without neighbours). 600 atoms: the
    threaded path is used (small systems are searched by one thread)."""
    script = ("import json, sys, numpy as np; from kizuna import _core; "
              "p = np.array(json.loads(sys.argv[1])); "
              "o, i, s = _core.neighbor_list(p, np.eye(3) * 20.0, True, 3.0); "
              "print(json.dumps([o.tolist(), i.tolist(), s.tolist()]))")
    positions = random_positions(600, np.eye(3) * 20.0, seed=13)
    run = subprocess.run([sys.executable, "-c", script, json.dumps(positions.tolist())],
                         env={**os.environ, **env}, capture_output=True, text=True, check=True)
    offsets, indices, shifts = (np.array(a) for a in json.loads(run.stdout))
    expected = brute_force_pairs(positions, np.eye(3) * 20.0, [True] * 3, 3.0)
    assert offsets[-1] == sum(expected.values()), (
        f"{offsets[-1]} entries instead of {sum(expected.values())}; "
        f"{int(np.sum(np.diff(offsets) == 0))} atoms have no neighbours")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_position(bad):
    positions = random_positions(4, np.eye(3) * 5.0, seed=10)
    positions[2, 1] = bad
    with pytest.raises(InputError, match="non-finite"):
        _core.neighbor_list(positions, np.eye(3) * 5.0, True, 3.0)
    with pytest.raises(InputError, match="atom 2"):
        _core.neighbor_list(positions, None, False, 3.0)


@pytest.mark.parametrize("cell,pbc", [
    (np.array([[3.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 0.0, 3.0]]), True),
    (np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [1.5, 1.5, 0.0]]), True),
    (np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]), True),
    (np.array([[3.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), [True, True, False]),
], ids=["parallel", "coplanar", "zero_vector", "parallel_periodic_pair"])
def test_degenerate_periodic_cell(cell, pbc):
    with pytest.raises(InputError, match="degenerate|zero lattice vector|linearly dependent"):
        _core.neighbor_list(random_positions(4, np.eye(3) * 3.0, seed=11), cell, pbc, 2.0)
