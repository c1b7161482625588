"""Read and write kizuna model files (text format version 1, spec in docs/model-format.md).

Doubles are written with ``repr`` (shortest string that reads back to the same double), so a
write/read round trip is exact, in Python and in the C++ reader. Every malformed file raises
:class:`~kizuna.errors.ModelFormatError` naming the file, the line, what was expected and what was
found.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from .errors import ModelFormatError, ModelIntegrityWarning
from .model import (ACTIVATIONS, BOOL_PARAMETERS, COMPACT_ANGULAR_KINDS, COMPACT_KINDS,
                    FORMAT_VERSION, GAUSSIAN_ANGULAR_KINDS, INT_PARAMETERS, OPTIONAL_PARAMETERS,
                    RADIAL_KINDS, SCALING_MODES, SF_KINDS, SF_PARAMETERS, STRING_PARAMETERS, WEIGHTED_KINDS,
                    DenseLayer, ElementModel, Member, Model, Scaling, SymmetryFunction)
from .model_text import (CHECKSUM_ALGORITHM, canonical_checksum, decode, is_checksum_value,
                         statements)
from .model_text import integer as parse_integer
from .model_text import number as parse_number

MAGIC = "kizuna-model"


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
        elif name in BOOL_PARAMETERS:
            parts.append(f"{name}={int(bool(value))}")
        elif name in INT_PARAMETERS:
            parts.append(f"{name}={int(value)}")
        else:
            parts.append(f"{name}={_fmt(value)}")
    return " ".join(parts)


def resolved_channel_weights(model: Model) -> dict:
    """The model's weight table: Model.channel_weights, or (when that is empty) the tables the
    weighted functions carry (SymmetryFunction.element_weights), which must agree."""
    if model.channel_weights:
        return model.channel_weights
    tables = {}
    for em in model.element_models:
        for sf in em.symmetry_functions:
            if sf.kind not in WEIGHTED_KINDS or not sf.element_weights:
                continue
            table = dict(sf.element_weights)
            if tables.setdefault(sf.channel, table) != table:
                raise ModelFormatError(f"element {em.symbol}: weighted functions of channel "
                                       f"{sf.channel} carry different weight tables")
    if not tables:
        return {}
    k = max(tables)
    missing = [c for c in range(1, k + 1) if c not in tables]
    if missing:
        raise ModelFormatError(f"no weights for channel(s) {missing} (channels are 1..{k})")
    try:
        return {e: tuple(float(tables[c][e]) for c in range(1, k + 1)) for e in model.elements}
    except KeyError as exc:
        raise ModelFormatError(f"the weight tables of the weighted functions have no weight "
                               f"for element {exc}") from None


def attach_channel_weights(model: Model) -> Model:
    """Copy the model's weight table into its weighted functions (element_weights)."""
    for em in model.element_models:
        for sf in em.symmetry_functions:
            if sf.kind in WEIGHTED_KINDS and model.channel_weights:
                sf.element_weights = tuple((e, float(model.channel_weights[e][sf.channel - 1]))
                                           for e in model.elements)
    return model


def model_to_string(model: Model) -> str:
    """The model file text: the first line, a checksum line, then the content it protects."""
    validate_model(model)
    channel_weights = resolved_channel_weights(model)
    out = ["# kizuna model file; format: docs/model-format.md; units: energy eV, length angstrom"]
    for key, value in model.meta.items():
        # one line; control characters (the lexical rules refuse them) become blanks
        text = re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", " ", str(value)).strip(" \t")
        out.append(f"meta {key} {text}")
    out.append("units eV angstrom")
    out.append("elements " + " ".join(model.elements))
    out.append(f"committee {model.committee_size}")
    if channel_weights:
        out.append(f"channels {len(next(iter(channel_weights.values())))}")
        out.append("# weights <element> <w_1> ... <w_k>: element weights of the weighted kinds")
        for e in model.elements:
            out.append(f"weights {e} " + " ".join(_fmt(w) for w in channel_weights[e]))
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
    body = "\n".join(out) + "\n"
    checksum = canonical_checksum(statements(body, "<writer>"))
    return f"{MAGIC} {FORMAT_VERSION}\nchecksum {CHECKSUM_ALGORITHM} {checksum}\n" + body


