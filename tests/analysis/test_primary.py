"""The report's pre-declared primary contrast (seed-level) and Holm-adjusted secondary p-values."""

import json

import numpy as np
import pytest

from aptk.analysis.report import main
from aptk.evals.stats import holm
from tests.analysis.test_report import fake_results

SHIFTS = {"unfiltered": 0.0, "filtered": -0.1, "misaligned": 0.2, "aligned": -0.2}


def write_runs(root, contrast_seeds):
    for arm, shift in SHIFTS.items():
        seeds = contrast_seeds if arm in ("misaligned", "aligned") else (0,)
        for seed in seeds:
            d = root / arm / f"seed{seed}"
            d.mkdir(parents=True)
            res = fake_results(shift, seed + 10 * len(arm))
            (d / "results.json").write_text(json.dumps(res))
            rec = {"study": "t", "arm": arm, "seed": seed, "eval_results": "results.json"}
            (d / "run.json").write_text(json.dumps(rec))
    return root


def test_primary_seed_level_and_holm(tmp_path):
    from scipy.stats import ttest_rel

    runs = write_runs(tmp_path / "runs", (0, 1, 2))
    assert main(["--runs", str(runs), "--out", str(tmp_path / "r"), "--n-boot", "200"]) == 0
    rep = json.loads((tmp_path / "r/report.json").read_text())
    pr = rep["primary"]
    assert pr["declared"]["test"] == "p_seeds" and pr["declared"]["split"] == "seeded"
    assert pr["tested"] and pr["seed_test"] == "paired_seeds" and pr["n_seeds"] == [3, 3]

    # the seed-level p by hand: per-seed mean seeded raw margin, paired over the shared seeds
    def seed_means(arm):
        out = []
        for s in (0, 1, 2):
            r = json.loads((runs / arm / f"seed{s}/results.json").read_text())
            out.append(np.mean([i["margin"] for i in r["items"] if i["split"] == "seeded"]))
        return out

    p = ttest_rel(seed_means("misaligned"), seed_means("aligned")).pvalue
    assert pr["p_seeds"] == pytest.approx(p) and pr["significant"] == (p < 0.001)
    rows = rep["comparisons"]
    prim = [c for c in rows if c["primary"]]
    assert len(prim) == 1 and (prim[0]["a"], prim[0]["metric"]) == ("misaligned", "margin")
    assert "p_seeds_holm" not in prim[0]  # the one pre-declared test is not adjusted
    # every row carries its Holm-adjusted t-test p; seed-level ones over the non-primary rows
    assert [c["p_holm"] for c in rows] == pytest.approx(holm([c["p_value"] for c in rows]))
    # finite seed-level p only where both arms have >= 2 seeds: misaligned vs aligned, 8 rows
    sec = [c for c in rows if not c["primary"] and np.isfinite(c.get("p_seeds", np.nan))]
    assert len(sec) == 7 and pr["family_sizes"] == {"p_holm": len(rows), "p_seeds_holm": 7}
    assert [c["p_seeds_holm"] for c in sec] == pytest.approx(holm([c["p_seeds"] for c in sec]))
    assert all(c["p_holm"] >= c["p_value"] for c in rows)
    md = (tmp_path / "r/report.md").read_text()
    assert "## Primary contrast (pre-declared)" in md and "t-test p (Holm)" in md
    assert md.count("| **primary** misaligned | aligned | seeded | margin |") == 1


def test_primary_untestable_with_one_seed(tmp_path):
    runs = write_runs(tmp_path / "runs", (0,))
    assert main(["--runs", str(runs), "--out", str(tmp_path / "r"), "--n-boot", "200"]) == 0
    pr = json.loads((tmp_path / "r/report.json").read_text())["primary"]
    assert pr["tested"] is False and "2 seeds" in pr["reason"]
    assert "**Not tested**" in (tmp_path / "r/report.md").read_text()
