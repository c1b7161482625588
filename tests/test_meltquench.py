"""The melt-quench property: the schedule (ramps, segments, cooling rates), the model's MD in
LAMMPS, the relaxed last frame, the reference judging the model's glass (model_glass), and the
vibrational DOS by stochastic Lanczos quadrature against a harmonic toy with known spectrum."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from kizuna.errors import ConfigError
from kizuna.properties import meltquench, vdos
from kizuna.properties.config import validate_validate_config

sys.path.insert(0, str(Path(__file__).parent))
from test_properties import Springs  # noqa: E402

MODEL = Path(__file__).parent / "data" / "cu_emt" / "committee.kzn"


# ----------------------------------------------------------------------------- DOS
def test_lanczos_dos_of_a_spring_lattice_has_the_known_spectrum():
    """Simple cubic, nearest-neighbour central springs k, 4x4x4 cell: the Γ-point modes of
    the cell are q = 2 pi n / 4a per axis, omega_x^2 = (4k/m) sin^2(q_x a / 2): the eigenvalues
    of D are 0, 2k/m, 4k/m with multiplicities 1/4, 1/2, 1/4 of the 3N modes."""
    k, a, mass = 1.5, 2.5, 39.948
    atoms = Atoms("Ar", cell=np.eye(3) * a, pbc=True).repeat((4, 4, 4))
    res = vdos.vdos(atoms, Springs(k, a), steps=12, displacement=0.001, sigma=0.05,
                    freq_range=(-1, 8), pitch=0.01, seed=3)
    exact = vdos.frequencies_thz(np.array([0.0, 2 * k / mass, 4 * k / mass]))
    # nu_max = 2 sqrt(k/m) / 2 pi (the closed form of test_properties' phonon test)
    nu_max = 2 * np.sqrt(k * 1.602176634e-19 / 1e-20 / (mass * 1.66053906660e-27)) / (2 * np.pi)
    assert exact[2] == pytest.approx(nu_max / 1e12, rel=1e-6)
    nodes, w = res["nodes"], res["weights"]
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    near = np.argmin(np.abs(nodes[:, None] - exact[None, :]), axis=1)
    real = w > 1e-8
    # finite-difference round-off of theta ~1e-8 shows as ~1e-3 THz at zero (the square root)
    assert np.all(np.abs(nodes[real] - exact[near[real]]) < np.where(near[real] == 0, 0.01,
                                                                    1e-5 * exact[2]))
    share = [w[near == j].sum() for j in range(3)]
    # one random vector over 192 modes: the shares are (1/4, 1/2, 1/4) within ~sqrt(2/192)
    assert share == pytest.approx([0.25, 0.5, 0.25], abs=0.1)
    assert res["calls"] == 2 * 12  # two force calls per Lanczos step
    assert np.trapezoid(res["dos"], res["frequency"]) == pytest.approx(1.0, abs=1e-6)
    # stiffer springs: every frequency scales by 2; overlap with itself 1, with that < 0.5
    stiff = vdos.vdos(atoms, Springs(4 * k, a), steps=12, displacement=0.001, sigma=0.05,
                      freq_range=(-1, 14), pitch=0.01, seed=3)
    assert stiff["nodes"].max() == pytest.approx(2 * res["nodes"].max(), rel=1e-5)
    assert vdos.overlap(res["frequency"], res["dos"], res["dos"]) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- config
BASE = {"model": str(MODEL), "reference": "emt",
        "structure": {"bulk": {"name": "Cu", "crystalstructure": "fcc", "a": 3.61,
                               "cubic": True}},
        "properties": {"melt_quench": {}}}


def _cfg(**mq):
    cfg = copy.deepcopy(BASE)
    cfg["properties"]["melt_quench"] = mq
    return cfg


def test_schedule_config_and_errors():
    schedule = [{"temperature": 2000, "steps": 10},
                {"temperature": 2000, "temperature_end": 1000, "steps": 20, "continue": True},
                {"temperature": 1000, "temperature_end": 500, "steps": 25}]
    mq = validate_validate_config(_cfg(schedule=schedule))["properties"]["melt_quench"]
    assert meltquench.segments(mq) == [(2000.0, 2000.0, 10), (2000.0, 1000.0, 20),
                                       (1000.0, 500.0, 25)]
    assert meltquench.cooling_rates({**mq, "timestep": 2.0}) == pytest.approx([0, 25.0, 10.0])
    assert meltquench.final_temperature(mq) == 500.0
    short = validate_validate_config(_cfg(melt_steps=0, quench_steps=100))
    mq = short["properties"]["melt_quench"]
    assert meltquench.segments(mq) == [(2500.0, 300.0, 100)]
    with pytest.raises(ConfigError, match="melt_steps.*either schedule"):
        validate_validate_config(_cfg(schedule=schedule, melt_steps=5))
    with pytest.raises(ConfigError, match=r"schedule\.1\.steps.*required"):
        validate_validate_config(_cfg(schedule=[{"temperature": 1, "steps": 1},
                                                {"temperature": 1}]))
    with pytest.raises(ConfigError, match=r"schedule\.1\.strain.*unknown"):
        validate_validate_config(_cfg(schedule=[{"temperature": 1, "steps": 1},
                                                {"temperature": 1, "steps": 1, "strain": 0.1}]))
    with pytest.raises(ConfigError, match="reference_md_steps.*model_glass"):
        validate_validate_config(_cfg(reference_md_steps=10))
    with pytest.raises(ConfigError, match="reference_mode"):
        validate_validate_config(_cfg(reference_mode="judge"))
    with pytest.raises(ConfigError, match="dos_range"):
        validate_validate_config(_cfg(dos_range=[5, 1]))
    # a barostat per segment: LAMMPS only, and the reference must not run the schedule
    pressed = [{"temperature": 1000, "steps": 10, "pressure": 2.0},
               {"temperature": 1000, "temperature_end": 300, "steps": 10}]
    mq = validate_validate_config(_cfg(schedule=pressed, engine="lammps",
                                       reference_mode="model_glass"))
    assert meltquench.pressures(mq["properties"]["melt_quench"]) == [2.0, None]
    with pytest.raises(ConfigError, match=r"schedule\.0\.pressure.*engine: lammps"):
        validate_validate_config(_cfg(schedule=pressed, reference_mode="model_glass"))
    with pytest.raises(ConfigError, match=r"schedule\.0\.pressure.*model_glass"):
        validate_validate_config(_cfg(schedule=pressed, engine="lammps"))


# ----------------------------------------------------------------------------- the property
SCHEDULE = [{"temperature": 1500, "steps": 40},
            {"temperature": 1500, "temperature_end": 300, "steps": 60}]


def _mq(**extra):
    cfg = copy.deepcopy(BASE)
    cfg["properties"]["melt_quench"] = {
        "supercell": [2, 2, 2], "schedule": SCHEDULE, "sample_steps": 20, "sample_every": 5,
        "ramp_every": 5, "timestep": 2.0, "friction": 0.2, "final_relax_steps": 30,
        "stop_extrapolating": None, "dos": True, "dos_lanczos_steps": 8,
        "dos_range": [-3.0, 12.0], **extra}
    return validate_validate_config(cfg)["properties"]["melt_quench"]


def _watched():
    import kizuna
    from kizuna.properties.common import Watched

    return Watched(kizuna.Calculator(str(MODEL), extrapolation="warn"))


def _check_side(res, cfg, engine):
    d, v = res["data"], res["values"]
    trace = np.asarray(d["trace"], float)
    assert d["engine"] == engine
    # the ramp reached its temperatures: the targets are the schedule's, the kinetic
    # temperature follows (strong thermostat, damp 5 fs; 32 atoms: loose bounds)
    assert trace[-1, 0] == 40 + 60 + 20
    hot = trace[trace[:, 0] <= 40]
    assert np.all(hot[:, 1] == 1500.0) and np.mean(hot[2:, 2]) == pytest.approx(1500, rel=0.35)
    cold = trace[trace[:, 0] > 100]
    assert np.all(cold[:, 1] == 300.0) and np.mean(cold[:, 2]) == pytest.approx(300, rel=0.5)
    mid = trace[trace[:, 0] == 70]
    assert mid[0, 1] == pytest.approx(1500 - 1200 * 30 / 60)
    assert len(res["frames"]) == 4 and all(len(f) == 32 for f in res["frames"])
    assert d["cooling_rates_K_per_fs"] == pytest.approx([0.0, 10.0])
    # the quenched (still crystalline at this speed) copper: ~12 neighbours within 3 Å
    assert 9 < v["coordination"] <= 12.5 and 2.3 < v["rdf_first_peak"] < 2.8
    assert 9 < v["relaxed_coordination"] <= 12.01
    # the closest pair: below the crystal's 2.55 Å (thermal motion), far above a fused pair
    assert 1.9 < v["min_distance"] < 2.55 and 2.3 < v["relaxed_min_distance"] < 2.6
    assert d["relaxation"]["max_force"] < 0.3
    # a DOS of copper: modes up to ~7-8 THz, normalised
    assert 2.0 < v["dos_mean_frequency"] < 8.0
    g, f = np.asarray(d["dos"]["g"]), np.asarray(d["dos"]["frequency"])
    assert np.trapezoid(g, f) == pytest.approx(1.0, abs=1e-6)
    assert d["dos"]["calls"] == 2 * 8


def test_melt_quench_ase_model_and_reference_judging_its_glass():
    cfg = _mq(reference_mode="model_glass")
    calc = _watched()
    model = meltquench.compute(bulk("Cu", "fcc", a=3.6, cubic=True), calc, cfg, {}, seed=1)
    _check_side(model, cfg, "ase")
    ref = meltquench.compute(None, EMT(), cfg, {}, seed=1, side="reference",
                             model_result=model)
    assert ref["data"]["start"] == "the model's last frame" and "trace" not in ref["data"]
    assert set(ref["values"]) >= {"relaxed_coordination", "dos_mean_frequency"}
    assert "coordination" not in ref["values"]       # no reference MD asked
    comp = meltquench.compare(model, ref)
    # the model was learnt from EMT: the two relaxations of the same frame end close
    assert comp["relaxed_rms_distance_A"] < 0.1
    assert comp["relaxed_rdf_difference"] < 0.3
    assert comp["dos_overlap"] > 0.7
    # with reference MD from the model's last frame: the thermal RDF of the reference
    cfg_md = _mq(reference_mode="model_glass", reference_md_steps=10, dos=False)
    ref_md = meltquench.compute(None, EMT(), cfg_md, {}, seed=1, side="reference",
                                model_result=model)
    assert len(ref_md["frames"]) == 2 and "coordination" in ref_md["values"]
    assert "rdf_difference" in meltquench.compare(model, ref_md)


def test_melt_quench_model_in_lammps():
    lammps_md = pytest.importorskip("kizuna.learn.lammps_md")
    reason = lammps_md.lammps_available()
    if reason:
        pytest.skip(reason)
    cfg = _mq(engine="lammps")
    calc = _watched()
    model = meltquench.compute(bulk("Cu", "fcc", a=3.6, cubic=True), calc, cfg, {}, seed=2,
                               side="model", model_path=str(MODEL))
    _check_side(model, cfg, "lammps")
    trace = np.asarray(model["data"]["trace"], float)
    assert trace.shape[1] == 6 and np.all(trace[:, 3] >= 0) and np.all(trace[:, 4] > 0)
    # no barostat: every frame keeps the start cell, the traced volume is that cell's
    start = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    assert all(np.allclose(f.cell, start.cell, atol=1e-9) for f in model["frames"])
    assert np.allclose(trace[:, 5], start.get_volume() / 32)
    assert model["values"]["density"] == pytest.approx(meltquench.density(start))
    # what the model saw in LAMMPS: one watch update per trace point, 32 atoms
    assert calc.watch.atoms_at_max == 32 and calc.watch.max_force_deviation > 0


def test_melt_quench_lammps_barostat_follows_the_models_equation_of_state():
    """Segments with a pressure (Berendsen, LAMMPS): the volumes the MD settles at, 0 and
    10 GPa, against the model's own 0 K equation of state (ase.eos on the model's energies):
    V(10 GPa) / V(0) of the MD within 1.2 % of the EOS's (thermal expansion at 300 K nearly
    cancels in the ratio; 108 atoms, 10 frames). The frames carry LAMMPS's current cell."""
    lammps_md = pytest.importorskip("kizuna.learn.lammps_md")
    reason = lammps_md.lammps_available()
    if reason:
        pytest.skip(reason)
    from ase.eos import EquationOfState
    from ase.units import GPa

    import kizuna

    calc = kizuna.Calculator(str(MODEL), extrapolation="ignore")  # 3.45 Å: compressed
    cell = bulk("Cu", "fcc", a=3.6, cubic=True)
    volumes, energies = [], []
    for a in np.linspace(3.45, 3.70, 11):
        c = bulk("Cu", "fcc", a=a, cubic=True)
        c.calc = calc
        volumes.append(c.get_volume() / 4)
        energies.append(c.get_potential_energy() / 4)
    eos = EquationOfState(volumes, energies, eos="birchmurnaghan")
    v0, _, b0 = eos.fit()
    from ase.eos import birchmurnaghan

    pars = eos.eos_parameters
    grid = np.linspace(0.85 * v0, 1.02 * v0, 2001)
    e = birchmurnaghan(grid, *pars)
    p = -np.gradient(e, grid) / GPa                   # GPa, P = -dE/dV
    v10 = float(np.interp(-10.0, -p, grid))           # P decreases with V
    mean_volume = {}
    for pressure in (0.0, 10.0):
        schedule = [{"temperature": 300, "steps": 400, "pressure": pressure}]
        cfg = _mq(engine="lammps", reference_mode="model_glass", schedule=schedule,
                  supercell=[3, 3, 3], sample_steps=200, sample_every=20, ramp_every=20,
                  friction=0.05, pressure_damp=200.0, bulk_modulus=b0 / GPa, dos=False)
        frames, trace = meltquench.run_protocol_lammps(cell, str(MODEL), 1, _watched().watch,
                                                       cfg, seed=3)
        trace = np.asarray(trace, float)
        assert len(frames) == 10 and all(len(f) == 108 for f in frames)
        sampled = trace[trace[:, 0] > 400]
        assert [f.get_volume() / 108 for f in frames] == pytest.approx(sampled[:, 5], rel=1e-9)
        mean_volume[pressure] = np.mean(sampled[:, 5])
        # the cell is scaled, not sheared: still cubic
        lengths = frames[-1].cell.lengths()
        assert lengths == pytest.approx([lengths[0]] * 3, rel=1e-9)
    # measured: EOS 0.947, MD 0.941 (the thermal expansion is smaller under pressure)
    assert mean_volume[10.0] / mean_volume[0.0] == pytest.approx(v10 / v0, abs=0.012)
    assert mean_volume[0.0] == pytest.approx(v0, rel=0.025)  # 300 K: this model's +1.6 %


