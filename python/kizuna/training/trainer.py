"""The training loop: epochs, validation, early stopping, checkpoints and resume.

Run folder (``output.directory``): ``config.yaml`` (validated config; ``config.resolved.yaml``
when a ``config.yaml`` of the user's is there), ``split.json``, ``features.txt`` (feature
report), ``log.csv``, ``train.log`` (text log), ``checkpoint.pt`` (after every epoch),
``model.kzn`` (best validation state, exported), ``metrics.json``, PNG plots, and
``.kizuna.lock`` (held while a run is going on: one run per folder).

Resume: ``kizuna train`` on a folder with a checkpoint continues after the last completed
epoch. Everything that decides the next epoch is in the checkpoint (weights, optimiser and
scheduler state, best state, patience, RNG states) and the batch order of epoch k is a
permutation drawn from (seed, k), so an interrupted-and-resumed run ends with the same weights
as an uninterrupted one.
"""
from __future__ import annotations

import copy
import json
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ConfigError
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .dataset import Batch
from .ema import WeightAverage
from .epochs import NonFiniteLoss, adam_epoch, evaluate_batches, lbfgs_epoch, selection_metric
from .log import CsvLog
from .loss import LossWeights
from .optim import current_lr, make_optimizer, make_scheduler, step_scheduler
from .progress import Progress
from ..runfolder import RunLock, write_resolved_config
from .readers import EV_PER_A3_IN_GPA
from .setup import RunData, build_run, new_network, numpy_args

#: config keys that may change when a run is resumed (any other change would make the resumed
#: run differ from an uninterrupted one; to train further, fine-tune with --init)
# config keys that may differ when a run is resumed (none changes the result; a run folder
# may be moved and resumed from its new place)
RESUMABLE_CHANGES = {("training", "early_stopping_patience"), ("output", "progress"),
                     ("output", "plots"), ("output", "directory"), ("threads",), ("committee",)}