def write_model(model: Model, path) -> None:
    text = model_to_string(model)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(text.encode("utf-8"))
    tmp.replace(path)  # atomic: a crash never leaves a half-written model


# ------------------------------------------------------------------------------------------ read
class _Lines:
    """Cursor over the statements of a model file (model_text.statements), with located errors."""

    def __init__(self, text: str, source: str):
        self.source = source
        self.items = statements(text, source)
        # tokens[k] = number of tokens in items[k:], to bound declared sizes by the file length
        counts = np.array([len(t) for _, t in self.items], dtype=np.int64)
        self.tokens_from = np.cumsum(counts[::-1])[::-1].tolist() + [0]
        self.pos = 0
        self.legacy_angle_asymmetric = False  # an old file with asymmetric=1 angular functions

    def error(self, message: str, number=None) -> ModelFormatError:
        if number is None:
            number = self.items[self.pos][0] if self.pos < len(self.items) else "end"
        return ModelFormatError(f"{self.source}:{number}: {message}")

    def peek(self):
        return self.items[self.pos][1] if self.pos < len(self.items) else None

    def tokens_left(self) -> int:
        return self.tokens_from[self.pos]

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
        value, problem = parse_number(token)
        if problem:
            raise self.error(f"{what} {problem}", number)
        return value

    def integer(self, token: str, what: str, number: int, minimum: int = 0) -> int:
        value = parse_integer(token)
        if value is None or value < minimum:
            raise self.error(f"{what} must be an integer >= {minimum}, got '{token}'", number)
        return value


def _read_sf(lines: _Lines, elements, symbol: str, num_channels: int = 0) -> SymmetryFunction:
    number, tokens = lines.next("sf", "sf <kind> <neighbour element(s)> <name>=<value> ...")
    if len(tokens) < 2 or tokens[1] not in SF_KINDS:
        got = tokens[1] if len(tokens) > 1 else "nothing"
        raise lines.error(f"unknown symmetry-function kind '{got}'; expected one of "
                          f"{', '.join(SF_KINDS)}", number)
    kind = tokens[1]
    n_neigh = 0 if kind in WEIGHTED_KINDS else 1 if kind in RADIAL_KINDS else 2
    neighbors = tokens[2:2 + n_neigh]
    if len(neighbors) != n_neigh or any("=" in t for t in neighbors):
        raise lines.error(f"'{kind}' needs {n_neigh} neighbour element(s) before the parameters",
                          number)
    for e in neighbors:
        if e not in elements:
            raise lines.error(f"neighbour element '{e}' of a {symbol} symmetry function is not "
                              f"in the model's elements [{', '.join(elements)}]", number)
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
        elif name in BOOL_PARAMETERS:
            if value not in ("0", "1"):
                raise lines.error(f"{name} must be 0 or 1, got '{value}'", number)
            values[name] = value == "1"
        elif name == "channel":
            if num_channels == 0:
                raise lines.error(f"'{kind}' needs element weights but the model has no "
                                  "'channels' statement (expected 'channels <k>' and one "
                                  "'weights <element> <k values>' line per element after "
                                  "'committee')", number)
            channel = lines.integer(value, "channel", number, 1)
            if channel > num_channels:
                raise lines.error(f"channel must be in 1..{num_channels} (the model's channels), "
                                  f"got {value}", number)
            values[name] = channel
        else:
            values[name] = lines.number(value, f"parameter '{name}'", number)
    # optional only where files from before the flag lack it (compact_angular_wide)
    missing = [name for name in expected if name not in values and
               (name not in OPTIONAL_PARAMETERS or kind != "compact_angular_wide")]
    if missing:
        raise lines.error(f"'{kind}' is missing parameter(s) {', '.join(missing)}", number)
    legacy = kind == "compact_angular_wide" and "angle_asymmetric" not in values
    if legacy:  # a file from before the flag: 'asymmetric' applied to both bumps
        values["angle_asymmetric"] = values["asymmetric"]
    if "lambda" in values:
        values["lam"] = values.pop("lambda")
    sf = SymmetryFunction(kind=kind, neighbors=neighbors, **values)
    problem = _sf_problem(sf)
    if problem:
        raise lines.error(problem, number)
    lines.legacy_angle_asymmetric |= legacy and sf.asymmetric
    return sf


