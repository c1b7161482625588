"""Core cost of the training products (vjp + jvp per structure, what an epoch pays for the
forces and their backward) of exported many-element models, on their moment path and on the
triplet list (KIZUNA_ANGULAR_MOMENTS=0 when the model is loaded); issue 13.

    OMP_NUM_THREADS=1 python benchmarks/many_elements_ops.py runs/many/train.extxyz \\
        pair=runs/many_pair/pair/model.kzn "weighted k=3=runs/many/weighted_k3/model.kzn"

Least process CPU time (1 thread) of ``--repeats`` over the first ``--frames`` structures, µs
per atom.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from ase.io import read

import kizuna
from kizuna.model_io import read_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("models", nargs="+", help="label=model.kzn")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    frames = read(args.data, f":{args.frames}")
    atoms = sum(len(a) for a in frames)
    best = {}
    for _ in range(args.repeats):
        for spec in args.models:
            label, path = spec.rsplit("=", 1)
            for triplets in (False, True):
                if triplets:
                    os.environ["KIZUNA_ANGULAR_MOMENTS"] = "0"
                pot = kizuna.Potential(read_model(path), threads=1)
                os.environ.pop("KIZUNA_ANGULAR_MOMENTS", None)
                work = []
                for a in frames:
                    species = pot.species(a.get_chemical_symbols())
                    cell, pbc = a.cell.array, np.array(a.pbc)
                    G, _ = pot.descriptors(a.positions, species, cell, pbc)
                    beta = np.random.default_rng(0).normal(size=G.shape)
                    work.append((a.positions, species, cell, pbc, beta))
                t0 = time.process_time()
                for pos, species, cell, pbc, beta in work:
                    pot.vjp(pos, species, cell, pbc, beta)
                    pot.jvp(pos, species, cell, pbc, dpos=np.ones_like(pos), dstrain=np.eye(3))
                us = (time.process_time() - t0) / atoms * 1e6
                key = label + (" (triplets)" if triplets else "")
                best[key] = min(best.get(key, np.inf), us)
    for key, us in best.items():
        print(f"{key:<28} vjp + jvp {us:7.1f} µs/atom")


if __name__ == "__main__":
    main()
