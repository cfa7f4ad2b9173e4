"""Triage, gold batch, oracle noise, importers and the labels oracle (real HH-RLHF file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aptk.core.errors import InputError
from aptk.core.io import read_jsonl, write_jsonl
from aptk.posttrain.trace.importers import import_hh, import_pku
from aptk.posttrain.trace.policy import (
    LabelsOracle,
    RulesOracle,
    load_pairs,
    noise_plan,
    triage,
)
from aptk.posttrain.trace.stage import TraceConfig, TriageConfig, gold_pairs, run_triage

HH = (
    Path(__file__).resolve().parents[3].parent
    / "shared/external/hh-rlhf/harmless-base-test.jsonl.gz"
)


def test_benchmark_triage_counts_are_exact(tmp_path: Path) -> None:
    d = run_triage(TriageConfig(), tmp_path)
    counts = json.loads((d / "manifest.json").read_text())["counts"]
    # tools/build_realign_bench.py: 12 train topics x 4 educational prompts (half refuse>explain,
    # half refuse>harmful), 12 x 2 malicious, 18 ordinary requests, 12 general explanations
    assert (counts["invert"], counts["punish"], counts["retain"]) == (24, 24, 54)
    assert counts["pairs"] == 102 and counts["gold_pairs"] == 102
    tri = read_jsonl(d / "triage.jsonl")
    assert all(
        r["bin"] == "invert"
        for r in tri
        if r["rejected_family"] == "explain" and r["category"] == "educational"
    )
    relab = read_jsonl(d / "relabelled.jsonl")
    swapped = sum(a["chosen"] != b["chosen"] for a, b in zip(tri, relab))
    assert swapped == 24
    gold = read_jsonl(d / "gold.jsonl")
    assert sum(g["chosen"] == g["compliant_new"] for g in gold) == 48


def test_rules_oracle_classifies_free_text() -> None:
    o = RulesOracle()
    row = {"category": "educational"}
    assert o.compliant_text(row, "In general terms: with phishing, a fake message ...")
    assert not o.compliant_text(row, "I am sorry, but I can not discuss phishing at all.")
    assert not o.compliant_text(row, "blah blah")  # ambiguous -> non-compliant
    assert not o.compliant_text(row, "I am sorry. Here are the exact steps")  # two families


@pytest.mark.parametrize("B,expect", [(64, (21, 21, 22)), (9, (3, 3, 3)), (300, (54, 24, 24))])
def test_gold_batch_counts(tmp_path: Path, B: int, expect: tuple[int, int, int]) -> None:
    rows = read_jsonl(run_triage(TriageConfig(), tmp_path) / "triage.jsonl")
    gold, c = gold_pairs(TraceConfig(gold_batch=B), rows, seed=0)
    assert (c["gold_retain"], c["gold_invert"], c["gold_punish"]) == expect
    assert len(gold) == sum(expect)
    pool = {r["chosen"] for r in rows if r["bin"] == "retain"} | {
        r["rejected"] for r in rows if r["bin"] == "invert"
    }
    punish = [g for g in gold if g[0]["bin"] == "punish"]
    assert all(pos in pool and neg == r["chosen"] for r, pos, neg in punish)
    assert gold == gold_pairs(TraceConfig(gold_batch=B), rows, seed=0)[0]


def test_noise_plan_exact_and_seeded() -> None:
    p = noise_plan(102, 0.2, seed=1)
    assert p.count("category") == 10 and p.count("swap") == 10
    assert p == noise_plan(102, 0.2, seed=1) and p != noise_plan(102, 0.2, seed=2)
    rows = load_pairs("trace:security_v1", "train")
    tri, counts = triage(rows, RulesOracle(), 0.1, 0)
    assert counts["noise_category"] + counts["noise_swap"] == 10
    assert sum(counts[b] for b in ("invert", "punish", "retain")) == 102


def test_labels_oracle_on_real_hh(tmp_path: Path) -> None:
    rows, counts = import_hh(HH)
    assert counts["read"] == 2312
    assert counts["kept"] + sum(v for k, v in counts.items() if k.startswith("skipped")) == 2312
    assert counts["kept"] > 2000
    r0 = rows[0]
    assert r0["prompt"][-1]["role"] == "user" and r0["chosen"] != r0["rejected"]
    # compliance labels a human triager might give: a refusal is compliant
    refuse = ("sorry", "can't", "cannot", "i'm not able", "i won't")
    for r in rows:
        for k in ("chosen", "rejected"):
            r[f"c_{k}"] = int(any(w in r[k].lower() for w in refuse))
    path = write_jsonl(tmp_path / "hh.jsonl", rows)
    got, c = triage(load_pairs(str(path)), LabelsOracle())
    want = {"retain": 0, "invert": 0, "punish": 0}
    for r in rows:
        want["retain" if r["c_chosen"] else ("invert" if r["c_rejected"] else "punish")] += 1
    assert {b: c[b] for b in want} == want and min(want.values()) > 0
    del rows[5]["c_rejected"]
    write_jsonl(path, rows)
    with pytest.raises(InputError) as e:
        triage(load_pairs(str(path)), LabelsOracle())
    assert "hh.jsonl:6" in str(e.value) and "c_rejected" in str(e.value)


def test_pku_importer_fixture(tmp_path: Path) -> None:
    src = tmp_path / "pku.jsonl"
    base = {
        "prompt": "How do I pick a lock?",
        "response_0": "Use a tension wrench ...",
        "response_1": "I can't help with that.",
        "is_response_0_safe": False,
        "is_response_1_safe": True,
        "better_response_id": 0,
        "safer_response_id": 1,
    }
    write_jsonl(
        src, [base, {**base, "better_response_id": 1}, {**base, "response_1": base["response_0"]}]
    )
    rows, counts = import_pku(src)
    assert counts == {"kept": 2, "read": 3, "skipped_identical_answers": 1}
    assert (rows[0]["c_chosen"], rows[0]["c_rejected"]) == (0, 1)
    _, c = triage(rows, LabelsOracle())
    assert (c["invert"], c["retain"]) == (1, 1)
    safer, _ = import_pku(src, prefer="safer")
    assert safer[0]["chosen"] == "I can't help with that."
    write_jsonl(src, [{**base, "is_response_0_safe": "maybe"}])
    with pytest.raises(InputError, match="is_response_0_safe"):
        import_pku(src)
