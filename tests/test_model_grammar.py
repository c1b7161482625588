"""One lexical grammar for both model readers (docs/model-format.md, "Lexical rules"): every
input below goes through the Python reader (kizuna.model_io.read_model) and the C++ reader
(kizuna._core.Model.load, which LAMMPS uses) from the same file, and both must give the same
verdict: accepted (with the same meta values), or rejected with the same kind of message."""
from __future__ import annotations

import re
import warnings

import pytest

from kizuna import _core
from kizuna.errors import ModelFormatError
from kizuna.model_io import model_to_string, read_model
from model_factory import model_from_sfs, random_model, weighted_sfs


def _base(weighted=False) -> str:
    """A small valid model without its checksum line (edits below change values); `weighted`:
    element-weighted kinds with a two-channel weight table."""
    if weighted:
        model = model_from_sfs(["H", "O"], weighted_sfs(("weighted_radial", "weighted_angular_wide"),
                                                        channels=(1, 2)),
                               seed=5, hidden=(3,), activations=("tanh", "linear"),
                               channel_weights={"H": (1.0, 0.25), "O": (1.0, -2.0)})
    else:
        model = random_model(seed=5, hidden=(3,), activations=("tanh", "linear"),
                             kinds=("radial", "compact_radial"))
    text = model_to_string(model)
    lines = text.splitlines()
    assert lines[1].startswith("checksum ")
    lines[1] = "meta note grammar test"
    return "\n".join(lines) + "\n"


BASE = _base()


def sub(old, new, count=1):
    def edit(text):
        assert old in text, old
        return text.replace(old, new, count)
    return edit


def value(keyword, new):
    """Replace the value of the first '<keyword> <value>' statement."""
    def edit(text):
        out, n = re.subn(rf"(?m)^(\s*{keyword}) \S+$", rf"\g<1> {new}", text, count=1)
        assert n == 1, keyword
        return out
    return edit


def raw(edit):
    """An edit of the text that returns bytes as they are (not UTF-8 encoded afterwards)."""
    edit.raw = True
    return edit


