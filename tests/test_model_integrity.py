"""Integrity of model files (issue 15, bugs 7 and 11): the checksum the writer adds is verified by
both readers, files without one still load (with a note), and declared sizes are bounded by
the file length before anything is allocated."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import kizuna
from kizuna import _core
from kizuna.errors import ModelFormatError, ModelIntegrityWarning
from kizuna.model_io import model_from_string, model_to_string, read_model, write_model
from kizuna.model_text import canonical_checksum, statements
from model_factory import random_model, random_structure


@pytest.fixture(scope="module")
def text():
    return model_to_string(random_model(seed=21, committee=2))


def _both_fail(path, pattern):
    with pytest.raises(ModelFormatError, match=pattern) as py_err:
        read_model(path)
    with pytest.raises(ModelFormatError, match=pattern) as cpp_err:
        _core.Model.load(str(path))
    for err in (py_err, cpp_err):
        assert str(err.value).startswith(str(path))


def _flip_digit(text, prefix, nth_token):
    """Change one digit of the nth token (0 = the keyword) of the first line starting with
    prefix, or of the first later token that has a digit 1-8."""
    lines = text.split("\n")
    k = next(i for i, line in enumerate(lines) if line.strip().startswith(prefix))
    indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())]
    tokens = lines[k].split()
    t = next(i for i in range(nth_token, len(tokens)) if re.search(r"[1-8]", tokens[i]))
    tokens[t] = re.sub(r"[1-8]", lambda m: str(int(m.group()) + 1), tokens[t], count=1)
    lines[k] = indent + " ".join(tokens)
    return "\n".join(lines)


def test_writer_adds_a_checksum_both_readers_verify(text, tmp_path):
    lines = text.splitlines()
    assert lines[0] == "kizuna-model 1"
    m = re.fullmatch(r"checksum crc32 ([0-9a-f]{8})", lines[1])
    assert m
    # the checksum is zlib's CRC-32 of the canonical statements after the checksum line
    import zlib

    body = [" ".join(line.split()) for line in lines[2:]
            if line.split() and not line.lstrip().startswith("#")]
    canonical = ("\n".join(body) + "\n").encode()
    assert m.group(1) == f"{zlib.crc32(canonical):08x}"
    path = tmp_path / "m.kzn"
    path.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no integrity warning for a checked file
        assert read_model(path).checksum == f"crc32:{m.group(1)}"
    assert _core.Model.load(str(path)).checksum == f"crc32:{m.group(1)}"


@pytest.mark.parametrize("prefix,token", [("row", 1), ("row", 5), ("stat 3", 2),
                                          ("energy_offset", 1), ("energy_scale", 1),
                                          ("sf radial", 3), ("meta source", 2)])
def test_a_changed_digit_is_refused_by_both_readers(text, tmp_path, prefix, token):
    bad = _flip_digit(text, prefix, token)
    assert bad != text
    path = tmp_path / "flipped.kzn"
    path.write_text(bad)
    _both_fail(path, r"model file corrupted: checksum crc32 of the content is [0-9a-f]{8} but "
                     r"the file says [0-9a-f]{8}")


def test_a_flipped_byte_changes_the_energy_without_the_checksum(text, tmp_path):
    """What the checksum protects against: the same edit in a file without a checksum loads and
    gives another energy (the issue's 0.36 eV), silently except for the note."""
    bad = _flip_digit(text, "row", 1)
    unchecked = [line for line in bad.split("\n") if not line.startswith("checksum")]
    path = tmp_path / "unchecked.kzn"
    path.write_text("\n".join(unchecked))
    pos, sym = random_structure(n=8, seed=3)
    with pytest.warns(ModelIntegrityWarning, match="no checksum"):
        e_bad = kizuna.Potential(path).compute(pos, sym)["energy"]
    e_good = kizuna.Potential(model_from_string(text)).compute(pos, sym)["energy"]
    assert e_bad != e_good


def test_layout_changes_keep_the_checksum(text, tmp_path):
    """Comments, blank lines, indentation and CRLF line ends are not content."""
    relaid = text.replace("\n", "\r\n  # note\r\n\r\n").replace("    ", "\t")
    path = tmp_path / "relaid.kzn"
    path.write_bytes(relaid.encode())
    assert read_model(path).checksum == _core.Model.load(str(path)).checksum is not None


def test_file_without_checksum_loads_with_a_note(text, tmp_path):
    old = "\n".join(line for line in text.split("\n") if not line.startswith("checksum"))
    path = tmp_path / "old.kzn"
    path.write_text(old)
    with pytest.warns(ModelIntegrityWarning, match=r"old\.kzn: no checksum line"):
        model = read_model(path)
    assert model.checksum is None
    core = _core.Model.load(str(path))
    assert core.checksum is None  # the flag adapters report (LAMMPS prints a note)
    assert "none (an older file" in model.summary()
    # saving adds one
    write_model(model, path)
    assert read_model(path).checksum is not None


@pytest.mark.parametrize("line,pattern", [
    ("checksum md5 0123456789abcdef", r"unknown checksum algorithm 'md5'; expected crc32"),
    ("checksum crc32 12345", r"8 lowercase hexadecimal digits, got '12345'"),
    ("checksum crc32 0123ABCD", r"8 lowercase hexadecimal digits, got '0123ABCD'"),
    ("checksum crc32", r"expected 'checksum crc32 <8 hex digits>'"),
])
def test_malformed_checksum_lines(text, tmp_path, line, pattern):
    lines = text.split("\n")
    lines[1] = line
    path = tmp_path / "m.kzn"
    path.write_text("\n".join(lines))
    _both_fail(path, pattern)


def test_checksum_must_follow_the_first_line(text, tmp_path):
    lines = text.split("\n")
    checksum = lines.pop(1)
    k = next(i for i, line in enumerate(lines) if line.startswith("units"))
    lines.insert(k, checksum)
    path = tmp_path / "m.kzn"
    path.write_text("\n".join(lines))
    _both_fail(path, r"expected 'units eV angstrom', got 'checksum crc32")


def test_every_writer_path_emits_the_checksum(tmp_path, water_n2p2_dir):
    from kizuna.cli import main
    from kizuna.learn.committee import merge_members

    out = tmp_path / "w.kzn"
    assert main(["import-n2p2", str(water_n2p2_dir), "-o", str(out)]) == 0
    assert out.read_text().split("\n")[1].startswith("checksum crc32 ")
    a, b = random_model(seed=1), random_model(seed=2)
    merged = tmp_path / "c.kzn"
    write_model(merge_members([a, b]), merged)
    assert read_model(merged).checksum is not None


def test_canonical_form_is_shared():
    items = statements("a  b\t c # x\n\n meta k  v # w \r\nd\n", "s")
    assert [t for _, t in items] == [["a", "b", "c"], ["meta", "k", "v # w"], ["d"]]
    import zlib

    expected = zlib.crc32(b"a b c\nmeta k v # w\nd\n")
    assert canonical_checksum(items) == f"{expected:08x}"


# ------------------------------------------------------------------ sizes vs file length (bug 7)
def _absurd_layer(text):
    return re.sub(r"layer (\d+) (\d+) tanh", lambda m: f"layer {m.group(1)} 999999999 tanh",
                  text, count=1)


def test_absurd_layer_size_is_refused_before_allocating(text, tmp_path):
    path = tmp_path / "huge.kzn"
    path.write_text(_absurd_layer(text))
    _both_fail(path, r":\d+: layer 1 \(\d+ inputs, 999999999 outputs\) needs 999999999 rows of "
                     r"\d+ weights and a bias but the rest of the file holds only \d+ values")


def test_kizuna_info_on_absurd_layer_size(text, tmp_path, capsys):
    from kizuna.cli import main

    path = tmp_path / "huge.kzn"
    path.write_text(_absurd_layer(text))
    assert main(["info", str(path)]) != 0
    err = capsys.readouterr().err
    assert "999999999 outputs" in err and "Traceback" not in err and "MemoryError" not in err


def test_declared_sizes_at_the_limit_still_read(text):
    """The bound is exact: a file holding exactly the declared rows reads."""
    model = model_from_string(text)
    assert np.isfinite(model.element_models[0].members[0].layers[0].weights).all()


def test_writer_keeps_meta_on_one_line_and_readable():
    model = random_model(seed=3)
    model.meta["note"] = "line one\nline two\r\x0bend\t"
    text = model_to_string(model)
    assert model_from_string(text).meta["note"] == "line one line two  end"
    assert _core.Model.parse(text, "m").meta["note"] == "line one line two  end"
    model.meta["two words"] = "x"
    with pytest.raises(ModelFormatError, match="meta key 'two words' must be one word"):
        model_to_string(model)
