"""Config validation: the commented example documents every key; every bad key or value gives
a clear error (file, line, key path, did-you-mean)."""
import re
from pathlib import Path

import pytest
import yaml

from kizuna.cli import main
from kizuna.errors import ConfigError
from kizuna.training.config import SCHEMA, SOURCE, Opt, _line_map, load_config, validate_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "training" / "si.yaml"


def _keys(schema, prefix=""):
    for key, opt in schema.items():
        if isinstance(opt, dict):
            yield from _keys(opt, prefix + key + ".")
        else:
            yield prefix + key


def test_example_documents_every_key_and_validates():
    text = EXAMPLE.read_text()
    given = yaml.safe_load(text)
    flat = set()

    def walk(node, prefix):
        for k, v in node.items():
            flat.add(prefix + k)
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
    walk(given, "")
    missing = [k for k in _keys(SCHEMA) if k not in flat]
    assert not missing, f"si.yaml does not show these keys: {missing}"
    source = given["data"]["train"][0]
    assert set(source) == set(SOURCE), "si.yaml must show every data-source option"
    # every key line carries a comment (on the line or the line above)
    lines = text.splitlines()
    for k, line in enumerate(lines):
        m = re.match(r"^\s*([a-z_]+):", line)
        if m and not line.rstrip().endswith(":"):
            assert "#" in line or lines[k - 1].lstrip().startswith("#"), f"undocumented: {line}"
    cfg = load_config(EXAMPLE)
    assert Path(cfg["data"]["train"][0]["path"]).is_file()  # relative to the config file


def test_example_defaults_match_schema_defaults():
    """The example says 'the value shown is the default unless the comment says otherwise':
    every scalar key shows its default, or its line says '# default <value>'."""
    text = EXAMPLE.read_text()
    given = yaml.safe_load(text)
    lines = _line_map(text)
    for key in _keys(SCHEMA):
        section, _, name = key.rpartition(".")
        node, opt = given, SCHEMA
        for part in filter(None, section.split(".")):
            node, opt = node[part], opt[part]
        if opt[name].kind == "sources" or node[name] == opt[name].default:
            continue
        line = text.splitlines()[lines[tuple(key.split("."))] - 1]
        assert f"# default {opt[name].default}" in line, \
            f"si.yaml: {key}: {node[name]!r} is not the default {opt[name].default!r} and the " \
            f"line does not say so: {line!r}"


