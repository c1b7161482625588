"""The model file format (docs/model-format.md): exact round trip of doubles through the Python
writer and both readers (Python, C++), and a clear located error, never a crash, for every
kind of malformed file — checked for both readers."""
from __future__ import annotations

import re

import numpy as np
import pytest

import kizuna
from kizuna import _core
from kizuna.errors import ModelFormatError
from kizuna.model_io import model_from_string, model_to_string, read_model
from model_factory import random_model, random_structure


@pytest.fixture(scope="module")
def text():
    return model_to_string(random_model(seed=11, committee=2))


def _line_of(text, prefix, nth=0):
    """1-based number of the nth line starting (after indentation) with prefix."""
    hits = [i + 1 for i, l in enumerate(text.splitlines()) if l.strip().startswith(prefix)]
    return hits[nth]


def _replace_line(text, prefix, new, nth=0):
    lines = text.splitlines()
    n = _line_of(text, prefix, nth) - 1
    indent = lines[n][: len(lines[n]) - len(lines[n].lstrip())]
    lines[n] = indent + new
    return "\n".join(lines) + "\n"


def _delete_line(text, prefix, nth=0):
    lines = text.splitlines()
    del lines[_line_of(text, prefix, nth) - 1]
    return "\n".join(lines) + "\n"


def _both_readers_fail(bad, pattern):
    with pytest.raises(ModelFormatError, match=pattern) as py_err:
        model_from_string(bad, "bad.kzn")
    with pytest.raises(ModelFormatError, match=pattern) as cpp_err:
        _core.Model.parse(bad, "bad.kzn")
    for err in (py_err, cpp_err):
        assert str(err.value).startswith("bad.kzn:")


def test_round_trip_is_exact(text):
    model = model_from_string(text)
    assert model_to_string(model) == text
    # doubles survive exactly, including awkward ones
    model.element_models[0].members[0].layers[0].weights[0, 0] = 0.1 + 0.2
    model.element_models[0].members[0].layers[0].bias[0] = -1.2345678901234567e-300
    again = model_from_string(model_to_string(model))
    assert again.element_models[0].members[0].layers[0].weights[0, 0] == 0.1 + 0.2
    assert again.element_models[0].members[0].layers[0].bias[0] == -1.2345678901234567e-300


def test_cpp_reader_reads_what_python_writes(text, tmp_path):
    path = tmp_path / "m.kzn"
    path.write_text(text)
    core = _core.Model.load(str(path))
    model = read_model(path)
    assert core.elements == model.elements
    assert core.committee_size == 2
    assert core.cutoff == model.cutoff
    # same predictions from the Python object and from the file
    pos, sym = random_structure(n=8, seed=3)
    a = kizuna.Potential(model).compute(pos, sym)
    b = kizuna.Potential(path).compute(pos, sym)
    assert a["energy"] == b["energy"] and np.array_equal(a["forces"], b["forces"])


def test_comments_and_blank_lines_are_ignored(text):
    noisy = "\n# a comment\n\n".join(text.splitlines()) + "\n"
    noisy = noisy.replace("energy_scale", "energy_scale", 1)
    assert model_to_string(model_from_string(noisy)) == text
    _core.Model.parse(noisy, "noisy")


def test_meta_values_keep_hashes(text):
    model = model_from_string(text)
    model.meta["data_hash"] = "sha256:#abc def"
    again = model_from_string(model_to_string(model))
    assert again.meta["data_hash"] == "sha256:#abc def"
    assert _core.Model.parse(model_to_string(model), "m").meta["data_hash"] == "sha256:#abc def"


