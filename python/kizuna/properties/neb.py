"""Migration barriers by (climbing-image) nudged elastic band, ase.mep.NEB.

:func:`barrier` runs a NEB between two relaxed end points with any calculator (one
calculator shared by the images). :func:`compute` builds the vacancy hop of the property
suite: in the repeated cell, the atom at ``site`` is removed (initial state) or its nearest
neighbour moves into it (final state, the same atom order); both end points are relaxed at
fixed cell, the path is interpolated (IDPP) and relaxed by FIRE with a climbing image.

    E_a = max_k E(image k) - E(initial)   (eV)
"""
from __future__ import annotations

import numpy as np

from .common import relax_positions


def _neb_class():
    try:
        from ase.mep import NEB
    except ImportError:  # ase < 3.23
        from ase.neb import NEB
    return NEB


def barrier(initial, final, calc, images: int = 5, fmax: float = 0.03, steps: int = 500,
            climb: bool = True, interpolate: str = "idpp", spring: float = 0.1) -> dict:
    """NEB from ``initial`` to ``final`` (relaxed, same atoms in the same order). Returns
    {barrier, reverse_barrier, energies (relative to initial), reaction coordinate (Å),
    converged}."""
    from ase.optimize import FIRE

    path = [initial.copy()] + [initial.copy() for _ in range(images)] + [final.copy()]
    for image in path:
        image.calc = calc
    neb = _neb_class()(path, k=spring, climb=climb, method="improvedtangent",
                         allow_shared_calculator=True)
    if interpolate == "idpp":
        neb.interpolate(method="idpp", mic=True)
    else:
        neb.interpolate(mic=True)
    opt = FIRE(neb, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    energies = np.array([image.get_potential_energy() for image in path])
    positions = np.array([image.positions for image in path])
    # reaction coordinate: cumulative distance between consecutive images (minimum image)
    steps_ = []
    for k in range(1, len(path)):
        d = positions[k] - positions[k - 1]
        if path[0].pbc.any():
            from ase.geometry import find_mic

            d, _ = find_mic(d, path[0].cell, path[0].pbc)
        steps_.append(np.sqrt(np.sum(d ** 2)))
    coordinate = np.concatenate([[0.0], np.cumsum(steps_)])
    rel = energies - energies[0]
    return {"barrier": float(rel.max()), "reverse_barrier": float(rel.max() - rel[-1]),
            "energies": rel.tolist(), "coordinate": coordinate.tolist(),
            "converged": converged, "iterations": int(opt.nsteps)}


def vacancy_hop(atoms, supercell, site: int = 0):
    """(initial, final) of a vacancy hop in atoms.repeat(supercell): the atom at ``site`` removed
    / its nearest neighbour moved onto ``site`` (then removed from ``site``'s old atom)."""
    bulk = atoms.repeat(tuple(supercell))
    dist = bulk.get_distances(site, range(len(bulk)), mic=True)
    dist[site] = np.inf
    hop = int(np.argmin(dist))
    initial = bulk.copy()
    del initial[site]
    final = bulk.copy()
    # the short way (minimum image), so that the interpolated path is the hop itself
    final.positions[hop] = bulk.positions[hop] + bulk.get_distance(hop, site, mic=True,
                                                                     vector=True)
    del final[site]
    return initial, final


def compute(atoms, calc, cfg: dict, relax: dict) -> dict:
    initial, final = vacancy_hop(atoms, cfg["supercell"], cfg["site"])
    for end in (initial, final):
        end.calc = calc
        relax_positions(end, relax["fmax"], relax["steps"])
    res = barrier(initial, final, calc, images=cfg["images"], fmax=cfg["fmax"],
                  steps=cfg["steps"], climb=cfg["climb"])
    if not res["converged"]:
        raise RuntimeError(f"NEB not converged in {cfg['steps']} FIRE steps "
                           f"(fmax {cfg['fmax']} eV/Å); raise neb.steps or neb.fmax")
    return {"values": {"barrier": res["barrier"], "reverse_barrier": res["reverse_barrier"]},
            "data": res}


UNITS = {"barrier": "eV", "reverse_barrier": "eV"}


def plot(ax, results) -> None:
    for label, res, style in results:
        d = res["data"]
        ax.plot(d["coordinate"], d["energies"], "o-", color=style, label=label)
    ax.set_xlabel("reaction coordinate (Å)")
    ax.set_ylabel("energy (eV)")
    ax.set_title("vacancy migration (CI-NEB)")
    ax.legend()
