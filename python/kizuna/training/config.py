"""Training configuration: schema, defaults and validation (every key checked).

The schema below is the single source of truth; ``examples/training/si.yaml`` documents every
key with units (a test checks that it names them all). Unknown keys raise ConfigError with a
did-you-mean suggestion; types, choices and ranges are checked; messages name the file, the key
path and, when known, the line.
"""
from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..model import ACTIVATIONS, CUTOFF_KINDS, SCALING_MODES
from .readers import ENERGY_UNITS, FORMATS, LENGTH_UNITS
from .symmetry import ANGULAR_KINDS, ANGULAR_MODES, ELEMENT_MODES, RADIAL_MODES


#: Å, the largest symmetry-function cutoff accepted: short-range potentials use 4-12 Å, and the
#: cost of the angular functions grows as cutoff^6 (a typo such as 1e6 would hang the run).
MAX_CUTOFF = 30.0


#: output.progress of `kizuna train` and `kizuna learn` (training/progress.py); 'epoch' is the
#: former name of 'line'
PROGRESS_MODES = ("auto", "bar", "line", "none", "epoch")


@dataclass
class Opt:
    default: object
    kind: str                  # int float str bool list_float list_str sources map any
    help: str = ""
    choices: tuple = None
    minimum: float = None
    maximum: float = None
    nullable: bool = False
    required: bool = False
    exclusive_min: bool = False


SOURCE = {
    "path": Opt(None, "str", "data file or DeePMD folder", required=True),
    "format": Opt("auto", "str", "reader", choices=FORMATS),
    "index": Opt(":", "str", "ASE index (':' all, '::10' every 10th, '-5:')"),
    "length_unit": Opt("angstrom", "str", "n2p2 files", choices=tuple(LENGTH_UNITS)),
    "energy_unit": Opt("eV", "str", "n2p2 files", choices=("eV",) + tuple(ENERGY_UNITS)),
    "energy_key": Opt(None, "str", "info key of the energy", nullable=True),
    "forces_key": Opt(None, "str", "arrays key of the forces", nullable=True),
    "stress_key": Opt(None, "str", "'stress' or 'virial'", nullable=True,
                      choices=("stress", "virial")),
    "type_map": Opt(None, "list_str", "DeePMD: element of each type", nullable=True),
    "use_stress": Opt(True, "bool", "read stress when present"),
}

