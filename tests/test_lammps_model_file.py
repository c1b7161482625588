"""pair_style kizuna reads model files with the core's reader and its rules (issue 15, bugs 10
and 11): a directory is named as such, a CR-only file is refused as in Python, a changed digit
is refused by the checksum, and a file without a checksum runs with a one-line note."""
from __future__ import annotations

from kizuna.lammps import run
from test_lammps_errors import CFG, failed_with
from test_lammps_support import lammps_models, setup_script  # noqa: F401


def _without_checksum(text):
    return "\n".join(line for line in text.split("\n") if not line.startswith("checksum "))


def test_directory_is_named(lammps_models, tmp_path):  # noqa: F811
    folder = tmp_path / "model_dir.kzn"
    folder.mkdir()
    failed_with(run(setup_script(CFG, {"water": folder}), tmp_path),
                "cannot read model file", "model_dir.kzn: is a directory, not a model file")


def test_cr_only_line_ends_are_refused(lammps_models, tmp_path):  # noqa: F811
    bad = tmp_path / "cr.kzn"
    bad.write_bytes(lammps_models["water"].read_bytes().replace(b"\n", b"\r"))
    failed_with(run(setup_script(CFG, {"water": bad}), tmp_path),
                "cannot use model file", "cr.kzn:1: control character U+000D")


def test_changed_digit_is_refused(lammps_models, tmp_path):  # noqa: F811
    lines = lammps_models["water"].read_text().split("\n")
    k = next(i for i, line in enumerate(lines) if line.lstrip().startswith("row "))
    tokens = lines[k].split()
    tokens[1] = tokens[1].replace("1", "2", 1) if "1" in tokens[1] else tokens[1] + "1"
    lines[k] = " ".join(tokens)
    bad = tmp_path / "flipped.kzn"
    bad.write_text("\n".join(lines))
    failed_with(run(setup_script(CFG, {"water": bad}), tmp_path),
                "cannot use model file", "model file corrupted: checksum crc32")


def test_file_without_checksum_runs_with_a_note(lammps_models, tmp_path):  # noqa: F811
    old = tmp_path / "old.kzn"
    old.write_text(_without_checksum(lammps_models["water"].read_text()))
    result = run(setup_script(CFG, {"water": old}) + "run 0\n", tmp_path)
    assert result.returncode == 0, result.output[-2000:]
    assert "note: model file" in result.output and "has no checksum line" in result.output
    result = run(setup_script(CFG, lammps_models) + "run 0\n", tmp_path)
    assert result.returncode == 0 and "has no checksum line" not in result.output
