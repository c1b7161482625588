"""Small end-to-end training runs (tiny model, a few Si structures): the loss goes down, the
exported model reloads in the core and gives the torch energies and forces, fine-tuning,
export/eval commands, and in-process interruption + resume equality for every stage."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import DATA
from kizuna import Potential
from kizuna.cli import main
from kizuna.errors import ConfigError
from kizuna.model_io import read_model
from kizuna.training import load_config, train
from kizuna.training.log import read_log
from kizuna.training.progress import Progress
from kizuna.training.readers import read_structures
from kizuna.training.trainer import Trainer

SI = DATA / "mlearn" / "Si"


def tiny_config(tmp_path, name="run", **sections):
    cfg = {
        "seed": 3, "threads": 2,
        "output": {"directory": str(tmp_path / name), "progress": "none", "plots": True},
        "data": {"train": str(SI / "Si_train.xyz"), "test": [{"path": str(SI / "Si_test.xyz"),
                                                              "index": ":4"}],
                 "max_structures": 14, "validation_fraction": 0.2},
        "symmetry_functions": {"cutoff": 4.5, "n_radial": 5, "n_angular": 8, "zetas": [1, 4]},
        "model": {"hidden_layers": [6, 6]},
        "loss": {"forces_weight": 0.05},
        "training": {"epochs": 6, "batch_size": 3, "learning_rate": 0.01,
                     "lr_schedule": "constant", "lbfgs_epochs": 0},
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            cfg[section].update(values)
        else:
            cfg[section] = values
    return cfg


def test_training_lowers_loss_and_exports_a_core_model(tmp_path):
    cfg = tiny_config(tmp_path, training={"epochs": 8, "lbfgs_epochs": 3})
    result = train(cfg)
    out = Path(result["directory"])
    for name in ("config.yaml", "split.json", "features.txt", "log.csv", "checkpoint.pt",
                 "model.kzn", "metrics.json", "learning_curves.png", "parity.png"):
        assert (out / name).is_file(), name
    rows = read_log(out / "log.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, 12))
    assert [r["stage"] for r in rows] == ["adam"] * 8 + ["lbfgs"] * 3
    assert float(rows[-1]["val_loss"]) < 0.5 * float(rows[0]["val_loss"])
    model = read_model(result["model"])
    assert model.elements == ["Si"] and model.meta["data_hash"]
    assert json.loads(model.meta["config"])["seed"] == 3
    # the core's energies of the exported model equal the torch network's (best state)
    trainer = Trainer(load_config(out / "config.yaml"), progress=Progress("none"))
    pot = Potential(result["model"], threads=1)
    from kizuna.training.dataset import Batch
    from kizuna.training.loss import predict

    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    trainer.net.load_state_dict(ckpt["best"]["state"])
    batch = Batch(trainer.run.test, ["Si"], trainer.run.pool)
    pred = predict(trainer.net, batch, forces=True)
    forces = np.split(pred["forces"].detach().numpy(), np.cumsum(batch.atom_counts)[:-1])
    for k, p in enumerate(trainer.run.test):
        s = p.structure
        core = pot.compute(s.positions, s.symbols, s.cell, True)
        assert core["energy"] == pytest.approx(pred["energy"][k].item(), rel=1e-10)
        assert np.abs(core["forces"] - forces[k]).max() < 1e-10 * np.abs(core["forces"]).max()
    # reported test metrics are the core's errors on the test structures
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]["test"]
    dE = [(pot.compute(p.structure.positions, p.structure.symbols, p.structure.cell, True)["energy"]
           - p.structure.energy) / len(p.structure) for p in trainer.run.test]
    assert metrics["energy"][0] == pytest.approx(1000 * np.mean(np.abs(dE)), rel=1e-9)


def test_split_files_and_no_overlap(tmp_path):
    cfg = tiny_config(tmp_path, training={"epochs": 1})
    out = Path(train(cfg)["directory"])
    split = json.loads((out / "split.json").read_text())
    assert len(split["train"]) + len(split["validation"]) == 14
    assert not set(split["train"]) & set(split["validation"])
    assert len(split["test"]) == 4 and all("Si_test.xyz" in n for n in split["test"])


class _Interrupt(Exception):
    pass


class _StopAfter(Progress):
    """Raises when epoch ``n`` is reported, i.e. after the epoch ran but before its checkpoint
    was written (what a kill at that moment leaves behind)."""

    def __init__(self, n):
        super().__init__("none")
        self.n, self.count = n, 0

    def epoch(self, text, done=None):
        self.count += 1
        if self.count == self.n:
            raise _Interrupt()


STAGE_TWO = {"epochs": 3, "batch_size": 3, "learning_rate": 0.01, "lbfgs_epochs": 2,
             "stage_two_epochs": 3, "stage_two_learning_rate": 0.003}


@pytest.mark.parametrize("training, stop_at", [
    ({"epochs": 4, "batch_size": 3, "learning_rate": 0.01, "lbfgs_epochs": 4}, 6),   # in L-BFGS
    ({"epochs": 6, "batch_size": 3, "learning_rate": 0.01, "lr_schedule": "plateau",
      "lr_patience": 1, "early_stopping_patience": 50}, 4),                          # plateau
    ({"epochs": 5, "batch_size": 3, "learning_rate": 0.01, "lr_schedule": "cosine",
      "weight_decay": 0.01, "lbfgs_epochs": 2}, 5),                                 # stage edge
    (STAGE_TWO, 6),                                     # edge into the re-weighted second stage
    (STAGE_TWO, 8),                                     # inside the second Adam stage
    (STAGE_TWO, 10),                                    # in the second L-BFGS stage
])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, training, stop_at):
    loss = {"stage_two_energy_weight": 7.0}
    ref_cfg = tiny_config(tmp_path, "ref", training=training, loss=loss)
    train(ref_cfg)
    cut_cfg = tiny_config(tmp_path, "cut", training=training, loss=loss)
    trainer = Trainer(load_config(given=cut_cfg), progress=_StopAfter(stop_at))
    with pytest.raises(_Interrupt):
        trainer.fit()
    trainer.run.pool.close()
    done = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)["epochs_done"]
    assert done == stop_at - 1
    train(cut_cfg)  # resumes
    a = torch.load(tmp_path / "ref" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)
    assert a["epochs_done"] == b["epochs_done"] and a["best"]["epoch"] == b["best"]["epoch"]
    for key, value in a["best"]["state"].items():
        assert torch.equal(value, b["best"]["state"][key]), key
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    ra, rb = read_log(tmp_path / "ref" / "log.csv"), read_log(tmp_path / "cut" / "log.csv")
    assert [r["val_loss"] for r in ra] == [r["val_loss"] for r in rb]


def test_resume_refuses_a_changed_config(tmp_path):
    cfg = tiny_config(tmp_path, training={"epochs": 1})
    train(cfg)
    cfg["model"]["hidden_layers"] = [7, 6]
    with pytest.raises(ConfigError,
                       match=r"config changed since the checkpoint.*model.hidden_layers"):
        train(cfg)
    cfg["model"]["hidden_layers"] = [6, 6]
    cfg["training"]["epochs"] = 2
    with pytest.raises(ConfigError, match=r"\(training.epochs\)"):
        train(cfg)
    cfg["training"]["epochs"] = 1
    cfg["threads"] = 1  # allowed: results do not depend on it
    cfg["output"]["progress"] = "epoch"
    result = train(cfg)
    assert [int(r["epoch"]) for r in read_log(Path(result["directory"]) / "log.csv")] == [1]
    # a run folder moved elsewhere resumes from its new place (finished: nothing to redo)
    moved = tmp_path / "elsewhere" / "run"
    shutil.move(result["directory"], moved)
    cfg["output"]["directory"] = str(moved)
    again = train(cfg)
    assert Path(again["directory"]) == moved
    assert [int(r["epoch"]) for r in read_log(moved / "log.csv")] == [1]


def test_resume_a_checkpoint_of_a_kizuna_without_a_newer_key(tmp_path):
    """A checkpoint written before a config key existed (here data.validation) resumes when
    the config leaves that key at its default, and is refused when it sets it."""
    cfg = tiny_config(tmp_path, training={"epochs": 1})
    result = train(cfg)
    ckpt_path = Path(result["directory"]) / "checkpoint.pt"
    ckpt = torch.load(ckpt_path, weights_only=False)
    del ckpt["config"]["data"]["validation"]
    torch.save(ckpt, ckpt_path)
    again = train(cfg)
    assert [int(r["epoch"]) for r in read_log(Path(again["directory"]) / "log.csv")] == [1]
    cfg["data"]["validation"] = cfg["data"]["train"]
    cfg["data"]["validation_fraction"] = 0.0
    with pytest.raises(ConfigError, match=r"config changed since the checkpoint.*data.validation"):
        train(cfg)


def test_fine_tune_from_a_model_and_cli_export_eval(tmp_path, capsys):
    base = train(tiny_config(tmp_path, "base", training={"epochs": 3}))
    model0 = read_model(base["model"])
    cfg = tiny_config(tmp_path, "tuned", training={"epochs": 2, "learning_rate": 0.001},
                      model={"hidden_layers": [6, 6]})
    cfg["data"]["train"] = [{"path": str(SI / "Si_test.xyz")}]
    cfg["data"]["max_structures"] = None
    tuned = train(cfg, init=base["model"])
    model1 = read_model(tuned["model"])
    em0, em1 = model0.element("Si"), model1.element("Si")
    assert em0.symmetry_functions == em1.symmetry_functions
    assert np.array_equal(em0.members[0].scaling.mean, em1.members[0].scaling.mean)
    assert em0.members[0].energy_offset == em1.members[0].energy_offset
    assert not np.array_equal(em0.members[0].layers[0].weights, em1.members[0].layers[0].weights)
    # CLI: export the best state of a run folder, evaluate it on data
    out = tmp_path / "exported.kzn"
    assert main(["export", str(tmp_path / "tuned"), "-o", str(out)]) == 0
    exported = read_model(out)
    assert exported.meta["data_hash"] == model1.meta["data_hash"]
    for a, b in zip(exported.element("Si").members[0].layers, em1.members[0].layers):
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
    capsys.readouterr()
    assert main(["eval", str(out), str(SI / "Si_test.xyz"), "--json", str(tmp_path / "m.json"),
                 "--plot", str(tmp_path / "p.png")]) == 0
    text = capsys.readouterr().out
    assert "forces on Si" in text and (tmp_path / "p.png").is_file()
    metrics = json.loads((tmp_path / "m.json").read_text())["data"]
    structures = read_structures(SI / "Si_test.xyz")
    pot = Potential(out, threads=1)
    mae = np.mean([abs(pot.compute(s.positions, s.symbols, s.cell, True)["energy"] - s.energy)
                   / len(s) for s in structures]) * 1000
    assert metrics["energy"][0] == pytest.approx(mae, rel=1e-9)


def test_stress_training_on_emt_labels(tmp_path):
    """Energies, forces and stresses from ASE's EMT (an independent reference) written to
    extxyz; training with a stress weight lowers the stress error, and the exported model's
    stress (ASE calculator) is what the log reports."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    rng = np.random.default_rng(0)
    frames = []
    for k in range(12):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
        strain = np.eye(3) + rng.normal(0, 0.02, (3, 3))
        atoms.set_cell(atoms.cell @ strain, scale_atoms=True)
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        atoms.calc = EMT()
        e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
        frames.append(atoms)
    write(tmp_path / "cu.extxyz", frames)
    cfg = tiny_config(tmp_path, "stress", loss={"forces_weight": 0.05, "stress_weight": 100.0},
                      training={"epochs": 30, "batch_size": 3, "learning_rate": 0.01,
                                "lr_schedule": "constant"})
    cfg["data"] = {"train": str(tmp_path / "cu.extxyz"), "validation_fraction": 0.25}
    result = train(cfg)
    rows = read_log(Path(result["directory"]) / "log.csv")
    best = [r for r in rows if r["best"] == "1"][-1]  # the exported (best) epoch
    assert float(best["val_stress_rmse_GPa"]) < 0.5 * float(rows[0]["val_stress_rmse_GPa"])
    from kizuna import Calculator
    from kizuna.training.readers import EV_PER_A3_IN_GPA

    split = json.loads((Path(result["directory"]) / "split.json").read_text())
    val = [frames[int(n.rsplit("#", 1)[1])] for n in split["validation"]]
    errors = []
    for atoms in val:
        ref = atoms.get_stress()
        a = atoms.copy()
        a.calc = Calculator(result["model"], threads=1, extrapolation="ignore")
        errors.append(a.get_stress() - ref)
    rmse = np.sqrt(np.mean(np.square(errors))) * EV_PER_A3_IN_GPA
    assert rmse == pytest.approx(float(best["val_stress_rmse_GPa"]), rel=1e-5)


