"""Lexical rules of the kizuna model format (docs/model-format.md, "Lexical rules").

The C++ reader (csrc/src/model_lexer.cpp) implements the same rules; tests/test_model_grammar.py
runs the same inputs through both and expects the same verdict.

* The file is UTF-8 text without NUL bytes; a leading byte-order mark is skipped.
* Lines end with LF or CRLF; any other control character (a lone CR, vertical tab, form feed,
  ...) is an error. Tokens are separated by spaces and tabs only.
* ``#`` starts a comment, except on ``meta`` lines, whose value is the rest of the line.
* Numbers are decimal literals ``[+-]?(d+[.d*]|.d+)([eE][+-]?d+)?`` whose value is a finite
  double (``1e400`` is rejected; ``1e-400`` underflows to 0 as in any correctly rounding
  reader); ``nan``, ``inf`` and hexadecimal floats are rejected.
* Integers (counts, indices, the version) are 1 to 9 decimal digits.
* The optional ``checksum crc32 <8 hex digits>`` statement right after the first line is the
  CRC-32 (zlib's) of the canonical form of all statements after it: each statement's tokens
  joined by one space, followed by a newline, UTF-8 encoded. Comments, blank lines, indentation
  and line endings therefore do not change it; any changed value does.
"""
from __future__ import annotations

import math
import re
import zlib

from .errors import ModelFormatError

CHECKSUM_ALGORITHM = "crc32"
_TOKEN = re.compile(r"[^ \t]+")
_META = re.compile(r"[ \t]*meta(?:[ \t]+([^ \t]+)(.*))?[ \t]*\Z", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_NONFINITE = re.compile(r"[+-]?(nan|inf|infinity)\Z", re.IGNORECASE)
_INTEGER = re.compile(r"[0-9]{1,9}\Z")
_HEX8 = re.compile(r"[0-9a-f]{8}\Z")


def decode(data: bytes, source: str) -> str:
    """Model file bytes -> text (UTF-8, no NUL bytes), or ModelFormatError."""
    if b"\0" in data:
        raise ModelFormatError(f"{source}: not a kizuna model (binary data)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFormatError(f"{source}: not a kizuna model (binary or not UTF-8 text)") from None


def _control_message(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if char == "\r":
        return (f"control character {code} (a carriage return not followed by a line feed: "
                "lines must end with LF or CRLF)")
    return f"control character {code} (only spaces and tabs may separate tokens)"


def statements(text: str, source: str) -> list:
    """[(line number, tokens)] of the meaningful lines; a meta line gives [meta, key, value]."""
    if "\0" in text:
        raise ModelFormatError(f"{source}: not a kizuna model (binary data)")
    if text.startswith("\ufeff"):
        text = text[1:]
    items = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.endswith("\r"):
            line = line[:-1]
        bad = _CONTROL.search(line)
        if bad:
            raise ModelFormatError(f"{source}:{number}: {_control_message(bad.group())}")
        tokens = _TOKEN.findall(line)
        if tokens and tokens[0] == "meta":
            m = _META.match(line)
            key, rest = (m.group(1) or ""), (m.group(2) or "")
            items.append((number, ["meta", key, rest.strip(" \t")]))
            continue
        tokens = _TOKEN.findall(line.split("#", 1)[0])
        if tokens:
            items.append((number, tokens))
    return items


def canonical_checksum(items) -> str:
    """CRC-32 of the statements' canonical form (see the module docstring), 8 hex digits."""
    crc = 0
    for _, tokens in items:
        crc = zlib.crc32((" ".join(tokens) + "\n").encode("utf-8", "surrogatepass"), crc)
    return f"{crc & 0xFFFFFFFF:08x}"


def number(token: str):
    """(value, None) for a valid number token, or (None, problem) with the reason."""
    if _NONFINITE.match(token):
        return None, f"must be a finite number, got '{token}'"
    if not _NUMBER.match(token):
        return None, f"must be a number, got '{token}'"
    value = float(token)
    if not math.isfinite(value):
        return None, f"must be a finite number, got '{token}' (beyond the range of a double)"
    return value, None


def integer(token: str):
    """The value of a token of 1-9 decimal digits, or None."""
    return int(token) if _INTEGER.match(token) else None


def is_checksum_value(token: str) -> bool:
    return bool(_HEX8.match(token))
