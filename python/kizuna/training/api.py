"""Python API of the training side: train, export, evaluate (the CLI calls these)."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from ..model_io import read_model, write_model
from .checkpoint import load_checkpoint
from .config import load_config, validate_config
from .evaluate import format_metrics, metrics, predict_structures
from .export import to_kizuna_model
from .nets import AtomicEnergyModel


def _code_version() -> str:
    from .. import __version__

    return f"kizuna {__version__}"


def model_from_checkpoint(path, which="best"):
    """The kizuna Model of a run's checkpoint: ``best`` validation state or ``last``."""
    ckpt = load_checkpoint(path)
    info = ckpt["export"]
    net = AtomicEnergyModel(**info["model_args"])
    state = ckpt["best"]["state"] if which == "best" and ckpt.get("best") else ckpt["model"]
    net.load_state_dict(state)
    meta = {"code_version": _code_version(), "data_hash": info["data_hash"],
            "training_epochs": str(ckpt["epochs_done"]),
            "best_epoch": str(ckpt["best"]["epoch"] if ckpt.get("best") else ""),
            "config": json.dumps(ckpt["config"], separators=(",", ":"))}
    refreshed = None
    if net.contraction is not None:  # learned weights: statistics of the learned features
        refreshed = ckpt["best"]["scalings"] if which == "best" and ckpt.get("best") else \
            ckpt["learned_scalings"]
        meta["learned_weights"] = "yes"
    return to_kizuna_model(net, info["sfs"], info["scalings"], meta, refreshed=refreshed)


def export(run_or_checkpoint, output, which="best") -> Path:
    """Write the model of a run folder (or checkpoint file) to ``output``."""
    path = Path(run_or_checkpoint)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise ConfigError(f"{path}: no checkpoint (is this a kizuna training run folder?)")
    model = model_from_checkpoint(path, which)
    write_model(model, output)
    return Path(output)


def evaluate(model, data_sources, threads=1, plot=None, details=None) -> tuple:
    """(metrics per source, formatted table) of a model on data files (core evaluation);
    ``plot``: a PNG path for parity plots; ``details``: a path prefix for per-structure and
    per-atom errors worst first and the committee calibration (training/details.py), whose
    summary is then ``metrics['details']``."""
    from .config import _check_sources, _Where
    from .sources import load_sources

    model = read_model(model) if isinstance(model, (str, Path)) else model
    results, preds, detail_rows = {}, {}, []
    for k, src in enumerate(data_sources):
        srcs = _check_sources(src if isinstance(src, (dict, list)) else str(src), ["data"],
                              _Where("<command line>", {}))
        structures = load_sources(srcs, need_forces=False, min_distance=0.0)
        for s in structures:
            s.bind(model.elements, training=False)
        name = Path(srcs[0]["path"]).name if len(data_sources) > 1 else "data"
        if name in results:
            name = f"{name}[{k}]"
        preds[name] = predict_structures(model, structures, threads=threads)
        results[name] = metrics(preds[name])
        if details:
            from ..potential import Potential
            from .details import per_structure

            detail_rows += per_structure(Potential(model, threads=threads), structures,
                                         str(srcs[0]["path"]))
    if plot:
        from .plots import parity

        parity(preds, plot)
    table = format_metrics(results)
    if details:
        from .details import write_details

        written = write_details(detail_rows, details)
        results["details"] = {"files": {k: str(v) for k, v in written["paths"].items()},
                              "calibration": written["calibration"]}
    return results, table


def train(config, overrides=(), *, restart=False, init=None, progress=None) -> dict:
    """Train from a YAML file (or a config dict), export the best model, evaluate it.

    Returns {'model': path, 'metrics': {...}, 'directory': path}."""
    from .plots import learning_curves, parity
    from .log import read_log
    from .trainer import Trainer

    if isinstance(config, dict):
        cfg = validate_config(config)
        cfg["_source"] = "<dict>"
    else:
        cfg = load_config(config, overrides)
    if cfg["committee"] > 1:
        raise ConfigError(f"{cfg['_source']}: committee: {cfg['committee']} trains a committee: "
                          "call kizuna.training.committee.train_committee(config) (what "
                          "`kizuna train` does), or set committee: 1")
    init_model = read_model(init) if init else None
    trainer = Trainer(cfg, restart=restart, init_model=init_model, progress=progress)
    try:
        summary = trainer.fit()
        out_dir = trainer.dir
        results, preds = {}, {}
        model = model_from_checkpoint(trainer.ckpt_path)
        parts = {"train": trainer.run.train, "validation": trainer.run.validation,
                 "test": trainer.run.test}
        for name, prepared in parts.items():
            if prepared:
                preds[name] = predict_structures(model, [p.structure for p in prepared],
                                                 threads=cfg["threads"])
                results[name] = metrics(preds[name])
        for name, m in results.items():
            model.meta[f"{name}_energy_mae_meV_atom"] = f"{m['energy'][0]:.6g}"
            if "forces" in m:
                model.meta[f"{name}_forces_mae_eV_A"] = f"{m['forces'][0]:.6g}"
        model_path = out_dir / cfg["output"]["model_name"]
        write_model(model, model_path)
        table = format_metrics(results)
        (out_dir / "metrics.json").write_text(json.dumps(
            {"summary": summary, "metrics": results}, indent=1))
        if cfg["output"]["plots"]:
            learning_curves(read_log(out_dir / "log.csv"), out_dir / "learning_curves.png")
            parity(preds, out_dir / "parity.png", title=str(model_path))
        trainer.progress.note("errors of the exported model:\n" + table)
        trainer.progress.message(f"best epoch {summary['best_epoch']} of {summary['epochs']}; "
                                 f"model written: {model_path}")
    finally:
        trainer.run.pool.close()
        trainer.close()
    return {"model": model_path, "metrics": results, "directory": out_dir, "table": table}
