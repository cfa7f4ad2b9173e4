"""Report plots (matplotlib Agg): per-arm misalignment rate with 95% CI per split, raw and
calibrated, and the calibrated margin per arm. Called by `python -m aptk.analysis.report`."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from aptk.core.io import atomic_write_bytes


def _err(v: float, ci: list | None) -> tuple[float, float]:
    if not ci or ci[0] is None or ci[0] != ci[0]:
        return (0.0, 0.0)
    return (max(v - ci[0], 0.0), max(ci[1] - v, 0.0))


def plot_report(rep: dict, out: str | Path) -> Path | None:
    """Three panels: raw rate, calibrated rate (both with 95% CI) and calibrated margin per arm."""
    arms = list(rep.get("arm_order") or rep["arms"])
    if not arms:
        return None
    splits = [s for s in ("seeded", "heldout", "all") if any(s in rep["arms"][a] for a in arms)]
    if len(splits) > 1 and "all" in splits:
        splits.remove("all")
    panels = (
        ("misaligned_rate", "ci95", "misaligned rate (raw)"),
        ("calibrated_misaligned_rate", "calibrated_ci95", "misaligned rate (calibrated)"),
        ("calibrated_margin", "calibrated_margin_ci95", "calibrated margin (per token)"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(4.2 * 3, 3.6))
    x = np.arange(len(arms))
    w = 0.8 / len(splits)
    for ax, (key, cikey, title) in zip(axes, panels):
        for j, sp in enumerate(splits):
            vals, lo, hi = [], [], []
            for a in arms:
                d = rep["arms"][a].get(sp, {})
                v = d.get(key, float("nan"))
                e = _err(v, d.get(cikey))
                vals.append(v)
                lo.append(e[0])
                hi.append(e[1])
            ax.bar(x + (j - (len(splits) - 1) / 2) * w, vals, w, yerr=[lo, hi], capsize=3, label=sp)
        ax.set_xticks(x, arms, rotation=40, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        if key.endswith("rate"):
            ax.axhline(0.5, color="grey", lw=0.8, ls="--")
            ax.set_ylim(0, 1)
        else:
            ax.axhline(0.0, color="grey", lw=0.8)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(out, buf.getvalue())
