"""Data-driven selection of symmetry functions: the pivoted-QR selector on matrices with known
redundancy, the sensitivity ranking on a network with known weights, the config keys, a tiny
training run with selection, and `kizuna select` on a finished run."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from kizuna import Potential
from kizuna.cli import main
from kizuna.errors import ConfigError
from kizuna.model_io import read_model
from kizuna.training import load_config, train
from kizuna.training.config import validate_config
from kizuna.training.nets import AtomicEnergyModel
from kizuna.training.selection import (how_many, qr_order, select_by_score, select_functions,
                                       select_qr, sensitivities)
from kizuna.training.setup import symmetry_functions
from test_training_run import tiny_config


def redundant_matrix(n=400, seed=1):
    """Columns 0, 2, 5 independent; 1 = col0 (duplicate), 3 = 2 col0 - col2 + 1 (affine
    combination), 4 constant, 6 = -3 col5 (scaled copy)."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=(3, n))
    return np.column_stack([a, a, b, 2 * a - b + 1.0, np.full(n, 7.0), c, -3 * c])


def test_qr_keeps_the_independent_columns_and_its_residual_is_exact():
    G = redundant_matrix()
    sigma = G.std(0)
    factor = np.where(sigma > 0, 1.0 / np.where(sigma > 0, sigma, 1), 0.0)  # scale_sigma
    sel = select_qr(G, factor, tolerance=1e-9)
    assert len(sel.kept) == 3
    groups = [{0, 1, 3}, {2, 3}, {5, 6}]   # one of each ... and never the constant column
    assert 4 not in sel.kept
    assert np.linalg.matrix_rank(G[:, sel.kept] - G[:, sel.kept].mean(0)) == 3
    assert len(set(sel.kept) & {5, 6}) == 1 and len(set(sel.kept) & groups[0]) >= 1
    # residual after k columns: ||X - P_k X||_F / ||X||_F computed by least squares here
    X = (G - G.mean(0)) * factor
    for k in range(1, 4):
        cols = sel.order[:k]
        coef, *_ = np.linalg.lstsq(X[:, cols], X, rcond=None)
        expected = np.linalg.norm(X - X[:, cols] @ coef) / np.linalg.norm(X)
        assert sel.score[k - 1] == pytest.approx(expected, rel=1e-8, abs=1e-12)
    assert sel.score[2] < 1e-12 and sel.score[1] > 0.1