def _sf_problem(sf: SymmetryFunction):
    """Return a description of an impossible parameter value, or None."""
    if not sf.rc > 0.0:
        return f"rc must be > 0, got {sf.rc}"
    if sf.kind not in COMPACT_KINDS:
        if sf.eta < 0.0:
            return f"eta must be >= 0, got {sf.eta}"
        if not 0.0 <= sf.alpha < 1.0:
            return f"alpha (inner cutoff rci = alpha*rc) must be in [0, 1), got {sf.alpha}"
    if sf.kind in GAUSSIAN_ANGULAR_KINDS:
        if sf.zeta < 1.0:
            return f"zeta must be >= 1, got {sf.zeta}"
        if not -1.0 <= sf.lam <= 1.0:
            return f"lambda must be in [-1, 1], got {sf.lam}"
    if sf.kind in COMPACT_KINDS and not sf.rl < sf.rc:
        return f"rl must be < rc, got rl={sf.rl} rc={sf.rc}"
    if sf.kind in COMPACT_ANGULAR_KINDS and not sf.angle_left < sf.angle_right:
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
        needed = n_out * (n_in + 2)  # n_out lines 'row <n_in weights> <bias>'
        if needed > lines.tokens_left():
            raise lines.error(f"layer {ell + 1} ({n_in} inputs, {n_out} outputs) needs {n_out} "
                              f"rows of {n_in} weights and a bias but the rest of the file holds "
                              f"only {lines.tokens_left()} values: unexpected end of file "
                              "(truncated?) or a wrong layer size", number)
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


def _read_channel_weights(lines: _Lines, elements) -> dict:
    """Optional 'channels <k>' and one 'weights <element> <w_1> ... <w_k>' line per element (in
    the order of 'elements'): {symbol: (w_1, ..., w_k)}, or {} without a 'channels' line."""
    if lines.peek() is None or lines.peek()[0] != "channels":
        return {}
    number, tokens = lines.next("channels", "channels <number of weight channels>")
    lines.count(tokens, 2, "channels <number of weight channels>", number)
    k = lines.integer(tokens[1], "number of weight channels", number, 1)
    if len(elements) * (k + 2) > lines.tokens_left():
        raise lines.error(f"'channels {tokens[1]}' needs {len(elements)} 'weights' lines of "
                          f"{tokens[1]} values but the rest of the file is shorter", number)
    weights = {}
    for e in elements:
        expectation = f"weights {e} <{k} values>"
        number, tokens = lines.next("weights", expectation)
        if len(tokens) < 2 or tokens[1] != e:
            raise lines.error(f"expected '{expectation}' (weights lines follow the order of the "
                              f"elements line), got '{' '.join(tokens)}'", number)
        lines.count(tokens, k + 2, expectation, number)
        weights[e] = tuple(lines.number(t, f"weight {c + 1} of {e}", number)
                           for c, t in enumerate(tokens[2:]))
    return weights