SCHEMA = {
    "seed": Opt(0, "int", "seed of the split, initial weights and shuffling", minimum=0),
    "threads": Opt(1, "int", "worker threads for the core operators and torch", minimum=1),
    "committee": Opt(1, "int", "members: N > 1 trains N members (seeds seed .. seed+N-1) and "
                     "merges them into <output.directory>/committee.kzn (= --committee N)",
                     minimum=1),
    "output": {
        "directory": Opt("kizuna-run", "str", "run folder"),
        "progress": Opt("auto", "str", "progress display: auto (bar on a terminal, else "
                        "line) | bar | line (one line per epoch with rate and ETA, for batch "
                        "logs) | none ('epoch': former name of line)", choices=PROGRESS_MODES),
        "plots": Opt(True, "bool", "write PNG learning curves and parity plots"),
        "model_name": Opt("model.kzn", "str", "exported model file name"),
    },
    "data": {
        "train": Opt(None, "sources", "training data sources", required=True),
        "test": Opt([], "sources", "test data sources (never used for fitting)"),
        "validation": Opt([], "sources", "validation data sources (model selection, never "
                          "fitted) instead of a random validation_fraction of data.train, "
                          "which must then be 0: e.g. whole compositions held out"),
        "validation_fraction": Opt(0.1, "float", "structures held out", minimum=0.0, maximum=0.9),
        "test_fraction": Opt(0.0, "float", "structures held out for testing", minimum=0.0,
                             maximum=0.9),
        "max_structures": Opt(None, "int", "use only the first N training structures",
                              nullable=True, minimum=1),
        "on_error": Opt("raise", "str", "bad structures", choices=("raise", "skip")),
        "min_distance": Opt(0.5, "float", "Å; closer atoms are an error", minimum=0.0),
    },
    "symmetry_functions": {
        "cutoff": Opt(5.5, "float", "Å", minimum=0.0, exclusive_min=True,
                      maximum=MAX_CUTOFF),
        "cutoff_function": Opt("poly2", "str", "",
                               choices=tuple(c for c in CUTOFF_KINDS if c != "hard")),
        "cutoff_alpha": Opt(0.0, "float", "", minimum=0.0, maximum=0.999),
        "n_radial": Opt(16, "int", "per neighbour element", minimum=0),
        "radial_mode": Opt("shifted", "str", "", choices=RADIAL_MODES),
        "r_min": Opt(0.5, "float", "Å", minimum=0.0),
        "n_angular": Opt(32, "int", "per neighbour pair", minimum=0),
        "angular_kind": Opt("angular_narrow", "str", "", choices=ANGULAR_KINDS),
        "angular_mode": Opt("centered", "str", "", choices=ANGULAR_MODES),
        "r_min_angular": Opt(1.5, "float", "Å", minimum=0.0, exclusive_min=True),
        "angular_cutoff": Opt(None, "float", "Å, cutoff of the angular functions (default: "
                              "cutoff); a shorter one makes the triplet sum much cheaper",
                              minimum=0.0, exclusive_min=True, nullable=True,
                              maximum=MAX_CUTOFF),
        "zetas": Opt([1.0, 2.0, 4.0, 16.0], "list_float", "", minimum=1.0),
        "lambdas": Opt([-1.0, 1.0], "list_float", "", choices=(-1.0, 1.0)),
        "element_mode": Opt("pair", "str", "pair: functions per neighbour element (pair); "
                            "weighted: element-weighted functions, size independent of the "
                            "number of elements", choices=ELEMENT_MODES),
        "channels": Opt(2, "int", "weighted: weight channels (fixed Chebyshev weights of the "
                        "atomic-number rank; at most the number of elements)", minimum=1),
        "learn_weights": Opt(False, "bool", "train the element-channel weights of the "
                             "weighted functions with the networks (learned_weights.py)"),
        "explicit": Opt(None, "any", "list of sf lines, or {element: [lines]}", nullable=True),
        "from_model": Opt(None, "str", "take the symmetry functions of this model", nullable=True),
        # data-driven selection (kizuna.training.selection), after the statistics pass
        "select": {
            "method": Opt(None, "str", "null: keep every function; qr: column-pivoted QR on "
                          "the scaled training features", nullable=True, choices=("qr",)),
            "keep": Opt(None, "int", "functions kept per element", nullable=True, minimum=1),
            "fraction": Opt(None, "float", "fraction kept per element", nullable=True,
                            minimum=0.0, exclusive_min=True, maximum=1.0),
            "tolerance": Opt(None, "float", "relative residual left", nullable=True,
                             minimum=0.0, maximum=0.999),
        },
    },
    "model": {
        "elements": Opt(None, "list_str", "element order (default: from the data)", nullable=True),
        "hidden_layers": Opt([96, 96], "list_int", "neurons per hidden layer", minimum=1),
        "activation": Opt("tanh", "str", "hidden-layer activation", choices=ACTIVATIONS),
        "scaling": Opt("scale_sigma", "str", "feature scaling", choices=SCALING_MODES),
        "scale_min": Opt(0.0, "float", "smin"),
        "scale_max": Opt(1.0, "float", "smax"),
        "energy_scale": Opt(None, "float", "eV (default: RMS force x 1 Å)",
                            nullable=True, minimum=0.0, exclusive_min=True),
        "reference_energies": Opt(None, "map", "eV/atom per element (default: fitted)",
                                  nullable=True),
    },
    "loss": {
        "energy_weight": Opt(1.0, "float", "per (eV/atom)^2", minimum=0.0),
        "forces_weight": Opt(0.05, "float", "per (eV/Å)^2", minimum=0.0),
        "stress_weight": Opt(0.0, "float", "per (eV/Å^3)^2", minimum=0.0),
        "function": Opt("mse", "str", "penalty of each residual: squared, or Huber (squared "
                        "up to the delta, linear beyond)", choices=("mse", "huber")),
        "huber_delta_energy": Opt(1e-3, "float", "eV/atom", minimum=0.0, exclusive_min=True),
        "huber_delta_forces": Opt(0.05, "float", "eV/Å", minimum=0.0, exclusive_min=True),
        "huber_delta_stress": Opt(1e-3, "float", "eV/Å^3", minimum=0.0, exclusive_min=True),
        "stage_two_energy_weight": Opt(None, "float", "energy weight of the second stage "
                                       "(null: energy_weight)", nullable=True, minimum=0.0),
        "stage_two_forces_weight": Opt(None, "float", "forces weight of the second stage "
                                       "(null: forces_weight)", nullable=True, minimum=0.0),
    },
    "training": {
        "optimizer": Opt("adam", "str", "", choices=("adam", "lbfgs")),
        "epochs": Opt(250, "int", "", minimum=0),
        "batch_size": Opt(4, "int", "structures per step", minimum=1),
        "learning_rate": Opt(3e-3, "float", "", minimum=0.0, exclusive_min=True),
        "lr_schedule": Opt("exponential", "str", "", choices=("constant", "exponential", "cosine",
                                                             "plateau")),
        "lr_final": Opt(1e-5, "float", "", minimum=0.0),
        "lr_patience": Opt(10, "int", "plateau: epochs without improvement", minimum=1),
        "lr_factor": Opt(0.5, "float", "plateau: factor", minimum=0.0, maximum=1.0,
                         exclusive_min=True),
        "weight_decay": Opt(0.0, "float", "decoupled (AdamW)", minimum=0.0),
        "gradient_clip": Opt(None, "float", "max gradient norm", nullable=True, minimum=0.0,
                             exclusive_min=True),
        "lbfgs_epochs": Opt(60, "int", "L-BFGS polish after the first optimiser", minimum=0),
        "stage_two_epochs": Opt(0, "int", "Adam epochs of a second stage with the "
                                "stage_two loss weights (then lbfgs_epochs more L-BFGS)",
                                minimum=0),
        "stage_two_learning_rate": Opt(3e-4, "float", "initial Adam learning rate of the "
                                       "second stage", minimum=0.0, exclusive_min=True),
        "lbfgs_history": Opt(20, "int", "", minimum=1),
        "lbfgs_batch_size": Opt(32, "int", "structures per evaluation chunk", minimum=1),
        "early_stopping_patience": Opt(None, "int", "epochs", nullable=True, minimum=1),
        "validation_metric": Opt("mae", "str", "", choices=(
            "mae", "loss", "energy_mae", "forces_mae", "energy_rmse", "forces_rmse")),
        "ema_decay": Opt(0.99, "float", "weight averaging per Adam step (0 = off)", minimum=0.0,
                         maximum=0.99999),
    },
}


