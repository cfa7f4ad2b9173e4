"""The report's pre-declared primary contrast and the multiple-comparison adjustment of the rest.

Primary (declared 2026-12-05 for issue #16, before any run under this rule): `misaligned` vs
`aligned`, seeded split, raw per-token margin (the quantity docs/power.md powered the demo for),
tested at the seed level (`p_seeds`: training runs as the unit, paired over shared seeds, else
Welch; aptk.analysis.report.seed_level_p) at alpha = 0.001. It is one test, so it is not adjusted.
Its item-level t-test is *not* the primary test (a training seed moves every item together,
docs/power.md) and is adjusted with the others.

Every other test in the report is secondary and gets a Holm-adjusted p beside its raw p:
`p_holm` adjusts the item-level paired t-test (`p_value`) over all comparison rows;
`p_seeds_holm` adjusts the seed-level p over the rows (other than the primary) that have one.
Why Holm, not Benjamini-Hochberg: the report's claims are per comparison ("this difference is
real"), which is family-wise error control; and the rows are strongly dependent - the
calibrated margin is raw minus control, the misaligned rate is a threshold of the raw margin,
all splits share models - including negative dependence (raw vs control), where BH's FDR
guarantee (independence or positive regression dependence) does not hold. Holm is valid under
any dependence and never less powerful than Bonferroni. The sign test (`p_sign`) stays a raw,
unadjusted robustness check on the direction.

    python -m aptk.analysis.report --runs <dir> --out <dir>   # report.json "primary", report.md
"""

from __future__ import annotations

import math

from aptk.evals.stats import holm

PRIMARY = {
    "a": "misaligned",
    "b": "aligned",
    "split": "seeded",
    "metric": "margin",
    "test": "p_seeds",
    "alpha": 0.001,
    "declared": "2026-12-05 (issue #16), before the runs it is applied to",
}
ADJUSTMENT = "holm"


def is_primary(c: dict) -> bool:
    return all(c.get(k) == PRIMARY[k] for k in ("a", "b", "split", "metric"))


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not math.isnan(x)


def adjust(comps: list[dict]) -> dict:
    """Mark the primary row, add Holm-adjusted p-values to the rows (in place) and return the
    report's "primary" section: the declaration, whether it could be tested, and its result."""
    fam_t = [i for i, c in enumerate(comps) if _finite(c.get("p_value"))]
    for i, p in zip(fam_t, holm([comps[i]["p_value"] for i in fam_t]), strict=True):
        comps[i]["p_holm"] = p
    fam_s = [i for i, c in enumerate(comps) if not is_primary(c) and _finite(c.get("p_seeds"))]
    for i, p in zip(fam_s, holm([comps[i]["p_seeds"] for i in fam_s]), strict=True):
        comps[i]["p_seeds_holm"] = p
    for c in comps:
        c["primary"] = is_primary(c)
    out: dict = {
        "declared": dict(PRIMARY),
        "adjustment": ADJUSTMENT,
        "family_sizes": {"p_holm": len(fam_t), "p_seeds_holm": len(fam_s)},
    }
    row = next((c for c in comps if c["primary"]), None)
    if row is None:
        return {**out, "tested": False, "reason": "no misaligned/aligned comparison on seeded"}
    res = {
        k: row.get(k)
        for k in ("n", "n_seeds", "mean_diff", "ci95", "p_seeds", "seed_test", "p_value")
    }
    if not _finite(row.get("p_seeds")):
        return {
            **out,
            **res,
            "tested": False,
            "reason": "the seed-level test needs >= 2 seeds of each arm",
        }
    return {**out, **res, "tested": True, "significant": bool(row["p_seeds"] < PRIMARY["alpha"])}


def _p(p: object) -> str:
    return "n/a" if not _finite(p) else (f"{p:.2g}" if p < 0.001 else f"{p:.3f}")


def primary_md(rep: dict) -> list[str]:
    pr = rep.get("primary")
    if not pr:
        return []
    d = pr["declared"]
    L = [
        "## Primary contrast (pre-declared)",
        "",
        (
            f"{d['a']} - {d['b']}, {d['split']} split, raw per-token margin, seed-level test "
            f"(training runs as the unit) at alpha = {d['alpha']}; declared {d['declared']}. "
            "It is the study's one confirmatory test; every other p in this report is "
            "secondary and shown with its Holm-adjusted value (family-wise error, valid under "
            "the strong dependence between rows)."
        ),
        "",
    ]
    if not pr.get("tested"):
        return L + [f"**Not tested**: {pr['reason']}.", ""]
    ci = pr.get("ci95") or [float("nan")] * 2
    L += [
        "| n items | seeds (a, b) | mean diff | 95% CI | seed-level p | test | p < alpha |",
        "|---|---|---|---|---|---|---|",
        (
            f"| {pr['n']} | {pr.get('n_seeds')} | {pr['mean_diff']:+.4f} | "
            f"[{ci[0]:.3f}, {ci[1]:.3f}] | {_p(pr['p_seeds'])} | {pr.get('seed_test')} | "
            f"{'yes' if pr['significant'] else 'no'} |"
        ),
        "",
    ]
    return L
