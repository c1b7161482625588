"""Writes the small n2p2 potential ../../CompactNarrow_HCO (compact angular narrow types 21 and
24, with a few types 22, 25 and 2 around them; random network weights) and the structure
input.data used for the nnp-predict reference (README.md). Run from the repository root:
.venv/bin/python tests/data/n2p2/reference/compact_narrow/make_potential.py

Types 21/24 (n2p2's SymFncCompAngn, SymFncCompAngnWeighted) are type 22/25 times the radial
bump of the third leg, C_r(r_jk). scaling.data needs feature statistics of the structure; they
come from kizuna's import of the potential in the order kizuna believes n2p2 uses: should that
order (or a value) be wrong, n2p2 and kizuna scale different numbers and the comparison fails.
"""
from pathlib import Path

import numpy as np

import kizuna
from kizuna.n2p2 import read_n2p2

HERE = Path(__file__).resolve().parent
POT = HERE.parent.parent / "CompactNarrow_HCO"
ELEMENTS = {"H": 1, "C": 6, "O": 8}
NODES = (10, 10)
SFS = ["21 H O 0.5 5.0 30.0 150.0 p2", "21 C H -5.0 5.0 60.0 180.0 p2a",
       "21 O O 0.2 4.5 0.0 120.0 p3", "21 H H 0.0 5.0 20.0 160.0 p2",
       "24 0.5 5.0 0.0 120.0 p2", "24 -5.0 5.0 60.0 180.0 p2a", "24 0.2 4.0 30.0 170.0 p4",
       "22 H C 0.5 5.0 40.0 160.0 p2", "25 -5.0 5.0 60.0 180.0 p2a", "2 O 0.3 0.0 5.0"]
HEADER = """# Small test potential with n2p2's compact angular narrow functions (types 21, 24)
# written by tests/data/n2p2/reference/compact_narrow/make_potential.py (random weights)
# Length unit     : Angstrom
# Energy unit     : eV
number_of_elements              3
elements                        H C O
cutoff_type                     6 0.1
scale_symmetry_functions
center_symmetry_functions
scale_min_short                 -1.0
scale_max_short                 1.0
global_hidden_layers_short      2
global_nodes_short              10 10
global_activation_short         t t l
"""


def write_input_nn():
    lines = [HEADER]
    for e in ELEMENTS:
        lines += [f"symfunction_short {e} {sf}" for sf in SFS]
    (POT / "input.nn").write_text("\n".join(lines) + "\n")


def write_weights(rng):
    for e, Z in ELEMENTS.items():
        sizes = [len(SFS), *NODES, 1]
        out, index = [], 0
        for layer in range(len(sizes) - 1):
            n_in, n_out = sizes[layer], sizes[layer + 1]
            for s in range(1, n_in + 1):
                for t in range(1, n_out + 1):
                    index += 1
                    w = rng.normal(0.0, 1.0 / np.sqrt(n_in))
                    out.append(f"{w:24.16E} a {index:9d} {layer:5d} {s:5d} {layer + 1:5d} {t:5d}")
            for t in range(1, n_out + 1):
                index += 1
                out.append(f"{rng.normal(0.0, 0.1):24.16E} b {index:9d} {layer + 1:5d} {t:5d}")
        (POT / f"weights.{Z:03d}.data").write_text("\n".join(out) + "\n")


def write_structure(rng):
    """A triclinic periodic cell with 24 H, C, O atoms at least 0.95 Å apart (all images)."""
    cell = np.array([[7.3, 0.0, 0.0], [0.9, 7.0, 0.0], [-0.6, 1.1, 7.2]])
    images = np.array([np.array([a, b, c]) @ cell for a in (-1, 0, 1) for b in (-1, 0, 1)
                       for c in (-1, 0, 1)])
    pos = []
    while len(pos) < 24:
        p = rng.uniform(0, 1, 3) @ cell
        if all(np.linalg.norm(q + images - p, axis=1).min() > 0.95 for q in pos):
            pos.append(p)
    symbols = ["H", "C", "O"] * 8
    lines = ["begin", "comment random H C O cell for the compact narrow symmetry functions test"]
    lines += [f"lattice {v[0]:.10f} {v[1]:.10f} {v[2]:.10f}" for v in cell]
    lines += [f"atom {p[0]:.10f} {p[1]:.10f} {p[2]:.10f} {s} 0.0 0.0 0.0 0.0 0.0"
              for p, s in zip(pos, symbols)]
    lines += ["energy 0.0", "charge 0.0", "end"]
    (HERE / "input.data").write_text("\n".join(lines) + "\n")
    return np.array(pos), symbols, cell


def write_scaling(stats):
    out = []
    for ie, e in enumerate(ELEMENTS, start=1):
        for k, (lo, hi, mean, sigma) in enumerate(stats[e], start=1):
            out.append(f"{ie:10d} {k:10d} {lo:24.16E} {hi:24.16E} {mean:24.16E} {sigma:24.16E}")
    (POT / "scaling.data").write_text("\n".join(out) + "\n")


def main():
    POT.mkdir(exist_ok=True)
    rng = np.random.default_rng(2127)
    write_input_nn()
    write_weights(rng)
    positions, symbols, cell = write_structure(rng)
    write_scaling({e: [(0.0, 1.0, 0.5, 1.0)] * len(SFS) for e in ELEMENTS})  # placeholder
    model = read_n2p2(POT)
    pot = kizuna.Potential(model, threads=1)
    G, offsets = pot.descriptors(positions, pot.species(symbols), cell, True)
    stats = {}
    for e in ELEMENTS:
        rows = np.array([G[offsets[i]:offsets[i + 1]] for i, s in enumerate(symbols) if s == e])
        lo, hi = rows.min(0), rows.max(0)
        pad = 0.2 * (hi - lo) + 0.05 * np.abs(rows).max(0) + 1e-3
        stats[e] = list(zip(lo - pad, hi + pad, rows.mean(0), rows.std(0) + pad))
    write_scaling(stats)


if __name__ == "__main__":
    main()
