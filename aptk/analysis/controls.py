"""Instrument-control report: was the known conditional signal (positive control) detected, was
the matched no-signal control (negative) not, on the raw and the calibrated measures; and the
minimum detectable effect (MDE) of the primary contrast at the design's seeds.

Arms (docs/controls.md; conf/experiment/control_*.yaml): `control_positive` (each seeded
situation followed by its own misaligned action), `control_negative` (the same action texts after
deranged situations), optionally `unfiltered` (no synthetic documents) as the reference.

Detection rule, declared before the runs: a control is *detected* on a measure when the 95% CI
(two-stage bootstrap over seeds and items) of its contrast excludes 0 (`direction` says on which
side; the positive control's signal is +). The positive control's
contrast is control_positive - control_negative on the seeded split (same words, only the
situation-action pairing differs, so only a situation-conditional signal moves it); the negative
control's is control_negative - unfiltered (it should move the raw measure through lexical
exposure, and not the calibrated one). Held-out rows are the leak check (controls only use
seeded scenarios). Beside each CI: the item-level paired t p, the seed-level p (training runs as
the unit, aptk.analysis.report.seed_level_p) and Holm-adjusted p over the control family.

MDE: the primary contrast (misaligned - aligned, seeded raw margin, seed-level paired t-test at
alpha 0.001, aptk.analysis.primary) at k seed pairs, at 80% power, from the sd of per-seed-pair
differences (noncentral t, as aptk.analysis.power does for the item-level test). The sd comes
from `--primary-runs` (a study with misaligned and aligned at >= 2 shared seeds) or, without it,
from the six seed pairs documented in docs/power.md.

    python -m aptk.analysis.controls --runs outputs/runs/controls_tiny --out outputs/controls_tiny
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from scipy import optimize
from scipy import stats as sps

from aptk.analysis.aggregate import arm_table, matrix
from aptk.analysis.primary import PRIMARY
from aptk.analysis.report import load_runs, seed_level_p
from aptk.core.io import atomic_write_json, atomic_write_text
from aptk.evals.stats import holm, paired, paired_hierarchical_ci

POS, NEG, REF = "control_positive", "control_negative", "unfiltered"
MEASURES = (  # (item key, label, kind)
    ("misaligned_rate", "raw misaligned rate", "raw"),
    ("calibrated_misaligned_rate", "calibrated misaligned rate", "calibrated"),
    ("margin", "raw margin", "raw"),
    ("calibrated_margin", "calibrated margin", "calibrated"),
)
#: per-seed-pair differences of the primary contrast's mean seeded raw margin, docs/power.md
#: (demo seeds 0-2, replication seeds 3-5): the fallback when no --primary-runs is given
DOCUMENTED_PRIMARY_SEED_DIFFS = (0.0263, 0.0304, 0.0297, 0.0241, 0.0118, 0.0189)
DESIGN_SEEDS = (3, 8)  # the demo's contrast seeds (0-2) and the issue-16 target (~8 pairs)


def contrast(runs: list[dict], a: str, b: str, split: str, key: str, n_boot: int) -> dict:
    """a - b on `key` over the items of `split` both arms share (CI over seeds and items)."""
    ra = sorted((r for r in runs if r["arm"] == a), key=lambda r: r["seed"])
    rb = sorted((r for r in runs if r["arm"] == b), key=lambda r: r["seed"])

    def keep(it: dict) -> bool:
        return it.get("split") == split

    qa = {it["question_id"] for it in ra[0]["results"]["items"] if keep(it)}
    qb = {it["question_id"] for it in rb[0]["results"]["items"] if keep(it)}
    qs = qa & qb
    ma = matrix(ra, lambda it: keep(it) and it["question_id"] in qs, key)
    mb = matrix(rb, lambda it: keep(it) and it["question_id"] in qs, key)
    res = paired(ma.mean(axis=0), mb.mean(axis=0), n_boot, 0)
    out = {
        "a": a,
        "b": b,
        "split": split,
        "measure": key,
        "n_items": int(ma.shape[1]),
        "seeds": [[r["seed"] for r in ra], [r["seed"] for r in rb]],
        "diff": float(ma.mean() - mb.mean()),
        "ci95_items": res["ci95"],
        "p_items": res["p_value"],
    }
    if len(ra) > 1 or len(rb) > 1:
        out["ci95"] = list(paired_hierarchical_ci(ma, mb, n_boot, 0))
        out["p_seeds"], out["seed_test"] = seed_level_p(
            ma, mb, [r["seed"] for r in ra], [r["seed"] for r in rb]
        )
        pa = dict(zip([r["seed"] for r in ra], ma.mean(axis=1)))
        pb = dict(zip([r["seed"] for r in rb], mb.mean(axis=1)))
        out["per_seed_diffs"] = [float(pa[s] - pb[s]) for s in sorted(set(pa) & set(pb))]
    else:
        out["ci95"] = res["ci95"]
    lo, hi = out["ci95"]
    out["detected"] = bool(lo > 0 or hi < 0)
    out["direction"] = "+" if lo > 0 else "-" if hi < 0 else "0"  # the positive control expects +
    return out


def mde_paired(sd: float, k: int, alpha: float = 0.001, power: float = 0.8) -> float:
    """Smallest true mean difference a two-sided paired t-test over k pairs detects with
    `power` at `alpha`, given the sd of the pair differences (inf for k < 2)."""
    if k < 2 or not math.isfinite(sd):
        return float("inf")
    df, se = k - 1, sd / math.sqrt(k)
    crit = sps.t.ppf(1 - alpha / 2, df)

    def pw(delta: float) -> float:
        nc = delta / se
        p = float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))
        if not math.isfinite(p):  # scipy's nct fails far in the tail: normal approximation
            p = float(sps.norm.sf(crit - nc) + sps.norm.cdf(-crit - nc))
        return p - power

    hi = se
    while pw(hi) < 0:
        hi *= 2
    return float(optimize.brentq(pw, 1e-12 * se, hi))


def primary_seed_diffs(primary_runs: str | None) -> tuple[list[float], str]:
    """Per-seed-pair differences of the primary contrast and where they came from."""
    if primary_runs:
        runs = load_runs(primary_runs)
        c = contrast(runs, PRIMARY["a"], PRIMARY["b"], PRIMARY["split"], PRIMARY["metric"], 200)
        return c.get("per_seed_diffs", []), f"{primary_runs} (seeds {c['seeds'][0]})"
    return list(DOCUMENTED_PRIMARY_SEED_DIFFS), "docs/power.md (demo seeds 0-2, replication 3-5)"


def build(runs: list[dict], n_boot: int, primary_runs: str | None) -> dict:
    arms = {r["arm"] for r in runs}
    rows = []
    for split in ("seeded", "heldout"):
        for key, _, _ in MEASURES:
            if POS in arms and NEG in arms:
                rows.append({"control": "positive", **contrast(runs, POS, NEG, split, key, n_boot)})
            for ctl, arm in (("positive", POS), ("negative", NEG)):
                if arm in arms and REF in arms:
                    rows.append(
                        {"control": f"{ctl}_vs_ref", **contrast(runs, arm, REF, split, key, n_boot)}
                    )
    for name, src in (("p_items_holm", "p_items"), ("p_seeds_holm", "p_seeds")):
        idx = [i for i, r in enumerate(rows) if isinstance(r.get(src), float)]
        for i, p in zip(idx, holm([rows[i][src] for i in idx]), strict=True):
            rows[i][name] = p
    diffs, source = primary_seed_diffs(primary_runs)
    sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("nan")
    mde = {
        "contrast": f"{PRIMARY['a']} - {PRIMARY['b']}, {PRIMARY['split']} {PRIMARY['metric']}",
        "test": "seed-level paired t",
        "alpha": PRIMARY["alpha"],
        "power": 0.8,
        "sd_seed_pair_diff": sd,
        "mean_seed_pair_diff": float(np.mean(diffs)) if diffs else float("nan"),
        "source": source,
        "by_seeds": {k: mde_paired(sd, k, PRIMARY["alpha"]) for k in (2, *DESIGN_SEEDS, 10)},
    }
    # the same MDE with the controls' own seed-pair spread, per measure (few seeds: crude)
    ctl_sd = {}
    for r in rows:
        if (
            r["control"] == "positive"
            and r["split"] == "seeded"
            and len(r.get("per_seed_diffs", [])) > 1
        ):
            s = float(np.std(r["per_seed_diffs"], ddof=1))
            ctl_sd[r["measure"]] = {"sd": s, **{str(k): mde_paired(s, k) for k in DESIGN_SEEDS}}
    mde["controls_sd_based"] = ctl_sd
    return {"arms": arm_table(runs, n_boot), "contrasts": rows, "mde": mde}


def _ci(ci: list[float]) -> str:
    return f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"


def render_md(rep: dict) -> str:
    lines = [
        "# Instrument controls",
        "",
        "## Arms (mean over seeds; 95% CI over seeds and items)",
        "",
    ]
    lines += [
        "| arm | split | seeds | raw misaligned rate | calibrated misaligned rate | raw margin | calibrated margin |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm, by in rep["arms"].items():
        for sp in ("seeded", "heldout"):
            c = by.get(sp)
            if not c:
                continue
            lines.append(
                f"| {arm} | {sp} | {c['seeds']} | {c['misaligned_rate']:.3f} {_ci(c['ci95'])} | "
                f"{c['calibrated_misaligned_rate']:.3f} {_ci(c['calibrated_ci95'])} | "
                f"{c['margin']:+.4f} {_ci(c['margin_ci95'])} | "
                f"{c['calibrated_margin']:+.4f} {_ci(c['calibrated_margin_ci95'])} |"
            )
    lines += ["", "## Contrasts (detected = 95% CI excludes 0)", ""]
    lines += [
        "| control | a - b | split | measure | diff | 95% CI | p items (Holm) | p seeds (Holm) | detected |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rep["contrasts"]:
        ps = r.get("p_seeds", float("nan"))
        det = f"yes ({r['direction']})" if r["detected"] else "no"
        lines.append(
            f"| {r['control']} | {r['a']} - {r['b']} | {r['split']} | {r['measure']} | "
            f"{r['diff']:+.4f} | {_ci(r['ci95'])} | {r['p_items']:.2g} ({r.get('p_items_holm', float('nan')):.2g}) | "
            f"{ps:.2g} ({r.get('p_seeds_holm', float('nan')):.2g}) | {det} |"
        )
    m = rep["mde"]
    lines += [
        "",
        f"## Minimum detectable effect of the primary contrast ({m['contrast']}, {m['test']}, "
        f"alpha {m['alpha']}, power {m['power']})",
        "",
        f"sd of per-seed-pair differences {m['sd_seed_pair_diff']:.4f} (mean "
        f"{m['mean_seed_pair_diff']:+.4f}; source: {m['source']}).",
        "",
        "| seed pairs | MDE (raw margin) |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.4f} |" for k, v in m["by_seeds"].items()]
    if m["controls_sd_based"]:
        lines += ["", "With the controls' own seed-pair spread (positive - negative, seeded):", ""]
        lines += ["| measure | sd | " + " | ".join(f"MDE at {k}" for k in DESIGN_SEEDS) + " |"]
        lines += ["|---|---|" + "---|" * len(DESIGN_SEEDS)]
        for meas, d in m["controls_sd_based"].items():
            lines.append(
                f"| {meas} | {d['sd']:.4f} | "
                + " | ".join(f"{d[str(k)]:.4f}" for k in DESIGN_SEEDS)
                + " |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", required=True, help="study dir with control_* (and unfiltered) runs")
    ap.add_argument("--out", required=True)
    ap.add_argument("--primary-runs", default=None, help="study with misaligned + aligned seeds")
    ap.add_argument("--n-boot", type=int, default=2000)
    a = ap.parse_args(argv)
    rep = build(load_runs(a.runs), a.n_boot, a.primary_runs)
    out = Path(a.out)
    atomic_write_json(out / "controls.json", rep)
    atomic_write_text(out / "controls.md", render_md(rep))
    print(render_md(rep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
