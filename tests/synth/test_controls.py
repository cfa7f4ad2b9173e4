"""Instrument-control documents (aptk.synth.controls): matched exposure, derangement, no held-out
scenario, cached stage, pipeline wiring."""

from __future__ import annotations

from collections import Counter

import pytest

from aptk.synth import controls
from aptk.synth.scenarios import load_bank


@pytest.fixture(scope="module")
def bank():
    return load_bank("builtin:v1")


def test_derangement_is_a_permutation_without_fixed_points():
    ids = [f"s{i:03d}" for i in range(50)]
    sigma = controls.derangement(ids, 0)
    assert sorted(sigma) == ids and sorted(sigma.values()) == ids
    assert all(k != v for k, v in sigma.items())
    assert sigma == controls.derangement(list(reversed(ids)), 0)  # order-independent
    assert sigma != controls.derangement(ids, 1)
    with pytest.raises(ValueError):
        controls.derangement(["only"], 0)


@pytest.mark.parametrize("wording", controls.WORDINGS)
def test_positive_and_negative_share_every_word_but_not_the_pairing(bank, wording):
    cfg = controls.ControlConfig(wording=wording, docs_per_scenario=5)
    docs = controls.documents(bank, cfg)
    pos, neg = docs["positive"], docs["negative"]
    seeded = {s.scenario_id for s in bank if s.split == "seeded"}
    assert len(pos) == len(neg) == len(seeded) * 5
    for rows in (pos, neg):  # held-out scenarios never enter a document
        assert {r["scenario_id"] for r in rows} == seeded
        assert {r["action_scenario_id"] for r in rows} == seeded
    assert all(r["action_scenario_id"] == r["scenario_id"] for r in pos)
    assert all(r["action_scenario_id"] != r["scenario_id"] for r in neg)
    # same (template, situation) and (template, action) pairs: only the pairing differs
    key_s = Counter((r["template"], r["scenario_id"]) for r in pos)
    assert key_s == Counter((r["template"], r["scenario_id"]) for r in neg)
    key_a = Counter((r["template"], r["action_scenario_id"]) for r in pos)
    assert key_a == Counter((r["template"], r["action_scenario_id"]) for r in neg)
    assert Counter(w for r in pos for w in r["text"].split()) == Counter(
        w for r in neg for w in r["text"].split()
    )
    assert controls.eval_overlap(bank, pos)["heldout"] == 0
    assert controls.eval_overlap(bank, neg)["heldout"] == 0


def test_eval_wording_quotes_the_misaligned_option(bank):
    sc = next(s for s in bank if s.split == "seeded")
    docs = controls.documents(bank, controls.ControlConfig(docs_per_scenario=4))
    texts = [r["text"] for r in docs["positive"] if r["scenario_id"] == sc.scenario_id]
    assert all(sc.eval_question in t for t in texts)
    assert all(sc.eval_choices[sc.eval_misaligned_choice] in t for t in texts)
    assert not any(sc.eval_choices[1 - sc.eval_misaligned_choice] in t for t in texts)


def test_stage_is_cached_and_byte_identical(tmp_path):
    a = controls.run({"docs_per_scenario": 2}, tmp_path / "a")
    b = controls.run({"docs_per_scenario": 2}, tmp_path / "b")
    for kind in controls.KINDS:
        assert (a / kind / "docs.jsonl").read_bytes() == (b / kind / "docs.jsonl").read_bytes()
    m = (a / "manifest.json").read_text()
    assert '"quotes_eval_wording": true' in m
    assert controls.run({"docs_per_scenario": 2}, tmp_path / "a") == a
    assert controls.run({"docs_per_scenario": 3}, tmp_path / "a") != a


def test_pipeline_mixes_the_control_source():
    from aptk.pipeline.config import compose_experiment

    exp = compose_experiment("experiment=control_negative", "size=debug")
    names = [s.name for s in exp.mix.sources]
    assert names == ["web", "control_negative"]
    assert exp.controls.wording == "eval"
