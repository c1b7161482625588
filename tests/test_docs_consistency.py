"""The documentation and the program agree (issue 16, "the first hour"):

* every `kizuna <command> --option [value]` written in README.md or docs/*.md (code blocks and
  inline code) exists in the argparse parser, with a valid value where the option has choices;
* every command and option of the parser is shown somewhere in that form (nothing
  undocumented) and has help text;
* every configuration key the docs show -- in ```yaml blocks, as inline `key: value`, or as an
  inline dotted `section.key` -- exists in the training or the learning configuration schema
  (docs/lammps.md once showed `committee: 4`, which `kizuna train` rejected);
* the docs point only to files that exist in the repository (DESIGN.md / METHOD.md did not).
"""
from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest
import yaml

from kizuna.cli import build_parser
from kizuna.learn.config import SCHEMA as LEARN_SCHEMA
from kizuna.learn.config import STAGE
from kizuna.properties.config import PROPERTIES
from kizuna.properties.config import SCHEMA as VALIDATE_SCHEMA_FLAT
from kizuna.training.config import SCHEMA as TRAIN_SCHEMA
from kizuna.training.config import SOURCE, Opt

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
# `kizuna` as a command: at the start of a line or span, after a shell prompt or separator
COMMAND = re.compile(r"(?:^|[;&|]\s*|\$\s+)kizuna((?:\s+[^\s#;&|]+)+)", re.M)
FILE_SUFFIXES = {"kzn", "xyz", "json", "jsonl", "yaml", "yml", "csv", "pt", "png", "txt", "so",
                 "hpp", "cpp", "cuh", "cu", "h", "py", "data", "npy", "xml", "log", "raw", "md",
                 "nn", "in", "lock", "toml", "gz"}


def _texts():
    for path in DOCS:
        text = path.read_text()
        blocks = [(lang, body) for lang, body in FENCE.findall(text)]
        prose = FENCE.sub("", text)
        yield path, blocks, INLINE.findall(prose)


# ------------------------------------------------------------------------------ command line
def _parsers():
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, subs.choices


def _mentions():
    """(doc, command, [tokens]) of every `kizuna ...` command line in the docs."""
    out = []
    for path, blocks, spans in _texts():
        pieces = [body for lang, body in blocks if lang in ("", "bash", "sh", "console")]
        pieces += spans
        for piece in pieces:
            for m in COMMAND.finditer(piece):
                words = m.group(1).replace("[", " ").replace("]", " ").replace("\\", " ")
                try:
                    tokens = shlex.split(words)
                except ValueError:
                    tokens = words.split()
                out.append((path.name, tokens))
    return out


def _option(parser, token):
    name = token.split("=", 1)[0]
    for action in parser._actions:
        if name in action.option_strings:
            return action
    return None


def test_every_documented_command_and_option_exists():
    top, commands = _parsers()
    problems = []
    for doc, tokens in _mentions():
        if not tokens or tokens[0].startswith("<"):
            continue
        if tokens[0].startswith("-"):
            if _option(top, tokens[0]) is None:
                problems.append(f"{doc}: kizuna {tokens[0]}: no such option")
            continue
        sub = tokens[0]
        if sub not in commands:
            problems.append(f"{doc}: kizuna {sub}: no such command ({', '.join(commands)})")
            continue
        parser = commands[sub]
        for k, token in enumerate(tokens[1:], start=1):
            if not token.startswith("-") or token == "-" or token[1:2].isdigit():
                continue
            action = _option(parser, token)
            if action is None:
                problems.append(f"{doc}: kizuna {sub} {token}: no such option")
                continue
            value = token.split("=", 1)[1] if "=" in token else (
                tokens[k + 1] if k + 1 < len(tokens) else None)
            if action.choices and value is not None and not value.startswith(("-", "<")) \
                    and value not in action.choices:
                problems.append(f"{doc}: kizuna {sub} {token} {value}: not one of "
                                f"{list(action.choices)}")
    assert not problems, "\n".join(problems)


def test_every_command_and_option_is_documented_with_help():
    """Each option of each command appears in README.md or docs/*.md as `kizuna <command> ...
    --option` (a code block or inline code); a new option needs a line in the docs."""
    top, commands = _parsers()
    shown = {(tokens[0], t.split("=", 1)[0]) for _, tokens in _mentions() if tokens
             for t in tokens[1:] if t.startswith("-")}
    shown |= {(None, tokens[0]) for _, tokens in _mentions() if tokens and
              tokens[0].startswith("-")}
    commands_shown = {tokens[0] for _, tokens in _mentions() if tokens}
    missing, no_help = [], []
    for action in top._actions:
        if action.option_strings and "-h" not in action.option_strings and not any(
                (None, o) in shown for o in action.option_strings):
            missing.append(f"kizuna {action.option_strings[-1]}")
    for name, parser in commands.items():
        if name not in commands_shown:
            missing.append(f"kizuna {name}")
        for action in parser._actions:
            if not action.option_strings or "-h" in action.option_strings:
                if action.dest != "help" and not action.help:
                    no_help.append(f"kizuna {name} {action.dest}")
                continue
            if not action.help:
                no_help.append(f"kizuna {name} {action.option_strings[-1]}")
            if not any((name, o) in shown for o in action.option_strings):
                missing.append(f"kizuna {name} {action.option_strings[-1]}")
    assert not missing, ("not shown in README.md or docs/*.md as `kizuna <command> --option`: "
                         + ", ".join(missing))
    assert not no_help, "options without help text: " + ", ".join(no_help)