def test_qr_count_and_fraction_rules():
    G = redundant_matrix()
    ones = np.ones(G.shape[1])
    assert list(select_qr(G, ones, keep=3).kept) == sorted(select_qr(G, ones, keep=3).order[:3])
    assert len(select_qr(G, ones, keep=100).kept) == 7
    assert len(select_qr(G, ones, fraction=0.5).kept) == 4      # round(3.5) = 4
    assert len(select_qr(G, ones, fraction=0.01).kept) == 1
    # the kept columns of keep=3 are independent (rank 3) whatever the column norms
    kept = select_qr(G, ones, keep=3).kept
    assert np.linalg.matrix_rank(G[:, kept] - G[:, kept].mean(0)) == 3


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of keep"),
    ({"keep": 2, "fraction": 0.5}, "exactly one of keep"),
    ({"keep": 0}, "count >= 1"),
    ({"fraction": 1.5}, "0 < fraction <= 1"),
    ({"tolerance": 0.1}, "only the qr method"),
])
def test_how_many_rejects_bad_rules(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        how_many(10, **kwargs)


def test_qr_rejects_bad_matrices():
    with pytest.raises(Exception, match="NaN"):
        qr_order(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(Exception, match="non-empty"):
        qr_order(np.zeros((0, 3)))


def test_sensitivity_ranks_by_weight_times_spread():
    """A linear network E = 0.5 + 2 (w . x) with x = G: s_k = 2 |w_k| std(G_k)."""
    rng = np.random.default_rng(0)
    G = rng.normal(size=(300, 4)) * np.array([1.0, 10.0, 0.5, 1.0])
    w = np.array([1.0, 0.01, 3.0, 0.0])
    net = AtomicEnergyModel(["Si"], {"Si": 4}, [], [], shift={"Si": np.zeros(4)},
                            factor={"Si": np.ones(4)}, smin=0.0, energy_offset={"Si": 0.5},
                            energy_scale=2.0)
    with torch.no_grad():
        net.nets["Si"].layers[0].weight.copy_(torch.from_numpy(w[None, :]))
        net.nets["Si"].layers[0].bias.zero_()
    s = sensitivities(net, "Si", G)
    assert s == pytest.approx(2 * np.abs(w) * G.std(0), rel=1e-12)
    sel = select_functions("sensitivity", {"Si": G}, {"Si": np.ones(4)}, keep=2, net=net)["Si"]
    assert list(sel.kept) == [0, 2] and list(sel.order[:2]) == [2, 0]
    assert list(select_by_score([1.0, 3.0, 2.0], fraction=0.7).kept) == [1, 2]
    with pytest.raises(ConfigError, match="needs a trained model"):
        select_functions("sensitivity", {"Si": G}, {"Si": np.ones(4)}, keep=2)


@pytest.mark.parametrize("select, message", [
    ({"method": "qr"}, r"symmetry_functions.select: method qr needs exactly one of keep"),
    ({"method": "qr", "keep": 3, "fraction": 0.5}, r"got keep, fraction"),
    ({"keep": 3}, r"symmetry_functions.select.keep: given without select.method"),
    ({"method": "cur", "keep": 3}, r"select.method: 'cur' is not one of qr"),
    ({"method": "qr", "fraction": 1.5}, r"select.fraction: must be <= 1.0"),
    ({"method": "qr", "fraction": 0}, r"select.fraction: must be > 0.0"),
    ({"method": "qr", "keep": 0}, r"select.keep: must be >= 1"),
    ({"method": "qr", "kep": 3}, r"select.kep: unknown key; did you mean 'keep'"),
])
def test_select_config_errors(select, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({"data": {"train": "x.xyz"}, "symmetry_functions": {"select": select}},
                        "cfg.yaml")


def test_select_check_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  train: a.xyz\nsymmetry_functions:\n  select:\n    method: qr\n"
                    "    fraction: 0.5\n")
    assert main(["train", str(path), "--check"]) == 0
    path.write_text("data:\n  train: a.xyz\nsymmetry_functions:\n  select:\n    method: qr\n"
                    "    tolerance: 2\n")
    assert main(["train", str(path), "--check"]) == 1
    assert "c.yaml:6: symmetry_functions.select.tolerance: must be <= 0.999" in \
        capsys.readouterr().err


@pytest.fixture(scope="module")
def selected_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("select")
    cfg = tiny_config(tmp, symmetry_functions={"select": {"method": "qr", "keep": 6}},
                      output={"plots": False}, training={"epochs": 3})
    return cfg, train(cfg)


def test_training_with_select_exports_the_selected_functions(selected_run):
    cfg, result = selected_run
    model = read_model(result["model"])
    kept = model.element("Si").symmetry_functions
    assert len(kept) == 6
    plain = copy.deepcopy(cfg)
    del plain["symmetry_functions"]["select"]
    full = symmetry_functions(validate_config(plain), ["Si"])["Si"]
    assert len(full) == 13
    positions = [full.index(sf) for sf in kept]      # a subset, in the generated order
    assert positions == sorted(positions)
    assert "kept 6 of 13" in (Path(result["directory"]) / "selection.txt").read_text()
    # the core loads it and evaluates it
    s = read_model(result["model"])
    pot = Potential(result["model"], threads=1)
    from ase.build import bulk

    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.05, seed=1)
    out = pot.compute(atoms.positions, atoms.get_chemical_symbols(), atoms.cell.array, True)
    assert np.isfinite(out["energy"]) and out["forces"].shape == (8, 3)
    assert s.element("Si").members[0].scaling.mean.shape == (6,)


@pytest.mark.parametrize("method", ["qr", "sensitivity"])
def test_select_command_writes_a_reduced_config(selected_run, tmp_path, capsys, method):
    _, result = selected_run
    out = tmp_path / "reduced.yaml"
    assert main(["select", str(result["directory"]), "--keep", "4", "--method", method,
                 "-o", str(out), "--directory", str(tmp_path / "reduced")]) == 0
    assert "Si: kept 4 of 6" in capsys.readouterr().out
    given = yaml.safe_load(out.read_text())
    lines = given["symmetry_functions"]["explicit"]["Si"]
    assert len(lines) == 4
    run_sfs = read_model(result["model"]).element("Si").symmetry_functions
    cfg = load_config(out)
    sfs = symmetry_functions(cfg, ["Si"])["Si"]
    positions = [run_sfs.index(sf) for sf in sfs]     # a subset of the run's, in its order
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert cfg["output"]["directory"] == str(tmp_path / "reduced")


def test_select_command_trains(selected_run, tmp_path):
    _, result = selected_run
    out = tmp_path / "reduced.yaml"
    assert main(["select", str(result["directory"]), "--tolerance", "0.05", "-o", str(out),
                 "--directory", str(tmp_path / "reduced"), "--train",
                 ]) == 0
    model = read_model(tmp_path / "reduced" / "model.kzn")
    n = len(model.element("Si").symmetry_functions)
    assert 1 <= n <= 6
    metrics = json.loads((tmp_path / "reduced" / "metrics.json").read_text())["metrics"]
    assert np.isfinite(metrics["test"]["energy"][0])


def test_select_command_errors(tmp_path, capsys):
    assert main(["select", str(tmp_path), "--keep", "3", "-o", str(tmp_path / "x.yaml")]) == 1
    assert "no config.yaml" in capsys.readouterr().err


def test_select_refuses_an_init_model(selected_run, tmp_path):
    cfg, result = selected_run
    cfg = dict(cfg, output={"directory": str(tmp_path / "init"), "progress": "none"})
    with pytest.raises(ConfigError, match="cannot select functions of an --init model"):
        train(cfg, init=result["model"])
