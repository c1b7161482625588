"""Edge cases of the compiled core through Python (issue 15): structures without any neighbour
pair give the isolated-atom energies; an atom far outside a periodic cell is wrapped without
an integer overflow (and refused where a double no longer resolves its place); a cutoff or a
cell that needs too many periodic images is refused up front with the numbers; a model that
overflows (NaN or infinite energy) raises NumericalError naming the model instead of returning
the number; an absurd thread count is refused instead of crashing.

Cases that hung, crashed or ran for minutes before the fix run in a subprocess with a time
limit, so that they fail cleanly on such code."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from ase import Atoms

import kizuna
from kizuna import InputError, NumericalError
from kizuna.n2p2 import read_n2p2
from model_factory import random_model
from n2p2_reference import WATER_CFENERGY, WATER_CFLENGTH, load
from reference_impl import predict

from conftest import TESTS


@pytest.fixture(scope="module")
def water(water_n2p2_dir):
    return read_n2p2(water_n2p2_dir, cflength=WATER_CFLENGTH, cfenergy=WATER_CFENERGY)


@pytest.fixture(scope="module")
def water_file(water, tmp_path_factory):
    path = tmp_path_factory.mktemp("hardening") / "water.kzn"
    water.save(path)
    return path


def run_python(code: str, timeout=60, env=None):
    """Run `code` in a fresh interpreter (tests folder on the path); (returncode, output)."""
    env = dict(os.environ if env is None else env)
    env.setdefault("OMP_NUM_THREADS", "1")
    try:
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=TESTS, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s (hang)")
    return proc.returncode, proc.stdout + proc.stderr


# ------------------------------------------------------------------------ no neighbour pairs
def test_isolated_atoms_give_the_atomic_energies(water):
    """One atom, an atom alone in a 20 Å box, two atoms 20 Å apart (open and periodic): the
    energy is the sum of the networks' outputs at zero features (from the slow numpy reference,
    which shares nothing with the core), forces and stress are zero."""
    e_o = predict(water, [[0.0, 0.0, 0.0]], ["O"]).energy
    e_h = predict(water, [[0.0, 0.0, 0.0]], ["H"]).energy
    assert np.isfinite(e_o) and np.isfinite(e_h) and e_o != e_h
    pot = kizuna.Potential(water, threads=1)
    out = pot.compute([[0.0, 0.0, 0.0]], ["O"], virial=True)
    assert out["energy"] == pytest.approx(e_o, rel=1e-12)
    assert np.all(out["forces"] == 0.0)
    cases = [
        (Atoms("O", [[1.0, 2.0, 3.0]], cell=np.eye(3) * 20.0, pbc=True), e_o),
        (Atoms("OH", [[0.0, 0.0, 0.0], [20.0, 0.0, 0.0]]), e_o + e_h),
        (Atoms("OH", [[1.0, 1.0, 1.0], [21.0, 1.0, 1.0]], cell=np.eye(3) * 40.0, pbc=True),
         e_o + e_h),
    ]
    for atoms, expected in cases:
        atoms.calc = kizuna.Calculator(water, threads=1, extrapolation="ignore")
        assert atoms.get_potential_energy() == pytest.approx(expected, rel=1e-12)
        assert np.all(atoms.get_forces() == 0.0)
        if atoms.pbc.all():
            assert np.all(atoms.get_stress() == 0.0)
    # descriptors, vjp and jvp (training operators) accept the pair-free structure too
    species = pot.species(["O", "H"])
    G, offsets = pot.descriptors([[0.0, 0.0, 0.0], [20.0, 0.0, 0.0]], species)
    assert np.all(G == 0.0) and offsets[-1] == len(G)


# ------------------------------------------------------------------- far outside the cell
def test_atom_far_outside_the_cell_is_wrapped_exactly_enough(water):
    """An atom moved by 1e9 a + 3e9 b (~1e11 Å away; image indices beyond 32-bit) has the same
    energy as in the cell, to the ~1e-5 Å a double resolves there (before: +5.96 eV)."""
    ref = load("cfg4_ice384")
    pot = kizuna.Potential(water, threads=1)
    base = pot.compute(ref.positions, ref.symbols, cell=ref.cell, pbc=True, virial=True)
    moved = ref.positions.copy()
    moved[3] += 1e9 * ref.cell[0] + 3e9 * ref.cell[1]
    out = pot.compute(moved, ref.symbols, cell=ref.cell, pbc=True, virial=True)
    assert abs(out["energy"] - base["energy"]) < 1e-4
    assert np.abs(out["forces"] - base["forces"]).max() < 1e-3
    assert np.abs(out["virial"] - base["virial"]).max() < 1e-3


def test_atom_beyond_the_resolvable_range_is_refused(water):
    ref = load("cfg4_ice384")
    moved = ref.positions.copy()
    moved[3] += 1e11 * ref.cell[0]
    with pytest.raises(InputError, match=r"atom 3 has coordinate .* more than 1e\+11 Å from the "
                                         r"origin.*atoms.wrap\(\)"):
        kizuna.Potential(water, threads=1).compute(moved, ref.symbols, cell=ref.cell, pbc=True)


# ------------------------------------------------------------------------ periodic images
def with_cutoff(model, rc):
    for em in model.element_models:
        for sf in em.symmetry_functions:
            sf.rc = rc
    return model


@pytest.mark.parametrize("rc", ["1e6", "1e300"])
def test_huge_cutoff_is_refused_with_the_image_count(water_file, rc):
    """rc = 1e6 hung, rc = 1e300 returned a wrong finite energy (images capped silently)."""
    code, output = run_python(f"""
        import numpy as np, kizuna
        from kizuna.model_io import read_model
        from test_hardening import with_cutoff
        model = with_cutoff(read_model(r"{water_file}"), {rc})
        pot = kizuna.Potential(model, threads=1)
        try:
            pot.compute([[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]], ["O", "H", "H"],
                        cell=np.eye(3) * 10.0, pbc=True)
        except kizuna.InputError as exc:
            print("REFUSED", exc)
        else:
            print("COMPUTED")
        # an open system has no images: every atom is a neighbour, which is fine
        print("OPEN", pot.compute([[0, 0, 0], [0.96, 0, 0]], ["O", "H"])["energy"])
    """)
    assert code == 0, output
    assert "REFUSED the cutoff" in output and "periodic images of the cell" in output, output
    assert "more than the limit of 100000" in output and "OPEN" in output


def test_thin_cell_is_refused_up_front(water):
    """A 1e-3 Å thin cell ran 37 s and died with std::bad_alloc; now it is refused at once,
    with the number of images it would need (2 ceil(6.35/0.001) + 1 = 12703 across it)."""
    code, output = run_python(f"""
        import numpy as np, kizuna
        from kizuna.n2p2 import read_n2p2
        from n2p2_reference import WATER_CFENERGY, WATER_CFLENGTH
        model = read_n2p2(r"{TESTS / 'data' / 'n2p2' / 'H2O_RPBE-D3'}", cflength=WATER_CFLENGTH,
                          cfenergy=WATER_CFENERGY)
        try:
            kizuna.Potential(model, threads=1).compute([[0, 0, 0]], ["O"],
                                                       cell=np.diag([3.0, 3.0, 1e-3]), pbc=True)
        except kizuna.InputError as exc:
            print("REFUSED", exc)
    """, timeout=30)
    assert code == 0, output
    assert "REFUSED" in output, output
    assert "1.27e+04 along lattice vector 2 (planes 0.001 Å apart)" in output, output
    assert "too thin for the cutoff" in output


def test_many_images_below_the_limit_still_work(water):
    """A legitimately small cell with many images (one O in a 1.8 Å cube, 9^3 = 729 images)
    matches the open cluster of the same atoms (the neighbour-list test suite covers the
    pairs themselves)."""
    pot = kizuna.Potential(water, threads=1)
    cell = np.eye(3) * 1.8
    out = pot.compute([[0.1, 0.2, 0.3]], ["O"], cell=cell, pbc=True)
    grid = np.array([[i, j, k] for i in range(-4, 5) for j in range(-4, 5)
                     for k in range(-4, 5)], float) * 1.8 + [0.1, 0.2, 0.3]
    centre = int(np.flatnonzero(np.all(np.abs(grid - [0.1, 0.2, 0.3]) < 1e-12, axis=1))[0])
    cluster = pot.compute(grid, ["O"] * len(grid), atom_energies=True)
    assert out["energy"] == pytest.approx(cluster["energies"][centre], rel=1e-10)


# ------------------------------------------------------------------------- non-finite results
LINEAR = [[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.96, 0.0, 0.0]]


def overflowing(kind):
    model = random_model(("H", "O"), kinds=("radial", "angular_narrow"))
    for em in model.element_models:
        if kind == "zeta":  # 2^(1-zeta) (1 - cos 180°)^zeta = 0 * inf = NaN
            for sf in em.symmetry_functions:
                if sf.kind == "angular_narrow":
                    sf.zeta = 2000.0
        elif kind == "offset":  # three atoms of -1e308 eV: the sum is -inf
            em.members[0].energy_offset = -1e308
    return model


@pytest.mark.parametrize("kind, message", [
    ("zeta", r"model .*bad_zeta.kzn: atom \d \((O|H)\) has energy -?nan eV: its symmetry "
             r"function \d+ of element (O|H) is -?nan"),
    ("offset", r"model .*bad_offset.kzn: the total energy is -inf eV"),
])
def test_non_finite_energy_raises_naming_the_model(tmp_path, kind, message):
    path = tmp_path / f"bad_{kind}.kzn"
    overflowing(kind).save(path)
    with pytest.raises(NumericalError, match=message):
        kizuna.Potential(path, threads=1).compute(LINEAR, ["O", "H", "H"])
    atoms = Atoms("OH2", LINEAR)
    atoms.calc = kizuna.Calculator(str(path), threads=1, extrapolation="ignore")
    with pytest.raises(NumericalError, match="model .*" + path.name):
        atoms.get_potential_energy()
    # the same model on a structure it does not overflow on is finite (no false alarm)
    if kind == "zeta":  # a single pair: no angle, no angular term
        out = kizuna.Potential(path, threads=1).compute(LINEAR[:2], ["O", "H"])
        assert np.isfinite(out["energy"])


# ------------------------------------------------------------------------------- threads
def test_absurd_thread_counts_are_refused(water_file):
    """threads=100000 crashed the interpreter (segmentation fault); now InputError."""
    code, output = run_python(f"""
        import kizuna
        for threads in (100000, 1025, -1):
            try:
                kizuna.Potential(r"{water_file}", threads=threads)
            except kizuna.InputError as exc:
                print("REFUSED", exc)
        pot = kizuna.Potential(r"{water_file}", threads=1)
        try:
            pot.threads = 100000
        except kizuna.InputError as exc:
            print("REFUSED-SET", exc)
        pot = kizuna.Potential(r"{water_file}", threads=64)  # oversubscribed but allowed
        print("OK", pot.compute([[0, 0, 0], [0.96, 0, 0]], ["O", "H"])["energy"])
    """)
    assert code == 0, output
    assert output.count("REFUSED threads must be between 0 (the OpenMP default) and 1024") == 3
    assert "got 100000; more threads than cores" in output and "REFUSED-SET" in output
    assert "OK" in output


def test_absurd_omp_num_threads_is_refused(water_file):
    code, output = run_python(f"""
        import kizuna
        pot = kizuna.Potential(r"{water_file}")
        try:
            pot.compute([[0, 0, 0], [0.96, 0, 0]], ["O", "H"])
        except kizuna.InputError as exc:
            print("REFUSED", exc)
    """, env={**os.environ, "OMP_NUM_THREADS": "100000"})
    assert code == 0, output
    assert "REFUSED the OpenMP default number of threads (OMP_NUM_THREADS) is 100000" in output