OK = None
CASES = [
    # ------------------------------------------------------------------ lines and blanks
    ("LF", lambda t: t, OK),
    ("CRLF", lambda t: t.replace("\n", "\r\n"), OK),
    ("no final newline", lambda t: t.rstrip("\n"), OK),
    ("CR only", lambda t: t.replace("\n", "\r"), r":1: control character U\+000D \(a carriage return"),
    ("lone CR inside a line", sub("units eV", "units\reV"), r":\d+: control character U\+000D"),
    ("tabs and trailing blanks", lambda t: t.replace(" ", "\t").replace("\n", " \t\n"), OK),
    ("vertical tab separator", sub("units eV", "units\x0beV"), r":\d+: control character U\+000B"),
    ("form feed line", lambda t: t.replace("\nunits", "\n\x0c\nunits", 1), r"control character U\+000C"),
    ("escape in a comment", sub("# kizuna model file", "# kizuna \x1b model file"),
     r"control character U\+001B"),
    ("DEL", sub("units eV", "units\x7feV"), r"control character U\+007F"),
    ("byte-order mark", lambda t: "\ufeff" + t, OK),
    ("comments and blank lines", lambda t: t.replace("\n", "\n\n   # c # d\n"), OK),
    ("comment glued to a token", sub("units eV angstrom", "units eV angstrom#metal"), OK),
    ("UTF-8 in comments and meta", lambda t: t.replace("meta note grammar test",
                                                       "meta note Å ü 水 # kept") + "# Å\n", OK),
    ("unicode line separator in a comment", sub("# kizuna model file", "# kizuna\u2028model"), OK),
    ("unicode line separator between statements", sub("units eV angstrom\n",
                                                      "units eV angstrom\u2028"),
     r"expected 'units eV angstrom'"),
    ("no-break space separator", sub("units eV", "units\u00a0eV"), r"expected 'units"),
    ("NUL byte", sub("units", "un\0its"), r"not a kizuna model \(binary data\)"),
    ("invalid UTF-8", raw(lambda t: t.encode().replace(b"# kizuna", b"# \xff kizuna", 1)),
     r"not a kizuna model \(binary or not UTF-8 text\)"),
    ("overlong UTF-8", raw(lambda t: t.encode().replace(b"# kizuna", b"# \xc0\xaf kizuna", 1)),
     r"not UTF-8 text"),
    ("UTF-16 surrogate in UTF-8", raw(lambda t: t.encode().replace(b"# kizuna",
                                                                 b"# \xed\xa0\x80 kizuna", 1)),
     r"not UTF-8 text"),
    ("Latin-1 text", raw(lambda t: t.replace("meta note grammar test",
                                             "meta note caf\u00e9").encode("latin-1")),
     r"not UTF-8 text"),
    # ------------------------------------------------------------------ meta lines
    ("meta with a tab", sub("meta note grammar", "meta\tnote\tgrammar"), OK),
    ("meta without a value", sub("meta note grammar test", "meta note"), OK),
    ("meta alone", sub("meta note grammar test", "meta"), r"expected 'meta <key> <value>'"),
    ("meta and a tab", sub("meta note grammar test", "  meta\t"), r"expected 'meta <key> <value>'"),
    ("meta key and blanks", sub("meta note grammar test", "meta note \t "), OK),
    ("meta glued to a comment", sub("meta note grammar test", "meta#x"),
     r"expected 'meta <key> <value>'"),
    # ------------------------------------------------------------------ numbers
    ("exponent", value("energy_scale", "1.5e+3"), OK),
    ("leading dot", value("energy_scale", ".5"), OK),
    ("trailing dot", value("energy_scale", "5."), OK),
    ("plus sign", value("energy_scale", "+2"), OK),
    ("underflow to zero", value("energy_offset", "1e-400"), OK),
    ("subnormal", value("energy_offset", "4.9e-324"), OK),
    ("overflow", value("energy_offset", "1e400"), r"energy_offset must be a finite number, got '1e400'"),
    ("negative overflow", value("energy_offset", "-1.8e308"), r"must be a finite number, got '-1.8e308'"),
    ("huge exponent", value("energy_offset", "1e99999999999999999999"), r"must be a finite number"),
    ("nan", value("energy_offset", "NaN"), r"must be a finite number, got 'NaN'"),
    ("infinity", value("energy_offset", "-Infinity"), r"must be a finite number, got '-Infinity'"),
    ("hex float", value("energy_offset", "0x1p3"), r"energy_offset must be a number, got '0x1p3'"),
    ("hex integer", value("energy_offset", "0x10"), r"must be a number, got '0x10'"),
    ("underscore digits", value("energy_offset", "1_000"), r"must be a number, got '1_000'"),
    ("decimal comma", value("energy_offset", "1,5"), r"must be a number, got '1,5'"),
    ("dangling exponent", value("energy_offset", "1.0e"), r"must be a number, got '1.0e'"),
    ("exponent only", value("energy_offset", "e5"), r"must be a number, got 'e5'"),
    ("lone dot", value("energy_offset", "."), r"must be a number, got '\.'"),
    ("fullwidth digit", value("energy_offset", "\uff11"), r"must be a number"),
    ("Arabic-Indic digit", value("energy_offset", "\u0663"), r"must be a number"),
    ("number in an sf parameter", sub("rc=4.0", "rc=0x4p0"), r"parameter 'rc' must be a number"),
    # ------------------------------------------------------------------ integers
    ("leading zero count", value("committee", "01"), OK),
    ("signed count", value("committee", "+1"), r"committee size must be an integer >= 1, got '\+1'"),
    ("decimal count", value("committee", "1.0"), r"must be an integer >= 1, got '1\.0'"),
    ("ten-digit count", value("committee", "1000000000"), r"must be an integer >= 1"),
    ("Arabic-Indic count", value("committee", "\u0661"), r"must be an integer >= 1"),
    ("zero count", value("committee", "0"), r"must be an integer >= 1, got '0'"),
    # ------------------------------------------------------------------ whole file
    ("empty file", lambda t: "", r"unexpected end of file \(truncated\?\)"),
    ("only comments", lambda t: "# nothing\n\n", r"unexpected end of file"),
]


