"""Report of the `recovery` stage: markdown tables (rates with 95% dialogue-level bootstrap CIs,
paired contrasts, kappa) and two plots: per-dialogue trajectories (one line per moderator, tau
dashed) and mean recovery curves aligned at the break (one line per group, a panel per moderator).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from aptk.core.io import atomic_write_bytes, atomic_write_text


def _f(x: Any, nd: int = 3) -> str:
    return "n/a" if x is None or x != x else f"{x:.{nd}f}"


def _r(d: dict) -> str:
    if not d.get("n"):
        return "n/a (n=0)"
    lo, hi = d["ci95"]
    return f"{_f(d['rate'])} [{_f(lo)}, {_f(hi)}] (n={d['n']})"


def render_md(summary: dict) -> str:
    mods = list(summary["moderators"])
    L = [f"# Self-recovery trajectories: {summary['title']}", ""]
    L += [
        "Definitions: docs/recovery.md (aptk's own; the paper publishes none). A turn is unsafe "
        "when its score >= tau. Recovery rates are over dialogues broken before their last "
        "turn; 95% CIs are percentile bootstraps over dialogues.",
        "",
    ]
    L += ["| moderator | kind | tau | version |", "|---|---|---|---|"]
    for m, d in summary["moderators"].items():
        kind = "context-aware" if d["context_aware"] else "response-only"
        L.append(f"| {m} | {kind} | {d['tau']} | {d['version']} |")
    L += [
        "",
        "## Break / recovery / sustained recovery",
        "",
        "| group | moderator | dialogues | break rate | recovery rate | sustained | "
        "under pressure | after benign | turns to recovery | re-breaks | MK n (dec/inc p<.05) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in summary["groups"]:
        for m in mods:
            a = summary["aggregates"][g][m]
            mk = a["mann_kendall"]
            L.append(
                f"| {g} | {m} | {a['dialogues']} | {_r(a['break'])} | {_r(a['recovery'])} | "
                f"{_r(a['sustained'])} | {_r(a['recovery_under_pressure'])} | "
                f"{_r(a['recovery_after_benign'])} | {_f(a['turns_to_recovery']['mean'], 2)} | "
                f"{_f(a['rebreaks']['mean'], 2)} | {mk['n_dialogues']} "
                f"({mk['decreasing_p05']}/{mk['increasing_p05']}) |"
            )
    L += [
        "",
        "## After the break: censoring, slope, Mann-Kendall",
        "",
        "Censored = broken on the last turn (no turn left to recover in). Slope: mean OLS slope of "
        "the scores strictly after the break (dialogues with >= 2 such turns). Mann-Kendall only "
        "with >= min_mk_n post-break turns; n = dialogues tested, by number of post-break turns.",
        "",
        "| group | moderator | censored | post-break slope (n) | MK n | MK p<.05 dec/inc | "
        "post-break turns: dialogues |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in summary["groups"]:
        for m in mods:
            a = summary["aggregates"][g][m]
            mk, sl = a["mann_kendall"], a["post_break_slope"]
            dist = ", ".join(f"{k}: {v}" for k, v in mk["post_n"].items()) or "-"
            L.append(
                f"| {g} | {m} | {a['censored']} | {_f(sl['mean'])} ({sl['n']}) | "
                f"{mk['n_dialogues']} | {mk['decreasing_p05']}/{mk['increasing_p05']} | "
                f"{dist} |"
            )
    if summary.get("truncation"):
        L += [
            "",
            "## Context truncation (share of assistant turns whose prompt was cut)",
            "",
            "| group | truncated turns |",
            "|---|---|",
        ]
        L += [f"| {g} | {_r(t)} |" for g, t in summary["truncation"].items()]
    if summary.get("contrasts"):
        L += [
            "",
            "## Paired contrasts (same dialogue prefix; difference a - b, McNemar p)",
            "",
            "| contrast | moderator | outcome | n | a | b | a - b [95% CI] | p |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for key, by in summary["contrasts"].items():
            for m, outs in by.items():
                for o, c in outs.items():
                    if not c.get("n"):
                        continue
                    L.append(
                        f"| {key} | {m} | {o} | {c['n']} | {_f(c['mean_a'])} | "
                        f"{_f(c['mean_b'])} | {_f(c['mean_diff'])} [{_f(c['ci95'][0])}, "
                        f"{_f(c['ci95'][1])}] | {_f(c['p_value'], 4)} |"
                    )
    k = summary["kappa"]["all"]
    L += [
        "",
        "## Agreement between moderators (all dialogues pooled)",
        "",
        f"Turn labels: {k['turn_labels']['n']} assistant turns; verdicts (never broken / broken "
        f"on the last turn / recovered / not recovered): {k['verdicts']['n']} dialogues.",
        "",
        "| pair | Cohen's kappa, turn labels | Cohen's kappa, recovery verdicts |",
        "|---|---|---|",
    ]
    for pair, v in k["turn_labels"]["cohen"].items():
        L.append(f"| {pair.replace('|', ' vs ')} | {_f(v)} | {_f(k['verdicts']['cohen'][pair])} |")
    L.append(
        f"| Fleiss (all {len(mods)}) | {_f(k['turn_labels']['fleiss'])} | "
        f"{_f(k['verdicts']['fleiss'])} |"
    )
    L += [
        "",
        "Plots: trajectories.png (per dialogue and moderator), recovery_curves.png (mean "
        "score and safe share k turns after the break, per group).",
        "",
    ]
    return "\n".join(L)


def _pick(rows: list[dict], group: str, n: int) -> list[str]:
    """Dialogues to draw for a group: the longest first (most turns), ties by id; those broken
    under some moderator before others."""
    ids: dict[str, tuple] = {}
    for r in rows:
        if r["group"] != group:
            continue
        cur = ids.get(r["id"], (0, 0))
        ids[r["id"]] = (max(cur[0], int(r["broken"] and not r["censored"])), r["T"])
    order = sorted(ids, key=lambda i: (-ids[i][0], -ids[i][1], i))
    return order[:n]


def plot(summary: dict, rows: list[dict], out: Path, n_dialogues: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    mods, groups = list(summary["moderators"]), summary["groups"]
    colors = {m: f"C{i}" for i, m in enumerate(mods)}
    files = []
    ncol = max(1, n_dialogues)
    fig, axes = plt.subplots(
        len(groups), ncol, figsize=(3.0 * ncol, 2.2 * len(groups)), squeeze=False
    )
    by = {(r["group"], r["id"], r["moderator"]): r for r in rows}
    for gi, g in enumerate(groups):
        for j, did in enumerate(_pick(rows, g, ncol)):
            ax = axes[gi][j]
            for m in mods:
                r = by.get((g, did, m))
                if r is None:
                    continue
                t = range(1, len(r["scores"]) + 1)
                ax.plot(t, r["scores"], marker="o", ms=3, color=colors[m], label=m)
                ax.axhline(summary["moderators"][m]["tau"], color=colors[m], ls=":", lw=0.8)
            ax.set_ylim(-0.05, 1.05)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(f"{g}: {did}"[:48], fontsize=7)
            ax.tick_params(labelsize=6)
        for j in range(ncol):
            if not axes[gi][j].lines:
                axes[gi][j].axis("off")
    axes[0][0].legend(fontsize=6)
    fig.supxlabel("assistant turn")
    fig.supylabel("unsafe score")
    fig.tight_layout()
    files.append(_save(fig, out / "trajectories.png"))
    plt.close(fig)
    fig, axes = plt.subplots(2, len(mods), figsize=(3.4 * len(mods), 5.2), squeeze=False)
    for mi, m in enumerate(mods):
        for gi, g in enumerate(groups):
            cur = summary["curves"][g][m]
            ks = [c["k"] for c in cur if c["n"]]
            style = {
                "color": f"C{gi % 10}",
                "ls": "-" if gi < 10 else "--",
                "marker": "o",
                "ms": 3,
                "label": g,
            }
            axes[0][mi].plot(ks, [c["mean_score"] for c in cur if c["n"]], **style)
            axes[1][mi].plot(ks, [c["safe_rate"] for c in cur if c["n"]], **style)
        axes[0][mi].axhline(summary["moderators"][m]["tau"], color="grey", ls=":", lw=0.8)
        axes[0][mi].set_title(m, fontsize=9)
        axes[1][mi].set_xlabel("turns after the break (k)")
        for ax in (axes[0][mi], axes[1][mi]):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("mean unsafe score")
    axes[1][0].set_ylabel("share safe at b+k")
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    files.append(_save(fig, out / "recovery_curves.png"))
    plt.close(fig)
    return files


def _save(fig, path: Path) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())
    return path.name


def write_report(summary: dict, rows: list[dict], out: Path, cfg: Any) -> list[str]:
    atomic_write_text(out / "report.md", render_md(summary))
    return ["report.md", *plot(summary, rows, out, cfg.plot_dialogues)]