def test_results_do_not_depend_on_the_number_of_threads(tmp_path):
    """Each structure's core operators run in one single-threaded engine, whatever the number
    of workers, so 1 and 2 threads give bit-identical weights."""
    states = []
    for threads in (1, 2):
        cfg = tiny_config(tmp_path, f"threads{threads}",
                          training={"epochs": 3, "lbfgs_epochs": 1})
        cfg["threads"] = threads
        train(cfg)
        states.append(torch.load(tmp_path / f"threads{threads}" / "checkpoint.pt",
                                 weights_only=False)["model"])
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key


def test_committee_training_merges_members_that_equal_their_single_runs(tmp_path, capsys):
    """`kizuna train --committee 3`: three seeds, one model file; each member of the committee
    computes exactly what its own run's model computes, and the committee mean is their mean."""
    import yaml

    cfg = tiny_config(tmp_path, "com", training={"epochs": 2})
    cfg["output"]["plots"] = False
    path = tmp_path / "com.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path), "--committee", "3"]) == 0
    assert "committee:" in capsys.readouterr().out
    committee = Potential(tmp_path / "com" / "committee.kzn", threads=1)
    assert committee.model.committee_size == 3
    s = read_structures(SI / "Si_test.xyz")[0]
    out = committee.compute(s.positions, s.symbols, s.cell, True, member_energies=True)
    singles = []
    for k in range(3):
        single = Potential(tmp_path / "com" / f"member{k}" / "model.kzn", threads=1)
        singles.append(single.compute(s.positions, s.symbols, s.cell, True))
    energies = [r["energy"] for r in singles]
    assert len(set(np.round(energies, 9))) == 3  # different seeds: different members
    assert out["energy"] == pytest.approx(np.mean(energies), rel=1e-12)
    assert np.allclose(out["forces"], np.mean([r["forces"] for r in singles], axis=0),
                       rtol=0, atol=1e-12)
    assert np.allclose(out["member_energies"], energies, rtol=1e-12, atol=0)
    with pytest.raises(ConfigError, match="at least 2"):
        from kizuna.cli.train import run as run_train
        import argparse
        run_train(argparse.Namespace(config=str(path), overrides=[], check=False, restart=False,
                                     init=None, committee=1))