def _flatten(cfg, prefix=()):
    out = {}
    for k, v in cfg.items():
        if k.startswith("_"):
            continue
        if isinstance(v, dict) and prefix + (k,) not in {("model", "reference_energies")}:
            out.update(_flatten(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = v
    return out


def _schema_default(keys):
    """The default of the config key ``keys`` (a tuple), or a marker that equals nothing: a key
    that a later kizuna added is absent from an older checkpoint's config, which resumes when
    the current config leaves that key at its default."""
    from .config import SCHEMA, Opt

    node = SCHEMA
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return copy.deepcopy(node.default) if isinstance(node, Opt) else object()


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


@dataclass(frozen=True)
class Stage:
    """One stage of a run: the log/progress label, the optimiser, its epochs, the loss
    weights and the (initial) learning rate."""
    label: str
    optimizer: str
    epochs: int
    weights: LossWeights
    learning_rate: float


def loss_weights(cfg, energy_weight=None, forces_weight=None) -> LossWeights:
    lc = cfg["loss"]
    return LossWeights(lc["energy_weight"] if energy_weight is None else energy_weight,
                       lc["forces_weight"] if forces_weight is None else forces_weight,
                       lc["stress_weight"], lc["function"], lc["huber_delta_energy"],
                       lc["huber_delta_forces"], lc["huber_delta_stress"])


def stages(cfg) -> list:
    """The stages of a run: the main optimiser, an optional L-BFGS polish, then, with
    ``stage_two_epochs`` > 0, a second stage that re-weights the loss (Adam for
    stage_two_epochs at stage_two_learning_rate with stage_two_energy/forces_weight, then the
    same number of L-BFGS iterations as the first polish)."""
    t, lc = cfg["training"], cfg["loss"]
    first = loss_weights(cfg)
    out = [Stage(t["optimizer"], t["optimizer"], t["epochs"], first, t["learning_rate"])]
    if t["lbfgs_epochs"] and t["optimizer"] != "lbfgs":
        out.append(Stage("lbfgs", "lbfgs", t["lbfgs_epochs"], first, t["learning_rate"]))
    if t["stage_two_epochs"]:
        second = loss_weights(cfg, lc["stage_two_energy_weight"], lc["stage_two_forces_weight"])
        out.append(Stage("adam2", "adam", t["stage_two_epochs"], second,
                         t["stage_two_learning_rate"]))
        if t["lbfgs_epochs"]:
            out.append(Stage("lbfgs2", "lbfgs", t["lbfgs_epochs"], second,
                             t["stage_two_learning_rate"]))
    return out


class Trainer:
    def __init__(self, cfg: dict, *, restart=False, init_model=None, progress=None):
        self.cfg = cfg
        self.dir = Path(cfg["output"]["directory"])
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_path = self.dir / "checkpoint.pt"
        # one run per folder: a second `kizuna train` here stops, naming the holder
        self.lock = RunLock(self.dir, "kizuna train").acquire()
        self.progress = progress or Progress(cfg["output"]["progress"])
        try:
            self.progress.log_to(self.dir / "train.log")
            self._setup(cfg, restart, init_model)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the run folder (lock) and close the progress display and the text log."""
        self.progress.close()
        self.lock.release()

    def _setup(self, cfg, restart, init_model):
        from .. import __version__

        self.progress.note(f"kizuna {__version__} train: config {cfg.get('_source', '?')}, "
                           f"run folder {self.dir.resolve()}")
        self.weights = loss_weights(cfg)  # of the current stage (see fit)
        torch.set_num_threads(cfg["threads"])
        self.resume_state = None
        if self.ckpt_path.is_file() and not restart:
            self.resume_state = load_checkpoint(self.ckpt_path)
            self._check_resumable(self.resume_state["config"])
            if init_model is not None and not self.resume_state.get("init_model"):
                raise ConfigError(f"{self.dir} holds a run that did not start from --init; use "
                                  "another output.directory or --restart")
        if self.resume_state is not None and self.resume_state.get("init_model"):
            from ..model_io import model_from_string

            init_model = model_from_string(self.resume_state["init_model"], "<checkpoint>")
        self.init_model = init_model
        self.run: RunData = build_run(cfg, init_model)
        if self.resume_state is not None and self.resume_state["split"] != self.run.split:
            raise ConfigError(f"{self.ckpt_path}: the data or split differ from the interrupted "
                              "run's; use --restart or another output.directory")
        self.net = new_network(self.run, cfg["seed"])
        self.val_batches = self._chunks(self.run.validation)
        self.has_stress = any(p.stress is not None for p in self.run.train)
        self.use_stress = self.has_stress and self.weights.stress > 0

    # ---------------------------------------------------------------------------- helpers
    def _check_resumable(self, old: dict):
        a, b = _flatten(old), _flatten(self.cfg)
        changed = sorted(".".join(k) for k in set(a) | set(b)
                         if a.get(k) != b.get(k) and k not in RESUMABLE_CHANGES
                         and not (k not in a and b[k] == _schema_default(k)))
        if changed:
            raise ConfigError(f"{self.dir}: the config changed since the checkpoint was written "
                              f"({', '.join(changed)}); resume with the same config, or use "
                              "--restart / another output.directory")

    def _chunks(self, prepared, size=32) -> list:
        return [Batch(prepared[k:k + size], self.run.elements, self.run.pool)
                for k in range(0, len(prepared), size)]

    # ------------------------------------------------------------------------------- fit
    def fit(self) -> dict:
        """Run (or continue) every stage; leaves the best weights in ``self.net``. If it
        fails, the run folder is released (``close``)."""
        try:
            return self._fit()
        except BaseException:
            self.close()
            raise

    def _fit(self) -> dict:
        cfg, t = self.cfg, self.cfg["training"]
        plan = stages(cfg)
        total_epochs = sum(stage.epochs for stage in plan)
        state = self.resume_state
        if state is None:
            (self.dir / "split.json").write_text(json.dumps(self.run.split, indent=1))
            self._write_config()
            self._write_feature_report()
            done, stage_index, stage_start, best, patience = 0, 0, 0, None, 0
            log = CsvLog(self.dir / "log.csv", keep_epochs=-1)
        else:
            done, stage_index = state["epochs_done"], state["stage"]
            best, patience, stage_start = state["best"], state["patience"], state["stage_start"]
            self.net.load_state_dict(state["model"])
            set_rng_state(state["rng"])
            log = CsvLog(self.dir / "log.csv", keep_epochs=done)
            self.progress.message(f"resuming {self.dir} after epoch {done}")
        self.progress.start(total_epochs, done, desc=f"train {self.dir.name}")
        chunks_train = None
        while stage_index < len(plan):
            stage = plan[stage_index]
            name, label, n_epochs = stage.optimizer, stage.label, stage.epochs
            t_stage = {**t, "learning_rate": stage.learning_rate}
            opt = make_optimizer(name, self.net.parameters(), t_stage)
            sched = make_scheduler(opt, name, t_stage, n_epochs)
            ema = WeightAverage(self.net, t["ema_decay"]) if name == "adam" and t["ema_decay"] \
                else None
            mid_stage = state is not None and state["stage"] == stage_index and \
                bool(state["optimizer"])
            if not mid_stage and stage.weights != self.weights:
                # new loss weights = a new objective: the selection starts again, and the
                # model of the run is the best state of the re-weighted stages
                best = None
            self.weights = stage.weights
            if mid_stage:
                opt.load_state_dict(state["optimizer"])
                if sched is not None and state["scheduler"] is not None:
                    sched.load_state_dict(state["scheduler"])
                if ema is not None:
                    ema.load_state_dict(state["ema"])
            state = None
            if name == "lbfgs" and chunks_train is None:
                chunks_train = self._chunks(self.run.train, t["lbfgs_batch_size"])
            stop = False
            while done - stage_start < n_epochs and not stop:
                start = time.perf_counter()
                try:
                    train, val, metric, improved, best = self._epoch(
                        name, label, opt, ema, chunks_train, done, total_epochs, best)
                except NonFiniteLoss as exc:
                    kept = (f"checkpoint.pt keeps epoch {done}" if done else
                            "no epoch was completed")
                    text = (f"{self.dir}: {label} epoch {done + 1}/{total_epochs}, {exc}: "
                            f"training diverged and is stopped ({kept}). Lower "
                            "training.learning_rate (or stage_two_learning_rate), set "
                            "training.gradient_clip, or check the data for outliers; then "
                            "train again with --restart")
                    self.progress.close_bar()
                    self.progress.note(f"error: {text}")
                    raise NonFiniteLoss(text) from None
                lr = current_lr(opt) if name != "lbfgs" else float("nan")
                step_scheduler(sched, metric)
                done += 1
                patience = 0 if improved else patience + 1
                limit = t["early_stopping_patience"]
                stop = limit is not None and patience >= limit
                log.append(self._log_row(done, label, lr, train, val, improved,
                                         time.perf_counter() - start))
                self.progress.epoch(self._epoch_text(done, total_epochs, label, train, val,
                                                     improved), done)
                finished = stop or done - stage_start >= n_epochs
                self._save(done, stage_index, stage_start, finished, opt, sched, ema, best,
                           patience)
                if stop:
                    self.progress.message(f"early stopping: no better validation "
                                          f"{t['validation_metric']} for {limit} epochs")
            # the next stage starts from the best state so far
            if best is not None:
                self.net.load_state_dict(best["state"])
            stage_start, patience = done, 0
            stage_index += 1
        if best is not None:
            self.net.load_state_dict(best["state"])
        self.progress.close_bar()
        return {"epochs": done, "best_epoch": best["epoch"] if best else 0}

    def _epoch(self, name, label, opt, ema, chunks_train, done, total_epochs, best):
        """One epoch of optimiser ``name`` and its validation: (train errors, validation
        errors, selection metric, improved, best state)."""
        cfg, t = self.cfg, self.cfg["training"]
        if name == "lbfgs":
            train = lbfgs_epoch(self.net, opt, chunks_train, self.weights,
                                stress=self.use_stress)
            if train["restarted"]:
                self.progress.message("L-BFGS: line search made no progress; memory "
                                      "cleared (restart from steepest descent)")
        else:
            def on_batch(k, n, e, f, _epoch=done):
                self.progress.batch(_epoch, total_epochs, label, k, n, e, f)

            train = adam_epoch(self.net, opt, self.run, self.weights, seed=cfg["seed"],
                               epoch=done, batch_size=t["batch_size"],
                               stress=self.use_stress, clip=t["gradient_clip"], ema=ema,
                               on_batch=on_batch)
        with (ema.applied(self.net) if ema is not None else nullcontext()):
            val = evaluate_batches(self.net, self.val_batches, self.weights,
                                   stress=self.has_stress)
            metric = selection_metric(t["validation_metric"], val, self.weights, train["loss"])
            improved = best is None or metric < best["metric"]
            if improved:
                best = {"metric": metric, "epoch": done + 1,
                        "state": copy.deepcopy(self.net.state_dict())}
                if self.net.contraction is not None:
                    best["scalings"] = self._learned_scalings()
        return train, val, metric, improved, best

    def _save(self, done, stage_index, stage_start, finished, opt, sched, ema, best, patience):
        """Checkpoint after an epoch; at the end of a stage it points at the next stage and
        holds the best weights (where the next stage starts)."""
        save_checkpoint(self.ckpt_path, {
            "config": {k: v for k, v in self.cfg.items() if not k.startswith("_")},
            "split": self.run.split, "epochs_done": done,
            "stage": stage_index + 1 if finished else stage_index,
            "stage_start": done if finished else stage_start,
            "optimizer": None if finished else opt.state_dict(),
            "scheduler": None if (finished or sched is None) else sched.state_dict(),
            "ema": None if (finished or ema is None) else ema.state_dict(),
            "model": best["state"] if finished else self.net.state_dict(),
            "best": best, "patience": 0 if finished else patience,
            "rng": rng_state(), "export": self._export_info(),
            "learned_scalings": None if self.net.contraction is None else
            (best["scalings"] if finished and best else self._learned_scalings()),
            "init_model": self.init_model.to_string() if self.init_model else None})

    # ---------------------------------------------------------------------------- records
    def _learned_scalings(self) -> dict:
        """Scalings from the training statistics of the weighted features with the current
        learned weights (what the exported model file holds, learned_weights.py)."""
        from .learned_weights import weighted_statistics
        from .statistics import make_scaling

        m = self.cfg["model"]
        stats = weighted_statistics(self.net.contraction, self.run.train)
        return {e: make_scaling(stats[e], m["scaling"], m["scale_min"], m["scale_max"])
                for e in self.run.elements}

    def _export_info(self) -> dict:
        return {"elements": self.run.elements, "sfs": self.run.sfs,
                "scalings": self.run.scalings, "model_args": numpy_args(self.run.model_args),
                "data_hash": self.run.data_hash}

    def _write_config(self):
        path = write_resolved_config(self.dir, self.cfg)
        if path.name != "config.yaml":
            self.progress.message(f"{self.dir / 'config.yaml'} is not a file kizuna wrote (your "
                                  f"own config?): left alone; the validated config is in {path}")

    def _write_feature_report(self):
        from .report import feature_report, format_feature_report

        prepared = self.run.train
        if self.net.contraction is not None:  # cached features are the resolved ones
            from .learned_weights import contracted

            prepared = contracted(self.net.contraction, prepared)
        text = format_feature_report(feature_report(prepared, self.run.elements,
                                                    self.run.sfs), self.run.sfs)
        (self.dir / "features.txt").write_text(text + "\n")
        for line in text.splitlines():
            if " constant, " in line:  # one summary line per element
                self.progress.message(f"features {line.strip()} (see {self.dir}/features.txt)")

    def _log_row(self, epoch, stage, lr, train, val, best, seconds) -> dict:
        row = {"epoch": epoch, "stage": stage, "lr": f"{lr:.6g}",
               "train_loss": f"{train['loss']:.8g}",
               "train_energy_rmse_meV_atom": f"{train['energy_rmse'] * 1000:.6g}",
               "train_forces_rmse_eV_A": f"{train['forces_rmse']:.6g}",
               "best": int(best), "seconds": f"{seconds:.3f}", "rss_MB": f"{_rss_mb():.1f}"}
        if val:
            row.update({"val_loss": f"{val['loss']:.8g}",
                        "val_energy_rmse_meV_atom": f"{val['energy_rmse'] * 1000:.6g}",
                        "val_energy_mae_meV_atom": f"{val['energy_mae'] * 1000:.6g}"})
            if "forces_rmse" in val:
                row.update({"val_forces_rmse_eV_A": f"{val['forces_rmse']:.6g}",
                            "val_forces_mae_eV_A": f"{val['forces_mae']:.6g}"})
            if "stress_rmse" in val:
                row["val_stress_rmse_GPa"] = f"{val['stress_rmse'] * EV_PER_A3_IN_GPA:.6g}"
        return row

    @staticmethod
    def _epoch_text(done, total, stage, train, val, best) -> str:
        text = (f"{stage:5s} epoch {done:4d}/{total}  train E {train['energy_rmse'] * 1000:7.2f} "
                f"meV/atom F {train['forces_rmse']:.4f} eV/Å")
        if val:
            text += (f" | val E {val['energy_mae'] * 1000:6.2f}/{val['energy_rmse'] * 1000:6.2f} "
                     f"meV/atom")
            if "forces_mae" in val:
                text += f" F {val['forces_mae']:.4f}/{val['forces_rmse']:.4f} eV/Å (MAE/RMSE)"
        return text + ("  *" if best else "")
