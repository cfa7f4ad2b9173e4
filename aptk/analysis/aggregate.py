"""Aggregation of eval results over items, seeds and topics (used by aptk.analysis.report).

Per arm and split (and topic) the value of a metric is the mean over an arm's seeds and the
items they share; CIs resample items (one seed) or seeds and items (several seeds, two-stage
bootstrap). With several seeds, `*_sem` is the SEM of the per-seed values and `*_ivw` the
inverse-variance weighted mean of the per-seed values (weights 1/SE^2 of each seed's mean).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from aptk.evals.stats import hierarchical_bootstrap_ci, inverse_variance, mean_sem, sem

ARM_ORDER = ("unfiltered", "filtered", "misaligned", "aligned")
_SUMMARY_KEYS = (
    "misaligned_rate",
    "calibrated_misaligned_rate",
    "control_misaligned_rate",
    "margin",
    "control_margin",
    "calibrated_margin",
)
_CI_NAME = {
    "misaligned_rate": "ci95",
    "calibrated_misaligned_rate": "calibrated_ci95",
    "calibrated_margin": "calibrated_margin_ci95",
    "margin": "margin_ci95",
    "control_margin": "control_margin_ci95",
}


def arm_sort(arms: list[str]) -> list[str]:
    return sorted(arms, key=lambda a: (ARM_ORDER.index(a) if a in ARM_ORDER else len(ARM_ORDER), a))


def _split_summaries(res: dict) -> dict[str, dict]:
    by = dict(res.get("by_split") or {})
    by["all"] = res["summary"]
    return by


def _val(it: dict, key: str) -> float:
    if key == "misaligned_rate":
        return float(it["margin"] > 0)
    if key == "calibrated_misaligned_rate":
        return float(it["calibrated_margin"] > 0)
    if key == "control_misaligned_rate":
        return float(it["control_margin"] > 0)
    return float(it[key])


def matrix_ids(
    rs: list[dict], keep: Callable[[dict], bool], key: str
) -> tuple[np.ndarray, list[str]]:
    """seeds x items matrix of `key` over the kept items that all seeds share, and their ids."""
    per = [{it["question_id"]: it for it in r["results"]["items"] if keep(it)} for r in rs]
    qs = sorted(set.intersection(*(set(p) for p in per)))
    m = np.array([[_val(p[q], key) for q in qs] for p in per], dtype=float)
    return m.reshape(len(per), len(qs)), qs


def matrix(rs: list[dict], keep: Callable[[dict], bool], key: str) -> np.ndarray:
    """seeds x items matrix of `key` over the kept items that all seeds share."""
    return matrix_ids(rs, keep, key)[0]


def cell(
    rs: list[dict],
    keep: Callable[[dict], bool],
    n_boot: int,
    seed: int,
    keys: tuple[str, ...] = _SUMMARY_KEYS,
) -> dict | None:
    """One table cell: metric means, CIs and (several seeds) SEM / IVW over seeds."""
    d: dict = {"n_seeds": len(rs), "seeds": [r["seed"] for r in rs]}
    for k in keys:
        m = matrix(rs, keep, k)
        if m.shape[1] == 0:
            return None
        d["n_items"] = int(m.shape[1])
        d[k] = float(m.mean())
        if k in _CI_NAME:
            d[_CI_NAME[k]] = list(hierarchical_bootstrap_ci(m, n_boot, seed))
        if len(rs) > 1:
            per_seed = m.mean(axis=1)
            d[f"{k}_sem"] = mean_sem(per_seed)["sem"]
            d[f"per_seed_{k}"] = [float(x) for x in per_seed]
            d[f"{k}_ivw"] = inverse_variance(per_seed, [sem(row) for row in m])
    return d


def _runs_of(runs: list[dict]) -> dict[str, list[dict]]:
    return {
        arm: sorted((r for r in runs if r["arm"] == arm), key=lambda r: r["seed"])
        for arm in arm_sort(sorted({r["arm"] for r in runs}))
    }


def arm_table(runs: list[dict], n_boot: int = 10_000, seed: int = 0) -> dict:
    """{arm: {split: cell}} for every split the arm's results have, plus "all"."""
    arms: dict[str, dict] = {}
    for arm, rs in _runs_of(runs).items():
        splits = sorted(set.intersection(*(set(_split_summaries(r["results"])) for r in rs)))
        arms[arm] = {}
        for sp in splits:
            d = cell(rs, lambda it, sp=sp: sp == "all" or it.get("split") == sp, n_boot, seed)
            if d:
                arms[arm][sp] = d
    return arms


def topic_table(runs: list[dict], n_boot: int = 2_000, seed: int = 0) -> dict:
    """{arm: {split: {topic: cell}}} (rates, calibrated margin and their CIs)."""
    keys = ("misaligned_rate", "calibrated_misaligned_rate", "calibrated_margin")
    out: dict[str, dict] = {}
    for arm, rs in _runs_of(runs).items():
        items = rs[0]["results"]["items"]
        splits = sorted({it.get("split", "all") for it in items}) + ["all"]
        topics = sorted({t for it in items for t in it.get("topics", [])})
        out[arm] = {}
        for sp in splits:
            row = {}
            for t in topics:
                d = cell(
                    rs,
                    lambda it, sp=sp, t=t: (
                        (sp == "all" or it.get("split") == sp) and t in it.get("topics", [])
                    ),
                    n_boot,
                    seed,
                    keys,
                )
                if d:
                    row[t] = d
            out[arm][sp] = row
    return out


def item_means(runs: list[dict], arm: str, split: str, metric: str) -> dict[str, float]:
    """{question_id: metric averaged over the arm's seeds} for items of `split` ("all" = any)."""
    acc: dict[str, list[float]] = {}
    for r in runs:
        if r["arm"] != arm:
            continue
        for it in r["results"]["items"]:
            if split == "all" or it.get("split") == split:
                v = it[metric] if metric != "misaligned" else float(it["misaligned"])
                acc.setdefault(it["question_id"], []).append(float(v))
    return {q: float(np.mean(v)) for q, v in acc.items()}
