"""Close the hole the validation found in the second-pass committee (si_anneal_strict.yaml):
two atoms fused 1.39 Å apart in the validation's quench (CHGNet: -44 eV/Å along the pair,
repulsive; the committee's members: -10, -0.7, +7.6). The model's relaxed last frame of that
validation and two copies rattled by up to 0.1 Å are labelled with CHGNet and the committee
is retrained once (10 Adam + 3 L-BFGS epochs, warm start) in a copy of the run folder:

    cp -r runs/learn-si-anneal-strict runs/learn-si-anneal-fix
    python examples/learn/si_anneal_fix.py runs/validate-si-anneal-strict/results.json

The result: runs/learn-si-anneal-fix/committee.kzn (examples/validate/README.md, third step).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from ase.build import bulk

from kizuna.learn.config import load_learn_config
from kizuna.learn.loop import Learner

HERE = Path(__file__).parent


def main(results="runs/validate-si-anneal-strict/results.json",
         folder="runs/learn-si-anneal-fix"):
    mq = json.loads(Path(results).read_text())["properties"]["melt_quench"]
    glass = bulk("Si", "diamond", a=5.43, cubic=True).repeat((4, 4, 4))  # the validation's cell
    glass.positions = np.array(mq["model"]["data"]["relaxed_positions"])
    cfg = load_learn_config(HERE / "si_anneal_strict.yaml", [f"output.directory={folder}"])
    learner = Learner(cfg)
    try:
        rng = np.random.default_rng(5)
        for k in range(3):
            s = glass.copy()
            if k:
                s.positions += rng.uniform(-0.1, 0.1, s.positions.shape)
            learner.label(s, {"source": "validation", "index": k})
        learner.train((10, 3), final=True)
    finally:
        learner.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