def model_from_string(text: str, source: str = "<string>") -> Model:
    """Parse model text. The checksum, when there is one, is verified last (after the syntax),
    so that an error in an edited file is located; ``Model.checksum`` tells which was found."""
    lines = _Lines(text, source)
    number, tokens = lines.next(MAGIC, f"{MAGIC} {FORMAT_VERSION} (first line of a kizuna model)")
    lines.count(tokens, 2, f"{MAGIC} <version>", number)
    version = lines.integer(tokens[1], "format version", number, 1)
    if version != FORMAT_VERSION:
        raise lines.error(f"model format version {version} is not supported by this kizuna "
                          f"(it reads version {FORMAT_VERSION}); "
                          + ("upgrade kizuna" if version > FORMAT_VERSION else
                             "re-export the model"), number)
    stored = None
    if lines.peek() is not None and lines.peek()[0] == "checksum":
        number, tokens = lines.next("checksum", f"checksum {CHECKSUM_ALGORITHM} <8 hex digits>")
        lines.count(tokens, 3, f"checksum {CHECKSUM_ALGORITHM} <8 hex digits>", number)
        if tokens[1] != CHECKSUM_ALGORITHM:
            raise lines.error(f"unknown checksum algorithm '{tokens[1]}'; expected "
                              f"{CHECKSUM_ALGORITHM}", number)
        if not is_checksum_value(tokens[2]):
            raise lines.error(f"a {CHECKSUM_ALGORITHM} checksum is 8 lowercase hexadecimal "
                              f"digits, got '{tokens[2]}'", number)
        stored = tokens[2]
    protected = lines.pos
    meta = {}
    while lines.peek() is not None and lines.peek()[0] == "meta":
        number, tokens = lines.next("meta", "meta <key> <value>")
        if len(tokens) < 3 or not tokens[1]:
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
    for k, e in enumerate(elements):
        if e not in known:
            raise lines.error(f"'{e}' is not a chemical element symbol", number)
        if e in elements[:k]:
            raise lines.error(f"duplicate element '{e}'", number)
    number, tokens = lines.next("committee", "committee <number of members>")
    lines.count(tokens, 2, "committee <number of members>", number)
    n_members = lines.integer(tokens[1], "committee size", number, 1)
    channel_weights = _read_channel_weights(lines, elements)

    element_models = []
    for symbol in elements:
        number, tokens = lines.next("element", f"element {symbol}")
        if tokens[1:] != [symbol]:
            raise lines.error(f"expected 'element {symbol}' (element sections follow the "
                              f"order of the elements line), got '{' '.join(tokens)}'", number)
        number, tokens = lines.next("symmetry_functions", "symmetry_functions <count>")
        lines.count(tokens, 2, "symmetry_functions <count>", number)
        n_sf = lines.integer(tokens[1], "number of symmetry functions", number, 1)
        sfs = [_read_sf(lines, elements, symbol, len(channel_weights.get(symbol, ())))
               for _ in range(n_sf)]
        members = [_read_member(lines, m + 1, n_sf) for m in range(n_members)]
        lines.next("end_element", "end_element")
        element_models.append(ElementModel(symbol, sfs, members))
    lines.next("end_model", "end_model")
    if lines.peek() is not None:
        raise lines.error("unexpected content after 'end_model'")
    if stored is not None:
        actual = canonical_checksum(lines.items[protected:])
        if actual != stored:
            raise ModelFormatError(
                f"{source}: model file corrupted: checksum {CHECKSUM_ALGORITHM} of the content "
                f"is {actual} but the file says {stored}: the file changed after it was written "
                "(a damaged copy? restore it; if you edited it on purpose, delete the "
                "'checksum' line to load it unchecked)")
    model = attach_channel_weights(Model(elements=elements, element_models=element_models,
                                         meta=meta, channel_weights=channel_weights))
    model.checksum = None if stored is None else f"{CHECKSUM_ALGORITHM}:{stored}"
    if lines.legacy_angle_asymmetric and str(meta.get("source", "")).startswith("n2p2"):
        warnings.warn(f"{source}: imported from n2p2 by a kizuna that also made the angular "
                      "bump of n2p2's p1a-p4a functions asymmetric (n2p2 makes only the radial "
                      "one asymmetric); re-import the n2p2 potential (kizuna import-n2p2) to "
                      "match n2p2", ModelIntegrityWarning, stacklevel=3)
    return model


