"""Inputs for the stand-alone core driver benchmarks/profile_core.cpp (callgrind, A/B timing).

Writes, into a folder, a model file and a system file for each case:
  water   the n2p2 water potential H2O_RPBE-D3 (imported), n2p2's 1,080-atom liquid (cfg1);
  mo, si  the mlearn grid (examples/training/mlearn.yaml: 16 radial + 64 angular_wide shifted
          shells, rc 5.5 Å, 96-96 tanh networks) with random weights (timing only), on a
          thermally perturbed bcc Mo box (1,024 atoms) and diamond Si box (1,000 atoms);
  si-s4, si-s1, li2o-s4, li2o-s1
          the CHGNet students' shape (examples/distill/si_chgnet.yaml, li2o_chgnet.yaml: the
          same symmetry functions, 24-24 tanh networks) with random weights, as a 4-member
          committee (s4: the committee mean) and one member (s1), on a perturbed diamond Si
          box (1,000 atoms) and antifluorite Li2O box (1,500 atoms).

    python benchmarks/profile_core.py /tmp/kz_inputs
    g++ -std=c++17 -O3 -march=native -fno-math-errno -g -fopenmp -Icsrc/include csrc/src/*.cpp \
        benchmarks/profile_core.cpp -o /tmp/profile_core
    OMP_NUM_THREADS=1 /tmp/profile_core /tmp/kz_inputs/mo.kzn /tmp/kz_inputs/mo.txt 5
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ase.build import bulk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from model_factory import model_from_sfs  # noqa: E402
from n2p2_reference import WATER_CFENERGY, WATER_CFLENGTH, load  # noqa: E402

from kizuna.n2p2 import read_n2p2  # noqa: E402
from kizuna.training.symmetry import SymmetryFunctionSpec, generate_symmetry_functions  # noqa: E402


def write_system(path, symbols, positions, cell):
    """The driver's text format: n, the cell (9 numbers, rows = lattice vectors), symbol x y z."""
    lines = [str(len(symbols)), " ".join(f"{c:.17g}" for c in np.asarray(cell).ravel())]
    lines += [f"{s} {x:.17g} {y:.17g} {z:.17g}" for s, (x, y, z) in zip(symbols, positions)]
    Path(path).write_text("\n".join(lines) + "\n")


def mlearn_model(element):
    spec = SymmetryFunctionSpec(cutoff=5.5, cutoff_function="poly2", n_radial=16,
                                radial_mode="shifted", r_min=0.5, n_angular=64,
                                angular_kind="angular_wide", angular_mode="shifted",
                                r_min_angular=1.5, zetas=[1, 2, 4, 16], lambdas=[-1, 1])
    sfs = generate_symmetry_functions([element], spec)[element]
    return model_from_sfs([element], sfs, seed=1, hidden=(96, 96),
                          activations=("tanh", "tanh", "linear"))


def student_model(elements, angular_cutoff, committee):
    """The CHGNet students' symmetry functions and networks (random weights: timing only)."""
    spec = SymmetryFunctionSpec(cutoff=5.0, angular_cutoff=angular_cutoff, cutoff_function="poly2",
                                n_radial=10, n_angular=12, zetas=[1, 4], lambdas=[-1, 1],
                                angular_kind="angular_wide")
    sfs = generate_symmetry_functions(elements, spec)
    return model_from_sfs(elements, lambda e: sfs[e], seed=2, hidden=(24, 24),
                          activations=("tanh", "tanh", "linear"), committee=committee)


def main(folder):
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    water = read_n2p2(ROOT / "tests/data/n2p2/H2O_RPBE-D3", cflength=WATER_CFLENGTH,
                      cfenergy=WATER_CFENERGY)
    water.save(out / "water.kzn")
    ref = load("cfg1_liquid1080")
    write_system(out / "water.txt", ref.symbols, ref.positions, ref.cell)
    rng = np.random.default_rng(0)
    for name, atoms in [("mo", bulk("Mo", "bcc", a=3.16, cubic=True) * (8, 8, 8)),
                        ("si", bulk("Si", "diamond", a=5.43, cubic=True) * (5, 5, 5))]:
        mlearn_model(atoms.get_chemical_symbols()[0]).save(out / f"{name}.kzn")
        pos = atoms.positions + rng.normal(0, 0.08, atoms.positions.shape)
        write_system(out / f"{name}.txt", atoms.get_chemical_symbols(), pos, atoms.cell.array)
        print(name, len(atoms), "atoms")
    for name, atoms, elements, rca in [
            ("si", bulk("Si", "diamond", a=5.43, cubic=True) * (5, 5, 5), ["Si"], 3.8),
            ("li2o", bulk("OLi2", "fluorite", a=4.63, cubic=True) * (5, 5, 5), ["Li", "O"], 3.5)]:
        pos = atoms.positions + rng.normal(0, 0.08, atoms.positions.shape)
        for committee in (4, 1):
            case = f"{name}-s{committee}"
            student_model(elements, rca, committee).save(out / f"{case}.kzn")
            write_system(out / f"{case}.txt", atoms.get_chemical_symbols(), pos, atoms.cell.array)
            print(case, len(atoms), "atoms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/kz_inputs")
