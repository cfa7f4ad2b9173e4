"""How many training seeds does a paired arm comparison need? Variance decomposition + power.

    python -m aptk.analysis.power --runs outputs/runs/pilot --a misaligned --b aligned \
        [--split seeded] [--metric margin] [--alpha 0.001] [--max-seeds 6] [--out power.json]

A per-item difference between two arms (each item's metric averaged over an arm's k seeds)
varies for two reasons: training noise (a different seed gives the same item a different
margin) and the item-level effect (the arms really differ more on some items). With >= 2
seeds per arm the within-arm, between-seed differences measure the first:
    sd_train^2 = mean over arms of Var_items(x_s - x_t) / 2
and the between-arm differences of single seeds give the total:
    Var_items(a_s - b_t) = 2 sd_train^2 + sd_item^2.
So with k seeds per arm  SE(mean diff) = sqrt(2 sd_train^2 / k + sd_item^2) / sqrt(n_items),
and the power of a two-sided paired t-test at `alpha` follows from the noncentral t.
The effect used for power is the pilot's own mean difference: treat the numbers as a planning
estimate (a pilot's effect is noisy), and choose the design before running the final study.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from scipy import stats as sps

from aptk.analysis.report import load_runs
from aptk.core.io import atomic_write_json


def item_matrix(
    runs: list[dict], arm: str, split: str, metric: str
) -> tuple[list[str], np.ndarray]:
    """Question ids of `split` and a seeds x items matrix of `metric` for `arm`."""
    rs = sorted((r for r in runs if r["arm"] == arm), key=lambda r: r["seed"])
    if not rs:
        raise ValueError(f"no runs of arm {arm!r}; arms: {sorted({r['arm'] for r in runs})}")
    by = [{it["question_id"]: it for it in r["results"]["items"]} for r in rs]
    qs = sorted(q for q, it in by[0].items() if it.get("split") == split)
    for r, b in zip(rs, by):
        missing = [q for q in qs if q not in b]
        if missing:
            raise ValueError(
                f"{r['results_file']}: lacks {len(missing)} {split} items, e.g. {missing[0]}"
            )
    return qs, np.array([[float(b[q][metric]) for q in qs] for b in by])


def decompose(a: np.ndarray, b: np.ndarray) -> dict:
    """sd_train, sd_item and the mean difference from seeds x items matrices (>= 2 seeds each)."""
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError("need >= 2 seeds in each arm to separate training noise from item effects")
    within = [
        np.var(m[s] - m[t], ddof=1) / 2
        for m in (a, b)
        for s, t in itertools.combinations(range(m.shape[0]), 2)
    ]
    s2_train = float(np.mean(within))
    between = [np.var(a[s] - b[t], ddof=1) for s in range(a.shape[0]) for t in range(b.shape[0])]
    s2_item = max(0.0, float(np.mean(between)) - 2 * s2_train)
    return {
        "n_items": a.shape[1],
        "seeds": [a.shape[0], b.shape[0]],
        "mean_diff": float(a.mean() - b.mean()),
        "sd_train": s2_train**0.5,
        "sd_item": s2_item**0.5,
        "single_seed_diffs": [
            float((a[s] - b[t]).mean()) for s in range(a.shape[0]) for t in range(b.shape[0])
        ],
    }


def power_table(d: dict, alpha: float, max_seeds: int) -> list[dict]:
    """Predicted SE, expected t and two-sided paired t-test power for k = 1..max_seeds."""
    n, rows = d["n_items"], []
    for k in range(1, max_seeds + 1):
        se = (2 * d["sd_train"] ** 2 / k + d["sd_item"] ** 2) ** 0.5 / n**0.5
        nc = abs(d["mean_diff"]) / se if se > 0 else float("inf")
        crit = sps.t.ppf(1 - alpha / 2, n - 1)
        power = float(sps.nct.sf(crit, n - 1, nc) + sps.nct.cdf(-crit, n - 1, nc))
        if not np.isfinite(power):  # scipy's nct fails far in the tail: normal approximation
            power = float(sps.norm.sf(crit - nc) + sps.norm.cdf(-crit - nc))
        rows.append({"seeds_per_arm": k, "se": se, "expected_t": nc, "power": power})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", required=True)
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--split", default="seeded")
    ap.add_argument("--metric", default="margin")
    ap.add_argument("--alpha", type=float, default=0.001)
    ap.add_argument("--max-seeds", type=int, default=6)
    ap.add_argument("--out", default=None)
    x = ap.parse_args(argv)
    runs = load_runs(x.runs)
    qa, a = item_matrix(runs, x.a, x.split, x.metric)
    qb, b = item_matrix(runs, x.b, x.split, x.metric)
    if qa != qb:
        raise ValueError(f"arms {x.a} and {x.b} were scored on different {x.split} items")
    d = decompose(a, b)
    table = power_table(d, x.alpha, x.max_seeds)
    print(
        f"{x.a} - {x.b}, {x.split} {x.metric}: n={d['n_items']} seeds={d['seeds']} "
        f"mean diff {d['mean_diff']:+.4f}; sd_train {d['sd_train']:.4f}, sd_item {d['sd_item']:.4f}"
    )
    print(f"single-seed pair diffs: {', '.join(f'{v:+.4f}' for v in d['single_seed_diffs'])}")
    print(f"| seeds per arm | SE | expected t | power at alpha={x.alpha:g} |\n|---|---|---|---|")
    for r in table:
        print(
            f"| {r['seeds_per_arm']} | {r['se']:.4f} | {r['expected_t']:.2f} | {r['power']:.2f} |"
        )
    if x.out:
        atomic_write_json(
            Path(x.out),
            {
                "a": x.a,
                "b": x.b,
                "split": x.split,
                "metric": x.metric,
                "alpha": x.alpha,
                **d,
                "table": table,
                "runs": str(x.runs),
            },
        )


if __name__ == "__main__":
    main()
