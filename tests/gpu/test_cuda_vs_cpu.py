"""device cuda equals the CPU core to 1e-10 relative in float64: energies, forces, virials,
per-atom energies and virials, committee member energies and forces, extrapolation flags, the
training operators descriptors() and vjp(), on periodic (orthogonal, triclinic, cell smaller than
the cutoff) and open systems, for the n2p2 water potential and random models with every
symmetry-function kind and cutoff. Also: repeated calls with growing and denser systems (buffers
grow, neighbour slots re-learnt), bad input errors identical to the CPU's, jvp refused."""
from __future__ import annotations

import numpy as np
import pytest

import kizuna
from kizuna.errors import InputError, UnsupportedError
from model_factory import random_model

from .gpu_support import assert_close, rel, water_model, water_system

EVERYTHING = dict(virial=True, atom_energies=True, atom_virials=True, member_energies=True,
                  extrapolation_flags=True)


@pytest.fixture(scope="module")
def water():
    return water_model()


def compare(model, positions, symbols, cell, pbc, what, **request):
    cpu = kizuna.Potential(model, threads=1)
    gpu = kizuna.Potential(model, device="cuda")
    kwargs = dict(EVERYTHING, **request)  # the core's virial is defined for open systems too
    out_cpu = cpu.compute(positions, symbols, cell, pbc, **kwargs)
    out_gpu = gpu.compute(positions, symbols, cell, pbc, **kwargs)
    errs = assert_close(out_gpu, out_cpu, what=what)
    print(f"{what}: {errs}")
    return out_gpu, out_cpu


@pytest.mark.parametrize("system", ["cfg1_liquid1080", "cfg4_ice384", "cfg6_ice384_triclinic",
                                    "cluster"])
def test_water_gpu_equals_cpu(water, system):
    positions, symbols, cell, pbc = water_system(system)
    compare(water, positions, symbols, cell, pbc, system)


@pytest.mark.parametrize("cutoff", ["cos", "tanhu", "tanh", "exp", "poly1", "poly2", "poly3",
                                    "poly4"])
@pytest.mark.parametrize("pbc", [True, False])
def test_every_kind_gpu_equals_cpu(cutoff, pbc):
    rng = np.random.default_rng(31)
    model = random_model(seed=5, cutoff=cutoff, alpha=0.15 if cutoff.startswith("p") else 0.0,
                         activations=("silu", "gaussian", "linear"))
    n = 60
    cell = np.array([[8.0, 0.0, 0.0], [0.7, 7.6, 0.0], [-0.5, 0.4, 8.1]])
    positions = rng.uniform(0, 1, (n, 3)) @ cell
    symbols = ["O" if i % 3 == 0 else "H" for i in range(n)]
    compare(model, positions, symbols, cell if pbc else None, pbc, f"{cutoff} pbc={pbc}")


def test_cell_smaller_than_cutoff():
    rng = np.random.default_rng(32)
    model = random_model(seed=6)
    cell = np.diag([3.1, 3.3, 3.0])
    positions = rng.uniform(0, 1, (6, 3)) @ cell
    compare(model, positions, ["O", "H", "H", "O", "H", "H"], cell, True, "small cell")


def test_committee_members_gpu_equal_cpu():
    rng = np.random.default_rng(33)
    model = random_model(seed=7, committee=4)
    cell = np.diag([7.5, 7.5, 7.5])
    positions = rng.uniform(0, 1, (50, 3)) @ cell
    symbols = ["O" if i % 3 == 0 else "H" for i in range(50)]
    gpu, cpu = compare(model, positions, symbols, cell, True, "committee", member_forces=True)
    assert gpu["member_forces"].shape == (4, 50, 3)
    assert abs(gpu["max_force_deviation"] - cpu["max_force_deviation"]) <= \
        1e-10 * cpu["max_force_deviation"]


def test_training_operators_gpu_equal_cpu(water):
    positions, symbols, cell, pbc = water_system("cfg4_ice384")
    cpu = kizuna.Potential(water, threads=1)
    gpu = kizuna.Potential(water, device="cuda")
    species = cpu.species(symbols)
    G_cpu, off_cpu = cpu.descriptors(positions, species, cell, pbc)
    G_gpu, off_gpu = gpu.descriptors(positions, species, cell, pbc)
    assert np.array_equal(off_cpu, off_gpu)
    assert rel(G_gpu, G_cpu) < 1e-12
    beta = np.random.default_rng(34).normal(size=G_cpu.shape)
    F_cpu, W_cpu = cpu.vjp(positions, species, cell, pbc, beta)
    F_gpu, W_gpu = gpu.vjp(positions, species, cell, pbc, beta)
    assert rel(F_gpu, F_cpu) < 1e-10 and rel(W_gpu, W_cpu) < 1e-10
    with pytest.raises(UnsupportedError, match="jvp .* runs on the CPU only"):
        gpu.jvp(positions, species, cell, pbc, dpos=np.zeros_like(positions))


def test_buffers_grow_and_slots_are_relearnt(water):
    """A small system, a larger one, then the larger one compressed (more neighbours per atom
    than the slots learnt so far: the call is repeated with enough), then the small one again."""
    gpu = kizuna.Potential(water, device="cuda")
    cpu = kizuna.Potential(water, threads=1)
    small = water_system("cfg4_ice384")
    large = water_system("cfg1_liquid1080")
    dense = (large[0] * 0.8, large[1], large[2] * 0.8, True)
    for positions, symbols, cell, pbc in (small, large, dense, small):
        a = gpu.compute(positions, symbols, cell, pbc, virial=True)
        b = cpu.compute(positions, symbols, cell, pbc, virial=True)
        assert_close(a, b, what=f"{len(symbols)} atoms")


def test_bad_input_errors_are_the_cpus(water):
    gpu = kizuna.Potential(water, device="cuda")
    positions = np.array([[0.0, 0, 0], [0.0, 0, 0], [1.0, 0, 0]])
    with pytest.raises(InputError, match="on top of each other"):
        gpu.compute(positions, ["O", "H", "H"])
    positions[2, 1] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        gpu.compute(positions, ["O", "H", "H"])
    # and the engine is still usable afterwards
    ok = np.array([[0.0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    assert_close(gpu.compute(ok, ["O", "H", "H"]),
                 kizuna.Potential(water, threads=1).compute(ok, ["O", "H", "H"]), what="after error")


def test_ase_calculator_on_gpu(water):
    from ase import Atoms

    positions, symbols, cell, _ = water_system("cfg4_ice384")
    atoms = Atoms(symbols, positions=positions, cell=cell, pbc=True)
    atoms.calc = kizuna.Calculator(water, device="cuda")
    gpu = dict(energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
               stress=atoms.get_stress())
    atoms.calc = kizuna.Calculator(water, threads=1)
    cpu = dict(energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
               stress=atoms.get_stress())
    assert_close(gpu, cpu, what="ASE")
