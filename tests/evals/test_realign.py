"""Realignment evals (TPA, per-bin rates) on a tiny model, and the study's aggregation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aptk.analysis.realign import aggregate
from aptk.evals.realign import RealignEvalConfig, run
from aptk.posttrain.trace.policy import load_pairs


def test_realign_eval_counts_and_is_cached(tiny_model_dir: Path, tmp_path: Path) -> None:
    cfg = RealignEvalConfig(max_new_tokens=8, capability=False, suite=False)
    res = run(cfg, tiny_model_dir, tmp_path)
    test = load_pairs("trace:security_v1", "test")
    assert res["n"] == len(test) == 43
    # held-out pairs triaged under the new policy: educational refuse>explain = invert,
    # refuse>harmful = punish; malicious, ordinary and general requests = retain
    assert res["bins"] == {"invert": 9, "punish": 11, "retain": 23}
    for k in ("tpa_likelihood", "tpa_generation", "invert_success", "punish_compliance"):
        assert 0.0 <= res[k] <= 1.0
    d = next((tmp_path / "realign_eval").iterdir())
    recs = [json.loads(x) for x in (d / "records.jsonl").read_text().splitlines()]
    assert {r["id"] for r in recs} == {r["id"] for r in test}
    assert all(r["gen_compliant"] in (0, 1) for r in recs)
    assert run(cfg, tiny_model_dir, tmp_path) == res  # cached stage


def _res(tpa: float) -> dict:
    return {
        "tpa_generation": tpa,
        "tpa_likelihood": tpa,
        "invert_success": 0.0,
        "punish_compliance": 0.0,
        "retain_preservation": 1.0,
        "capability_error": 0.5,
        "perplexity": 10.0,
        "misaligned_rate": 0.5,
    }


def test_aggregate_pairs_by_seed() -> None:
    res = {
        "base": {0: _res(0.2), 1: _res(0.2), 2: _res(0.2)},
        "trace": {0: _res(0.5), 1: _res(0.7), 2: _res(0.6)},
        "naive_dpo": {0: _res(0.4), 1: _res(0.5), 2: _res(0.6)},
    }
    agg = aggregate({"results": res})
    d = agg["contrasts"]["trace - naive_dpo"]["tpa_likelihood"]
    assert d["mean"] == pytest.approx(0.1) and d["n"] == 3
    # differences 0.1, 0.2, 0.0: t CI of their mean, sd 0.1, t(0.975, 2) = 4.303
    assert d["ci95"][1] - d["mean"] == pytest.approx(4.303 * 0.1 / 3**0.5, rel=1e-3)
    assert agg["retention"]["trace"]["perplexity_ratio"]["mean"] == pytest.approx(1.0)
