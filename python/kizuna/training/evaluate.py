"""Errors of a model on labelled structures, evaluated by the compiled core (the exported
model exactly as LAMMPS and ASE see it).

Metrics: energy per atom (meV/atom), force components (eV/Å) overall and per element of the
atom, stress components (GPa, structures with stress only); MAE and RMSE.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .readers import EV_PER_A3_IN_GPA

_TO_ASE = [0, 1, 2, 5, 4, 3]  # core virial xx yy zz xy xz yz -> ASE xx yy zz yz xz xy


@dataclass
class Predictions:
    """Reference and predicted values of a data set (units: eV, eV/Å, eV/Å^3)."""

    n_atoms: np.ndarray
    energy_ref: np.ndarray
    energy: np.ndarray
    forces_ref: np.ndarray = None
    forces: np.ndarray = None
    force_elements: np.ndarray = None   # symbol of the atom of each force row
    stress_ref: np.ndarray = None
    stress: np.ndarray = None
    names: list = field(default_factory=list)


def predict_structures(model, structures, threads: int = 1) -> Predictions:
    """Core evaluation of ``model`` (path, Model or Potential) on structures."""
    from ..potential import Potential

    pot = model if isinstance(model, Potential) else Potential(model, threads=threads)
    E, Eref, n, F, Fref, elems, S, Sref = [], [], [], [], [], [], [], []
    for s in structures:
        pbc = list(s.pbc) if s.cell is not None else False
        out = pot.compute(s.positions, s.symbols, s.cell, pbc,
                          forces=True, virial=s.stress is not None)
        n.append(len(s))
        E.append(out["energy"])
        Eref.append(np.nan if s.energy is None else s.energy)
        if s.forces is not None:
            F.append(out["forces"])
            Fref.append(np.asarray(s.forces))
            elems.extend(s.symbols)
        if s.stress is not None:
            S.append(-out["virial"][_TO_ASE] / s.volume)
            Sref.append(np.asarray(s.stress))
    cat = (lambda xs: np.concatenate(xs) if xs else None)
    return Predictions(np.array(n), np.array(Eref), np.array(E), cat(Fref), cat(F),
                       np.array(elems) if elems else None,
                       np.array(Sref) if Sref else None, np.array(S) if S else None,
                       [s.name for s in structures])


def _mae_rmse(d):
    d = np.asarray(d, dtype=float).ravel()
    return (float(np.mean(np.abs(d))), float(np.sqrt(np.mean(d * d)))) if d.size else (np.nan,) * 2


def metrics(p: Predictions) -> dict:
    """{'energy': (mae, rmse) meV/atom, 'forces': (mae, rmse) eV/Å, 'forces_<El>': ...,
    'stress': (mae, rmse) GPa, 'n_structures', 'n_atoms'}"""
    ok = np.isfinite(p.energy_ref)
    dE = (p.energy[ok] - p.energy_ref[ok]) / p.n_atoms[ok] * 1000.0
    out = {"n_structures": int(len(p.n_atoms)), "n_atoms": int(p.n_atoms.sum()),
           "energy": _mae_rmse(dE)}
    if p.forces is not None:
        dF = p.forces - p.forces_ref
        out["forces"] = _mae_rmse(dF)
        for e in sorted(set(p.force_elements.tolist())):
            out[f"forces_{e}"] = _mae_rmse(dF[p.force_elements == e])
    if p.stress is not None:
        out["stress"] = _mae_rmse((p.stress - p.stress_ref) * EV_PER_A3_IN_GPA)
    return out


def format_metrics(results: dict) -> str:
    """A table: one row per quantity, MAE and RMSE for each data set in ``results``
    ({'train': metrics, 'test': metrics, ...})."""
    names = list(results)
    rows = [("energy", "meV/atom", "energy")]
    keys = set().union(*[set(m) for m in results.values()])
    if "forces" in keys:
        rows.append(("forces", "eV/Å", "forces"))
        for k in sorted(k for k in keys if k.startswith("forces_")):
            rows.append((f"  forces on {k[7:]}", "eV/Å", k))
    if "stress" in keys:
        rows.append(("stress", "GPa", "stress"))
    head = f"{'quantity':<18} {'unit':<9}" + "".join(f" {n + ' MAE':>12} {n + ' RMSE':>12}"
                                                   for n in names)
    lines = [head, "-" * len(head)]
    for label, unit, key in rows:
        cells = ""
        for n in names:
            mae, rmse = results[n].get(key, (np.nan, np.nan))
            fmt = "{:12.3f}" if key == "energy" else "{:12.4f}"
            cells += " " + fmt.format(mae) + " " + fmt.format(rmse)
        lines.append(f"{label:<18} {unit:<9}{cells}")
    counts = ", ".join(f"{n}: {m['n_structures']} structures / {m['n_atoms']} atoms"
                       for n, m in results.items())
    lines.append(counts)
    return "\n".join(lines)

