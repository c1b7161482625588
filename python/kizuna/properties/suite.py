"""The property suite: every configured property computed with the model and with the
reference by the same code, on the same start structure, side by side.

Each calculator first relaxes the structure (cell and ions, ``relax.cell``); every property
then starts from that calculator's own relaxed structure, so model and reference are each at
their own equilibrium and follow the same protocol (same strains, supercells, seeds).
While a property is computed, every call of the model records the atoms outside its training
range and the committee spread (:class:`~kizuna.properties.common.Watch`).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import KizunaError
from . import diffusion, elastic, eos, meltquench, neb, phonons, surface, vacancy
from .common import Watched, relax_cell

MODULES = {"eos": eos, "elastic": elastic, "phonons": phonons, "vacancy": vacancy,
           "neb": neb, "surface": surface, "melt_quench": meltquench, "diffusion": diffusion}
SEEDED = ("melt_quench", "diffusion")


def make_calculators(cfg: dict):
    """(model, reference or None), each wrapped in :class:`Watched`."""
    from ..calculator import Calculator
    from ..learn.reference import make_reference

    sides = []
    if cfg["model"] is not None:
        model = Calculator(cfg["model"], threads=cfg["threads"], extrapolation="warn")
        sides.append(("model", Watched(model, "model")))
    if cfg["reference"] is not None:
        # a DFT reference (type: espresso) keeps its per-call scratch in <output>/dft/scratch
        ref = make_reference(cfg["reference"], workdir=Path(cfg["output"]["directory"]))
        sides.append(("reference", Watched(ref, "reference")))
    return sides


def start_structure(cfg: dict):
    from ..learn.md import start_structure as learn_start

    return learn_start(cfg)


def _inputs(cfg: dict) -> dict:
    """What a side's results depend on besides its calculator and the property's section."""
    return {"structure": cfg["structure"], "relax": cfg["relax"], "seed": cfg["seed"]}


def _side_config(name: str, section, side: str):
    """The part of a property's section that ``side``'s result depends on (a module's
    ``reference_config`` / ``model_config``; the whole section otherwise)."""
    fn = getattr(MODULES[name], f"{side}_config", None)
    if section is None or fn is None:
        return section
    try:
        return fn(section)
    except KeyError:     # an older run's section without a newer key
        return None


def model_checksum(path) -> str | None:
    """sha256 of the model file: a reused model result must come from the same model."""
    import hashlib

    return None if path is None else hashlib.sha256(Path(path).read_bytes()).hexdigest()


def reusable(side: str, cfg: dict, previous: dict | None, name: str, say=print):
    """``side`` of property ``name`` from an earlier run's results (``previous``: the file of
    ``reference_results`` / ``model_results``) when it was computed by the same calculator
    (the reference spec; the model file's sha256), structure, relaxation, seed and the part of
    the property's section this side depends on; else None (and ``say`` tells why)."""
    if previous is None:
        return None
    source = cfg[f"{side}_results"]
    entry = previous.get("properties", {}).get(name, {})
    why = None
    if side == "reference" and previous.get("reference") != cfg["reference"]:
        why = f"its reference was {previous.get('reference')!r}"
    elif side == "model" and previous.get("model_sha256") != model_checksum(cfg["model"]):
        why = "its model file was another (sha256 differs)"
    elif previous.get("inputs") != _inputs(cfg):
        why = "its structure, relax or seed differ"
    elif side not in entry or "error" in entry[side]:
        why = f"it has no {side} result for it"
    elif _side_config(name, entry.get("config"), side) != \
            _side_config(name, cfg["properties"][name], side):
        why = "the property's configuration differs"
    if why:
        say(f"kizuna validate: {name} ({side}): not reused from {source} ({why}); computing it")
        return None
    return dict(entry[side], reused_from=source)


def run_suite(cfg: dict, sides=None, say=print) -> dict:
    """Compute every property of ``cfg['properties']`` on every side; returns the results
    (JSON-ready) and writes the report into ``cfg['output']['directory']``."""
    sides = sides or make_calculators(cfg)
    unit = start_structure(cfg)
    previous = {side: json.loads(Path(cfg[f"{side}_results"]).read_text())
                if cfg.get(f"{side}_results") else None for side in ("model", "reference")}
    out = {"model": cfg["model"], "model_sha256": model_checksum(cfg["model"]),
           "reference": cfg["reference"], "inputs": _inputs(cfg),
           "structure": {"formula": unit.get_chemical_formula(), "atoms": len(unit)},
           "relaxed": {}, "properties": {}}
    relaxed = {}
    for side, calc in sides:
        calc.reset_watch()
        a = unit.copy()
        a.calc = calc
        if cfg["relax"]["cell"]:
            relax_cell(a, cfg["relax"]["fmax"], cfg["relax"]["steps"])
        a.calc = None
        relaxed[side] = a
        out["relaxed"][side] = {"cell": a.cell.tolist(), "volume_per_atom": a.get_volume() /
                                len(a), "watch": calc.watch.as_dict()}
    for name, pcfg in cfg["properties"].items():
        module = MODULES[name]
        entry = {"config": pcfg}
        for side, calc in sides:
            reused = reusable(side, cfg, previous[side], name, say)
            if reused is not None:
                say(f"kizuna validate: {name} ({side}): from {cfg[f'{side}_results']}")
                entry[side] = reused
                continue
            say(f"kizuna validate: {name} ({side}) ...")
            calc.reset_watch()
            start = time.time()
            kwargs = {"seed": cfg["seed"]} if name in SEEDED else {}
            if name in ("diffusion", "melt_quench"):
                kwargs.update(side=side, model_path=cfg["model"], threads=cfg["threads"])
            if name == "melt_quench" and side != "model":
                kwargs["model_result"] = entry.get("model")  # model_glass judges its frames
            try:
                res = module.compute(relaxed[side].copy(), calc, pcfg, cfg["relax"], **kwargs)
            except KizunaError:
                raise
            except Exception as exc:  # a property that fails is reported, the others go on
                res = {"error": f"{type(exc).__name__}: {exc}"}
            res["seconds"] = round(time.time() - start, 2)
            res["watch"] = calc.watch.as_dict()
            entry[side] = res
        if "model" in entry and "reference" in entry and "error" not in entry["model"] \
                and "error" not in entry["reference"]:
            comparison = {}
            if hasattr(module, "compare"):
                comparison.update(module.compare(entry["model"], entry["reference"]))
            if name == "melt_quench":
                inner = {s: c.inner for s, c in sides}
                if "frames" in entry["model"]:
                    comparison.update(meltquench.errors_on_frames(
                        entry["model"]["frames"], inner["model"], inner["reference"]))
            entry["comparison"] = comparison
        for side, _ in sides:
            entry[side].pop("frames", None)
        out["properties"][name] = entry
    from .report import write_report

    write_report(out, Path(cfg["output"]["directory"]))
    return out


def validate(config, overrides=(), say=print) -> dict:
    """Run the property suite from a YAML file or a config dict (see docs/validate.md)."""
    from .config import load_validate_config, validate_validate_config

    cfg = (validate_validate_config(config) if isinstance(config, dict)
           else load_validate_config(config, overrides))
    return run_suite(cfg, say=say)


def save_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, indent=1, default=float))
