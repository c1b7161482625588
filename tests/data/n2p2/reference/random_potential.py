"""The random H-C-O n2p2 test potentials of the reference folders (weighted/, compact_narrow/):
input.nn from a header and a list of symmetry functions, random network weights, a random
24-atom periodic cell (input.data) and scaling.data from kizuna's own import of the potential:
should kizuna's idea of n2p2's feature order (or a value) be wrong, n2p2 and kizuna scale
different numbers and the nnp-predict comparison fails. Imported by each folder's
make_potential.py. Regenerating gives the committed files up to the last digits of
scaling.data (the core's summation order); the nnp-predict outputs belong to the committed
scaling.data, so keep it unless the reference is redone."""
import numpy as np

import kizuna
from kizuna.n2p2 import read_n2p2

ELEMENTS = {"H": 1, "C": 6, "O": 8}
NODES = (10, 10)


def write_input_nn(pot, header, sfs):
    lines = [header]
    for e in ELEMENTS:
        lines += [f"symfunction_short {e} {sf}" for sf in sfs]
    (pot / "input.nn").write_text("\n".join(lines) + "\n")


def write_weights(pot, n_sfs, rng):
    for e, Z in ELEMENTS.items():
        sizes = [n_sfs, *NODES, 1]
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
        (pot / f"weights.{Z:03d}.data").write_text("\n".join(out) + "\n")


def write_structure(data_dir, cell, comment, rng):
    """A triclinic periodic cell with 24 H, C, O atoms at least 0.95 Å apart (all images)."""
    cell = np.asarray(cell, dtype=float)
    images = np.array([np.array([a, b, c]) @ cell for a in (-1, 0, 1) for b in (-1, 0, 1)
                       for c in (-1, 0, 1)])
    pos = []
    while len(pos) < 24:
        p = rng.uniform(0, 1, 3) @ cell
        if all(np.linalg.norm(q + images - p, axis=1).min() > 0.95 for q in pos):
            pos.append(p)
    symbols = ["H", "C", "O"] * 8
    lines = ["begin", f"comment {comment}"]
    lines += [f"lattice {v[0]:.10f} {v[1]:.10f} {v[2]:.10f}" for v in cell]
    lines += [f"atom {p[0]:.10f} {p[1]:.10f} {p[2]:.10f} {s} 0.0 0.0 0.0 0.0 0.0"
              for p, s in zip(pos, symbols)]
    lines += ["energy 0.0", "charge 0.0", "end"]
    (data_dir / "input.data").write_text("\n".join(lines) + "\n")
    return np.array(pos), symbols, cell


def write_scaling(pot, stats):
    out = []
    for ie, e in enumerate(ELEMENTS, start=1):
        for k, (lo, hi, mean, sigma) in enumerate(stats[e], start=1):
            out.append(f"{ie:10d} {k:10d} {lo:24.16E} {hi:24.16E} {mean:24.16E} {sigma:24.16E}")
    (pot / "scaling.data").write_text("\n".join(out) + "\n")


def make_potential(pot_dir, data_dir, header, sfs, cell, comment, seed):
    """Write pot_dir/input.nn, pot_dir/weights.*.data and pot_dir/scaling.data (statistics of the structure,
    from kizuna's import) and data_dir/input.data (24 random H, C, O atoms in `cell`)."""
    pot_dir.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    write_input_nn(pot_dir, header, sfs)
    write_weights(pot_dir, len(sfs), rng)
    positions, symbols, cell = write_structure(data_dir, cell, comment, rng)
    write_scaling(pot_dir, {e: [(0.0, 1.0, 0.5, 1.0)] * len(sfs) for e in ELEMENTS})  # placeholder
    model = read_n2p2(pot_dir)
    pot = kizuna.Potential(model, threads=1)
    G, offsets = pot.descriptors(positions, pot.species(symbols), cell, True)
    stats = {}
    for e in ELEMENTS:
        rows = np.array([G[offsets[i]:offsets[i + 1]] for i, s in enumerate(symbols) if s == e])
        lo, hi = rows.min(0), rows.max(0)
        pad = 0.2 * (hi - lo) + 0.05 * np.abs(rows).max(0) + 1e-3
        stats[e] = list(zip(lo - pad, hi + pad, rows.mean(0), rows.std(0) + pad))
    write_scaling(pot_dir, stats)
