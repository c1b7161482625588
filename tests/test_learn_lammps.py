"""On-the-fly learning with LAMMPS as the MD engine (md.engine: lammps, kizuna/learn/lammps_md.py):
the ASE Atoms -> LAMMPS -> ASE round trip, a whole learning run (fix halt stops at the uncertain
step, that step's structure is the one labelled, retraining and continuing, a consistent state),
the same labels as the ASE engine in NVE, and resuming an interrupted run."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import read

from kizuna.errors import ConfigError
from kizuna.learn import learn
from kizuna.learn.config import validate_learn_config
from kizuna.learn.md import thermalise

lammps_md = pytest.importorskip("kizuna.learn.lammps_md")
_REASON = lammps_md.lammps_available()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=str(_REASON))

CONFIG = {
    "seed": 3,
    "threads": 1,
    "output": {"progress": "none"},
    "reference": "emt",
    "structure": {"bulk": {"name": "Cu", "crystalstructure": "fcc", "a": 3.61, "cubic": True},
                  "repeat": [2, 2, 2]},
    "md": {"timestep": 2.0, "snapshot_every": 10, "engine": "lammps",
           "stages": [{"temperature": 500, "steps": 30}, {"temperature": 900, "steps": 24}]},
    "uncertainty": {"max_force_deviation": 0.5, "cooldown": 2, "extrapolation": False},
    "bootstrap": {"structures": 3},
    "committee": {"members": 2, "epochs": 6, "lbfgs_epochs": 2, "retrain_epochs": 2,
                  "retrain_lbfgs_epochs": 1},
    "training": {"symmetry_functions": {"cutoff": 4.5, "n_radial": 4, "n_angular": 4,
                                        "zetas": [1, 4], "lambdas": [-1, 1]},
                 "model": {"hidden_layers": [6]},
                 "data": {"validation_fraction": 0.2}},
}


def _config(tmp_path, name="run", **md):
    cfg = copy.deepcopy(CONFIG)
    cfg["output"]["directory"] = str(tmp_path / name)
    cfg["md"].update(md)
    return cfg


def _events(folder, kind):
    lines = (folder / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


# ----------------------------------------------------------------------------- round trip
def _triclinic():
    atoms = bulk("Cu", "fcc", a=3.61).repeat((3, 3, 3))  # skewed, not lower triangular
    atoms.rotate(23, "x", rotate_cell=True)
    atoms.rotate(41, "z", rotate_cell=True)
    symbols = atoms.get_chemical_symbols()
    symbols[::5] = ["Ag"] * len(symbols[::5])  # two types, in order of first appearance
    atoms.set_chemical_symbols(symbols)
    return atoms


@pytest.mark.parametrize("kind", ["orthogonal", "triclinic"])
def test_atoms_lammps_atoms_round_trip(kind):
    atoms = (bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 3)) if kind == "orthogonal"
             else _triclinic())
    rng = np.random.default_rng(5)
    atoms.positions += rng.normal(0.0, 0.2, atoms.positions.shape)
    # atoms outside the cell: LAMMPS wraps them, the image flags bring them back
    atoms.positions[0] += 1.3 * atoms.cell[0] - 2.0 * atoms.cell[2]
    atoms.positions[1] -= 0.6 * atoms.cell[1]
    thermalise(atoms, 800.0, 2)
    system = lammps_md.LammpsSystem(atoms)
    try:
        assert system.lmp.extract_global("triclinic") == (kind == "triclinic")
        flags = rng.integers(-3, 4, (6, 3))
        packed = system._encode(flags)
        assert packed.tolist() == [system.lmp.encode_image_flags(*f) for f in flags.tolist()]
        assert np.array_equal(system._decode(packed), flags)
        back = system.atoms()
        assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
        assert np.abs(back.positions - atoms.positions).max() < 1e-10
        assert np.abs(back.get_velocities() - atoms.get_velocities()).max() < 1e-12
        assert np.array_equal(back.cell[:], atoms.cell[:])
        assert np.array_equal(back.get_masses(), atoms.get_masses())
        # LAMMPS's own view: the same volume and kinetic energy (masses, velocity units)
        system.lmp.command("run 0")
        ke = system.lmp.get_thermo("ke")
        # (LAMMPS's metal-unit constant mvv2e has 8 digits, ASE uses CODATA: 1e-7 apart)
        assert ke == pytest.approx(atoms.get_kinetic_energy(), rel=1e-6)
        assert system.lmp.get_thermo("vol") == pytest.approx(atoms.get_volume(), rel=1e-12)
        # a move across the periodic boundaries in LAMMPS (box coordinates: the rotated frame)
        # comes back unwrapped and rotated to the ASE frame
        system.lmp.command("displace_atoms all move 11.0 -7.5 9.0 units box")
        system.lmp.command("run 0")
        moved = system.atoms()
        shift = system.prism.vector_to_ase(np.array([[11.0, -7.5, 9.0]]))[0]
        assert np.abs(moved.positions - atoms.positions - shift).max() < 1e-9
    finally:
        system.close()


def test_non_periodic_cell_must_have_volume():
    with pytest.raises(ConfigError, match="cell of three"):
        lammps_md.LammpsSystem(Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]]))


def test_engine_is_validated():
    cfg = copy.deepcopy(CONFIG)
    assert validate_learn_config(cfg)["md"]["engine"] == "lammps"
    del cfg["md"]["engine"]
    assert validate_learn_config(cfg)["md"]["engine"] == "ase"
    cfg["md"]["engine"] = "gromacs"
    with pytest.raises(ConfigError, match="engine"):
        validate_learn_config(cfg)


# ----------------------------------------------------------------------------- learning
def _committee_of_round(folder, index):
    """The committee the MD ran with before retraining round ``index`` + 1 (its members)."""
    from kizuna.learn.committee import merge_members
    from kizuna.model_io import read_model

    members = sorted((folder / "rounds" / f"round{index:04d}").glob("member*/model.kzn"))
    return merge_members([read_model(p) for p in members])


def test_lammps_engine_labels_retrains_and_finishes(tmp_path):
    from kizuna.potential import Potential

    cfg = _config(tmp_path)
    summary = learn(cfg)
    folder = tmp_path / "run"
    state = json.loads((folder / "state.json").read_text())
    frames = read(folder / "labelled.xyz", ":")
    md_frames = [f for f in frames if f.info["source"] == "md"]
    # reached the end of every stage, and every reference call is stored
    assert summary["md_steps"] == 54 == state["total_steps"]
    assert state["stage"] == 2 and state["step"] == 0
    assert summary["reference_calls"] == state["reference_calls"] == len(frames)
    assert summary["bootstrap_calls"] == 3 and len(md_frames) >= 3
    assert state["calls_at"] == [e["total_step"] for e in _events(folder, "labelled")]
    # retrain_every 1: one warm-started training after each label, on everything labelled
    assert state["round"] == 1 + len(md_frames) and state["trained_on"] == len(frames)
    # the cooldown after each retraining held
    steps = state["calls_at"]
    assert all(b - a > cfg["uncertainty"]["cooldown"] for a, b in zip(steps, steps[1:]))
    # fix halt stopped LAMMPS in the middle of a run: some labels are neither at the first
    # step after a cooldown nor at the first step after a snapshot
    every, cooldown = cfg["md"]["snapshot_every"], cfg["uncertainty"]["cooldown"]
    trained_at = [0] + steps  # the first training, then one after each label
    mid_run = [e for e, prev in zip(_events(folder, "labelled"), trained_at)
               if e["total_step"] != prev + cooldown + 1 and (e["step"] - 1) % every != 0]
    assert mid_run
    # the labelled structure is the halting step's: the committee of that time, evaluated on
    # the labelled positions, gives the deviation LAMMPS measured, above the threshold
    threshold = cfg["uncertainty"]["max_force_deviation"]
    for k, frame in enumerate(md_frames):
        pot = Potential(_committee_of_round(folder, k), threads=1)
        dev = pot.compute_atoms(frame, member_forces=True)["max_force_deviation"]
        assert dev == pytest.approx(frame.info["max_force_deviation"], rel=1e-5, abs=1e-6)
        assert dev > threshold
    # the snapshot is the last MD state; its velocities are those of a hot crystal
    snapshot = read(folder / "snapshot.xyz")
    assert len(snapshot) == 32 and snapshot.get_temperature() > 100


def test_lammps_and_ase_engines_take_the_same_labels_in_nve(tmp_path):
    """Velocity Verlet in both engines (friction 0) follows the same trajectory: the same label
    steps and the same labelled structures (same units, timestep, velocities, forces)."""
    runs = {}
    for engine in ("ase", "lammps"):
        cfg = _config(tmp_path, engine, engine=engine, friction=0.0,
                      stages=[{"temperature": 600, "steps": 30}])
        learn(cfg)
        runs[engine] = (_events(tmp_path / engine, "labelled"),
                        read(tmp_path / engine / "labelled.xyz", ":"))
    (ev_ase, fr_ase), (ev_lmp, fr_lmp) = runs["ase"], runs["lammps"]
    assert len(ev_ase) >= 2
    assert [e["total_step"] for e in ev_lmp] == [e["total_step"] for e in ev_ase]
    for a, b in zip(ev_ase, ev_lmp):
        assert b["max_force_deviation"] == pytest.approx(a["max_force_deviation"], rel=1e-6)
    assert len(fr_ase) == len(fr_lmp)
    # the trajectories agree to ~1e-8 (LAMMPS's metal-unit constants have 8 digits)
    for a, b in zip(fr_ase, fr_lmp):
        assert np.abs(a.positions - b.positions).max() < 1e-6
        assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=1e-6)
        assert np.abs(a.get_forces() - b.get_forces()).max() < 1e-5


def test_interrupted_lammps_run_resumes(tmp_path, monkeypatch):
    """An interruption after a label, before its retraining (the snapshot and state on disk),
    resumes with the LAMMPS engine from the snapshot: the label is trained on first, and the
    run ends with every step run and every call stored."""
    from kizuna.learn.loop import Learner

    cfg = _config(tmp_path, stages=[{"temperature": 500, "steps": 40}])
    original = Learner.train
    calls = []

    def train_or_stop(self):
        calls.append(self.state["total_steps"])
        if len(calls) == 3:  # the retraining after the second MD label
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(Learner, "train", train_or_stop)
    with pytest.raises(KeyboardInterrupt):
        learn(copy.deepcopy(cfg))
    monkeypatch.setattr(Learner, "train", original)
    folder = tmp_path / "run"
    before = json.loads((folder / "state.json").read_text())
    assert before["stage"] == 0 and 0 < before["step"] < 40
    assert before["reference_calls"] == len(read(folder / "labelled.xyz", ":")) == 3 + 2
    assert before["trained_on"] == 4
    summary = learn(copy.deepcopy(cfg))
    final = json.loads((folder / "state.json").read_text())
    assert summary["md_steps"] == 40 and final["stage"] == 1
    assert summary["reference_calls"] == len(read(folder / "labelled.xyz", ":"))
    # the labels not yet trained on when interrupted were trained on first
    assert final["trained_on"] == summary["reference_calls"]
    resumed = _events(folder, "stage")[-1]
    assert resumed["start"] == before["step"]
