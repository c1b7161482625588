"""Command-line messages a new user meets in the first hour (issue 16): the advice names the
command-line flags, `eval` on an unknown element gives evaluation advice (not training
advice), and `info`/`export` print the training config one key per line."""
from __future__ import annotations

import json
import shutil

from kizuna.cli import main
from kizuna.model_io import read_model, write_model
from kizuna.n2p2 import read_n2p2

from conftest import DATA


def test_import_n2p2_unit_error_names_the_command_line_flags(water_n2p2_dir, tmp_path, capsys):
    d = tmp_path / "pot"
    shutil.copytree(water_n2p2_dir, d)
    text = (d / "input.nn").read_text()
    (d / "input.nn").write_text(text.replace("# Length unit     : Bohr", "#", 1))
    assert main(["import-n2p2", str(d), "-o", str(tmp_path / "w.kzn")]) == 1
    err = capsys.readouterr().err
    assert "--length-unit" in err and "--cflength" in err, err
    assert "length_unit=" in err  # the Python spelling is named too
    assert main(["import-n2p2", str(d), "-o", str(tmp_path / "w.kzn"),
                 "--length-unit", "bohr"]) == 0


def test_eval_on_an_unknown_element_gives_evaluation_advice(water_n2p2_dir, tmp_path, capsys):
    model = tmp_path / "water.kzn"
    write_model(read_n2p2(water_n2p2_dir), model)
    si = DATA / "mlearn" / "Si" / "Si_test.xyz"
    assert main(["eval", str(model), str(si)]) == 1
    err = capsys.readouterr().err
    assert "element Si is not in the model's elements ['H', 'O']" in err
    assert "cannot evaluate" in err and "model.elements" not in err, err


def test_info_prints_the_training_config_one_key_per_line(water_n2p2_dir, tmp_path, capsys):
    model = read_n2p2(water_n2p2_dir)
    model.meta["config"] = json.dumps({"seed": 3, "training": {"epochs": 5, "lr": 0.001},
                                       "data": {"train": [{"path": "a.xyz"}]}},
                                      separators=(",", ":"))
    path = tmp_path / "m.kzn"
    write_model(model, path)
    assert read_model(path).meta["config"].startswith("{")
    assert main(["info", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip() == "config         :")
    assert [line.strip() for line in lines[start + 1:start + 7]] == [
        "seed: 3", "training:", "epochs: 5", "lr: 0.001", "data:", "train:"]
    assert lines[start + 7].strip() == '- {"path": "a.xyz"}'
    assert lines[start + 3].startswith(" " * 8) and lines[start + 2].startswith(" " * 6)