def test_validate_cli_melt_quench_lammps_model_glass(tmp_path):
    lammps_md = pytest.importorskip("kizuna.learn.lammps_md")
    if lammps_md.lammps_available():
        pytest.skip("no LAMMPS")
    from kizuna.cli import main

    cfg = copy.deepcopy(BASE)
    cfg["output"] = {"directory": str(tmp_path / "out")}
    cfg["properties"]["melt_quench"] = {
        "supercell": [2, 2, 2], "engine": "lammps", "reference_mode": "model_glass",
        "schedule": SCHEDULE, "sample_steps": 10, "sample_every": 5, "ramp_every": 10,
        "friction": 0.2, "final_relax_steps": 20, "dos": True, "dos_lanczos_steps": 6,
        "dos_range": [-3.0, 12.0], "stop_extrapolating": None}
    path = tmp_path / "v.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["validate", str(path), "--quiet"]) == 0
    import json

    res = json.loads((tmp_path / "out" / "results.json").read_text())
    mq = res["properties"]["melt_quench"]
    assert {"force_mae_eV_A_on_model_frames", "dos_overlap", "relaxed_rdf_difference",
            "relaxed_rms_distance_A"} <= set(mq["comparison"])
    assert mq["comparison"]["frames_compared"] == 2
    assert (tmp_path / "out" / "melt_quench.png").stat().st_size > 10_000
    assert "dos_overlap" in (tmp_path / "out" / "report.md").read_text()
