"""Feature-quality report: constant and duplicate symmetry functions, range per element."""
from __future__ import annotations

import numpy as np


def feature_report(prepared, elements, sfs_by_element: dict, duplicate_tol=1e-4,
                   constant_tol=1e-10) -> dict:
    """Per element: ranges of each feature, the constant ones (max - min <= tol * max(1, |max|))
    and pairs of duplicates (1 - |Pearson correlation| < duplicate_tol over training atoms)."""
    out = {}
    for e in elements:
        blocks = [p.G[e].numpy() for p in prepared if e in p.G]
        G = np.concatenate(blocks) if blocks else np.zeros((0, len(sfs_by_element[e])))
        lo, hi = (G.min(0), G.max(0)) if len(G) else (np.zeros(G.shape[1]),) * 2
        span = hi - lo
        constant = np.flatnonzero(span <= constant_tol * np.maximum(1.0, np.abs(hi)))
        varying = np.setdiff1d(np.arange(G.shape[1]), constant)
        duplicates = []
        if len(G) > 1 and len(varying) > 1:
            corr = np.corrcoef(G[:, varying].T)
            i, j = np.where(np.triu(1.0 - np.abs(corr) < duplicate_tol, k=1))
            duplicates = [(int(varying[a]), int(varying[b]), float(corr[a, b]))
                          for a, b in zip(i, j)]
        out[e] = {"atoms": int(len(G)), "min": lo, "max": hi, "mean": G.mean(0) if len(G) else lo,
                  "constant": constant.tolist(), "duplicates": duplicates}
    return out


def _describe(sf) -> str:
    p = sf.parameters()
    keys = [k for k in ("eta", "rs", "zeta", "lambda") if k in p]
    return f"{sf.label()} " + " ".join(f"{k}={p[k]:.4g}" for k in keys)


def format_feature_report(report: dict, sfs_by_element: dict) -> str:
    lines = ["feature report (symmetry functions over the training atoms)"]
    for e, r in report.items():
        sfs = sfs_by_element[e]
        lines.append(f"  {e}: {len(sfs)} functions, {r['atoms']} atoms, "
                     f"{len(r['constant'])} constant, {len(r['duplicates'])} duplicate pair(s)")
        lines.append(f"    {'#':>3} {'function':<52} {'min':>11} {'max':>11} {'mean':>11}")
        for k, sf in enumerate(sfs):
            flag = " CONSTANT" if k in r["constant"] else ""
            lines.append(f"    {k + 1:>3} {_describe(sf):<52} {r['min'][k]:11.4g} "
                         f"{r['max'][k]:11.4g} {r['mean'][k]:11.4g}{flag}")
        for a, b, c in r["duplicates"]:
            lines.append(f"    duplicate: #{a + 1} and #{b + 1} (correlation {c:+.6f})")
    if any(r["constant"] or r["duplicates"] for r in report.values()):
        lines.append("  constant features get scaling factor 0 (ignored); duplicates cost time "
                     "only. Adjust symmetry_functions (r_min, cutoff, counts) to remove them.")
    return "\n".join(lines)