# ----------------------------------------------------------------------------------- locations
def _line_map(text: str) -> dict:
    """key path (tuple) -> line number in the YAML text, for error messages."""
    import yaml

    out = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                p = path + (key.value,)
                out[p] = key.start_mark.line + 1
                walk(value, p)
        elif isinstance(node, yaml.SequenceNode):
            for k, value in enumerate(node.value):
                out[path + (k,)] = value.start_mark.line + 1
                walk(value, path + (k,))

    try:
        walk(yaml.compose(text), ())
    except yaml.YAMLError:
        pass
    return out


class _Where:
    def __init__(self, source: str, lines: dict):
        self.source, self.lines = source, lines

    def error(self, path, message) -> ConfigError:
        name = ".".join(str(p) for p in path)
        line = self.lines.get(tuple(path))
        loc = f"{self.source}:{line}" if line else self.source
        return ConfigError(f"{loc}: {name}: {message}")


# ---------------------------------------------------------------------------------- validation
def _number(value, path, where, integer=False):
    if isinstance(value, str) and not integer:
        # YAML 1.1 (PyYAML) reads 1e-5 (no dot) as a string: accept what float() accepts
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (integer and not isinstance(value, int)):
        raise where.error(path, f"expected {'an integer' if integer else 'a number'}, got "
                                f"{value!r}")
    if not integer and not math.isfinite(value):
        raise where.error(path, f"expected a finite number, got {value!r}")
    return int(value) if integer else float(value)


