"""Read and write kizuna model files (text format version 1, spec in docs/model-format.md).

Doubles are written with ``repr`` (shortest string that reads back to the same double), so a
write/read round trip is exact, in Python and in the C++ reader. Every malformed file raises
:class:`~kizuna.errors.ModelFormatError` naming the file, the line, what was expected and what was
found.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import ModelFormatError
from .model import (ACTIVATIONS, FORMAT_VERSION, SCALING_MODES, SF_KINDS, SF_PARAMETERS,
                    STRING_PARAMETERS, DenseLayer, ElementModel, Member, Model, Scaling,
                    SymmetryFunction)

MAGIC = "kizuna-model"
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_NONFINITE = re.compile(r"^[+-]?(nan|inf|infinity)$", re.IGNORECASE)


def _chemical_symbols():
    from ase.data import chemical_symbols

    return chemical_symbols[1:]


def _fmt(x: float) -> str:
    return repr(float(x))


# ----------------------------------------------------------------------------------------- write
def _sf_line(sf: SymmetryFunction) -> str:
    parts = ["sf", sf.kind, *sf.neighbors]
    for name, value in sf.parameters().items():
        if name in STRING_PARAMETERS:
            parts.append(f"{name}={value}")
        elif name == "asymmetric":
            parts.append(f"asymmetric={int(bool(value))}")
        else:
            parts.append(f"{name}={_fmt(value)}")
    return " ".join(parts)


def model_to_string(model: Model) -> str:
    validate_model(model)
    out = [f"{MAGIC} {FORMAT_VERSION}",
           "# kizuna model file; format: docs/model-format.md; units: energy eV, length angstrom"]
    for key, value in model.meta.items():
        text = str(value).replace("\n", " ")
        out.append(f"meta {key} {text}")
    out.append("units eV angstrom")
    out.append("elements " + " ".join(model.elements))
    out.append(f"committee {model.committee_size}")
    for em in model.element_models:
        out.append(f"element {em.symbol}")
        out.append(f"  symmetry_functions {em.num_features}")
        out.append("  # sf kind neighbour(s) parameters; order = network input order")
        out.extend("  " + _sf_line(sf) for sf in em.symmetry_functions)
        for m, member in enumerate(em.members, start=1):
            out.append(f"  member {m}")
            out.append(f"    energy_offset {_fmt(member.energy_offset)}")
            out.append(f"    energy_scale {_fmt(member.energy_scale)}")
            sc = member.scaling
            out.append(f"    scaling {sc.mode} {_fmt(sc.smin)} {_fmt(sc.smax)}")
            out.append("    # stat feature min max mean sigma (training-set statistics of G)")
            for i in range(em.num_features):
                out.append(f"    stat {i + 1} {_fmt(sc.minimum[i])} {_fmt(sc.maximum[i])} "
                           f"{_fmt(sc.mean[i])} {_fmt(sc.sigma[i])}")
            out.append(f"    network {len(member.layers)}")
            for layer in member.layers:
                out.append(f"      layer {layer.n_in} {layer.n_out} {layer.activation}")
                for k in range(layer.n_out):
                    row = " ".join(_fmt(w) for w in layer.weights[k])
                    out.append(f"        row {row} {_fmt(layer.bias[k])}")
            out.append("  end_member")
        out.append("end_element")
    out.append("end_model")
    return "\n".join(out) + "\n"


def write_model(model: Model, path) -> None:
    text = model_to_string(model)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # atomic: a crash never leaves a half-written model


# ------------------------------------------------------------------------------------------ read
class _Lines:
    """Cursor over the meaningful lines of a model file, with located errors."""

    def __init__(self, text: str, source: str):
        self.source = source
        self.items = []
        for number, raw in enumerate(text.splitlines(), start=1):
            stripped = raw.strip()
            if stripped.startswith("meta ") or stripped == "meta":
                # meta <key> <value>: the value is the rest of the line, '#' included
                self.items.append((number, (stripped.split(None, 2) + ["", ""])[:3]))
                continue
            content = stripped.split("#", 1)[0].strip()
            if content:
                self.items.append((number, content.split()))
        self.pos = 0

    def error(self, message: str, number=None) -> ModelFormatError:
        if number is None:
            number = self.items[self.pos][0] if self.pos < len(self.items) else "end"
        return ModelFormatError(f"{self.source}:{number}: {message}")

    def peek(self):
        return self.items[self.pos][1] if self.pos < len(self.items) else None

    def next(self, keyword: str, expectation: str):
        """Return (line number, tokens) of the next line, which must start with ``keyword``."""
        if self.pos >= len(self.items):
            raise ModelFormatError(f"{self.source}: unexpected end of file (truncated?): "
                                   f"expected '{expectation}'")
        number, tokens = self.items[self.pos]
        if tokens[0] != keyword:
            raise self.error(f"expected '{expectation}', got '{' '.join(tokens)[:120]}'")
        self.pos += 1
        return number, tokens

    def count(self, tokens, n: int, expectation: str, number: int):
        if len(tokens) != n:
            raise self.error(f"expected '{expectation}' ({n - 1} value(s) after "
                             f"'{tokens[0]}'), got {len(tokens) - 1}", number)

    def number(self, token: str, what: str, number: int) -> float:
        if _NONFINITE.match(token):
            raise self.error(f"{what} must be a finite number, got '{token}'", number)
        if not _NUMBER.match(token):
            raise self.error(f"{what} must be a number, got '{token}'", number)
        return float(token)

    def integer(self, token: str, what: str, number: int, minimum: int = 0) -> int:
        if not re.match(r"^\d+$", token) or int(token) < minimum:
            raise self.error(f"{what} must be an integer >= {minimum}, got '{token}'", number)
        return int(token)


def _read_sf(lines: _Lines, elements, symbol: str) -> SymmetryFunction:
    number, tokens = lines.next("sf", "sf <kind> <neighbour element(s)> <name>=<value> ...")
    if len(tokens) < 2 or tokens[1] not in SF_KINDS:
        got = tokens[1] if len(tokens) > 1 else "nothing"
        raise lines.error(f"unknown symmetry-function kind '{got}'; expected one of "
                          f"{', '.join(SF_KINDS)}", number)
    kind = tokens[1]
    n_neigh = 2 if kind not in ("radial", "compact_radial") else 1
    neighbors = tokens[2:2 + n_neigh]
    if len(neighbors) != n_neigh or any("=" in t for t in neighbors):
        raise lines.error(f"'{kind}' needs {n_neigh} neighbour element(s) before the parameters",
                          number)
    for e in neighbors:
        if e not in elements:
            raise lines.error(f"neighbour element '{e}' of a {symbol} symmetry function is not "
                              f"in the model's elements {elements}", number)
    neighbors = tuple(sorted(neighbors, key=elements.index))
    expected = SF_PARAMETERS[kind]
    values = {}
    for token in tokens[2 + n_neigh:]:
        if "=" not in token:
            raise lines.error(f"expected <name>=<value>, got '{token}'", number)
        name, value = token.split("=", 1)
        if name not in expected:
            raise lines.error(f"unknown parameter '{name}' for '{kind}'; expected "
                              f"{', '.join(expected)}", number)
        if name in values:
            raise lines.error(f"parameter '{name}' given twice", number)
        if name in STRING_PARAMETERS:
            if value not in STRING_PARAMETERS[name]:
                raise lines.error(f"unknown {name} '{value}'; expected one of "
                                  f"{', '.join(STRING_PARAMETERS[name])}", number)
            values[name] = value
        elif name == "asymmetric":
            if value not in ("0", "1"):
                raise lines.error(f"asymmetric must be 0 or 1, got '{value}'", number)
            values[name] = value == "1"
        else:
            values[name] = lines.number(value, f"parameter '{name}'", number)
    missing = [name for name in expected if name not in values]
    if missing:
        raise lines.error(f"'{kind}' is missing parameter(s) {', '.join(missing)}", number)
    if "lambda" in values:
        values["lam"] = values.pop("lambda")
    sf = SymmetryFunction(kind=kind, neighbors=neighbors, **values)
    problem = _sf_problem(sf)
    if problem:
        raise lines.error(problem, number)
    return sf


def _sf_problem(sf: SymmetryFunction):
    """Return a description of an impossible parameter value, or None."""
    if not sf.rc > 0.0:
        return f"rc must be > 0, got {sf.rc}"
    if sf.kind in ("radial", "angular_narrow", "angular_wide"):
        if sf.eta < 0.0:
            return f"eta must be >= 0, got {sf.eta}"
        if not 0.0 <= sf.alpha < 1.0:
            return f"alpha (inner cutoff rci = alpha*rc) must be in [0, 1), got {sf.alpha}"
    if sf.kind in ("angular_narrow", "angular_wide"):
        if sf.zeta < 1.0:
            return f"zeta must be >= 1, got {sf.zeta}"
        if not -1.0 <= sf.lam <= 1.0:
            return f"lambda must be in [-1, 1], got {sf.lam}"
    if sf.kind.startswith("compact") and not sf.rl < sf.rc:
        return f"rl must be < rc, got rl={sf.rl} rc={sf.rc}"
    if sf.kind == "compact_angular_wide" and not sf.angle_left < sf.angle_right:
        return f"angle_left must be < angle_right, got {sf.angle_left} >= {sf.angle_right}"
    return None


def _read_member(lines: _Lines, index: int, n_features: int) -> Member:
    number, tokens = lines.next("member", f"member {index}")
    lines.count(tokens, 2, f"member {index}", number)
    if lines.integer(tokens[1], "member index", number, 1) != index:
        raise lines.error(f"expected 'member {index}' (members are numbered 1, 2, ... in "
                          f"order), got 'member {tokens[1]}'", number)
    number, tokens = lines.next("energy_offset", "energy_offset <eV>")
    lines.count(tokens, 2, "energy_offset <eV>", number)
    offset = lines.number(tokens[1], "energy_offset", number)
    number, tokens = lines.next("energy_scale", "energy_scale <eV>")
    lines.count(tokens, 2, "energy_scale <eV>", number)
    scale = lines.number(tokens[1], "energy_scale", number)
    number, tokens = lines.next("scaling", "scaling <mode> <smin> <smax>")
    lines.count(tokens, 4, "scaling <mode> <smin> <smax>", number)
    mode = tokens[1]
    if mode not in SCALING_MODES:
        raise lines.error(f"unknown scaling mode '{mode}'; expected one of "
                          f"{', '.join(SCALING_MODES)}", number)
    smin = lines.number(tokens[2], "smin", number)
    smax = lines.number(tokens[3], "smax", number)
    if mode in ("scale", "scale_center", "scale_sigma") and not smin < smax:
        raise lines.error(f"scaling needs smin < smax, got {smin} >= {smax}", number)
    stats = np.empty((n_features, 4))
    for i in range(n_features):
        number, tokens = lines.next("stat", f"stat {i + 1} <min> <max> <mean> <sigma> "
                                            f"(one line per symmetry function, {n_features} in all)")
        lines.count(tokens, 6, "stat <feature> <min> <max> <mean> <sigma>", number)
        if lines.integer(tokens[1], "stat feature index", number, 1) != i + 1:
            raise lines.error(f"expected 'stat {i + 1} ...', got 'stat {tokens[1]} ...'", number)
        stats[i] = [lines.number(t, name, number)
                    for t, name in zip(tokens[2:], ("min", "max", "mean", "sigma"))]
        if stats[i, 0] > stats[i, 1]:
            raise lines.error(f"stat min {stats[i, 0]} > max {stats[i, 1]}", number)
        if stats[i, 3] < 0:
            raise lines.error(f"stat sigma must be >= 0, got {stats[i, 3]}", number)
    scaling = Scaling(mode, smin, smax, stats[:, 0].copy(), stats[:, 1].copy(),
                      stats[:, 2].copy(), stats[:, 3].copy())
    layers = _read_network(lines, n_features)
    lines.next("end_member", "end_member")
    return Member(scaling=scaling, layers=layers, energy_offset=offset, energy_scale=scale)


def _read_network(lines: _Lines, n_features: int) -> list:
    number, tokens = lines.next("network", "network <number of layers>")
    lines.count(tokens, 2, "network <number of layers>", number)
    n_layers = lines.integer(tokens[1], "number of layers", number, 1)
    layers = []
    n_prev = n_features
    for ell in range(n_layers):
        number, tokens = lines.next("layer", "layer <n_in> <n_out> <activation>")
        lines.count(tokens, 4, "layer <n_in> <n_out> <activation>", number)
        n_in = lines.integer(tokens[1], "n_in", number, 1)
        n_out = lines.integer(tokens[2], "n_out", number, 1)
        if n_in != n_prev:
            what = "the number of symmetry functions" if ell == 0 else "the previous layer's n_out"
            raise lines.error(f"layer {ell + 1} has n_in={n_in} but {what} is {n_prev}", number)
        if ell == n_layers - 1 and n_out != 1:
            raise lines.error(f"the last layer must have n_out=1 (atomic energy), got {n_out}",
                              number)
        activation = tokens[3]
        if activation not in ACTIVATIONS:
            raise lines.error(f"unknown activation '{activation}'; expected one of "
                              f"{', '.join(ACTIVATIONS)}", number)
        rows = np.empty((n_out, n_in + 1))
        for k in range(n_out):
            number, tokens = lines.next("row", f"row <{n_in} weights> <bias> "
                                               f"({n_out} rows in layer {ell + 1})")
            if len(tokens) != n_in + 2:
                raise lines.error(f"row {k + 1} of layer {ell + 1} needs {n_in} weights and a "
                                  f"bias ({n_in + 1} values), got {len(tokens) - 1}", number)
            rows[k] = [lines.number(t, f"weight {c + 1} of row {k + 1}", number)
                       for c, t in enumerate(tokens[1:])]
        layers.append(DenseLayer(rows[:, :-1].copy(), rows[:, -1].copy(), activation))
        n_prev = n_out
    return layers


def model_from_string(text: str, source: str = "<string>") -> Model:
    lines = _Lines(text, source)
    number, tokens = lines.next(MAGIC, f"{MAGIC} {FORMAT_VERSION} (first line of a kizuna model)")
    lines.count(tokens, 2, f"{MAGIC} <version>", number)
    version = lines.integer(tokens[1], "format version", number, 1)
    if version != FORMAT_VERSION:
        raise lines.error(f"model format version {version} is not supported by this kizuna "
                          f"(it reads version {FORMAT_VERSION}); "
                          + ("upgrade kizuna" if version > FORMAT_VERSION else
                             "re-export the model"), number)
    meta = {}
    while lines.peek() is not None and lines.peek()[0] == "meta":
        number, tokens = lines.next("meta", "meta <key> <value>")
        if not tokens[1]:
            raise lines.error("expected 'meta <key> <value>'", number)
        meta[tokens[1]] = tokens[2]
    number, tokens = lines.next("units", "units eV angstrom")
    if tokens[1:] != ["eV", "angstrom"]:
        raise lines.error(f"expected 'units eV angstrom' (kizuna models are in eV and Å), got "
                          f"'{' '.join(tokens)}'", number)
    number, tokens = lines.next("elements", "elements <symbol> ...")
    elements = tokens[1:]
    if not elements:
        raise lines.error("expected at least one element symbol after 'elements'", number)
    known = set(_chemical_symbols())
    for e in elements:
        if e not in known:
            raise lines.error(f"'{e}' is not a chemical element symbol", number)
    if len(set(elements)) != len(elements):
        raise lines.error(f"duplicate element in {elements}", number)
    number, tokens = lines.next("committee", "committee <number of members>")
    lines.count(tokens, 2, "committee <number of members>", number)
    n_members = lines.integer(tokens[1], "committee size", number, 1)

    element_models = []
    for symbol in elements:
        number, tokens = lines.next("element", f"element {symbol}")
        if tokens[1:] != [symbol]:
            raise lines.error(f"expected 'element {symbol}' (element sections follow the "
                              f"order of the elements line), got '{' '.join(tokens)}'", number)
        number, tokens = lines.next("symmetry_functions", "symmetry_functions <count>")
        lines.count(tokens, 2, "symmetry_functions <count>", number)
        n_sf = lines.integer(tokens[1], "number of symmetry functions", number, 1)
        sfs = [_read_sf(lines, elements, symbol) for _ in range(n_sf)]
        members = [_read_member(lines, m + 1, n_sf) for m in range(n_members)]
        lines.next("end_element", "end_element")
        element_models.append(ElementModel(symbol, sfs, members))
    lines.next("end_model", "end_model")
    if lines.peek() is not None:
        raise lines.error("unexpected content after 'end_model'")
    return Model(elements=elements, element_models=element_models, meta=meta)


def read_model(path) -> Model:
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ModelFormatError(f"{path}: not a kizuna model (binary or not UTF-8 text)") from None
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read the model file ({exc.strerror})") from None
    return model_from_string(text, str(path))


def validate_model(model: Model) -> None:
    """Check a model built in Python before it is written (same rules as the reader)."""
    if not model.elements or len(set(model.elements)) != len(model.elements):
        raise ModelFormatError(f"model elements must be unique and non-empty: {model.elements}")
    if len(model.element_models) != len(model.elements):
        raise ModelFormatError("one ElementModel per element is required")
    n_members = len(model.element_models[0].members)
    for symbol, em in zip(model.elements, model.element_models):
        where = f"element {symbol}"
        if em.symbol != symbol:
            raise ModelFormatError(f"{where}: element models must follow the elements order")
        if not em.symmetry_functions:
            raise ModelFormatError(f"{where}: no symmetry functions")
        if len(em.members) != n_members or n_members < 1:
            raise ModelFormatError(f"{where}: every element needs {n_members} committee members")
        for sf in em.symmetry_functions:
            if sf.kind not in SF_KINDS:
                raise ModelFormatError(f"{where}: unknown symmetry-function kind {sf.kind!r}")
            if any(e not in model.elements for e in sf.neighbors):
                raise ModelFormatError(f"{where}: neighbour {sf.neighbors} not in model")
            for name, allowed in STRING_PARAMETERS.items():
                if name in SF_PARAMETERS[sf.kind] and getattr(sf, name) not in allowed:
                    raise ModelFormatError(f"{where}: unknown {name} {getattr(sf, name)!r}")
            problem = _sf_problem(sf)
            if problem:
                raise ModelFormatError(f"{where}: {problem}")
        for m, member in enumerate(em.members, start=1):
            at = f"{where}, member {m}"
            if member.scaling.mode not in SCALING_MODES:
                raise ModelFormatError(f"{at}: unknown scaling mode {member.scaling.mode!r}")
            n_prev = em.num_features
            for ell, layer in enumerate(member.layers, start=1):
                if layer.activation not in ACTIVATIONS:
                    raise ModelFormatError(f"{at}: unknown activation {layer.activation!r}")
                if layer.n_in != n_prev or layer.bias.shape != (layer.n_out,):
                    raise ModelFormatError(f"{at}, layer {ell}: shape mismatch")
                if not (np.all(np.isfinite(layer.weights)) and np.all(np.isfinite(layer.bias))):
                    raise ModelFormatError(f"{at}, layer {ell}: non-finite weight or bias")
                n_prev = layer.n_out
            if n_prev != 1:
                raise ModelFormatError(f"{at}: the last layer must have one output")


def _meta_lines(key: str, value: str) -> list:
    """A meta entry; a JSON mapping (the training config) one key per line, indented."""
    import json

    data = None
    if value.lstrip().startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            data = None
    if not isinstance(data, dict):
        return [f"  {key:<15}: {value}"]
    out = [f"  {key:<15}:"]

    def walk(node, indent):
        for k, v in node.items():
            if isinstance(v, dict) and v:
                out.append(f"{' ' * indent}{k}:")
                walk(v, indent + 2)
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                out.append(f"{' ' * indent}{k}:")
                out.extend(f"{' ' * (indent + 2)}- {json.dumps(x, ensure_ascii=False)}"
                           for x in v)
            else:
                out.append(f"{' ' * indent}{k}: {json.dumps(v, ensure_ascii=False)}")
    walk(data, 6)
    return out


def model_summary(model: Model) -> str:
    """A readable multi-line description (``kizuna info``)."""
    lines = [f"kizuna model, format {FORMAT_VERSION}",
             f"  elements       : {' '.join(model.elements)}",
             f"  cutoff         : {model.cutoff:.4f} Å",
             f"  committee size : {model.committee_size}"]
    for key, value in model.meta.items():
        lines.extend(_meta_lines(key, value))
    for em in model.element_models:
        kinds = {}
        for sf in em.symmetry_functions:
            key = f"{sf.kind}({'-'.join(sf.neighbors)})"
            kinds[key] = kinds.get(key, 0) + 1
        member = em.members[0]
        arch = [member.layers[0].n_in] + [layer.n_out for layer in member.layers]
        acts = ",".join(layer.activation for layer in member.layers)
        n_params = sum(layer.weights.size + layer.bias.size for layer in member.layers)
        lines.append(f"  {em.symbol}: {em.num_features} symmetry functions, network "
                     f"{'-'.join(map(str, arch))} ({acts}), {n_params} parameters per member, "
                     f"scaling {member.scaling.mode}, energy offset {member.energy_offset:.6g} eV")
        for key, count in kinds.items():
            lines.append(f"      {count:4d} x {key}")
    return "\n".join(lines)
