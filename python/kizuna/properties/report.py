"""The suite's report: ``report.md`` (tables readable on GitHub), one PNG per property and
``results.json`` (every number) in the output folder."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

COLORS = {"model": "C0", "reference": "C3"}
TWO_PANELS = ("phonons", "diffusion")


def _fmt(x, digits=4) -> str:
    if isinstance(x, tuple):    # (value, sigma)
        return _fmt(x[0], digits) + ("" if x[1] is None else f" ± {_fmt(x[1], 2)}")
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.3e}"
    return f"{x:.{digits}g}"


format_value = _fmt   # public: the CLI prints the same numbers


def value_rows(results: dict):
    """(property, quantity, unit, model, reference, error, relative error) rows; a value with
    a statistical uncertainty (a side's ``uncertainty``) is a (value, sigma) pair, the error's
    sigma is sqrt(sigma_m^2 + sigma_r^2)."""
    from .suite import MODULES

    rows = []
    for name, entry in results["properties"].items():
        units = getattr(MODULES[name], "UNITS", {})
        m, r = entry.get("model"), entry.get("reference")
        if m is not None and "error" in m:
            rows.append((name, "failed (model)", "", m["error"], "", "", ""))
            continue
        if r is not None and "error" in r:
            rows.append((name, "failed (reference)", "", "", r["error"], "", ""))
            if m is None:
                continue
        m_values = m["values"] if m is not None else {k: None for k in r["values"]}
        for key, mv in m_values.items():
            rv = r["values"].get(key) if r is not None and "values" in r else None
            err = mv - rv if rv is not None and mv is not None else None
            sm = (m or {}).get("uncertainty", {}).get(key)
            sr = (r or {}).get("uncertainty", {}).get(key)
            if sm is not None or sr is not None:
                sig = np.hypot(sm or 0.0, sr or 0.0)
                mv = (mv, sm) if mv is not None else None
                rv = (rv, sr) if rv is not None else None
                err = (err, sig) if err is not None else None
            # no relative error of quantities near zero (energies, imaginary frequencies)
            e0, r0 = (err[0] if isinstance(err, tuple) else err), \
                (rv[0] if isinstance(rv, tuple) else rv)
            always = getattr(MODULES[name], "RELATIVE_ERRORS", ())   # e.g. D (cm²/s) << 1
            rel = (e0 / abs(r0) if e0 is not None and r0 and (abs(r0) > 1e-2 or any(
                key.startswith(prefix) for prefix in always)) else None)
            rows.append((name, key, units[key] if key in units or hasattr(units, "__missing__")
                         else "", mv, rv, err, rel))
        for key, v in (entry.get("comparison") or {}).items():
            rows.append((name, key, "", v, None, None, None))
    return rows


def _plot(name, entry, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .suite import MODULES

    sides = [(s, entry[s], COLORS[s]) for s in ("model", "reference")
             if s in entry and "values" in entry[s]]
    if not sides:
        return False
    module = MODULES[name]
    if getattr(module, "PANELS", 0) == 4:
        fig, axes = plt.subplots(2, 2, figsize=(11, 8))
        module.plot(axes.ravel(), sides)
    elif name in TWO_PANELS:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2),
                                 gridspec_kw={"width_ratios": [3, 1]} if name == "phonons"
                                 else None)
        module.plot(axes, sides)
    else:
        fig, ax = plt.subplots(figsize=(6, 4.2))
        if hasattr(module, "plot"):
            module.plot(ax, sides)
        else:   # generic: the values side by side
            names = list(sides[0][1]["values"])
            x = np.arange(len(names))
            width = 0.8 / len(sides)
            for k, (label, res, color) in enumerate(sides):
                ax.bar(x + k * width, [res["values"][n] for n in names], width, label=label,
                       color=color)
            ax.set_xticks(x + width * (len(sides) - 1) / 2)
            ax.set_xticklabels(names, fontsize=8)
            ax.set_title(name)
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(results: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=1, default=float))
    ref = results["reference"]
    lines = ["# kizuna validate report", "",
             f"- model: `{results['model'] if results['model'] is not None else 'none'}`",
             f"- reference: `{ref if ref is not None else 'none (model only)'}`",
             f"- structure: {results['structure']['formula']} "
             f"({results['structure']['atoms']} atoms)", ""]
    for side, rel in results["relaxed"].items():
        lines.append(f"- relaxed volume ({side}): {rel['volume_per_atom']:.4f} Å³/atom")
    lines += ["", "## Values", "",
              "| property | quantity | unit | model | reference | error | rel. error |",
              "|---|---|---|---|---|---|---|"]
    for name, key, unit, mv, rv, err, rel in value_rows(results):
        if isinstance(mv, str) or isinstance(rv, str):
            lines.append(f"| {name} | {key} | | {mv} | {rv} | | |")
            continue
        lines.append(f"| {name} | {key} | {unit} | {_fmt(mv)} | {_fmt(rv)} | {_fmt(err)} | "
                     f"{'–' if rel is None else f'{100 * rel:+.2f} %'} |")
    lines += ["", "## What the model saw while computing each property", "",
              "Atoms outside the model's training range (most in one call; calls with any) and "
              "the committee spread (largest over the calls; committees only).", "",
              "| property | calls | max extrapolating atoms | calls extrapolating | "
              "max energy std (meV/atom) | max force deviation (eV/Å) | seconds |",
              "|---|---|---|---|---|---|---|"]
    for name, entry in results["properties"].items():
        m = entry.get("model")
        if m is None:
            continue
        w = m.get("watch", {})
        std = w.get("max_energy_std_per_atom")
        most = f"{w.get('max_extrapolating', 0)} of {w.get('atoms_at_max', 0)}"
        lines.append(f"| {name} | {w.get('calls', 0)} | {most} | "
                     f"{w.get('calls_extrapolating', 0)} | "
                     f"{'–' if std is None else f'{1000 * std:.3g}'} | "
                     f"{_fmt(w.get('max_force_deviation'))} | {m.get('seconds', '')} |")
    for name, entry in results["properties"].items():
        close = ((entry.get("model") or {}).get("watch") or {}).get("min_distance") or {}
        if close.get("close_pairs"):  # min_distance_action: warn let the MD go on
            e = close["close_pairs"][0]
            lines += ["", f"**{name}: atoms closer than {close['threshold_A']:.3f} Å** in "
                      f"{close.get('frames_close', len(close['close_pairs']))} of "
                      f"{close['checks']} "
                      f"checked frames (the first: atoms {e['atoms'][0]} and {e['atoms'][1]}, "
                      f"{e['distance_A']:.3f} Å, {e['where']}, step {e['step']}): the model "
                      "fused atoms; its numbers are not to be trusted. Label that region with "
                      "kizuna learn."]
    lines += ["", "## Plots", ""]
    for name, entry in results["properties"].items():
        png = f"{name}.png"
        if _plot(name, entry, folder / png):
            lines += [f"### {name}", "", f"![{name}]({png})", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
