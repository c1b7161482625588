"""A trained, exported model gives the same energies and forces in torch, in the ASE calculator
and in LAMMPS (pair_style kizuna through the plugin), to 1e-10 relative."""
import numpy as np
import pytest
import torch

from conftest import DATA
from kizuna import Calculator
from kizuna.training import train
from kizuna.training.dataset import Batch
from kizuna.training.loss import predict

SI = DATA / "mlearn" / "Si"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lmp")
    cfg = {"seed": 2, "threads": 1,
           "output": {"directory": str(tmp / "run"), "progress": "none", "plots": False},
           "data": {"train": str(SI / "Si_train.xyz"), "max_structures": 10,
                    "test": [{"path": str(SI / "Si_test.xyz"), "index": ":3"}]},
           "symmetry_functions": {"cutoff": 4.5, "n_radial": 5, "n_angular": 8, "zetas": [1, 4]},
           "model": {"hidden_layers": [6, 6], "activation": "silu"},
           "training": {"epochs": 3, "lbfgs_epochs": 0}}
    return train(cfg), tmp


def _torch_predictions(result):
    from kizuna.training.trainer import Trainer
    from kizuna.training.config import load_config
    from kizuna.training.progress import Progress

    trainer = Trainer(load_config(result["directory"] / "config.yaml"), progress=Progress("none"))
    ckpt = torch.load(result["directory"] / "checkpoint.pt", weights_only=False)
    trainer.net.load_state_dict(ckpt["best"]["state"])
    batch = Batch(trainer.run.test, ["Si"], trainer.run.pool)
    pred = predict(trainer.net, batch, forces=True)
    forces = np.split(pred["forces"].detach().numpy(), np.cumsum(batch.atom_counts)[:-1])
    return [p.structure for p in trainer.run.test], pred["energy"].detach().numpy(), forces


def test_torch_equals_ase_calculator(trained):
    result, _ = trained
    structures, energies, forces = _torch_predictions(result)
    for s, e, f in zip(structures, energies, forces):
        atoms = s.to_atoms()
        atoms.calc = Calculator(result["model"], threads=1, extrapolation="ignore")
        assert atoms.get_potential_energy() == pytest.approx(e, rel=1e-10)
        assert np.abs(atoms.get_forces() - f).max() <= 1e-10 * np.abs(f).max()


def test_torch_equals_lammps(trained):
    klammps = pytest.importorskip("kizuna.lammps", reason="LAMMPS plugin module not in this build")
    try:
        klammps.plugin_path()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"LAMMPS plugin not built: {exc}")
    from ase.calculators.lammps import Prism
    from ase.io import write

    result, tmp = trained
    structures, energies, forces = _torch_predictions(result)
    for k, (s, e, f) in enumerate(zip(structures, energies, forces)):
        work = tmp / f"lmp{k}"
        work.mkdir()
        write(work / "s.data", s.to_atoms(), format="lammps-data", specorder=["Si"], masses=True)
        script = (f"units metal\natom_style atomic\nboundary p p p\nread_data s.data\n"
                  f"plugin load ${{kizuna_plugin}}\n"
                  f"pair_style kizuna {result['model']} extrapolation ignore\npair_coeff * * Si\n"
                  "thermo_style custom step pe\nthermo_modify format float %.17g\n"
                  "dump d all custom 1 f.dump id fx fy fz\n"
                  "dump_modify d format float %.17g sort id\nrun 0\n")
        run = klammps.run(script, work, nprocs=1).check()
        pe = run.thermo()[-1]["PotEng"][0]
        dump = klammps.read_dump(work / "f.dump")
        # ASE writes the cell in LAMMPS's lower-triangular orientation: rotate forces back
        f_lmp = Prism(s.cell).vector_to_ase(np.column_stack([dump["fx"], dump["fy"], dump["fz"]]))
        assert pe == pytest.approx(e, rel=1e-10)
        assert np.abs(f_lmp - f).max() <= 1e-10 * np.abs(f).max()
