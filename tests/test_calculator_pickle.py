"""The ASE calculator pickles and deep-copies (issue 16: `copy.deepcopy(atoms)` failed, so
multiprocessing and workflow tools broke) and `todict()` gives its constructor arguments."""
from __future__ import annotations

import copy
import multiprocessing
import pickle

import pytest
from ase import Atoms

import kizuna
from kizuna.errors import InputError
from kizuna.model_io import write_model
from kizuna.n2p2 import read_n2p2
from n2p2_reference import load


@pytest.fixture(scope="module")
def water_file(water_n2p2_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "water.kzn"
    write_model(read_n2p2(water_n2p2_dir), path)
    return path


def _ice(calc):
    ref = load("cfg4_ice384")
    atoms = Atoms(ref.symbols, ref.positions, cell=ref.cell, pbc=True)
    atoms.calc = calc
    return atoms


def _energy(atoms):
    return atoms.get_potential_energy()


def test_deepcopy_and_pickle_of_a_file_model(water_file):
    atoms = _ice(kizuna.Calculator(str(water_file), threads=1, extrapolation="ignore"))
    e0, f0 = atoms.get_potential_energy(), atoms.get_forces()
    twin = copy.deepcopy(atoms)
    assert twin.calc is not atoms.calc and twin.calc.potential is not atoms.calc.potential
    assert twin.calc.results["energy"] == e0  # cached results travel
    twin.calc.reset()  # recompute from scratch with the re-opened model
    assert twin.get_potential_energy() == e0
    assert (twin.get_forces() == f0).all()
    calc = pickle.loads(pickle.dumps(atoms.calc))
    assert calc.extrapolation == "ignore" and calc.potential.model.elements == ["H", "O"]
    assert _energy(_ice(calc)) == e0


def test_todict_gives_the_constructor_arguments(water_file):
    calc = kizuna.Calculator(water_file, threads=1, extrapolation="error", warn_every=7,
                             committee_forces=False)
    args = calc.todict()
    assert args == {"model": str(water_file), "threads": 1, "device": "cpu",
                    "precision": "float64", "device_id": -1, "extrapolation": "error",
                    "warn_every": 7, "committee_forces": False,
                    "max_extrapolating_fraction": 0.1, "stop_after": 10}
    again = kizuna.Calculator(**args)
    assert _energy(_ice(again)) == _energy(_ice(calc))


def test_todict_is_json_and_trajectories_can_be_written(water_file, tmp_path):
    """ASE writes todict() into every trajectory frame: it must stay small and serialisable
    whatever the model was given as."""
    import json

    from ase.io import Trajectory, read

    model = kizuna.load_model(water_file)
    for given in (str(water_file), model, kizuna.Potential(model, threads=1)):
        calc = kizuna.Calculator(given, threads=1, extrapolation="ignore")
        text = json.dumps(calc.todict())
        assert len(text) < 500
        atoms = _ice(calc)
        atoms.get_potential_energy()
        with Trajectory(tmp_path / "t.traj", "w") as traj:
            traj.write(atoms)
        assert read(tmp_path / "t.traj").get_potential_energy() == atoms.get_potential_energy()
    assert "in-memory model: elements H O" in kizuna.Calculator(model).todict()["model"]


def test_in_memory_model_and_potential_travel_as_data(water_file):
    model = kizuna.load_model(water_file)
    e0 = _energy(_ice(kizuna.Calculator(model, threads=1)))
    for given in (model, kizuna.Potential(model, threads=1)):
        calc = pickle.loads(pickle.dumps(kizuna.Calculator(given)))
        assert _energy(_ice(calc)) == e0


def test_multiprocessing_pool(water_file):
    atoms = _ice(kizuna.Calculator(str(water_file), threads=1))
    e0 = atoms.get_potential_energy()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_energy, [atoms, atoms]) == [e0, e0]


def test_unpickle_with_the_file_gone_says_so(water_file, tmp_path):
    path = tmp_path / "moved.kzn"
    path.write_bytes(water_file.read_bytes())
    data = pickle.dumps(kizuna.Calculator(str(path), threads=1))
    path.unlink()
    with pytest.raises(InputError, match="moved.kzn"):
        pickle.loads(data)
