"""Element-channel weights learned during training (symmetry_functions.learn_weights).

Proves: the contraction G = Gres M(w) of the core's element-resolved features equals the core's
own weighted features for every weighted kind and arbitrary weights (so training sees exactly
the features the exported model computes); energies, forces and stress are differentiable
w.r.t. the weights with gradients that agree with finite differences (torch gradcheck, double
precision, through the core's vjp/jvp); a training run changes the weights, the exported model
carries them with statistics recomputed for them, and the core (ASE calculator) reproduces the
torch energies and forces to 1e-10, and so does LAMMPS (pair_style kizuna); refolding a scaling into the first layer is exact; bad
combinations are refused.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import model_factory as mf
from kizuna.errors import ConfigError
from kizuna.model import Scaling
from kizuna.training.dataset import Batch, EnginePool, prepare
from kizuna.training.engine import DescriptorEngine
from kizuna.training.learned_weights import WeightContraction, fold_scaling
from kizuna.training.loss import predict
from kizuna.training.nets import AtomicEnergyModel
from kizuna.training.structure import Structure

ELEMENTS = ["H", "C", "O"]
WEIGHTS = {"H": (1.0, 0.3), "C": (0.8, -0.7), "O": (1.2, 1.9)}
KINDS = ("weighted_radial", "weighted_angular_narrow", "weighted_angular_wide",
         "weighted_compact_radial", "weighted_compact_angular_wide",
         "weighted_compact_angular_narrow")
CELL = np.array([[5.2, 0.0, 0.0], [1.1, 4.9, 0.0], [-0.6, 0.8, 5.4]])


def weighted_sfs(kinds=KINDS, rc=4.0):
    sfs = mf.weighted_sfs(kinds, channels=(1, 2), rc=rc)
    for sf in sfs:
        sf.element_weights = tuple((e, WEIGHTS[e][sf.channel - 1]) for e in ELEMENTS)
    return {e: list(sfs) for e in ELEMENTS}


def structures(n=2, seed=4):
    out = []
    for k in range(n):
        pos, symbols = mf.random_periodic_structure(CELL, n=7, seed=seed + k, min_distance=1.0,
                                                    symbols_pool=ELEMENTS)
        s = Structure(list(symbols), pos, CELL.copy(), (True, True, True), energy=0.0,
                      forces=np.zeros((len(symbols), 3)), stress=np.zeros(6), name=f"s{k}")
        s.bind(ELEMENTS)
        out.append(s)
    return out


def test_contraction_equals_the_core_weighted_features():
    sfs = weighted_sfs()
    con = WeightContraction(sfs, ELEMENTS)
    # resolved set = the pair set: per element n_radial radial, per pair n_angular angular
    assert len(con.resolved_sfs["H"]) == 5 * 3 + 12 * 6
    weighted = DescriptorEngine(ELEMENTS, sfs)
    resolved = DescriptorEngine(ELEMENTS, con.resolved_sfs)
    for s in structures(3):
        G, off = weighted.descriptors(s)
        Gr, offr = resolved.descriptors(s)
        for i, e in enumerate(s.symbols):
            got = con(e, torch.from_numpy(Gr[offr[i]:offr[i + 1]][None, :]))[0].detach().numpy()
            want = G[off[i]:off[i + 1]]
            assert np.abs(got - want).max() <= 1e-12 * max(1.0, np.abs(want).max())


def _net(sfs, seed=0):
    torch.manual_seed(seed)
    n = len(sfs["H"])
    rng = np.random.default_rng(seed)
    return AtomicEnergyModel(ELEMENTS, {e: n for e in ELEMENTS}, [6], ["tanh"],
                             shift={e: rng.normal(0, 0.1, n) for e in ELEMENTS},
                             factor={e: rng.uniform(0.2, 0.6, n) for e in ELEMENTS}, smin=0.0,
                             energy_offset={e: -1.0 for e in ELEMENTS}, energy_scale=0.7,
                             weighted_sfs=sfs)


@pytest.mark.parametrize("kinds", [KINDS[:3], KINDS[3:]], ids=["gaussian", "compact"])
def test_gradcheck_energy_forces_stress_wrt_weights(kinds):
    sfs = weighted_sfs(kinds)
    net = _net(sfs)
    pool = EnginePool(ELEMENTS, net.contraction.resolved_sfs)
    batch = Batch(prepare(pool, structures(2), ELEMENTS), ELEMENTS, pool)
    w0 = net.contraction.weights.detach().clone()
    del net.contraction.weights  # replaced by the gradcheck input below

    def outputs(w):
        net.contraction.weights = w
        pred = predict(net, batch, forces=True, stress=True, create_graph=True)
        return pred["energy"], pred["forces"], pred["stress"]

    w = w0.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(outputs, (w,), eps=1e-6, atol=1e-7, rtol=1e-5)
    # and the second order the loss's backward through the force term uses (dF/dw . v)
    assert torch.autograd.gradgradcheck(lambda w: outputs(w)[1], (w,), eps=1e-6, atol=1e-6,
                                        rtol=1e-4)


def test_fold_scaling_is_the_same_function():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(4, 5)), rng.normal(size=4)
    G = rng.normal(size=(3, 5))
    old = (rng.normal(size=5), np.array([0.5, 0.0, 2.0, 1.0, 0.3]), -1.0)
    lo, hi = rng.normal(size=5) - 2, rng.normal(size=5) + 2
    new = Scaling("scale_sigma", -1.0, 1.0, lo, hi, rng.normal(size=5),
                  rng.uniform(0.5, 2, 5)).shift_factor()
    W2, b2 = fold_scaling(W, b, old, new)
    x_old = old[2] + old[1] * (G - old[0])
    x_new = new[2] + new[1] * (G - new[0])
    assert np.allclose(x_old @ W.T + b, x_new @ W2.T + b2, rtol=0, atol=1e-13)
    constant = (new[0], np.array([0.0, 1.0, 1.0, 1.0, 1.0]), -1.0)  # feature 0 now constant
    assert fold_scaling(W, b, old, constant) is None


def _emt_frames(path, n=10, seed=1):
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", a=3.8, cubic=True).repeat((2, 2, 2))
        draw = rng.random(len(atoms))
        atoms.symbols[draw < 0.33] = "Ag"
        atoms.symbols[draw > 0.67] = "Au"
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        atoms.calc = EMT()
        e, f = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f)
        frames.append(atoms)
    write(path, frames)


def _config(tmp_path, **sf):
    return {
        "seed": 3, "threads": 1,
        "output": {"directory": str(tmp_path / "run"), "progress": "none", "plots": False},
        "data": {"train": str(tmp_path / "alloy.extxyz"), "validation_fraction": 0.2},
        "symmetry_functions": {"cutoff": 4.5, "n_radial": 4, "n_angular": 8, "zetas": [1, 4],
                               "element_mode": "weighted", "channels": 2,
                               "learn_weights": True, **sf},
        "model": {"hidden_layers": [6]},
        "loss": {"forces_weight": 0.05},
        "training": {"epochs": 5, "batch_size": 2, "learning_rate": 0.02,
                     "lr_schedule": "constant", "lbfgs_epochs": 2},
    }


@pytest.fixture(scope="module")
def learned_run(tmp_path_factory):
    """A short run with learned weights on EMT Cu-Ag-Au frames: (result, trainer with the best
    state, prepared structures (3 training, then validation), torch energies, forces)."""
    from kizuna.training import train
    from kizuna.training.config import load_config
    from kizuna.training.progress import Progress
    from kizuna.training.trainer import Trainer

    tmp_path = tmp_path_factory.mktemp("learned")
    _emt_frames(tmp_path / "alloy.extxyz")
    result = train(_config(tmp_path))
    out = Path(result["directory"])
    trainer = Trainer(load_config(out / "config.yaml"), progress=Progress("none"))
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    trainer.net.load_state_dict(ckpt["best"]["state"])
    prepared = trainer.run.train[:3] + trainer.run.validation
    batch = Batch(prepared, trainer.run.elements, trainer.run.pool)
    pred = predict(trainer.net, batch, forces=True)
    forces = np.split(pred["forces"].detach().numpy(), np.cumsum(batch.atom_counts)[:-1])
    yield result, trainer, prepared, pred["energy"].detach().numpy(), forces
    trainer.run.pool.close()
    trainer.close()


def test_learned_weights_are_exported_with_their_statistics(learned_run):
    from kizuna.model_io import read_model
    from kizuna.training.learned_weights import weighted_statistics
    from kizuna.training.symmetry import channel_weights

    result, trainer, *_ = learned_run
    model = read_model(result["model"])
    fixed = channel_weights(["Cu", "Ag", "Au"], 2)
    learned = model.channel_weights
    assert max(abs(a - b) for e in fixed for a, b in zip(fixed[e], learned[e])) > 1e-4
    assert model.element("Cu").num_features == 2 * (4 + 8)
    assert model.meta["learned_weights"] == "yes"
    # the file's statistics are those of the learned features over the training atoms
    stats = weighted_statistics(trainer.net.contraction, trainer.run.train)
    for e in ("Cu", "Ag", "Au"):
        sc = model.element(e).members[0].scaling
        for got, want in zip((sc.minimum, sc.maximum, sc.mean, sc.sigma), stats[e]):
            assert np.allclose(got, want, rtol=1e-12, atol=1e-14)


def test_ase_calculator_reproduces_torch(learned_run):
    from kizuna import Calculator
    from kizuna.calculator import ExtrapolationWarning

    result, _, prepared, energies, forces = learned_run
    calc = Calculator(result["model"])
    for k, p in enumerate(prepared):
        atoms = p.structure.to_atoms()
        atoms.calc = calc
        with warnings.catch_warnings():
            if k < 3:  # a training structure lies in the file's (refreshed) training range
                warnings.simplefilter("error", ExtrapolationWarning)
            else:
                warnings.simplefilter("ignore", ExtrapolationWarning)
            e = atoms.get_potential_energy()
        assert abs(e - energies[k]) <= 1e-10 * max(1.0, abs(e))
        f = atoms.get_forces()
        assert np.abs(f - forces[k]).max() < 1e-10 * max(1.0, np.abs(f).max())


def test_lammps_reproduces_torch(learned_run, tmp_path):
    """pair_style kizuna with the learned model gives the torch energy and forces."""
    try:
        import kizuna.lammps as klammps

        klammps.plugin_path()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"LAMMPS plugin not built: {exc}")
    from ase.calculators.lammps import Prism
    from ase.io import write

    result, _, prepared, energies, all_forces = learned_run
    s, energy, forces = prepared[-1].structure, energies[-1], all_forces[-1]
    write(tmp_path / "s.data", s.to_atoms(), format="lammps-data",
          specorder=["Cu", "Ag", "Au"], masses=True)
    script = ("units metal\natom_style atomic\nboundary p p p\nread_data s.data\n"
              "plugin load ${kizuna_plugin}\n"
              f"pair_style kizuna {result['model']} extrapolation ignore\n"
              "pair_coeff * * Cu Ag Au\n"
              "thermo_style custom step pe\nthermo_modify format float %.17g\n"
              "dump d all custom 1 f.dump id fx fy fz\n"
              "dump_modify d format float %.17g sort id\nrun 0\n")
    run = klammps.run(script, tmp_path, nprocs=1).check()
    pe = run.thermo()[-1]["PotEng"][0]
    dump = klammps.read_dump(tmp_path / "f.dump")
    f_lmp = Prism(s.cell).vector_to_ase(np.column_stack([dump["fx"], dump["fy"], dump["fz"]]))
    assert abs(pe - energy) <= 1e-10 * max(1.0, abs(energy))
    assert np.abs(f_lmp - forces).max() < 1e-10 * max(1.0, np.abs(forces).max())


@pytest.mark.parametrize("change, message", [
    ({"element_mode": "pair"}, "set element_mode: weighted"),
    ({"select": {"method": "qr", "keep": 4}}, "cannot be combined with select"),
])
def test_bad_combinations_are_refused(tmp_path, change, message):
    from kizuna.training.config import validate_config

    cfg = _config(tmp_path, **change)
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)
    cfg = _config(tmp_path)
    cfg["committee"] = 2
    with pytest.raises(ConfigError, match="committee"):
        validate_config(cfg)