MALFORMED = [
    ("not a model", lambda t: "hello world\n" + t, r":1: expected 'kizuna-model 1"),
    ("newer version", lambda t: t.replace("kizuna-model 1", "kizuna-model 2", 1),
     r":1: model format version 2 is not supported .* upgrade kizuna"),
    ("wrong units", lambda t: _replace_line(t, "units", "units kcal/mol angstrom"),
     r"expected 'units eV angstrom'"),
    ("unknown element symbol", lambda t: _replace_line(t, "elements", "elements H Xx"),
     r"'Xx' is not a chemical element symbol"),
    ("duplicate element", lambda t: _replace_line(t, "elements", "elements H H"),
     r"duplicate element"),
    ("element section order", lambda t: t.replace("element H", "element O", 1),
     r"expected 'element H'"),
    ("missing section keyword", lambda t: _delete_line(t, "energy_scale"),
     r"expected 'energy_scale <eV>', got 'scaling"),
    ("unknown sf kind", lambda t: t.replace("sf radial", "sf radiall", 1),
     r"unknown symmetry-function kind 'radiall'; expected one of radial"),
    ("unknown sf parameter", lambda t: t.replace(" rs=", " rss=", 1),
     r"unknown parameter 'rss' for 'radial'"),
    ("missing sf parameter", lambda t: t.replace(" alpha=0.0", "", 1),
     r"'radial' is missing parameter\(s\) alpha"),
    ("unknown cutoff", lambda t: t.replace("cutoff=cos", "cutoff=cosine", 1),
     r"unknown cutoff 'cosine'; expected one of hard, cos"),
    ("unknown core", lambda t: t.replace("core=poly2", "core=poly9", 1),
     r"unknown core 'poly9'"),
    ("sf neighbour not in model", lambda t: t.replace("sf radial H", "sf radial C", 1),
     r"neighbour element 'C' of a H symmetry function is not in the model's elements"),
    ("negative rc", lambda t: re.sub(r"rc=[0-9.]+", "rc=-1.0", t, count=1), r"rc must be > 0"),
    ("zeta < 1", lambda t: re.sub(r"zeta=[0-9.]+", "zeta=0.5", t, count=1), r"zeta must be >= 1"),
    ("wrong feature count", lambda t: re.sub(r"symmetry_functions (\d+)",
                                             lambda m: f"symmetry_functions {int(m.group(1)) + 1}",
                                             t, count=1),
     r"expected 'sf <kind>"),
    ("unknown scaling", lambda t: t.replace("scaling scale_center", "scaling minmax", 1),
     r"unknown scaling mode 'minmax'"),
    ("stat out of order", lambda t: t.replace("stat 2 ", "stat 3 ", 1), r"expected 'stat 2 \.\.\.'"),
    ("stat min > max", lambda t: _replace_line(t, "stat 1 ", "stat 1 5.0 1.0 2.0 0.5"),
     r"stat min 5(\.0)? > max 1(\.0)?"),
    ("nan weight", lambda t: re.sub(r"(\n\s*row) \S+", r"\1 nan", t, count=1),
     r"must be a finite number, got 'nan'"),
    ("inf offset", lambda t: _replace_line(t, "energy_offset", "energy_offset inf"),
     r"energy_offset must be a finite number, got 'inf'"),
    ("not a number", lambda t: _replace_line(t, "energy_scale", "energy_scale 1.0x"),
     r"energy_scale must be a number, got '1.0x'"),
    ("short row", lambda t: _replace_line(t, "row", "row 1.0 2.0"), r"row 1 of layer 1 needs"),
    ("layer size mismatch", lambda t: re.sub(r"layer (\d+) (\d+) tanh",
                                             lambda m: f"layer {int(m.group(1)) + 1} {m.group(2)} tanh",
                                             t, count=1),
     r"layer 1 has n_in=\d+ but the number of symmetry functions is \d+"),
    ("unknown activation", lambda t: t.replace(" tanh\n", " tanhh\n", 1),
     r"unknown activation 'tanhh'; expected one of linear, tanh"),
    ("last layer with two outputs", lambda t: t.replace("layer 6 1 linear", "layer 6 2 linear", 1),
     r"the last layer must have n_out=1"),
    ("member numbering", lambda t: t.replace("member 2", "member 3", 1), r"expected 'member 2'"),
    ("truncated", lambda t: "\n".join(t.splitlines()[: len(t.splitlines()) // 2]),
     r"unexpected end of file \(truncated\?\)"),
    ("truncated mid-line", lambda t: t[: len(t) // 2], r"row \d+ of layer \d+ needs|expected"),
    ("content after end", lambda t: t + "element H\n", r"unexpected content after 'end_model'"),
    ("committee count", lambda t: t.replace("committee 2", "committee x", 1),
     r"committee size must be an integer >= 1, got 'x'"),
]


@pytest.mark.parametrize("name,mutate,pattern", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_files_give_located_errors(text, name, mutate, pattern):
    _both_readers_fail(mutate(text), pattern)


def test_binary_garbage(tmp_path):
    path = tmp_path / "garbage.kzn"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ModelFormatError, match="garbage.kzn"):
        read_model(path)
    with pytest.raises(ModelFormatError, match="garbage.kzn"):
        _core.Model.load(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="cannot"):
        read_model(tmp_path / "nope.kzn")
    with pytest.raises(ModelFormatError, match="cannot open"):
        _core.Model.load(str(tmp_path / "nope.kzn"))


def test_writer_refuses_invalid_models():
    model = random_model(seed=2)
    model.element_models[0].members[0].layers[0].weights[0, 0] = np.nan
    with pytest.raises(ModelFormatError, match="non-finite"):
        model_to_string(model)
