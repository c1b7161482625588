"""Phonon dispersion and density of states with phonopy (finite displacements).

phonopy makes the displaced supercells; each is evaluated by the calculator (forces minus
the undisplaced supercell's residual forces); phonopy builds the force constants, the band
structure along ASE's standard path of the primitive cell, and the total DOS on a q mesh
(Gaussian smearing ``sigma`` THz, the same frequency grid for model and reference).

Values: max_frequency and min_frequency on the mesh (THz, negative = imaginary),
mean_frequency (DOS-weighted, THz). Comparison: DOS overlap
    O = int min(g_m, g_r) dnu,   each g normalised to int g dnu = 1   (1 = identical)
and the RMS difference of the band frequencies on the path (THz).
"""
from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms


def _phonopy():
    try:
        from phonopy import Phonopy
        from phonopy.structure.atoms import PhonopyAtoms
    except ImportError:
        from ..errors import ConfigError

        raise ConfigError("properties.phonons needs phonopy: pip install phonopy "
                          "(or pip install 'kizuna[properties]')") from None
    return Phonopy, PhonopyAtoms


def compute(atoms, calc, cfg: dict, relax: dict) -> dict:
    Phonopy, PhonopyAtoms = _phonopy()
    unit = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=np.asarray(atoms.cell),
                        scaled_positions=atoms.get_scaled_positions(),
                        masses=atoms.get_masses())
    primitive = "auto" if cfg["primitive"] == "auto" else np.eye(3)
    with warnings.catch_warnings():   # phonopy 4 warns that "auto" is its new default
        warnings.simplefilter("ignore")
        ph = Phonopy(unit, supercell_matrix=np.diag(cfg["supercell"]),
                     primitive_matrix=primitive)
    ph.generate_displacements(distance=cfg["displacement"])

    def forces_of(sc):
        a = Atoms(sc.symbols, cell=sc.cell, scaled_positions=sc.scaled_positions, pbc=True,
                  masses=sc.masses)
        a.calc = calc
        return a.get_forces()

    f0 = forces_of(ph.supercell)
    ph.forces = [forces_of(sc) - f0 for sc in ph.supercells_with_displacements]
    ph.produce_force_constants()

    path = Atoms(cell=ph.primitive.cell, pbc=True).cell.bandpath(npoints=cfg["band_points"])
    qpoints = path.kpts
    ph.run_band_structure([qpoints])
    bands = np.asarray(ph.band_structure.frequencies[0])   # (nq, nbands) THz
    x, special_x, labels = path.get_linear_kpoint_axis()

    ph.run_mesh(cfg["mesh"], is_gamma_center=True)   # Gamma-centred: even meshes hold the zone edge
    mesh_freq = np.asarray(ph.mesh.frequencies)
    weights = np.asarray(ph.mesh.weights, dtype=float)
    fmin, fmax = cfg["dos_range"]
    ph.run_total_dos(sigma=cfg["sigma"], freq_min=fmin, freq_max=fmax, freq_pitch=cfg["pitch"])
    nu, g = np.asarray(ph.total_dos.frequency_points), np.asarray(ph.total_dos.dos)
    mean = float(np.sum(weights[:, None] * mesh_freq) / (np.sum(weights) * mesh_freq.shape[1]))
    values = {"max_frequency": float(mesh_freq.max()), "min_frequency": float(mesh_freq.min()),
              "mean_frequency": mean}
    return {"values": values,
            "data": {"band_x": np.asarray(x).tolist(), "bands": bands.tolist(),
                     "special_x": np.asarray(special_x).tolist(), "labels": list(labels),
                     "dos_frequency": nu.tolist(), "dos": g.tolist()}}


UNITS = {"max_frequency": "THz", "min_frequency": "THz", "mean_frequency": "THz"}


def dos_overlap(nu, g1, g2) -> float:
    """int min(g1, g2) dnu with both normalised to unit area (on the same grid nu)."""
    nu, g1, g2 = (np.asarray(v, dtype=float) for v in (nu, g1, g2))
    g1 = np.clip(g1, 0, None) / np.trapezoid(np.clip(g1, 0, None), nu)
    g2 = np.clip(g2, 0, None) / np.trapezoid(np.clip(g2, 0, None), nu)
    return float(np.trapezoid(np.minimum(g1, g2), nu))


def compare(model: dict, reference: dict) -> dict:
    m, r = model["data"], reference["data"]
    bands = np.asarray(m["bands"]) - np.asarray(r["bands"])
    return {"dos_overlap": dos_overlap(m["dos_frequency"], m["dos"], r["dos"]),
            "band_rms_difference_THz": float(np.sqrt(np.mean(bands ** 2)))}


def plot(axes, results) -> None:
    """Two panels: dispersion (left) and DOS (right)."""
    ax, ax2 = axes
    for label, res, style in results:
        d = res["data"]
        bands = np.asarray(d["bands"])
        for b in range(bands.shape[1]):
            ax.plot(d["band_x"], bands[:, b], color=style, lw=1,
                    label=label if b == 0 else None)
        ax2.plot(d["dos"], d["dos_frequency"], color=style, label=label)
    d = results[0][1]["data"]
    ax.set_xticks(d["special_x"])
    ax.set_xticklabels(["Γ" if s == "G" else s for s in d["labels"]])
    for sx in d["special_x"]:
        ax.axvline(sx, color="0.8", lw=0.5)
    ax.set_xlim(d["band_x"][0], d["band_x"][-1])
    ax.set_ylabel("frequency (THz)")
    ax.set_title("phonon dispersion")
    ax.legend()
    ax2.set_xlabel("DOS (states/THz)")
    ax2.set_title("phonon DOS")
    ax2.legend()
