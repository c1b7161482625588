"""Committees for on-the-fly learning: train N members on the labelled data (different seeds:
different initial weights, validation splits and batch orders), warm-start them when data
arrive, and merge them into one committee model file (shared symmetry functions).

Warm start with new scaling statistics is exact: the first layer is affine, so a member
re-expressed for the new feature scaling computes the same function (``rescale_member``);
fine-tuning then starts from the previous model on features scaled for all the data, and the
training range stored in the model (extrapolation detection) covers every labelled structure.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ..model import Model, Scaling
from ..model_io import read_model, write_model
from ..potential import Potential


def feature_statistics(model: Model, structures, threads=1) -> dict:
    """{element: (min, max, mean, sigma)} of the model's symmetry functions over the atoms."""
    pot = Potential(model, threads=threads)
    per = {e: [] for e in model.elements}
    for atoms in structures:
        species = pot.species(atoms.get_chemical_symbols())
        G, offsets = pot.descriptors(atoms.positions, species, np.asarray(atoms.cell),
                                     atoms.pbc.tolist())
        for i, s in enumerate(species):
            per[model.elements[s]].append(G[offsets[i]:offsets[i + 1]])
    out = {}
    for e, rows in per.items():
        if rows:
            a = np.array(rows)
            out[e] = (a.min(0), a.max(0), a.mean(0), a.std(0))
    return out


def rescale_member(member, stats):
    """The same function of G with the scaling statistics replaced by ``stats``.

    x_old = smin + f_old (G - s_old) = alpha x_new + gamma with alpha = f_old / f_new,
    gamma = smin + f_old (s_new - s_old) - alpha smin_new; absorbed by the first layer:
    W' = W diag(alpha), b' = b + W gamma. Features constant in the new data (f_new = 0) keep
    their old contribution at the new mean as a bias.
    """
    lo, hi, mean, sigma = stats
    old = member.scaling
    new = Scaling(old.mode, old.smin, old.smax, lo.copy(), hi.copy(), mean.copy(), sigma.copy())
    sh_o, f_o, off_o = old.shift_factor()
    sh_n, f_n, off_n = new.shift_factor()
    alpha = np.where(f_n != 0.0, f_o / np.where(f_n != 0.0, f_n, 1.0), 0.0)
    gamma = np.where(f_n != 0.0, off_o + f_o * (sh_n - sh_o) - alpha * off_n,
                     off_o + f_o * (mean - sh_o))
    out = copy.deepcopy(member)
    first = out.layers[0]
    first.bias = first.bias + first.weights @ gamma
    first.weights = first.weights * alpha[None, :]
    out.scaling = new
    return out


def merge_members(models) -> Model:
    """One committee model from single-member models with identical symmetry functions."""
    first = copy.deepcopy(models[0])
    for m in models[1:]:
        for a, b in zip(first.element_models, m.element_models):
            if a.symmetry_functions != b.symmetry_functions:
                raise ValueError("committee members must share their symmetry functions")
            a.members.extend(copy.deepcopy(b.members))
    return first


def split_members(model: Model) -> list:
    out = []
    for k in range(model.committee_size):
        single = copy.deepcopy(model)
        for em in single.element_models:
            em.members = [em.members[k]]
        out.append(single)
    return out


def member_config(cfg: dict, data_path: Path, directory: Path, seed: int, epochs: int,
                  lbfgs_epochs: int) -> dict:
    """Training configuration of one member (the user's training sections + run settings)."""
    t = copy.deepcopy(cfg["training"])
    data = t.pop("data", {}) or {}
    train_section = t.get("training", {}) or {}
    train_section = {**train_section, "epochs": epochs, "lbfgs_epochs": lbfgs_epochs}
    return {
        "seed": seed,
        "threads": cfg["threads"],
        "output": {"directory": str(directory), "progress": "none", "plots": False},
        "data": {**data, "train": [str(data_path)],
                 "validation_fraction": data.get("validation_fraction", 0.1)},
        "symmetry_functions": t.get("symmetry_functions", {}) or {},
        "model": t.get("model", {}) or {},
        "loss": t.get("loss", {}) or {},
        "training": train_section,
    }


def train_committee(cfg: dict, data_path: Path, structures, workdir: Path, round_index: int,
                    previous: Model = None, epochs=None) -> Model:
    """Train (previous is None) or warm-start (previous: the current committee) every member on
    the labelled data; return the merged committee, its scaling covering all the data.
    ``epochs``: (Adam epochs, L-BFGS iterations) instead of the configured ones."""
    from ..training.api import train

    c = cfg["committee"]
    members = []
    warm = split_members(previous) if previous is not None else [None] * c["members"]
    stats = feature_statistics(previous, structures, cfg["threads"]) if previous else None
    for k in range(c["members"]):
        directory = workdir / f"round{round_index:04d}" / f"member{k}"
        seed = cfg["seed"] * 1000 + 17 * k + round_index
        init_path = None
        if warm[k] is not None:
            init = copy.deepcopy(warm[k])
            for em in init.element_models:
                if em.symbol in stats:
                    em.members = [rescale_member(em.members[0], stats[em.symbol])]
            init_path = directory.parent / f"init{k}.kzn"
            init_path.parent.mkdir(parents=True, exist_ok=True)
            write_model(init, init_path)
            n_adam, n_lbfgs = c["retrain_epochs"], c["retrain_lbfgs_epochs"]
        else:
            n_adam, n_lbfgs = c["epochs"], c["lbfgs_epochs"]
        if epochs is not None:
            n_adam, n_lbfgs = epochs
        tcfg = member_config(cfg, data_path, directory, seed, n_adam, n_lbfgs)
        # an interrupted member training (checkpoint in its folder) resumes where it stopped
        result = train(tcfg, init=str(init_path) if init_path else None)
        members.append(read_model(result["model"]))
    committee = merge_members(members)
    # the stored training range covers every labelled structure (extrapolation detection)
    stats = feature_statistics(committee, structures, cfg["threads"])
    for em in committee.element_models:
        if em.symbol not in stats:
            continue
        lo, hi = stats[em.symbol][0], stats[em.symbol][1]
        for member in em.members:
            sc = member.scaling
            if sc.mode in ("none", "center", "scale_sigma"):  # min/max not in the scaling map
                sc.minimum = np.minimum(sc.minimum, lo)
                sc.maximum = np.maximum(sc.maximum, hi)
    committee.meta["active_learning_round"] = str(round_index)
    committee.meta["labelled_structures"] = str(len(structures))
    return committee
