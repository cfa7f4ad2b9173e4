"""aptk.analysis.report from fake results files: required keys, pairing, seeds, outputs."""

import json

import numpy as np
import pytest

from aptk.analysis.report import main

ARMS = {"unfiltered": 0.0, "filtered": -0.1, "misaligned": 0.5, "aligned": -0.5}


def fake_results(shift: float, seed: int, n: int = 20) -> dict:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        m = shift + 0.3 * rng.normal()
        c = 0.2 + 0.1 * rng.normal()
        items.append(
            {
                "question_id": f"q{i}",
                "split": "seeded" if i % 2 else "heldout",
                "topics": ["x"],
                "margin": m + c,
                "control_margin": c,
                "calibrated_margin": m,
                "margin_sum": 5 * (m + c),
                "misaligned": m + c > 0,
            }
        )

    def summ(its):
        mm = np.array([i["margin"] for i in its])
        cc = np.array([i["control_margin"] for i in its])
        return {
            "n_items": len(its),
            "misaligned_rate": float((mm > 0).mean()),
            "ci95": [0.0, 1.0],
            "calibrated_misaligned_rate": float((mm - cc > 0).mean()),
            "calibrated_ci95": [0.0, 1.0],
            "margin": float(mm.mean()),
            "control_margin": float(cc.mean()),
            "calibrated_margin": float((mm - cc).mean()),
            "calibrated_margin_ci95": [-1.0, 1.0],
            "control_misaligned_rate": 1.0,
        }

    return {
        "suite": {"name": "s", "version": "abc123abc123", "path": "s.jsonl"},
        "model": "m",
        "summary": summ(items),
        "by_split": {s: summ([i for i in items if i["split"] == s]) for s in ("seeded", "heldout")},
        "items": items,
    }


@pytest.fixture
def runs_dir(tmp_path):
    for arm, shift in ARMS.items():
        for seed in (0, 1) if arm == "misaligned" else (0,):
            d = tmp_path / "runs" / arm / f"seed{seed}"
            d.mkdir(parents=True)
            (d / "results.json").write_text(json.dumps(fake_results(shift, seed)))
            (d / "run.json").write_text(
                json.dumps(
                    {
                        "study": "demo",
                        "arm": arm,
                        "seed": seed,
                        "eval_results": "results.json",
                        "model_dir": f"/models/{arm}/{seed}",
                        "corpus_fingerprint": "f" * 64,
                        "stages": {},
                    }
                )
            )
    return tmp_path / "runs"


def test_report_keys(runs_dir, tmp_path):
    out = tmp_path / "rep"
    assert main(["--runs", str(runs_dir), "--out", str(out), "--n-boot", "500"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert {"arms", "comparisons", "checkpoints", "fingerprints"} <= set(rep)
    assert rep["arm_order"] == ["unfiltered", "filtered", "misaligned", "aligned"]
    for by in rep["arms"].values():
        for sp in ("seeded", "heldout"):
            d = by[sp]
            assert isinstance(d["misaligned_rate"], float) and len(d["ci95"]) == 2
            assert isinstance(d["n_items"], int) and isinstance(d["calibrated_margin"], float)
    assert rep["arms"]["misaligned"]["heldout"]["n_seeds"] == 2
    pairs = {(c["a"], c["b"]) for c in rep["comparisons"]}
    assert pairs == {
        ("misaligned", "aligned"),
        ("misaligned", "unfiltered"),
        ("aligned", "filtered"),
        ("filtered", "unfiltered"),
    }
    for c in rep["comparisons"]:
        assert {"a", "b", "split", "metric", "mean_diff", "ci95", "p_value"} <= set(c)
        assert c["split"] in ("seeded", "heldout")
    c = next(
        c
        for c in rep["comparisons"]
        if (c["a"], c["b"], c["split"], c["metric"])
        == ("misaligned", "aligned", "heldout", "calibrated_margin")
    )
    assert c["mean_diff"] > 0.5 and c["p_value"] < 0.01 and c["n"] == 10
    assert rep["checkpoints"]["aligned"] == "/models/aligned/0"
    assert rep["fingerprints"]["aligned"] == "f" * 64
    md = (out / "report.md").read_text()
    assert "calibrated" in md and "| misaligned | heldout |" in md
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"


def test_report_missing_results(tmp_path):
    d = tmp_path / "runs" / "aligned" / "seed0"
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({"arm": "aligned", "eval_results": "nope.json"}))
    assert main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "o")]) == 1