def _check_value(opt: Opt, value, path, where):
    if value is None:
        if opt.nullable or (opt.default is None and not opt.required):
            return None
        raise where.error(path, "must not be empty")
    kind = opt.kind
    if kind == "int":
        value = _number(value, path, where, integer=True)
    elif kind == "float":
        value = _number(value, path, where)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise where.error(path, f"expected true or false, got {value!r}")
    elif kind == "str":
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise where.error(path, f"expected a string, got {value!r}")
        value = str(value)
    elif kind in ("list_float", "list_int", "list_str"):
        if not isinstance(value, list):
            value = [value]
        item = {"list_float": "float", "list_int": "int", "list_str": "str"}[kind]
        value = [_check_value(Opt(None, item, choices=opt.choices, minimum=opt.minimum),
                              v, path + [k], where) for k, v in enumerate(value)]
        return value
    elif kind == "map":
        if not isinstance(value, dict):
            raise where.error(path, f"expected a mapping, got {value!r}")
        return {str(k): _number(v, path + [k], where) for k, v in value.items()}
    elif kind == "sources":
        return _check_sources(value, path, where)
    if opt.choices is not None and value not in opt.choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in opt.choices], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise where.error(path, f"{value!r} is not one of {', '.join(map(str, opt.choices))}{hint}")
    if opt.minimum is not None and isinstance(value, (int, float)):
        if value < opt.minimum or (opt.exclusive_min and value == opt.minimum):
            raise where.error(path, f"must be {'>' if opt.exclusive_min else '>='} {opt.minimum}, "
                                    f"got {value}")
    if opt.maximum is not None and isinstance(value, (int, float)) and value > opt.maximum:
        raise where.error(path, f"must be <= {opt.maximum}, got {value}")
    return value


def _check_sources(value, path, where) -> list:
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        raise where.error(path, f"expected a file, a list of files or of {{path: ...}} entries, "
                                f"got {value!r}")
    out = []
    for k, item in enumerate(value):
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict):
            raise where.error(path + [k], f"expected a path or {{path: ...}}, got {item!r}")
        out.append(_check_section(SOURCE, item, path + [k], where))
    return out


def _check_section(schema: dict, given: dict, path: list, where) -> dict:
    if not isinstance(given, dict):
        raise where.error(path, f"expected a mapping of keys, got {given!r}")
    out = {}
    for key in given:
        if key not in schema:
            close = difflib.get_close_matches(str(key), list(schema), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(schema)}"
            raise where.error(path + [key], f"unknown key; {hint}")
    for key, opt in schema.items():
        if isinstance(opt, dict):
            out[key] = _check_section(opt, given.get(key) or {}, path + [key], where)
            continue
        if key not in given:
            if opt.required:
                raise where.error(path + [key], "is required")
            out[key] = copy.deepcopy(opt.default)
            continue
        out[key] = _check_value(opt, given[key], path + [key], where)
    return out


