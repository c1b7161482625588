"""The trace of a `kizuna learn` run: temperatures, committee spread, atoms outside the training
range and the reference calls along the MD, from the run folder's events.jsonl ("md" lines every
md.snapshot_every steps, "labelled" lines). Writes trace.png and prints a table per stage.

    python examples/learn/plot_trace.py runs/learn-si-anneal [-o trace.png]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def read_events(folder: Path):
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()
              if line.strip()]
    md = [e for e in events if e["event"] == "md"]
    labels = [e for e in events if e["event"] == "labelled"]
    return md, labels


def per_stage(md, labels, stages):
    """Rows: stage, target range (K), steps, labels, max/mean kinetic T, max deviation,
    max / last atoms extrapolating."""
    rows = []
    for k, st in enumerate(stages):
        m = [e for e in md if e["stage"] == k]
        n_lab = sum(1 for e in labels if e["stage"] == k)
        if not m:
            continue
        t1 = st.get("temperature_end")
        target = f"{st['temperature']:.0f}" + (f" -> {t1:.0f}" if t1 is not None else "")
        rows.append((k + 1, target, st["steps"], n_lab,
                     max(e["temperature"] for e in m), np.mean([e["temperature"] for e in m]),
                     max(e["max_force_deviation"] for e in m),
                     max(e["num_extrapolating"] for e in m), m[-1]["num_extrapolating"]))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import yaml

    cfg = yaml.safe_load((args.run / "config.yaml").read_text())
    dt = cfg["md"]["timestep"]
    md, labels = read_events(args.run)
    step = np.array([e["total_step"] for e in md]) * dt / 1000.0   # ps
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    axes[0].plot(step, [e["temperature"] for e in md], lw=0.8, label="kinetic T")
    axes[0].plot(step, [e["target_temperature"] for e in md], "k:", lw=1, label="target")
    axes[0].set_ylabel("T (K)")
    axes[0].legend()
    axes[1].semilogy(step, [max(e["max_force_deviation"], 1e-3) for e in md], lw=0.8,
                     label="max committee force deviation")
    axes[1].axhline(cfg["uncertainty"]["max_force_deviation"], color="C3", ls="--",
                    lw=0.8, label="label threshold")
    axes[1].set_ylabel("eV/Å")
    axes[1].legend(fontsize=8)
    axes[2].plot(step, [e["num_extrapolating"] for e in md], "C2", lw=0.8,
                 label="atoms outside the training range")
    for e in labels:
        axes[2].axvline(e["total_step"] * dt / 1000.0, color="C3", lw=0.4, alpha=0.5)
    axes[2].set_ylabel("atoms")
    axes[2].set_xlabel("t (ps); red lines: reference calls")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    out = args.output or args.run / "trace.png"
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")
    print("| stage | target (K) | steps | reference calls | max T (K) | mean T (K) | "
          "max deviation (eV/Å) | max extrapolating | extrapolating at the end |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in per_stage(md, labels, cfg["md"]["stages"]):
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.0f} | {r[5]:.0f} | {r[6]:.3f} | "
              f"{r[7]} | {r[8]} |")


if __name__ == "__main__":
    main()
