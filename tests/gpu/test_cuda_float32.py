"""precision float32 on the GPU: float arithmetic with float64 sums. Its error against the
float64 CPU core is printed (the number docs/gpu.md reports) and bounded: far below the
accuracy of the potential itself (meV/atom, tens of meV/Å), but not zero (the float path runs)."""
from __future__ import annotations

import numpy as np
import pytest

import kizuna

from .gpu_support import errors, water_model, water_system


@pytest.mark.parametrize("system", ["cfg1_liquid1080", "cfg4_ice384", "cluster"])
def test_float32_error_is_small_and_reported(system):
    model = water_model()
    positions, symbols, cell, pbc = water_system(system)
    cpu = kizuna.Potential(model, threads=1).compute(positions, symbols, cell, pbc, virial=True,
                                                     atom_energies=True)
    f32 = kizuna.Potential(model, device="cuda", precision="float32")
    assert f32.precision == "float32"
    gpu = f32.compute(positions, symbols, cell, pbc, virial=True, atom_energies=True)
    errs = errors(gpu, cpu)
    n = len(symbols)
    per_atom_energy = abs(gpu["energy"] - cpu["energy"]) / n
    max_force = float(np.abs(gpu["forces"] - cpu["forces"]).max())
    print(f"float32 {system}: relative {errs}; |dE|/atom = {per_atom_energy:.3e} eV, "
          f"max |dF| = {max_force:.3e} eV/Å")
    assert errs["forces"] > 1e-12  # float arithmetic did run
    assert errs["forces"] < 1e-4 and errs["energies"] < 1e-5 and errs["virial"] < 1e-4
    assert per_atom_energy < 1e-5 and max_force < 1e-3
