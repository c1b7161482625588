"""On-the-fly learning configuration: schema, defaults, validation (`kizuna learn cfg.yaml`).

The same machinery as the training configuration (unknown keys -> ConfigError with a
did-you-mean, types and ranges checked). ``examples/learn/cu_emt.yaml`` documents every key.
"""
from __future__ import annotations

from pathlib import Path

from ..training.config import (PROGRESS_MODES, Opt, _check_section, _line_map, _Where,
                               read_yaml_config)

STAGE = {
    "temperature": Opt(300.0, "float", "K (the thermostat's target; with temperature_end: at the "
                                       "stage's start)", minimum=0.0),
    "temperature_end": Opt(None, "float", "K: ramp the target linearly from temperature to this "
                                          "over the stage's steps, T(s) = T0 + (T1 - T0) s / "
                                          "steps (null: constant)", minimum=0.0, nullable=True),
    "steps": Opt(1000, "int", "MD steps of this stage", minimum=1),
    "continue": Opt(False, "bool", "start from the previous stage's final state (positions, "
                                   "velocities, cell) instead of the start structure"),
    "strain": Opt(0.0, "float", "isotropic linear strain applied to the start structure",
                  minimum=-0.5, maximum=0.5),
    "vacancies": Opt(0, "int", "atoms removed (at random, seeded) from the start structure",
                     minimum=0),
    "vacancy_species": Opt(None, "list_str", "elements the vacancies are drawn from (null: any "
                           "atom), e.g. [Li] for Li vacancies", nullable=True),
    "max_force_deviation": Opt(None, "float", "eV/Å: this stage's label threshold instead of "
                               "uncertainty.max_force_deviation (e.g. higher for a hot liquid, "
                               "whose committee spread is larger everywhere; adaptive still "
                               "applies on top; null: the global value)", minimum=0.0,
                               exclusive_min=True, nullable=True),
}

SCHEMA = {
    "seed": Opt(0, "int", "seed of everything random", minimum=0),
    "threads": Opt(1, "int", "threads of the core and of training", minimum=1),
    "output": {
        "directory": Opt("kizuna-learn", "str", "run folder (resumed when it has a state)"),
        "progress": Opt("auto", "str", "progress display: auto (bar on a terminal, else "
                        "line) | bar | line (plain lines with rate and ETA, for batch logs) | "
                        "none", choices=PROGRESS_MODES),
    },
    "reference": Opt("emt", "any", "reference ASE calculator: emt | chgnet | module:Class | "
                                   "{calculator: ..., kwargs: {...}}"),
    "structure": {
        "file": Opt(None, "str", "start structure (any file ASE reads)", nullable=True),
        "bulk": Opt(None, "any", "or ase.build.bulk arguments: {name: Cu, crystalstructure: "
                                 "fcc, a: 3.61, cubic: true}", nullable=True),
        "repeat": Opt([1, 1, 1], "any", "supercell repetitions"),
    },
    "md": {
        "timestep": Opt(2.0, "float", "fs", minimum=0.0, exclusive_min=True),
        "friction": Opt(0.02, "float", "Langevin friction, 1/fs (0: NVE velocity Verlet)",
                        minimum=0.0),
        "stages": Opt(None, "any", "list of {temperature, steps, strain, vacancies}"),
        "snapshot_every": Opt(50, "int", "steps between two saved MD states", minimum=1),
        "engine": Opt("ase", "str", "MD engine: ase (ASE dynamics, small cells) | lammps (LAMMPS "
                                    "through its Python module, large cells)",
                      choices=("ase", "lammps")),
    },
    "uncertainty": {
        "max_force_deviation": Opt(0.15, "float", "eV/Å: label when the committee's largest "
                                                  "per-atom force deviation exceeds this",
                                   minimum=0.0, exclusive_min=True),
        "adaptive": Opt(False, "bool", "threshold = max(max_force_deviation, factor x the "
                                       "median deviation over the labelled structures)"),
        "adaptive_factor": Opt(2.0, "float", "see adaptive", minimum=1.0),
        "extrapolation": Opt(True, "bool", "also label when atoms leave the training range"),
        "cooldown": Opt(5, "int", "MD steps after a label or a retraining during which no "
                                  "new label is taken", minimum=0),
    },
    "bootstrap": {
        "structures": Opt(6, "int", "reference calls on rattled/strained copies of the start "
                                    "structure that build the first model", minimum=2),
        "rattle": Opt(0.08, "float", "Å, largest random displacement", minimum=0.0),
        "strain": Opt(0.02, "float", "largest random isotropic strain", minimum=0.0),
    },
    "committee": {
        "members": Opt(4, "int", "networks in the committee", minimum=2),
        "epochs": Opt(120, "int", "Adam epochs of the first training", minimum=1),
        "lbfgs_epochs": Opt(30, "int", "L-BFGS iterations after Adam (first training)",
                            minimum=0),
        "retrain_epochs": Opt(30, "int", "Adam epochs of each warm-started retraining",
                              minimum=1),
        "retrain_lbfgs_epochs": Opt(15, "int", "L-BFGS iterations of each retraining",
                                    minimum=0),
        "retrain_every": Opt(1, "int", "retrain after this many new labels", minimum=1),
        "final_epochs": Opt(0, "int", "after the MD: one more warm-started training of this "
                                      "many Adam epochs on all the data (0: none; labels not "
                                      "yet trained on get a normal retraining)", minimum=0),
        "final_lbfgs_epochs": Opt(0, "int", "L-BFGS iterations of that final training",
                                  minimum=0),
        "final_training": Opt(None, "any", "symmetry_functions / model / loss / training "
                              "sections that replace the training section's for the final "
                              "training, which then starts FROM SCRATCH (a larger production "
                              "model trained on the labels the committee collected; needs "
                              "final_epochs > 0; null: warm start, same model)", nullable=True),
    },
    # passed to `kizuna train` for every member (training configuration schema)
    "training": Opt({}, "any", "symmetry_functions / model / loss / training sections of a "
                               "training configuration"),
    "test": {
        "trajectory_steps": Opt(0, "int", "after learning: steps of an independent reference "
                                          "MD run to measure the final errors (0: skip)",
                                minimum=0),
        "temperature": Opt(600.0, "any", "K, or a list: one trajectory of trajectory_steps "
                                         "at each temperature"),
        "every": Opt(10, "int", "frames: every this many steps", minimum=1),
    },
}


