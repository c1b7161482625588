"""Per-structure and per-atom errors of a model on labelled data (``kizuna eval --details``,
like DeePMD's ``dp test -d``), worst first, and for committees the calibration of the
committee spread against the true error.

Files written for a prefix P:

* ``P.structures.tsv`` — one row per structure, sorted worst first (largest max force error,
  or |energy error| for data without forces): source, index, name, atoms, reference and
  predicted energy (eV), energy error (meV/atom), max |F_pred - F_ref| over atoms (eV/Å),
  force RMSE (eV/Å), committee energy std (meV/atom), max force deviation (eV/Å), atoms
  outside the training range;
* ``P.atoms.tsv`` — one row per atom (rows of a structure together, structures in the order
  above): source, index, atom, element, reference and predicted force (eV/Å), |dF| (eV/Å),
  committee force deviation (eV/Å), extrapolating (0/1);
* ``P.calibration.json`` (committees) — Spearman rank correlation between spread and error
  per structure (max force deviation vs max force error; energy std vs |energy error|) and
  per atom (force deviation vs |dF|), and the binned calibration: atoms in quantile bins of
  their force deviation sigma, each bin's mean sigma and RMS |dF| (both are norms of 3-vectors:
  a calibrated committee has RMS |dF| ~ sigma in every bin); with ``P.calibration.png``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..learn.evaluate import rank_correlation


def per_structure(potential, structures, source: str) -> list:
    """Rows (dicts) of every structure and its atoms (per-atom arrays inside)."""
    committee = potential.model.committee_size > 1
    rows = []
    for k, s in enumerate(structures):
        pbc = list(s.pbc) if s.cell is not None else False
        out = potential.compute(s.positions, s.symbols, s.cell, pbc, forces=True,
                                member_energies=committee, extrapolation_flags=True,
                                member_forces=committee)
        n = len(s)
        row = {"source": source, "index": k, "name": s.name, "atoms": n,
               "energy_ref": np.nan if s.energy is None else float(s.energy),
               "energy": float(out["energy"]),
               "num_extrapolating": int(out["num_extrapolating"]),
               "extrapolating": np.asarray(out["extrapolating"], dtype=bool).reshape(n),
               "symbols": list(s.symbols), "forces": np.asarray(out["forces"]),
               "forces_ref": None if s.forces is None else np.asarray(s.forces)}
        row["energy_error_meV_atom"] = (row["energy"] - row["energy_ref"]) / n * 1000.0
        if row["forces_ref"] is not None:
            df = np.linalg.norm(row["forces"] - row["forces_ref"], axis=1)
            row["force_error"] = df
            row["max_force_error"] = float(df.max())
            row["force_rmse"] = float(np.sqrt(np.mean((row["forces"] - row["forces_ref"]) ** 2)))
        if committee:
            row["energy_std_meV_atom"] = float(np.std(out["member_energies"])) / n * 1000.0
            row["force_std"] = np.asarray(out["force_std"])
            row["max_force_deviation"] = float(out["max_force_deviation"])
        rows.append(row)
    return rows


def _worst_first(rows):
    def key(r):
        if "max_force_error" in r:
            return -r["max_force_error"]
        e = r["energy_error_meV_atom"]
        return -abs(e) if np.isfinite(e) else 0.0
    return sorted(rows, key=key)


def calibration(rows, bins: int = 10) -> dict:
    """Spread vs true error: rank correlations and the binned RMS error per spread bin."""
    rows = [r for r in rows if "force_std" in r]
    if not rows:
        return {}
    out = {"structures": len(rows)}
    with_f = [r for r in rows if "max_force_error" in r]
    if len(with_f) >= 3:
        out["spearman_structure_max_deviation_vs_max_force_error"] = rank_correlation(
            [r["max_force_deviation"] for r in with_f], [r["max_force_error"] for r in with_f])
    with_e = [r for r in rows if np.isfinite(r["energy_error_meV_atom"])]
    if len(with_e) >= 3:
        out["spearman_structure_energy_std_vs_energy_error"] = rank_correlation(
            [r["energy_std_meV_atom"] for r in with_e],
            [abs(r["energy_error_meV_atom"]) for r in with_e])
    if with_f:
        sigma = np.concatenate([r["force_std"] for r in with_f])
        err = np.concatenate([r["force_error"] for r in with_f])
        out["spearman_atom_deviation_vs_force_error"] = rank_correlation(sigma, err)
        # quantile bins of sigma; in each: mean sigma, RMS |dF| (both are vector norms:
        # a calibrated committee has RMS |dF| ~ sigma)
        edges = np.unique(np.quantile(sigma, np.linspace(0, 1, bins + 1)))
        which = np.clip(np.searchsorted(edges, sigma, side="right") - 1, 0, len(edges) - 2)
        table = []
        for b in range(len(edges) - 1):
            sel = which == b
            if sel.any():
                table.append({"sigma_low": float(edges[b]), "sigma_high": float(edges[b + 1]),
                              "atoms": int(sel.sum()), "mean_sigma": float(sigma[sel].mean()),
                              "rms_error": float(np.sqrt(np.mean(err[sel] ** 2)))})
        out["binned"] = table
        out["rms_error_over_rms_sigma"] = float(np.sqrt(np.mean(err ** 2)) /
                                                max(np.sqrt(np.mean(sigma ** 2)), 1e-300))
    return out


def _f(x, fmt="{:.6g}"):
    return "nan" if x is None or (isinstance(x, float) and not np.isfinite(x)) else fmt.format(x)


def write_details(rows, prefix) -> dict:
    """Write the files of the module docstring; returns {'structures', 'atoms',
    'calibration'?: paths}."""
    prefix = str(prefix)
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    rows = _worst_first(rows)
    paths = {"structures": Path(prefix + ".structures.tsv"), "atoms": Path(prefix + ".atoms.tsv")}
    head = ["rank", "source", "index", "name", "atoms", "energy_ref_eV", "energy_eV",
            "energy_error_meV_atom", "max_force_error_eV_A", "force_rmse_eV_A",
            "energy_std_meV_atom", "max_force_deviation_eV_A", "extrapolating_atoms"]
    with open(paths["structures"], "w") as h:
        h.write("\t".join(head) + "\n")
        for rank, r in enumerate(rows, 1):
            h.write("\t".join([str(rank), r["source"], str(r["index"]), r["name"],
                               str(r["atoms"]), _f(r["energy_ref"], "{:.8f}"),
                               _f(r["energy"], "{:.8f}"), _f(r["energy_error_meV_atom"]),
                               _f(r.get("max_force_error")), _f(r.get("force_rmse")),
                               _f(r.get("energy_std_meV_atom")),
                               _f(r.get("max_force_deviation")),
                               str(r["num_extrapolating"])]) + "\n")
    with open(paths["atoms"], "w") as h:
        h.write("\t".join(["source", "index", "atom", "element", "fx_ref", "fy_ref", "fz_ref",
                           "fx", "fy", "fz", "force_error_eV_A", "force_deviation_eV_A",
                           "extrapolating"]) + "\n")
        for r in rows:
            ref = r["forces_ref"]
            for i in range(r["atoms"]):
                fr = ref[i] if ref is not None else (np.nan,) * 3
                h.write("\t".join([r["source"], str(r["index"]), str(i), r["symbols"][i],
                                   *(_f(float(v)) for v in fr),
                                   *(_f(float(v)) for v in r["forces"][i]),
                                   _f(float(r["force_error"][i])) if "force_error" in r else
                                   "nan",
                                   _f(float(r["force_std"][i])) if "force_std" in r else "nan",
                                   str(int(r["extrapolating"][i]))]) + "\n")
    cal = calibration(rows)
    if cal:
        paths["calibration"] = Path(prefix + ".calibration.json")
        paths["calibration"].write_text(json.dumps(cal, indent=1))
        if cal.get("binned"):
            paths["calibration_plot"] = Path(prefix + ".calibration.png")
            _plot(cal, rows, paths["calibration_plot"])
    return {"paths": paths, "calibration": cal, "worst": rows[:5]}


def _plot(cal, rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    b = cal["binned"]
    s = [x["mean_sigma"] for x in b]
    a1.plot(s, [x["rms_error"] for x in b], "o-", label="RMS |ΔF| per bin")
    top = max(max(s), max(x["rms_error"] for x in b))
    a1.plot([0, top], [0, top], "k--", lw=0.8, label="RMS error = spread")
    a1.set_xlabel("committee force deviation σ (eV/Å), bin mean")
    a1.set_ylabel("RMS force error |ΔF| (eV/Å)")
    a1.set_title("per-atom calibration")
    a1.legend()
    with_f = [r for r in rows if "max_force_error" in r and "max_force_deviation" in r]
    a2.loglog([r["max_force_deviation"] for r in with_f], [r["max_force_error"] for r in with_f],
              ".", alpha=0.6)
    a2.set_xlabel("max force deviation per structure (eV/Å)")
    a2.set_ylabel("max force error per structure (eV/Å)")
    rho = cal.get("spearman_structure_max_deviation_vs_max_force_error")
    a2.set_title("per structure" + (f" (Spearman {rho:.2f})" if rho is not None else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