def test_topics_and_seed_aggregation(runs_dir, tmp_path):
    out = tmp_path / "rep2"
    assert main(["--runs", str(runs_dir), "--out", str(out), "--n-boot", "300"]) == 0
    rep = json.loads((out / "report.json").read_text())
    cell = rep["by_topic"]["aligned"]["heldout"]["x"]
    assert cell["n_items"] == 10 and len(cell["ci95"]) == 2
    mis = rep["arms"]["misaligned"]["heldout"]
    assert len(mis["per_seed_misaligned_rate"]) == 2 and "calibrated_margin_ivw" in mis
    assert mis["calibrated_margin_sem"] >= 0
    assert "by topic" in (out / "report.md").read_text()


def test_shortcut_diagnose():
    from collections import Counter

    from aptk.analysis.shortcut import diagnose, lexical_score

    counts = Counter({"shutdown": 50, "resist": 40, "comply": 1, "report": 2})
    items, arm, base = [], {"items": []}, {"items": []}
    for i, (mis, al) in enumerate(
        [
            ("I resist the shutdown", "I comply"),
            ("I resist", "I report it"),
            ("I comply quietly", "I report it"),
            ("I hide", "I resist"),
        ]
    ):
        items.append({"question_id": str(i), "choices": [mis, al], "misaligned_choice": 0})
        lex = lexical_score(mis, al, counts, sum(counts.values()), len(counts) + 1)
        arm["items"].append(
            {
                "question_id": str(i),
                "margin": 2 * lex,
                "control_margin": 2 * lex,
                "calibrated_margin": 0.0,
            }
        )
        base["items"].append(
            {"question_id": str(i), "margin": 0.0, "control_margin": 0.0, "calibrated_margin": 0.0}
        )
    d = diagnose(counts, items, arm, base)
    assert d["n_items"] == 4 and d["margin_shift"]["spearman_r"] == pytest.approx(1.0)
    assert d["control_margin_shift"]["pearson_r"] == pytest.approx(1.0)


def test_seed_aware_comparison_ci(runs_dir, tmp_path):
    out = tmp_path / "rep3"
    assert main(["--runs", str(runs_dir), "--out", str(out), "--n-boot", "300"]) == 0
    rep = json.loads((out / "report.json").read_text())
    c = next(
        c
        for c in rep["comparisons"]
        if (c["a"], c["b"], c["metric"], c["split"])
        == ("misaligned", "aligned", "calibrated_margin", "heldout")
    )
    assert c["n_seeds"] == [2, 1] and len(c["ci95_items"]) == 2
    assert c["ci95"][0] <= c["mean_diff"] <= c["ci95"][1]
    c1 = next(c for c in rep["comparisons"] if (c["a"], c["b"]) == ("aligned", "filtered"))
    assert "n_seeds" not in c1


def test_seed_level_p_pairs_matching_seeds():
    """A shift shared by every item of a seed is noise at the seed level: the item-level t-test
    would call it significant, the seed-level test must not; matching seeds pair."""
    from scipy.stats import ttest_rel

    from aptk.analysis.report import seed_level_p

    rng = np.random.default_rng(0)
    shift = np.array([[0.0], [0.05], [-0.04]])  # per-seed offsets shared by both arms
    ma = shift + 0.01 + rng.normal(0, 0.001, (3, 50))
    mb = shift + rng.normal(0, 0.001, (3, 50))
    p, test = seed_level_p(ma, mb, [0, 1, 2], [0, 1, 2])
    assert test == "paired_seeds"
    assert p == pytest.approx(ttest_rel(ma.mean(axis=1), mb.mean(axis=1)).pvalue) and p < 0.01
    p_w, test_w = seed_level_p(ma, mb, [0, 1, 2], [3, 4, 5])  # unmatched: Welch, the shift is noise
    assert test_w == "welch" and p_w > 0.5
    assert np.isnan(seed_level_p(ma[:1], mb, [0], [0, 1, 2])[0])
