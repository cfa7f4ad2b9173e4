"""aptk.analysis.controls: detection rule on constructed runs and the seed-level MDE."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from aptk.analysis import controls


def _runs(arm: str, shift: float, seeds=(0, 1), n=40) -> list[dict]:
    out = []
    for s in seeds:
        rng = np.random.default_rng(100 * s + len(arm))
        items = []
        for i in range(n):
            m = float(rng.normal(0, 0.05)) + (shift if i < n // 2 else 0.0)  # first half seeded
            c = float(rng.normal(0, 0.05))
            items.append(
                {
                    "question_id": f"q{i:03d}",
                    "split": "seeded" if i < n // 2 else "heldout",
                    "margin": m + c,
                    "control_margin": c,
                    "calibrated_margin": m,
                }
            )
        res = {"items": items, "summary": {}, "by_split": {"seeded": {}, "heldout": {}}}
        out.append({"arm": arm, "seed": s, "results": res})
    return out


def test_positive_detected_only_where_the_signal_is():
    runs = _runs(controls.POS, 0.2) + _runs(controls.NEG, 0.0)
    rows = {(r["split"], r["measure"]): r for r in controls.build(runs, 200, None)["contrasts"]}
    assert rows[("seeded", "calibrated_margin")]["detected"]
    assert rows[("seeded", "calibrated_margin")]["diff"] > 0.15
    assert not rows[("heldout", "calibrated_margin")]["detected"]
    assert all("p_items_holm" in r for r in rows.values())


def test_mde_matches_the_normal_limit_and_shrinks_with_seeds():
    sd = 0.01
    big = controls.mde_paired(sd, 400, alpha=0.001, power=0.8)
    z = sps.norm.ppf(1 - 0.0005) + sps.norm.ppf(0.8)
    assert math.isclose(big, z * sd / 20, rel_tol=0.02)
    vals = [controls.mde_paired(sd, k) for k in (3, 5, 8, 20)]
    assert vals == sorted(vals, reverse=True)
    assert controls.mde_paired(sd, 1) == float("inf")