def _cross_checks(cfg: dict, where):
    d, sf, m = cfg["data"], cfg["symmetry_functions"], cfg["model"]
    if d["validation_fraction"] + d["test_fraction"] >= 0.95:
        raise where.error(["data", "validation_fraction"],
                          "validation_fraction + test_fraction leave no training data")
    if d["validation"] and d["validation_fraction"] > 0:
        raise where.error(["data", "validation_fraction"],
                          f"must be 0 when data.validation gives the validation data, got "
                          f"{d['validation_fraction']} (set data.validation_fraction=0)")
    per_eta = len(sf["zetas"]) * len(sf["lambdas"])
    if sf["n_angular"] % per_eta:
        raise where.error(["symmetry_functions", "n_angular"],
                          f"must be a multiple of len(zetas) * len(lambdas) = {per_eta}")
    if sf["explicit"] is not None and sf["from_model"] is not None:
        raise where.error(["symmetry_functions", "explicit"],
                          "give explicit or from_model, not both")
    sel = sf["select"]
    rules = [k for k in ("keep", "fraction", "tolerance") if sel[k] is not None]
    if sel["method"] is not None and len(rules) != 1:
        raise where.error(["symmetry_functions", "select"],
                          f"method {sel['method']} needs exactly one of keep (a count), "
                          f"fraction or tolerance; got {', '.join(rules) or 'none'}")
    if sel["method"] is None and rules:
        raise where.error(["symmetry_functions", "select", rules[0]],
                          "given without select.method (e.g. method: qr)")
    if sf["learn_weights"]:
        if sf["explicit"] is None and sf["from_model"] is None and \
                sf["element_mode"] != "weighted":
            raise where.error(["symmetry_functions", "learn_weights"],
                              "learns the weights of element-weighted functions: set "
                              "element_mode: weighted (or give weighted functions)")
        if sel["method"] is not None:
            raise where.error(["symmetry_functions", "learn_weights"],
                              "cannot be combined with select (the selection would fix the "
                              "weighted features before their weights are learned)")
        if cfg["committee"] > 1:
            raise where.error(["symmetry_functions", "learn_weights"],
                              "cannot be combined with committee > 1 (the model file holds one "
                              "weight table; members would learn different ones)")
    scaled = m["scaling"] in ("scale", "scale_center", "scale_sigma")
    if scaled and not m["scale_min"] < m["scale_max"]:
        raise where.error(["model", "scale_min"], "scale_min must be < scale_max")
    t = cfg["training"]
    # epochs of every stage (trainer.stages): the main optimiser, its L-BFGS polish, stage two
    total = t["epochs"] + t["stage_two_epochs"] + (
        t["lbfgs_epochs"] if t["optimizer"] != "lbfgs" else 0)
    if total == 0:
        raise where.error(["training", "epochs"],
                          "epochs, lbfgs_epochs and stage_two_epochs are all 0: nothing would "
                          "be trained (give at least one epoch)")
    if cfg["training"]["lr_schedule"] == "plateau" and d["validation_fraction"] == 0:
        raise where.error(["training", "lr_schedule"], "'plateau' needs a validation split")


def validate_config(given: dict, source="<config>", text=None) -> dict:
    """The full configuration (defaults filled in) or ConfigError."""
    where = _Where(source, _line_map(text) if text else {})
    if given is None:
        given = {}
    cfg = _check_section(SCHEMA, given, [], where)
    _cross_checks(cfg, where)
    return cfg


def _set_override(given: dict, assignment: str, source: str):
    import yaml

    if "=" not in assignment:
        raise ConfigError(f"--set expects key.path=value, got {assignment!r}")
    key, value = assignment.split("=", 1)
    node = given
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {p} is not a section")
    node[parts[-1]] = yaml.safe_load(value)


def read_yaml_config(path=None, overrides=(), given=None, default_source="<config>"):
    """A YAML config file (or the mapping ``given``) with the ``key.path=value`` overrides
    applied, before validation; shared by the training, learning and validation configs.
    Returns (mapping, source name for messages, file text or None, folder that relative paths
    in it refer to)."""
    import yaml

    text, source, base = None, default_source, Path.cwd()
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config ({exc.strerror})") from None
        try:
            given = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        source, base = str(path), path.resolve().parent
    given = copy.deepcopy(given or {})
    if not isinstance(given, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    for assignment in overrides:
        _set_override(given, assignment, source)
    return given, source, text, base


def _overridden_data_parts(overrides) -> set:
    """The data parts (train, validation, test) that a ``--set`` replaces, e.g.
    ``data.train=...``, ``data.train.0.path=...`` or ``data={...}`` (all three)."""
    parts = set()
    for assignment in overrides:
        keys = assignment.split("=", 1)[0].strip().split(".")
        if keys[0] != "data":
            continue
        parts |= {keys[1]} if len(keys) > 1 else {"train", "validation", "test"}
    return parts


def load_config(path=None, overrides=(), given=None) -> dict:
    """Read, override (``key.path=value`` strings) and validate a YAML config. Relative data
    paths written in the file are resolved against the config file's folder; those given on
    the command line (``--set data.train=...``) against the current directory, as a shell
    user expects."""
    given, source, text, base = read_yaml_config(path, overrides, given)
    cfg = validate_config(given, source, text)
    from_cli = _overridden_data_parts(overrides)
    for part in ("train", "validation", "test"):
        part_base = Path.cwd() if part in from_cli else base
        for src in cfg["data"][part]:
            p = Path(src["path"]).expanduser()
            src["path"] = str(p if p.is_absolute() else (part_base / p))
    cfg["_source"] = source
    return cfg