def test_huber_loss_run_reaches_the_loss_and_differs_from_mse(tmp_path):
    """loss.function: huber goes from the config to the trainer: with deltas far below the
    residuals the training differs from the mean-square run, and its reported errors (always
    RMSE/MAE) still go down."""
    mse = train(tiny_config(tmp_path, "mse"))
    huber_cfg = tiny_config(tmp_path, "huber", loss={"function": "huber",
                                                     "huber_delta_forces": 0.01,
                                                     "huber_delta_energy": 1e-4})
    huber = train(huber_cfg)
    used = json.loads(read_model(huber["model"]).meta["config"])["loss"]
    assert used["function"] == "huber" and used["huber_delta_forces"] == 0.01
    rows = read_log(Path(huber["directory"]) / "log.csv")
    assert float(rows[-1]["val_forces_rmse_eV_A"]) < float(rows[0]["val_forces_rmse_eV_A"])
    s = read_structures(SI / "Si_test.xyz")[0]
    energies = [Potential(r["model"], threads=1).compute(s.positions, s.symbols, s.cell,
                                                          s.pbc)["energy"] for r in (mse, huber)]
    assert abs(energies[0] - energies[1]) > 1e-6


def test_stage_two_reweights_the_loss(tmp_path):
    """stage_two_epochs adds Adam ("adam2") and L-BFGS ("lbfgs2") stages whose loss uses
    stage_two_energy_weight; the validation loss logged there is the re-weighted one."""
    training = {"epochs": 4, "lbfgs_epochs": 2, "stage_two_epochs": 3}
    one = train(tiny_config(tmp_path, "one", training={**training, "stage_two_epochs": 0}))
    two = train(tiny_config(tmp_path, "two", training=training,
                            loss={"stage_two_energy_weight": 50.0}))
    rows_one = read_log(Path(one["directory"]) / "log.csv")
    rows = read_log(Path(two["directory"]) / "log.csv")
    assert [r["stage"] for r in rows] == ["adam"] * 4 + ["lbfgs"] * 2 + ["adam2"] * 3 + \
        ["lbfgs2"] * 2
    # the first six epochs are the single-stage run's, to the bit
    assert [r["val_loss"] for r in rows[:6]] == [r["val_loss"] for r in rows_one]

    # val_loss = w_E MSE_E + w_F MSE_F with the stage's weights
    def loss_of(row, w_e):
        return w_e * (float(row["val_energy_rmse_meV_atom"]) / 1000) ** 2 + \
            0.05 * float(row["val_forces_rmse_eV_A"]) ** 2
    for row in rows[:6]:
        assert float(row["val_loss"]) == pytest.approx(loss_of(row, 1.0), rel=1e-4)
    for row in rows[6:]:
        assert float(row["val_loss"]) == pytest.approx(loss_of(row, 50.0), rel=1e-4)
    # the re-weighted stages are a new objective: the model comes from them
    assert json.loads(read_model(two["model"]).meta["best_epoch"]) > 6