# ------------------------------------------------------------------------------ config keys
def _lookup(schema, path):
    """The Opt or section at ``path`` in a schema (None: no such key)."""
    node = schema
    for k, key in enumerate(path):
        if isinstance(node, Opt):
            if node.kind == "sources" and isinstance(key, (int, str)):
                node = SOURCE
                if isinstance(key, int):
                    continue
            elif node.kind == "any" and path[:k] == ("md", "stages"):
                node = STAGE
                if isinstance(key, int):
                    continue
            elif node.kind == "any" and path[:k] == ("training",) and schema is LEARN_SCHEMA:
                node = TRAIN_SCHEMA  # the learning config's training: sections
            else:
                return node if node.kind == "any" else None
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


# the property suite's config (`kizuna validate`): its `properties` section holds one section
# per property; a property's key is also named on its own (`diffusion.engine: lammps`)
VALIDATE_SCHEMA = {**VALIDATE_SCHEMA_FLAT, "properties": PROPERTIES}
SCHEMAS = (TRAIN_SCHEMA, LEARN_SCHEMA, VALIDATE_SCHEMA, PROPERTIES)


def _resolves(path, leaf=None):
    found = [_lookup(s, path) for s in SCHEMAS]
    found = [f for f in found if f is not None]
    if leaf is None:
        return bool(found)
    return any(isinstance(f, Opt) == leaf for f in found)


def _leaf_names():
    names = set()

    def walk(node):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value)
            else:
                names.add(key)
    for schema in (*SCHEMAS, SOURCE, STAGE):
        walk(schema)
    return names


def _yaml_paths(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix + (key,), value
            yield from _yaml_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for k, value in enumerate(node):
            if isinstance(value, dict):
                yield from _yaml_paths(value, prefix + (k,))


def _span_problem(span):
    """Why an inline code span that names a configuration key is wrong (None: fine, or not
    a key): `key: value` must be a key that takes a value; `section.key` must exist."""
    m = re.fullmatch(r"([a-z_]+(?:\.[a-z_]+)*): (\S.*)", span)
    if m:
        keys = tuple(m.group(1).split("."))
        if len(keys) > 1:
            ok = _resolves(keys, leaf=True)
        else:  # a bare key: a value-taking key of some section
            ok = keys[0] in _leaf_names() and (_resolves(keys, leaf=True) or not _resolves(keys))
        return None if ok else f"no configuration key {m.group(1)} takes a value"
    m = re.fullmatch(r"([a-z_]+)\.([a-z_0-9]+(?:\.[a-z_0-9]+)*)", span)
    if m and m.group(1) in set(TRAIN_SCHEMA) | set(LEARN_SCHEMA) and \
            span.rsplit(".", 1)[1] not in FILE_SUFFIXES and not _resolves(tuple(span.split("."))):
        return "no such configuration key"
    return None


def test_every_documented_config_key_exists():
    problems = []
    for path, blocks, spans in _texts():
        for lang, body in blocks:
            if lang not in ("yaml", "yml"):
                continue
            for keys, value in _yaml_paths(yaml.safe_load(body)):
                if not _resolves(keys, leaf=None if isinstance(value, (dict, list)) else True):
                    problems.append(f"{path.name}: ```yaml block: {'.'.join(map(str, keys))}")
        for span in spans:
            problem = _span_problem(span)
            if problem:
                problems.append(f"{path.name}: `{span}`: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("span, ok", [("committee: 4", True), ("committee.members", True),
                                      ("md.engine: lammps", True), ("friction: 0", True),
                                      ("committee.size", False), ("epoch: 3", False),
                                      ("md: 3", False), ("output.progress: line", True)])
def test_the_key_check_itself(span, ok):
    """The checker accepts real keys and rejects made-up ones; `committee: 4` passes only
    because the training config has the key now (in the learning config `committee` is a
    section, which takes no value: that is how the check caught the old docs)."""
    assert (_span_problem(span) is None) == ok


def test_docs_point_to_files_that_exist():
    problems = []
    for path in DOCS:
        text = path.read_text()
        for name in re.findall(r"\b([A-Z][A-Z_]+\.md)\b", text):
            if not (ROOT / name).is_file() and not (ROOT / "docs" / name).is_file():
                problems.append(f"{path.name}: {name} is not in the repository")
        for name in re.findall(r"`((?:docs|examples|benchmarks|tests)/[\w./-]+)`", text):
            if not (ROOT / name).exists():
                problems.append(f"{path.name}: {name} does not exist")
        if "shared/DESIGN.md" in text:
            problems.append(f"{path.name}: points to ../shared/DESIGN.md, outside the repository")
    assert not problems, "\n".join(problems)
