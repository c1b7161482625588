"""Selection on a finished run (``kizuna select RUN_DIR``): rank the run model's symmetry
functions on the run's own training split and write a config that re-trains a reduced model.

The reduced model is re-trained from new weights on the run's data and labels (DFT energies and
forces): a network with fewer inputs is a different function, so the full network's weights are
not reused (distillation from the full model's labels is not implemented). The new
config is the run's validated config with ``symmetry_functions.explicit`` set to the kept
functions (model-file syntax, original order) and the selection keys cleared.
"""
from __future__ import annotations

import copy
from pathlib import Path

from ..errors import ConfigError
from ..model_io import _sf_line, read_model
from .config import load_config, validate_config
from .selection import feature_matrices, format_selection, select_functions


def run_parts(run_dir) -> tuple:
    """(validated config, model path) of a run folder."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise ConfigError(f"{run_dir}: no config.yaml (is this a kizuna training run folder?)")
    cfg = load_config(cfg_path)
    model_path = run_dir / cfg["output"]["model_name"]
    if not model_path.is_file():
        raise ConfigError(f"{model_path}: no exported model (has the run finished? "
                          "`kizuna export` writes it from the checkpoint)")
    return cfg, model_path


def select_from_run(run_dir, method="qr", *, keep=None, fraction=None, tolerance=None,
                    directory=None) -> tuple:
    """(new config dict, {element: Selection}, report text) for a finished run."""
    from .export import from_kizuna_model
    from .setup import build_run

    cfg, model_path = run_parts(run_dir)
    model = read_model(model_path)
    # descriptors of the run's training split with the model's functions
    probe = copy.deepcopy(cfg)
    probe["symmetry_functions"].update(from_model=str(model_path), explicit=None)
    probe["symmetry_functions"]["select"] = {k: None for k in probe["symmetry_functions"]
                                             ["select"]}
    probe["data"]["test"] = []
    run = build_run(probe)
    run.pool.close()
    factors = {e: model.element(e).members[0].scaling.shift_factor()[1] for e in model.elements}
    net = from_kizuna_model(model)[0] if method == "sensitivity" else None
    selections = select_functions(method, feature_matrices(run.train, model.elements), factors,
                                  keep=keep, fraction=fraction, tolerance=tolerance, net=net,
                                  seed=cfg["seed"])
    sfs = {e: model.element(e).symmetry_functions for e in model.elements}
    new = {k: v for k, v in copy.deepcopy(cfg).items() if not k.startswith("_")}
    s = new["symmetry_functions"]
    s["explicit"] = {e: [_sf_line(sfs[e][k]).split(" ", 1)[1] for k in selections[e].kept]
                     for e in model.elements}
    s["from_model"] = None
    s["select"] = {k: None for k in s["select"]}
    new["model"]["elements"] = list(model.elements)
    new["output"]["directory"] = str(directory or Path(str(run_dir).rstrip("/") + "-selected"))
    validate_config(new, "<selected config>")
    return new, selections, format_selection(selections, sfs)


def write_config(cfg: dict, path, header: str = "") -> Path:
    import yaml

    path = Path(path)
    text = "".join(f"# {line}\n" for line in header.splitlines())
    path.write_text(text + yaml.safe_dump(cfg, sort_keys=False, width=200))
    return path