def test_weighted_mode_trains_on_a_binary_and_the_core_reproduces_torch(tmp_path):
    """element_mode: weighted on EMT Cu-Ag frames (training through the core's jvp/vjp of the
    weighted kinds): the loss goes down, the model has the weight table and as many functions
    as one element's pair set would, and the core's energies and forces equal the torch
    network's (the exported, best state)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    rng = np.random.default_rng(1)
    frames = []
    for k in range(10):
        atoms = bulk("Cu", "fcc", a=3.75, cubic=True).repeat((2, 2, 2))
        atoms.symbols[rng.random(len(atoms)) < 0.4] = "Ag"
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        atoms.calc = EMT()
        e, f = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f)
        frames.append(atoms)
    write(tmp_path / "cuag.extxyz", frames)
    cfg = tiny_config(tmp_path, "weighted", training={"epochs": 8, "batch_size": 3,
                                                       "learning_rate": 0.01,
                                                       "lr_schedule": "constant"})
    cfg["symmetry_functions"].update({"element_mode": "weighted", "channels": 2})
    cfg["data"] = {"train": str(tmp_path / "cuag.extxyz"), "validation_fraction": 0.2}
    result = train(cfg)
    out = Path(result["directory"])
    rows = read_log(out / "log.csv")
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])
    model = read_model(result["model"])
    assert model.channel_weights == {"Cu": (1.0, -1.0), "Ag": (1.0, 1.0)} or \
        model.channel_weights == {"Ag": (1.0, 1.0), "Cu": (1.0, -1.0)}
    assert model.element("Cu").num_features == 2 * (5 + 8)
    trainer = Trainer(load_config(out / "config.yaml"), progress=Progress("none"))
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    trainer.net.load_state_dict(ckpt["best"]["state"])
    from kizuna.training.dataset import Batch
    from kizuna.training.loss import predict

    prepared = trainer.run.validation
    batch = Batch(prepared, trainer.run.elements, trainer.run.pool)
    pred = predict(trainer.net, batch, forces=True)
    forces = np.split(pred["forces"].detach().numpy(), np.cumsum(batch.atom_counts)[:-1])
    pot = Potential(result["model"], threads=1)
    for k, p in enumerate(prepared):
        s = p.structure
        core = pot.compute(s.positions, s.symbols, s.cell, True)
        assert core["energy"] == pytest.approx(pred["energy"][k].item(), rel=1e-10)
        assert np.abs(core["forces"] - forces[k]).max() < 1e-10 * np.abs(core["forces"]).max()
