"""examples/learn/si_anneal_glass.py labels the frames of a relaxation with the calculator's
results taken during the relaxation (no second call): each kept frame must carry the energy
and forces of its own positions, not of the step before or after. EMT on a small Cu cell."""
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from script_loader import load_script

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "learn" / "si_anneal_glass.py"


@pytest.fixture(scope="module")
def example():
    return load_script(EXAMPLE)


def test_relaxation_frames_carry_their_own_labels(example):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    atoms.positions += np.random.default_rng(3).uniform(-0.15, 0.15, atoms.positions.shape)
    frames = example.relax_path(atoms, EMT(), steps=8, fmax=1e-4)
    assert len(frames) == 9  # the start and one frame per step
    assert np.allclose(frames[0][0].positions, atoms.positions)
    moved = [np.abs(frames[k + 1][0].positions - frames[k][0].positions).max()
             for k in range(len(frames) - 1)]
    assert min(moved) > 1e-6  # distinct frames
    for frame, energy, forces, stress in frames:
        fresh = frame.copy()
        fresh.calc = EMT()
        assert energy == pytest.approx(fresh.get_potential_energy(), abs=1e-10)
        assert np.allclose(forces, fresh.get_forces(), atol=1e-10)
        assert np.allclose(stress, fresh.get_stress(), atol=1e-10)
    assert frames[-1][1] < frames[0][1]  # it relaxed


def test_bad_results_file_is_named(example, tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "committee.kzn").write_text("")
    (folder / "labelled.xyz").write_text("")
    bad = tmp_path / "results.json"
    bad.write_text('{"properties": {}}')
    with pytest.raises(SystemExit):
        example.main([str(bad), str(folder)])
    err = capsys.readouterr().err
    assert "results.json" in err and "relaxed_positions" in err
