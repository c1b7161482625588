"""The close-pair guard of the validation's MD (melt_quench, diffusion; ASE and LAMMPS):
two atoms closer than min_distance stop the property with where, when, which atoms and how
close, or (min_distance_action: warn) are recorded while the MD goes on."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from kizuna.errors import ConfigError
from kizuna.properties import diffusion, meltquench
from kizuna.properties.common import (AUTO_FRACTION, Watch, Watched, distance_guard,
                                      guard_md)
from kizuna.properties.config import validate_validate_config

sys.path.insert(0, str(Path(__file__).parent))
from test_meltquench import BASE, MODEL  # noqa: E402

A = 3.6                      # Å, the fcc Cu cell of these tests
NN = A / np.sqrt(2)          # Å, its nearest-neighbour distance


def test_auto_threshold_and_a_fused_pair_stops_or_warns():
    cu = bulk("Cu", "fcc", a=A, cubic=True).repeat((2, 2, 2))
    g = distance_guard("melt_quench", {"min_distance": "auto"}, bulk("Cu", "fcc", a=A))
    assert g.min_distance == pytest.approx(AUTO_FRACTION * NN)
    assert g.action == "stop" and "auto" in g.source
    assert distance_guard("x", {"min_distance": None}, cu) is None
    assert g.check(cu, "segment 1", 10) is None          # the crystal: nothing close
    # push atom 5 to 1.2 Å of atom 0 (along x, inside the cell)
    fused = cu.copy()
    fused.positions[5] = fused.positions[0] + [1.2, 0.0, 0.0]
    w = Watch(distance=g)
    with pytest.raises(RuntimeError) as err:
        w.check_distances(fused, "segment 2 of 3 (2700 K, target 2700 K)", 440)
    msg = str(err.value)
    for part in ("melt_quench", "atoms 0 and 5", "1.200 Å", "segment 2 of 3 (2700 K",
                 "step 440", "kizuna learn", "min_distance_action: warn",
                 f"{AUTO_FRACTION * NN:.3f} Å"):
        assert part in msg, (part, msg)
    # warn: recorded (in the report's watch), the caller goes on
    w = Watch(distance=distance_guard("diffusion", {"min_distance": 1.5,
                                                    "min_distance_action": "warn"}, cu))
    with pytest.warns(RuntimeWarning, match="atoms 0 and 5 are 1.200 Å apart"):
        w.check_distances(fused, "the run at 900 K", 20)
    w.check_distances(cu, "the run at 900 K", 30)
    d = w.as_dict()["min_distance"]
    assert d["threshold_A"] == 1.5 and d["action"] == "warn" and d["checks"] == 2
    assert d["frames_close"] == 1
    assert d["close_pairs"] == [{"where": "the run at 900 K", "step": 20, "atoms": [0, 5],
                                 "distance_A": pytest.approx(1.2)}]


def test_config_keys_and_bad_values():
    cfg = copy.deepcopy(BASE)
    cfg["properties"] = {"melt_quench": {}, "diffusion": {"min_distance": 1.4,
                                                          "min_distance_action": "warn"}}
    out = validate_validate_config(cfg)["properties"]
    assert out["melt_quench"]["min_distance"] == "auto"
    assert out["melt_quench"]["min_distance_action"] == "stop"
    assert out["diffusion"]["min_distance"] == 1.4
    for bad in (-1.0, 0, "tiny", True):
        cfg["properties"] = {"melt_quench": {"min_distance": bad}}
        with pytest.raises(ConfigError, match=r"melt_quench\.min_distance.*Å > 0, auto"):
            validate_validate_config(cfg)
    cfg["properties"] = {"diffusion": {"min_distance_action": "ignore"}}
    with pytest.raises(ConfigError, match="min_distance_action"):
        validate_validate_config(cfg)


def _mq(**extra):
    cfg = copy.deepcopy(BASE)
    cfg["properties"]["melt_quench"] = {
        "supercell": [2, 2, 2], "schedule": [{"temperature": 1500, "steps": 10},
                                             {"temperature": 1500, "temperature_end": 300,
                                              "steps": 10}],
        "sample_steps": 10, "sample_every": 5, "ramp_every": 5, "friction": 0.2,
        "final_relax_steps": 5, "stop_extrapolating": None, **extra}
    return validate_validate_config(cfg)["properties"]["melt_quench"]


# a threshold above the crystal's nearest-neighbour distance (2.55 Å): every frame has
# "close" pairs, so the guard fires at its first check - the plumbing of each engine
ABOVE = 3.0


def test_melt_quench_ase_stops_at_the_first_check_and_warn_goes_on():
    start = bulk("Cu", "fcc", a=A, cubic=True)
    calc = Watched(EMT())
    with pytest.raises(RuntimeError, match=r"melt_quench: .*closer than min_distance = 3\.000 "
                       r"Å \(min_distance\), in segment 1 of 2 \(1500 K, target 1500 K\) at "
                       r"step 5:"):
        meltquench.compute(start, calc, _mq(min_distance=ABOVE), {}, seed=1)
    assert calc.watch.close_checks == 1
    calc = Watched(EMT())
    res = meltquench.compute(start, calc, _mq(min_distance=ABOVE, min_distance_action="warn"),
                             {}, seed=1)
    assert len(res["frames"]) == 2
    seen = calc.watch.as_dict()["min_distance"]
    assert seen["checks"] == 6 == len(seen["close_pairs"])   # 4 trace points + 2 frames
    assert [e["step"] for e in seen["close_pairs"]] == [5, 10, 15, 20, 25, 30]
    assert seen["close_pairs"][-1]["where"] == "the sampling at 300 K"
    assert all(e["distance_A"] < ABOVE for e in seen["close_pairs"])
    # the default (auto) on a hot crystal: no false alarm; the reference is never guarded
    calc = Watched(EMT())
    meltquench.compute(start, calc, _mq(), {}, seed=1)
    assert calc.watch.as_dict()["min_distance"]["close_pairs"] == []
    ref = Watched(EMT(), "reference")
    guard_md(ref, _mq(min_distance=ABOVE), "melt_quench", start, side="reference")
    assert ref.watch.distance is None


def _lammps():
    lammps_md = pytest.importorskip("kizuna.learn.lammps_md")
    reason = lammps_md.lammps_available()
    if reason:
        pytest.skip(reason)


def _model():
    import kizuna

    return Watched(kizuna.Calculator(str(MODEL), extrapolation="warn"))


def test_melt_quench_lammps_stops_with_the_step():
    _lammps()
    start = bulk("Cu", "fcc", a=A, cubic=True)
    with pytest.raises(RuntimeError, match=r"melt_quench: .* in segment 1 of 2 \(1500 K, "
                       r"target 1500 K\) at step 5:.*kizuna learn"):
        meltquench.compute(start, _model(), _mq(engine="lammps", min_distance=ABOVE), {},
                           seed=1, side="model", model_path=str(MODEL))
    calc = _model()
    meltquench.compute(start, calc, _mq(engine="lammps", min_distance=ABOVE,
                                        min_distance_action="warn"), {}, seed=1,
                       side="model", model_path=str(MODEL))
    assert [e["step"] for e in calc.watch.close_pairs] == [5, 10, 15, 20, 25, 30]


def _diffusion_cfg(**extra):
    cfg = copy.deepcopy(BASE)
    cfg["properties"] = {"diffusion": {
        "supercell": [2, 2, 2], "temperatures": [900.0, 1200.0], "equilibration": 4,
        "steps": 36, "every": 2, "blocks": 2, "stop_extrapolating": None, **extra}}
    return validate_validate_config(cfg)["properties"]["diffusion"]


@pytest.mark.parametrize("engine", ["ase", "lammps"])
def test_diffusion_stops_or_warns(engine):
    if engine == "lammps":
        _lammps()
    cu = bulk("Cu", "fcc", a=A, cubic=True)
    calc = _model() if engine == "lammps" else Watched(EMT())
    kw = {"side": "model", "model_path": str(MODEL)}
    with pytest.raises(RuntimeError, match=r"diffusion: .* in the run at 900 K \(end of the "
                       r"equilibration\) at step 4:"):
        diffusion.compute(cu, calc, _diffusion_cfg(engine=engine, min_distance=ABOVE), {}, **kw)
    calc = _model() if engine == "lammps" else Watched(EMT())
    diffusion.compute(cu, calc, _diffusion_cfg(engine=engine, min_distance=ABOVE,
                                               min_distance_action="warn"), {}, **kw)
    # per temperature: the end of the equilibration and 18 recorded frames
    assert calc.watch.close_checks == 2 * 19
    events = calc.watch.close_pairs
    assert len(events) == 20 and events[0]["step"] == 4 and events[1]["step"] == 6
    assert calc.watch.close_found == 2 * 19     # all counted, the first 20 kept
    assert events[19]["where"] == "the run at 1200 K (end of the equilibration)"