@pytest.mark.parametrize("text, message", [
    ("learning_rate: .nan", r"training.learning_rate: expected a finite number, got nan"),
    ("learning_rate: .inf", r"training.learning_rate: expected a finite number, got inf"),
    ("learning_rate: -.inf", r"training.learning_rate: expected a finite number"),
    ("lr_final: .nan", r"training.lr_final: expected a finite number"),
    ("gradient_clip: .inf", r"training.gradient_clip: expected a finite number"),
    ("epochs: 0\n  lbfgs_epochs: 0", r"training.epochs: .*all 0: nothing would be trained"),
    ("optimizer: lbfgs\n  epochs: 0", r"training.epochs: .*nothing would be trained"),
])
def test_non_finite_numbers_and_empty_runs_fail_the_check(tmp_path, capsys, text, message):
    """Issue 15 #6: these passed --check and failed later (torch traceback, NaN epochs, an
    unreadable checkpoint)."""
    path = tmp_path / "c.yaml"
    path.write_text(f"data:\n  train: a.xyz\ntraining:\n  {text}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    assert main(["train", str(path), "--check"]) == 1
    assert re.search(message, capsys.readouterr().err)


def test_committee_key():
    """`committee: N` is the config form of --committee N (docs/lammps.md shows it)."""
    assert validate_config({"data": {"train": "x.xyz"}, "committee": 4})["committee"] == 4
    assert validate_config({"data": {"train": "x.xyz"}})["committee"] == 1
    with pytest.raises(ConfigError, match=r"committee: must be >= 1"):
        validate_config({"data": {"train": "x.xyz"}, "committee": 0})


@pytest.mark.parametrize("given, message", [
    ({"data": {"train": "x.xyz"}, "trainig": {}}, r"trainig: unknown key; did you mean 'training'"),
    ({"data": {"train": "x.xyz", "validaton_fraction": 0.2}},
     r"data.validaton_fraction: unknown key; did you mean 'validation_fraction'"),
    ({"data": {"train": "x.xyz"}, "training": {"epochs": 2.5}},
     r"training.epochs: expected an integer"),
    ({"data": {"train": "x.xyz"}, "training": {"epochs": -1}}, r"training.epochs: must be >= 0"),
    ({"data": {"train": "x.xyz"}, "training": {"learning_rate": 0}}, r"learning_rate: must be > 0"),
    ({"data": {"train": "x.xyz"}, "model": {"activation": "tahn"}}, r"did you mean 'tanh'"),
    ({"data": {"train": "x.xyz"}, "model": {"hidden_layers": [32, "a"]}},
     r"model.hidden_layers.1: expected an integer"),
    ({"data": {"train": "x.xyz"}, "symmetry_functions": {"n_angular": 12}},
     r"n_angular: must be a multiple of len\(zetas\) \* len\(lambdas\) = 8"),
    ({"data": {"train": [{"path": "x.xyz", "fromat": "ase"}]}},
     r"data.train.0.fromat: unknown key; did you mean 'format'"),
    ({"data": {"train": [{"format": "ase"}]}}, r"data.train.0.path: is required"),
    ({"data": {}}, r"data.train: is required"),
    ({"data": {"train": "x.xyz"}, "output": {"plots": "yes"}},
     r"output.plots: expected true or false"),
    ({"data": {"train": "x.xyz", "validation_fraction": 0.5, "test_fraction": 0.5}},
     r"validation_fraction: must be <= 0.9|leave no training data"),
    ({"data": {"train": "x.xyz"}, "loss": {"forces_weight": -1}}, r"forces_weight: must be >= 0"),
    ({"data": {"train": "x.xyz"}, "loss": {"function": "hubber"}}, r"did you mean 'huber'"),
    ({"data": {"train": "x.xyz"}, "loss": {"huber_delta_forces": 0}},
     r"huber_delta_forces: must be > 0"),
])
def test_bad_configs(given, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(given, "cfg.yaml")


def test_error_names_the_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\ndata:\n  train: a.xyz\ntraining:\n  epochs: 10\n  batch_sise: 3\n")
    with pytest.raises(ConfigError, match=r"c.yaml:6: training.batch_sise: unknown key; did you "
                                          r"mean 'batch_size'"):
        load_config(path)


def test_defaults_filled_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  train: sub/a.xyz\n")
    cfg = load_config(path, ["training.epochs=7", "model.hidden_layers=[4, 5]"])
    assert cfg["training"]["epochs"] == 7 and cfg["model"]["hidden_layers"] == [4, 5]
    assert cfg["training"]["batch_size"] == SCHEMA["training"]["batch_size"].default
    assert cfg["data"]["train"][0]["path"] == str(tmp_path / "sub" / "a.xyz")
    assert cfg["data"]["train"][0]["format"] == "auto"
    with pytest.raises(ConfigError, match="--set expects key.path=value"):
        load_config(path, ["training.epochs"])


def test_data_paths_from_the_command_line_are_relative_to_the_current_directory(
        tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    conf.mkdir()
    path = conf / "c.yaml"
    path.write_text("data:\n  train: sub/a.xyz\n  test: sub/t.xyz\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    cfg = load_config(path, ["data.train=runs/b.xyz", "data.validation=runs/v.xyz",
                            "data.validation_fraction=0"])
    assert cfg["data"]["train"][0]["path"] == str(work / "runs" / "b.xyz")
    assert cfg["data"]["validation"][0]["path"] == str(work / "runs" / "v.xyz")
    assert cfg["data"]["test"][0]["path"] == str(conf / "sub" / "t.xyz")  # from the file


def test_cli_reports_config_errors(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  train: a.xyz\nmodel:\n  hiden_layers: [3]\n")
    assert main(["train", str(path)]) == 1
    err = capsys.readouterr().err
    assert "c.yaml:4: model.hiden_layers: unknown key; did you mean 'hidden_layers'?" in err
    path.write_text("data:\n  train: a.xyz\n")
    assert main(["train", str(path), "--check"]) == 0


def test_schema_options_are_well_formed():
    for key in _keys(SCHEMA):
        section, _, name = key.rpartition(".")
        node = SCHEMA
        for part in filter(None, section.split(".")):
            node = node[part]
        opt = node[name]
        assert isinstance(opt, Opt) and opt.kind


@pytest.mark.parametrize("key", ["cutoff", "angular_cutoff"])
@pytest.mark.parametrize("value", ["1e6", ".inf", "31"])
def test_absurd_cutoff_is_refused(tmp_path, capsys, key, value):
    """--set symmetry_functions.cutoff=1e6 passed the check and then hung in the neighbour
    search; the cutoff is bounded (MAX_CUTOFF Å) with a clear error."""
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  train: a.xyz\n")
    assert main(["train", str(path), "--check", "--set",
                 f"symmetry_functions.{key}={value}"]) == 1
    err = capsys.readouterr().err
    expected = ("expected a finite number, got inf" if value == ".inf" else "must be <= 30.0")
    assert f"symmetry_functions.{key}: {expected}" in err
    assert main(["train", str(path), "--check", "--set", f"symmetry_functions.{key}=12"]) == 0
