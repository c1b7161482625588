"""`kizuna validate` end to end on a small Cu committee (tests/data/cu_emt, learnt by
examples/learn/cu_emt.yaml) with EMT as the reference, and `kizuna eval --details`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write

from kizuna.cli import main
from kizuna.errors import ConfigError

MODEL = Path(__file__).parent / "data" / "cu_emt" / "committee.kzn"


def _emt_lattice_constant():
    from scipy.optimize import minimize_scalar

    def energy(a):
        x = bulk("Cu", "fcc", a=a, cubic=True)
        x.calc = EMT()
        return x.get_potential_energy()

    return minimize_scalar(energy, bracket=(3.55, 3.6, 3.65), tol=1e-10).x


def test_validate_cli_end_to_end(tmp_path, capsys):
    pytest.importorskip("phonopy")
    out = tmp_path / "report"
    cfg = {
        "model": str(MODEL), "reference": "emt",
        "structure": {"bulk": {"name": "Cu", "crystalstructure": "fcc", "a": 3.61,
                               "cubic": True}},
        "relax": {"fmax": 0.005},
        "output": {"directory": str(out)},
        "properties": {
            "eos": {"points": 5, "strain": 0.02},
            "elastic": {"strains": [-0.005, 0.005]},
            "phonons": {"supercell": [2, 2, 2], "mesh": [8, 8, 8], "band_points": 30},
            "vacancy": {"supercell": [2, 2, 2]},
            "neb": {"supercell": [2, 2, 2], "images": 3, "fmax": 0.05},
            "surface": {"miller": [[1, 0, 0]], "layers": 4, "vacuum": 6.0},
            "melt_quench": {"supercell": [2, 2, 2], "melt_temperature": 2000,
                            "melt_steps": 10, "quench_steps": 10, "sample_steps": 10,
                            "sample_every": 5, "bond_cutoff": 3.0,
                            "stop_extrapolating": None},
            "diffusion": {"supercell": [2, 2, 2], "temperatures": [1000, 1400],
                          "vacancies": 1, "equilibration": 5, "steps": 40, "every": 2,
                          "blocks": 1, "stop_extrapolating": None,
                          # every frame "fuses" (3 Å > 2.55 Å): warn records, the MD goes on
                          "min_distance": 3.0, "min_distance_action": "warn"},
        }}
    path = tmp_path / "validate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["validate", str(path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and "a0" in printed
    report = (out / "report.md").read_text()
    results = json.loads((out / "results.json").read_text())
    props = results["properties"]
    for name in cfg["properties"]:
        assert "error" not in props[name]["model"], props[name]["model"].get("error")
        assert "error" not in props[name]["reference"], props[name]["reference"].get("error")
        assert props[name]["model"]["watch"]["calls"] > 0
        assert (out / f"{name}.png").is_file() and f"![{name}]({name}.png)" in report
    # the reference side is EMT itself: its lattice constant is EMT's (independent minimum)
    assert props["eos"]["reference"]["values"]["a0"] == pytest.approx(_emt_lattice_constant(),
                                                                      abs=2e-3)
    # the model was trained on EMT: close to it (loose: a small committee)
    assert props["eos"]["model"]["values"]["a0"] == pytest.approx(
        props["eos"]["reference"]["values"]["a0"], rel=0.01)
    assert 0.5 < props["phonons"]["comparison"]["dos_overlap"] <= 1.0
    assert props["neb"]["reference"]["values"]["barrier"] > 0.3
    assert "force_mae_eV_A_on_model_frames" in props["melt_quench"]["comparison"]
    # committee spread was recorded (the model is a committee)
    assert props["elastic"]["model"]["watch"]["max_energy_std_per_atom"] is not None
    assert props["elastic"]["reference"]["watch"]["max_energy_std_per_atom"] is None
    assert "| eos | a0 | Å |" in report
    # the close-pair guard: none at auto in the melt, all recorded by warn in the diffusion
    assert props["melt_quench"]["model"]["watch"]["min_distance"]["close_pairs"] == []
    close = props["diffusion"]["model"]["watch"]["min_distance"]
    assert close["threshold_A"] == 3.0 and close["checks"] == 2 * 21
    assert len(close["close_pairs"]) == 20 and "min_distance" not in \
        props["diffusion"]["reference"]["watch"]
    assert close["frames_close"] == 42
    assert "**diffusion: atoms closer than 3.000 Å** in 42 of 42 checked frames" in report


def test_validate_config_errors(tmp_path):
    from kizuna.properties.config import validate_validate_config

    base = {"model": str(MODEL), "structure": {"bulk": {"name": "Cu"}}}
    with pytest.raises(ConfigError, match="did you mean 'phonons'"):
        validate_validate_config({**base, "properties": {"phonon": {}}})
    with pytest.raises(ConfigError, match="no model file"):
        validate_validate_config({**base, "model": str(tmp_path / "x.kzn"),
                                  "properties": {"eos": {}}})
    with pytest.raises(ConfigError, match="at least one"):
        validate_validate_config({**base, "properties": {}})
    with pytest.raises(ConfigError, match="C11..C66"):
        validate_validate_config({**base, "properties": {"elastic": {"components": ["C21"]}}})
    with pytest.raises(ConfigError, match="Miller"):
        validate_validate_config({**base, "properties": {"surface": {"miller": [1, 1, 1]}}})
    cfg = validate_validate_config({**base, "properties": {"eos": None}})
    assert cfg["properties"]["eos"]["points"] == 9 and cfg["reference"] is None


def test_eval_details_worst_first_and_calibration(tmp_path, capsys):
    import kizuna

    frames = []
    for k in range(8):
        a = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
        a.rattle(0.02 + 0.03 * k, seed=k)   # growing disorder: growing errors
        a.calc = EMT()
        a.get_potential_energy()
        a.get_forces()
        frames.append(a)
    data = tmp_path / "cu.xyz"
    write(data, frames)
    prefix = tmp_path / "details" / "cu"
    assert main(["eval", str(MODEL), str(data), "-d", str(prefix)]) == 0
    assert "spearman_structure_max_deviation_vs_max_force_error" in capsys.readouterr().out
    rows = [line.split("\t") for line in
            (tmp_path / "details" / "cu.structures.tsv").read_text().splitlines()]
    head, rows = rows[0], rows[1:]
    assert len(rows) == 8
    col = {name: k for k, name in enumerate(head)}
    max_err = [float(r[col["max_force_error_eV_A"]]) for r in rows]
    assert max_err == sorted(max_err, reverse=True)
    # independent: the kizuna ASE calculator and EMT on the structure of the first row
    calc = kizuna.Calculator(str(MODEL), extrapolation="ignore")
    worst = frames[int(rows[0][col["index"]])]
    a = worst.copy()
    a.calc = calc
    df = np.linalg.norm(a.get_forces() - worst.get_forces(), axis=1)
    assert float(rows[0][col["max_force_error_eV_A"]]) == pytest.approx(df.max(), rel=1e-5)
    de = (a.get_potential_energy() - worst.get_potential_energy()) / len(a) * 1000
    assert float(rows[0][col["energy_error_meV_atom"]]) == pytest.approx(de, rel=1e-4, abs=1e-6)
    atoms_lines = (tmp_path / "details" / "cu.atoms.tsv").read_text().splitlines()
    assert len(atoms_lines) == 1 + 8 * 32
    cal = json.loads((tmp_path / "details" / "cu.calibration.json").read_text())
    assert -1 <= cal["spearman_atom_deviation_vs_force_error"] <= 1
    assert sum(b["atoms"] for b in cal["binned"]) == 8 * 32
    assert (tmp_path / "details" / "cu.calibration.png").is_file()


def test_diffusion_model_in_lammps_records_what_the_model_saw():
    lammps_md = pytest.importorskip("kizuna.learn.lammps_md")
    reason = lammps_md.lammps_available()
    if reason:
        pytest.skip(reason)
    import kizuna
    from kizuna.properties import diffusion
    from kizuna.properties.common import Watched

    calc = Watched(kizuna.Calculator(str(MODEL), extrapolation="warn"))
    cfg = {"supercell": [2, 2, 2], "engine": "lammps", "reference_supercell": None,
           "temperatures": [900.0, 1300.0], "vacancies": 1, "species": None, "timestep": 2.0,
           "friction": 0.01, "equilibration": 10, "steps": 40, "every": 4, "fit_start": 0.2,
           "fit_end": 1.0, "blocks": 1}
    res = diffusion.compute(bulk("Cu", "fcc", a=3.6, cubic=True), calc, cfg, {}, seed=0,
                            side="model", model_path=str(MODEL))
    curves = res["data"]["curves"]
    assert [c["engine"] for c in curves] == ["lammps", "lammps"]
    assert all(len(c["msd"]) == 6 and c["msd"][0] == 0 and c["msd"][-1] > 0 for c in curves)
    assert calc.watch.calls == 20 and calc.watch.atoms_at_max == 31
    assert calc.watch.max_force_deviation > 0


def test_example_config_documents_every_key():
    import re

    from kizuna.properties.config import PROPERTIES, SCHEMA, load_validate_config

    text = (Path(__file__).parents[1] / "examples" / "validate" / "cu_emt.yaml").read_text()

    def keys(schema):
        for key, opt in schema.items():
            yield key
            if isinstance(opt, dict):
                yield from keys(opt)

    for key in list(keys(SCHEMA)) + list(keys(PROPERTIES)):
        assert re.search(rf"\b{re.escape(key)}:", text), key
    cfg = load_validate_config(Path(__file__).parents[1] / "examples" / "validate" /
                               "cu_emt.yaml", [f"model={MODEL}"])
    assert set(cfg["properties"]) == {"eos", "elastic", "phonons", "vacancy", "neb", "surface"}


def test_model_md_stops_when_most_atoms_extrapolate():
    import kizuna
    from kizuna.properties.common import Watched
    from kizuna.properties.meltquench import run_protocol

    calc = Watched(kizuna.Calculator(str(MODEL), extrapolation="warn"))
    calc.watch.guard = (0.5, 3)
    squeezed = bulk("Cu", "fcc", a=3.0, cubic=True)   # -17 %: every atom out of range
    cfg = {"supercell": [2, 2, 2], "melt_temperature": 300.0, "melt_steps": 10,
           "quench_steps": 5, "final_temperature": 300.0, "ramp_every": 5, "sample_steps": 5,
           "sample_every": 5, "timestep": 1.0, "friction": 0.02}
    with pytest.raises(RuntimeError, match="32 of 32 atoms extrapolating.*3 consecutive"):
        run_protocol(squeezed, calc, cfg, seed=0)
    assert calc.watch.calls == 3
    assert "guard" not in calc.watch.as_dict()


def test_reference_alone_then_reused_for_a_model(tmp_path, capsys):
    # the expensive side computed once without a model (model: null), then taken from its
    # results.json by a run with the model (reference_results) when the inputs are the same
    first = tmp_path / "ref"
    cfg = {"model": None, "reference": "emt",
           "structure": {"bulk": {"name": "Cu", "crystalstructure": "fcc", "a": 3.61,
                                  "cubic": True}},
           "relax": {"fmax": 0.01}, "output": {"directory": str(first)},
           "properties": {"vacancy": {"supercell": [2, 2, 2]},
                          "diffusion": {"supercell": [2, 2, 2], "reference_supercell": [1, 1, 2],
                                        "temperatures": [1000, 1400], "vacancies": 2,
                                        "reference_vacancies": 1, "equilibration": 2,
                                        "steps": 40, "reference_steps": 36, "every": 2,
                                        "blocks": 2, "stop_extrapolating": None}}}
    path = tmp_path / "validate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["validate", str(path), "--quiet"]) == 0
    alone = json.loads((first / "results.json").read_text())
    assert alone["model"] is None
    assert all(set(e) == {"config", "reference"} for e in alone["properties"].values())
    assert [c["atoms"] for c in alone["properties"]["diffusion"]["reference"]["data"]
            ["curves"]] == [7, 7]
    assert "| vacancy | formation_energy | eV | – |" in (first / "report.md").read_text()

    # with the model: the reference's results are reused (model-only keys may differ) ...
    second = tmp_path / "both"
    cfg.update(model=str(MODEL), output={"directory": str(second)},
               reference_results=str(first / "results.json"))
    cfg["properties"]["diffusion"].update(steps=60, engine="ase")
    path.write_text(yaml.safe_dump(cfg))
    assert main(["validate", str(path)]) == 0
    printed = capsys.readouterr().out
    both = json.loads((second / "results.json").read_text())
    for name in ("vacancy", "diffusion"):
        assert both["properties"][name]["reference"]["reused_from"] == str(first /
                                                                            "results.json")
        assert both["properties"][name]["reference"]["values"] == \
            alone["properties"][name]["reference"]["values"]
        assert "error" not in both["properties"][name]["model"]
    assert [c["atoms"] for c in both["properties"]["diffusion"]["model"]["data"]["curves"]] \
        == [30, 30]
    assert "ratio_D_1000K" in both["properties"]["diffusion"]["comparison"]
    assert "vacancy (reference): from" in printed
    # ... but not when what the reference depends on changed: recomputed, and said why
    cfg["properties"]["vacancy"]["supercell"] = [1, 1, 2]
    cfg["properties"]["diffusion"]["reference_steps"] = 40
    path.write_text(yaml.safe_dump(cfg))
    assert main(["validate", str(path)]) == 0
    printed = capsys.readouterr().out
    third = json.loads((second / "results.json").read_text())
    assert all("reused_from" not in e["reference"] for e in third["properties"].values())
    assert printed.count("the property's configuration differs") == 2
    # the model side likewise (model_results), only from the same model file
    fourth = tmp_path / "model-reused"
    cfg.update(model_results=str(second / "results.json"), reference_results=None,
               reference=None, output={"directory": str(fourth)})
    path.write_text(yaml.safe_dump(cfg))
    assert main(["validate", str(path), "--quiet"]) == 0
    again = json.loads((fourth / "results.json").read_text())
    for name in ("vacancy", "diffusion"):
        assert again["properties"][name]["model"]["values"] == \
            third["properties"][name]["model"]["values"]
        assert again["properties"][name]["model"]["reused_from"] == str(second /
                                                                          "results.json")
    other = tmp_path / "other.kzn"
    other.write_bytes(MODEL.read_bytes() + b"\n")
    cfg.update(model=str(other))
    path.write_text(yaml.safe_dump(cfg))
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.count("sha256 differs") == 2


def test_validate_config_needs_a_model_or_a_reference(tmp_path):
    from kizuna.properties.config import validate_validate_config

    base = {"structure": {"bulk": {"name": "Cu"}}, "properties": {"eos": {}}}
    with pytest.raises(ConfigError, match="give a model, a reference or both"):
        validate_validate_config(dict(base, model=None, reference=None))
    with pytest.raises(ConfigError, match="reference_results"):
        validate_validate_config(dict(base, reference="emt",
                                      reference_results=str(tmp_path / "none.json")))
    with pytest.raises(ConfigError, match="2 frames per block for blocks: 4"):
        validate_validate_config(dict(base, reference="emt", properties={
            "diffusion": {"steps": 100, "every": 10}}))
    with pytest.raises(ConfigError, match="fit_start"):
        validate_validate_config(dict(base, reference="emt", properties={
            "diffusion": {"fit_start": 0.8, "fit_end": 0.5}}))


def test_diffusion_in_lammps_holds_the_temperature_with_frequent_frames():
    # short consecutive runs (a frame every 2 steps) must continue one Langevin trajectory:
    # a new setup at every run cooled the system to ~0.78 x the target
    lammps_md = pytest.importorskip("kizuna.learn.lammps_md")
    reason = lammps_md.lammps_available()
    if reason:
        pytest.skip(reason)
    from kizuna.properties import diffusion
    from kizuna.properties.common import Watch

    cfg = {"vacancies": 0, "vacancy_species": None, "species": None, "timestep": 2.0,
           "friction": 0.01, "equilibration": 200, "steps": 1000, "every": 2}
    _, mean_t, natoms = diffusion.run_temperature_lammps(
        bulk("Cu", "fcc", a=3.6, cubic=True), str(MODEL), 1, Watch(), cfg, 900.0, 0,
        [3, 3, 3], 0)
    assert natoms == 108
    assert mean_t == pytest.approx(900.0, rel=0.07)