def _verdict(reader, path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return reader(path), None
    except ModelFormatError as exc:
        return None, str(exc)


def _check_same_verdict(path, expected):
    py_model, py_err = _verdict(lambda p: read_model(p), path)
    cpp_model, cpp_err = _verdict(lambda p: _core.Model.load(str(p)), path)
    if expected is OK:
        assert py_err is None and cpp_err is None, (py_err, cpp_err)
        assert py_model.meta == cpp_model.meta
        assert py_model.elements == cpp_model.elements
    else:
        assert py_err is not None and cpp_err is not None, (py_err, cpp_err)
        for err in (py_err, cpp_err):
            assert re.search(expected, err), (expected, err)
            assert err.startswith(str(path))
    return py_model, cpp_model


@pytest.mark.parametrize("name,edit,expected", CASES, ids=[c[0] for c in CASES])
def test_both_readers_give_the_same_verdict(tmp_path, name, edit, expected):
    out = edit(BASE)
    data = out if getattr(edit, "raw", False) else out.encode("utf-8")
    path = tmp_path / "m.kzn"
    path.write_bytes(data)
    _check_same_verdict(path, expected)


def test_underflow_and_subnormal_values_agree(tmp_path):
    path = tmp_path / "m.kzn"
    for token, expected in (("1e-400", 0.0), ("4.9e-324", 5e-324), ("-2.5e-320", -2.5e-320)):
        path.write_text(value("energy_offset", token)(BASE))
        py_model, _ = _check_same_verdict(path, OK)
        assert py_model.element_models[0].members[0].energy_offset == expected


def test_directory(tmp_path):
    _check_same_verdict(tmp_path, r"is a directory, not a model file")


def test_missing_file(tmp_path):
    _check_same_verdict(tmp_path / "nope.kzn", r"cannot open the model file")


def test_text_and_file_readers_agree(tmp_path):
    """Model.parse (text) follows the same rules as Model.load (file) and the Python reader."""
    crlf = BASE.replace("\n", "\r\n")
    assert _core.Model.parse(crlf, "x").elements == ["H", "O"]
    for bad in (BASE.replace("\n", "\r"), BASE.replace("units eV", "units\x0beV")):
        with pytest.raises(ModelFormatError, match="control character"):
            _core.Model.parse(bad, "x")


@pytest.mark.parametrize("weighted", [False, True], ids=["pair", "weighted"])
def test_random_edits_get_the_same_verdict(weighted):
    """Differential check: 1500 random 1-3 byte edits (digits, signs, blanks, control bytes,
    invalid UTF-8, comment marks) of a model without checksum (pair kinds, or weighted kinds
    with their channels/weights table); both readers accept or both reject, at the same line."""
    import random

    from kizuna.model_io import model_from_string
    from kizuna.model_text import decode

    base = (_base(weighted=True) if weighted else BASE).encode()
    rng = random.Random(15)
    alphabet = b"0123456789.eE+-x #\t\r\n\x0b\x00\xff\xc3\xa9abcmetaz=_,"
    accepted = 0
    for _ in range(1500):
        data = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(data))
            op = rng.random()
            if op < 0.4:
                data[k] = rng.choice(alphabet)
            elif op < 0.7:
                data.insert(k, rng.choice(alphabet))
            else:
                del data[k]
        data = bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model_from_string(decode(data, "f.kzn"), "f.kzn")
            py = None
        except ModelFormatError as exc:
            py = str(exc)
        try:
            _core.Model.parse(data, "f.kzn")
            cpp = None
        except ModelFormatError as exc:
            cpp = str(exc)
        assert (py is None) == (cpp is None), (data, py, cpp)
        if py is None:
            accepted += 1
        else:  # the same place: "f.kzn:<line>" or "f.kzn: <whole-file problem>"
            assert py.split(":")[1] == cpp.split(":")[1], (py, cpp)
    assert 100 < accepted < 1400, accepted
