"""``kizuna train --committee N`` (or ``committee: N`` in the configuration): N members of one
configuration, one committee model file.

Member k is the configuration with ``seed = seed + k`` (other initial weights, another
train/validation split of the same data, another batch order) trained in
``<output.directory>/member<k>``; the members share the symmetry functions (generated from the
configuration, not from the data), so they merge into one model file whose committee mean and
spread the core computes in one pass. Every member run resumes like a single run.
"""
from __future__ import annotations

import copy
from pathlib import Path

from .api import evaluate, train
from .config import load_config, validate_config


def train_committee(config, members: int, overrides=(), *, restart=False, init=None,
                    progress=None) -> dict:
    """Train ``members`` members and write ``<output.directory>/committee.kzn`` (``members``
    None: the configuration's ``committee`` key).

    Returns {'model': committee path, 'members': [member model paths], 'metrics': metrics of
    the committee mean on the configuration's test data (if any), 'table': text}."""
    from ..learn.committee import merge_members
    from ..model_io import read_model, write_model

    base = (validate_config(copy.deepcopy(config)) if isinstance(config, dict)
            else load_config(config, overrides))
    members = base["committee"] if members is None else members
    if members < 2:
        raise ValueError(f"a committee needs at least 2 members, got {members}")
    directory = Path(base["output"]["directory"])
    paths = []
    for k in range(members):
        member = copy.deepcopy(base)
        member.pop("_source", None)
        member["seed"] = base["seed"] + k
        member["committee"] = 1  # a member is a single run
        member["output"]["directory"] = str(directory / f"member{k}")
        result = train(member, restart=restart, init=init, progress=progress)
        paths.append(result["model"])
    committee = merge_members([read_model(p) for p in paths])
    committee.meta["committee_seeds"] = ",".join(str(base["seed"] + k) for k in range(members))
    out = directory / "committee.kzn"
    write_model(committee, out)
    metrics, table = {}, ""
    if base["data"].get("test"):
        metrics, table = evaluate(out, base["data"]["test"], threads=base["threads"])
    return {"model": out, "members": paths, "metrics": metrics, "table": table}