def read_model_text(path) -> str:
    """The text of a model file (UTF-8, no NUL bytes), or ModelFormatError naming the file."""
    path = Path(path)
    if path.is_dir():
        raise ModelFormatError(f"{path}: is a directory, not a model file (give the path of a "
                               ".kzn file)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot open the model file ({exc.strerror})") from None
    return decode(data, str(path))


def note_missing_checksum(model: Model, source) -> None:
    """Warn (ModelIntegrityWarning) when a model file had no checksum to verify."""
    if getattr(model, "checksum", None) is None:
        warnings.warn(f"{source}: no checksum line (written by an older kizuna): its integrity "
                      "is not verified; saving it again adds one", ModelIntegrityWarning,
                      stacklevel=3)


def read_model(path) -> Model:
    """Read a model file; its checksum, when present, is verified (a mismatch raises
    ModelFormatError "model file corrupted"); a file without one loads with a
    ModelIntegrityWarning."""
    model = model_from_string(read_model_text(path), str(path))
    note_missing_checksum(model, path)
    return model


def validate_model(model: Model) -> None:
    """Check a model built in Python before it is written (same rules as the reader)."""
    if not model.elements or len(set(model.elements)) != len(model.elements):
        raise ModelFormatError(f"model elements must be unique and non-empty: {model.elements}")
    if len(model.element_models) != len(model.elements):
        raise ModelFormatError("one ElementModel per element is required")
    for key in model.meta:
        if not isinstance(key, str) or not re.fullmatch(r"[^\x00-\x20\x7f]+", key):
            raise ModelFormatError(f"meta key {key!r} must be one word (no blanks or control "
                                   "characters)")
    n_members = len(model.element_models[0].members)
    channel_weights = resolved_channel_weights(model)
    k = len(next(iter(channel_weights.values()))) if channel_weights else 0
    if channel_weights:
        if set(channel_weights) != set(model.elements):
            raise ModelFormatError(f"channel_weights must give weights for exactly the model's "
                                   f"elements {model.elements}, got {sorted(channel_weights)}")
        for e, w in channel_weights.items():
            if len(w) != k or k < 1 or not np.all(np.isfinite(np.asarray(w, dtype=float))):
                raise ModelFormatError(f"channel_weights[{e!r}] must be {k} finite numbers (the "
                                       f"same number for every element), got {w}")
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
            n_neigh = 0 if sf.kind in WEIGHTED_KINDS else 1 if sf.kind in RADIAL_KINDS else 2
            if len(sf.neighbors) != n_neigh:
                raise ModelFormatError(f"{where}: {sf.kind} needs {n_neigh} neighbour element(s), "
                                       f"got {sf.neighbors}")
            if sf.kind in WEIGHTED_KINDS and not (isinstance(sf.channel, (int, np.integer))
                                                  and 1 <= sf.channel <= k):
                raise ModelFormatError(f"{where}: {sf.kind} needs a channel in 1..{k} (the "
                                       f"model's weight channels), got {sf.channel!r}")
            if sf.kind in WEIGHTED_KINDS and sf.element_weights and any(
                    channel_weights.get(e, (None,) * k)[sf.channel - 1] != w
                    for e, w in sf.element_weights):
                raise ModelFormatError(f"{where}: the weights carried by a {sf.kind} function "
                                       f"of channel {sf.channel} differ from the model's table")
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
             f"  committee size : {model.committee_size}",
             "  checksum       : " + (f"{model.checksum} (verified)" if model.checksum else
                                      "none (an older file: integrity not verified)")]
    for key, value in model.meta.items():
        lines.extend(_meta_lines(key, value))
    for e, w in model.channel_weights.items():
        lines.append(f"  weights {e:<7}: {' '.join(f'{x:.6g}' for x in w)}")
    for em in model.element_models:
        kinds = {}
        for sf in em.symmetry_functions:
            key = sf.label()
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
