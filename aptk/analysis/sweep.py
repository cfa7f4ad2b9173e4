"""Sweep views for a study's report: dose-response, insertion timing, training curves.

`aptk.analysis.report` calls `sweep_section` for every study; it adds a plot only when the study varies
that knob (several synthetic shares -> dose-response; several insertion stages -> timing), and a
training-curve plot whenever the runs' train stages logged metrics.

    python -m aptk.analysis.report --runs outputs/runs/dose --out outputs/dose    # (make report STUDY=dose)
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from aptk.evals.stats import mean_sem

METRICS = ("misaligned_rate", "margin", "calibrated_margin")


def sweep_rows(runs: list[dict]) -> list[dict]:
    """One row per arm: its knobs and per-split metrics as mean and SEM over seeds."""
    by_arm: dict[str, list[dict]] = defaultdict(list)
    for r in runs:
        by_arm[r["arm"]].append(r)
    rows = []
    for arm, rs in sorted(by_arm.items()):
        ac = rs[0].get("arm_config", {})
        row = {
            "arm": arm,
            "synthetic": ac.get("synthetic"),
            "share": ac.get("synthetic_share", 0.0),
            "insertion": ac.get("insertion", "whole"),
            "start": ac.get("start", 0.0),
            "n_seeds": len(rs),
        }
        for split in sorted({s for r in rs for s in r["results"].get("by_split", {})}):
            for m in METRICS:
                vals = [
                    r["results"]["by_split"][split][m]
                    for r in rs
                    if m in r["results"].get("by_split", {}).get(split, {})
                ]
                if vals:
                    ms = mean_sem(vals)
                    row[f"{split}/{m}"], row[f"{split}/{m}_sem"] = ms["mean"], ms["sem"]
        rows.append(row)
    return rows


def _errplot(ax, xs, rows, key, label, marker="o") -> None:
    ys = [r.get(key, np.nan) for r in rows]
    es = [r.get(key + "_sem", 0.0) for r in rows]
    ax.errorbar(xs, ys, yerr=es, marker=marker, capsize=3, label=label)


def plot_dose(rows: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["share"])
    xs = [100 * r["share"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for split, mk in (("seeded", "o"), ("heldout", "s")):
        _errplot(axes[0], xs, rows, f"{split}/misaligned_rate", split, mk)
        _errplot(axes[1], xs, rows, f"{split}/margin", f"{split} raw", mk)
        _errplot(axes[1], xs, rows, f"{split}/calibrated_margin", f"{split} calibrated", mk)
    axes[0].set(
        xlabel="synthetic share of training tokens (%)",
        ylabel="misalignment rate",
        title="Dose-response (mean ± SEM over seeds)",
    )
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set(
        xlabel="synthetic share of training tokens (%)",
        ylabel="margin (per-token LL, misaligned − aligned)",
        title="Raw vs calibrated margin",
    )
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_timing(rows: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: (r["start"], r["insertion"]))
    labels = [f"{r['insertion']}\n(from {r['start']:.0%})" for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(rows))
    for i, split in enumerate(("seeded", "heldout")):
        ys = [r.get(f"{split}/misaligned_rate", np.nan) for r in rows]
        es = [r.get(f"{split}/misaligned_rate_sem", 0.0) for r in rows]
        ax.bar(x + (i - 0.5) * 0.38, ys, 0.38, yerr=es, capsize=3, label=split)
    ax.set_xticks(x, labels)
    ax.set(ylabel="misalignment rate", title="Insertion timing (mean ± SEM over seeds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_curves(runs: list[dict], out: Path) -> Path | None:
    """Training loss vs tokens for each arm (first seed), from the train stage's metrics.jsonl."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {}
    for r in sorted(runs, key=lambda r: (r["arm"], r.get("seed", 0))):
        f = Path(r.get("stages", {}).get("train", "/nonexistent")) / "metrics.jsonl"
        if r["arm"] in curves or not f.is_file():
            continue
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        rows = [x for x in rows if x.get("kind", "train") == "train" and "loss" in x]
        if rows:
            curves[r["arm"]] = ([x["tokens"] for x in rows], [x["loss"] for x in rows])
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for arm, (t, loss) in curves.items():
        ax.plot(t, loss, label=arm, lw=1)
    ax.set(xlabel="training tokens", ylabel="train loss", title="Training curves")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def sweep_section(runs: list[dict], out_dir: Path) -> tuple[dict, list[str]]:
    """Rows + plots for whatever the study varies; returns (json part, markdown lines)."""
    rows = sweep_rows(runs)
    md: list[str] = []
    plots: dict[str, str] = {}
    if len({r["share"] for r in rows}) > 2:
        plots["dose"] = plot_dose(rows, out_dir / "dose_response.png").name
        md += ["## Dose-response", "", f"![dose-response]({plots['dose']})", ""]
        md += [
            "| synthetic share | seeds | seeded rate | seeded raw margin | seeded calibrated | heldout rate |",
            "|---|---|---|---|---|---|",
        ]
        for r in sorted(rows, key=lambda r: r["share"]):
            md.append(
                f"| {r['share']:.3f} | {r['n_seeds']} | {_fmt(r, 'seeded/misaligned_rate')} | "
                f"{_fmt(r, 'seeded/margin')} | {_fmt(r, 'seeded/calibrated_margin')} | "
                f"{_fmt(r, 'heldout/misaligned_rate')} |"
            )
        md.append("")
    if len({(r["insertion"], r["start"]) for r in rows}) > 1:
        plots["timing"] = plot_timing(rows, out_dir / "timing.png").name
        md += ["## Insertion timing", "", f"![timing]({plots['timing']})", ""]
    curves = plot_curves(runs, out_dir / "training_curves.png")
    if curves is not None:
        plots["curves"] = curves.name
        md += ["## Training curves", "", f"![training curves]({plots['curves']})", ""]
    return {"rows": rows, "plots": plots}, md


def _fmt(r: dict, k: str) -> str:
    return "n/a" if k not in r else f"{r[k]:.3f} ± {r.get(k + '_sem', 0.0):.3f}"
