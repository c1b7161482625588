"""`kizuna validate` with Quantum ESPRESSO (pw.x) as the reference, as
examples/validate/si_mlearn_qe.yaml runs it: the EOS of a 2-atom Si cell (5 pw.x calls,
seconds). The reference side's energies are pw.x's own (a separate call of the same cell
agrees), the bulk modulus is silicon's, a0 comes from the primitive cell, and the per-call
scratch lives in the report folder and is removed. pw.x is required where
tests/test_learn_dft_pwx.py requires it, skipped elsewhere."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from ase.build import bulk
from test_learn_dft_pwx import pwx  # noqa: F401  (the fixture: pw.x present or skip/fail)

from kizuna.cli import main
from kizuna.learn.reference import make_reference

REFERENCE = {"type": "espresso", "command": "pw.x", "pseudopotentials": {"Si": "Si.pbe-rrkj.UPF"},
             "ecutwfc": 14, "kspacing": 0.15, "smearing": None, "conv_thr": 1e-10}


def test_validate_eos_against_pwx(pwx, tmp_path):  # noqa: F811
    from model_factory import random_model

    model = tmp_path / "si.kzn"
    random_model(("Si",), seed=3, rc=4.5).save(model)
    out = tmp_path / "report"
    cfg = {"model": str(model), "reference": REFERENCE,
           "structure": {"bulk": {"name": "Si", "crystalstructure": "diamond", "a": 5.45}},
           "relax": {"cell": False},
           "output": {"directory": str(out)},
           "properties": {"eos": {"points": 5, "strain": 0.02, "relax_ions": False}}}
    path = tmp_path / "validate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["validate", str(path), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    ref = results["properties"]["eos"]["reference"]
    assert "error" not in ref, ref.get("error")
    assert ref["watch"]["calls"] >= 5
    # the middle volume is the given cell: the same energy as pw.x called on its own
    calc = make_reference(REFERENCE, tmp_path / "alone")
    atoms = bulk("Si", "diamond", a=5.45)
    atoms.calc = calc
    assert ref["data"]["volumes"][2] == pytest.approx(atoms.get_volume() / 2, rel=1e-12)
    assert ref["data"]["energies"][2] == pytest.approx(atoms.get_potential_energy() / 2,
                                                       abs=1e-7)
    v = ref["values"]
    assert 60 < v["B0"] < 120            # silicon (PBE ~ 88 GPa), loose: 14 Ry, coarse k
    assert min(ref["data"]["volumes"]) < v["V0"] < max(ref["data"]["volumes"])
    # a0 of the conventional cell from the 2-atom primitive one: 8 atoms per cubic cell
    assert v["a0"] == pytest.approx((8 * v["V0"]) ** (1 / 3), rel=1e-12)
    assert 5.3 < v["a0"] < 5.6
    # per-call scratch folders in the report folder, each removed after its call
    scratch = out / "dft" / "scratch"
    assert scratch.is_dir() and list(scratch.iterdir()) == []
    assert "espresso" in (out / "report.md").read_text()
    # the model side (a random network here) ran too: values or its failure recorded
    model_side = results["properties"]["eos"]["model"]
    assert "error" in model_side or np.isfinite(model_side["values"]["E0"])