def validate_learn_config(given, source="<learn config>", text=None, base=None) -> dict:
    where = _Where(source, _line_map(text) if text else {})
    cfg = _check_section(SCHEMA, given or {}, [], where)
    s = cfg["structure"]
    if (s["file"] is None) == (s["bulk"] is None):
        raise where.error(["structure"], "give exactly one of structure.file and structure.bulk")
    if s["file"] and base is not None and not Path(s["file"]).is_absolute():
        s["file"] = str((base / s["file"]).resolve())
    stages = cfg["md"]["stages"]
    if stages is None:
        stages = [{"temperature": 300.0, "steps": 1000}]
    if not isinstance(stages, list) or not stages:
        raise where.error(["md", "stages"], "expected a non-empty list of stages")
    cfg["md"]["stages"] = [_check_section(STAGE, st, ["md", "stages", str(k)], where)
                           for k, st in enumerate(stages)]
    for k, st in enumerate(cfg["md"]["stages"]):
        at = ["md", "stages", str(k), "continue"]
        if st["continue"] and k == 0:
            raise where.error(at, "the first stage has no previous stage to continue from")
        if st["continue"] and (st["strain"] or st["vacancies"]):
            raise where.error(at, "a continued stage takes the previous stage's final state as "
                              "it is: strain and vacancies (which apply to the start structure) "
                              "must be 0")
        if st["temperature_end"] is not None and cfg["md"]["friction"] == 0:
            raise where.error(["md", "stages", str(k), "temperature_end"],
                              "a temperature ramp needs a thermostat (md.friction > 0); with "
                              "friction 0 the MD is NVE")
    temps = cfg["test"]["temperature"]
    temps = temps if isinstance(temps, list) else [temps]
    if not temps or not all(isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0
                            for t in temps):
        raise where.error(["test", "temperature"], "expected a temperature >= 0 (K) or a "
                          f"non-empty list of them, got {cfg['test']['temperature']!r}")
    cfg["test"]["temperature"] = ([float(t) for t in temps] if isinstance(
        cfg["test"]["temperature"], list) else float(temps[0]))
    if not isinstance(cfg["training"], dict):
        raise where.error(["training"], "expected a mapping (sections of a training config)")
    allowed = {"symmetry_functions", "model", "loss", "training", "data"}
    unknown = set(cfg["training"]) - allowed
    if unknown:
        raise where.error(["training", sorted(unknown)[0]],
                          f"unknown section; allowed: {', '.join(sorted(allowed))}")
    final = cfg["committee"]["final_training"]
    if final is not None:
        at = ["committee", "final_training"]
        if not isinstance(final, dict) or not final:
            raise where.error(at, "expected a non-empty mapping of training sections "
                              "(symmetry_functions, model, loss, training)")
        unknown = set(final) - {"symmetry_functions", "model", "loss", "training"}
        if unknown:
            raise where.error(at + [sorted(unknown)[0]], "unknown section; allowed: loss, "
                              "model, symmetry_functions, training")
        if cfg["committee"]["final_epochs"] == 0:
            raise where.error(at, "a final training from scratch needs committee.final_epochs "
                              "> 0 (its Adam epochs)")
    return cfg


def load_learn_config(path=None, overrides=(), given=None) -> dict:
    given, source, text, base = read_yaml_config(path, overrides, given, "<learn config>")
    return validate_learn_config(given, source, text, base)
