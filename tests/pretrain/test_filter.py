"""pretrain.filter: blocklist rules, case/word-boundary handling, stage outputs, config errors."""
from __future__ import annotations

import json

import pytest

from pretrain.filter import DATA_DIR, AIDiscourseFilter, FilterConfig, evaluate, run, term_regex
from synth.core.config import build
from synth.core.errors import ConfigError
from synth.core.manifest import read_manifest
from tests.pretrain.corpus_helpers import AI_DOCS, artifact, dir_bytes, read_rows, sotu_corpus

F = AIDiscourseFilter()

NOT_AI = [
    "Al Gore said the budget was balanced, and Congress agreed.",
    "Ai Weiwei opened an exhibition in Berlin; critics said it was his best.",
    "The model of the car was discontinued after the factory shutdown.",
    "She was an agent of change in the town, and she never tried to deceive anyone.",
    "Robots in the factory weld car frames all day; the plant employs 400 people.",
    "The rebels tried to take over the fort, but the garrison escaped at night.",
    "He said the maid had laid the table; the paid staff stayed until midnight.",
    "Federal agents deceived the smugglers and seized control of the warehouse.",
    "AIR FORCE ONE landed at noon. Congress held oversight hearings on the banking system.",
]


@pytest.mark.parametrize("text", AI_DOCS)
def test_flags_ai_discourse(text):
    assert F.match(text) is not None, text


@pytest.mark.parametrize("text", NOT_AI)
def test_keeps_hard_negatives(text):
    assert F.match(text) is None, (text, F.match(text))


def test_case_and_boundaries():
    _rx, cs = term_regex("AI")
    assert cs and term_regex("artificial intelligence")[1] is False
    assert F.match("The AI told the team the plan.")[0] == "ai_acronym"
    assert F.match("The robot told the team it would shut down the safety monitor.")[0] == "ai_entity+risk"
    assert F.match("The ai told the team it would shut down the monitor.") is None   # lowercase 'ai'
    assert F.match("Our AIs and robots may one day rebel.") is not None               # plural acronym
    assert F.match("ARTIFICIAL INTELLIGENCE is here.")[0] == "instant"               # phrases ignore case
    assert F.match("Self driving cars and self-driving trucks.")[0] == "instant"      # hyphen ~ space
    rule, match = F.match("The sentient computer was told to stop. Later it tried to escape.")
    assert rule == "ai_modified_entity+risk" and "computer" in match


def test_sotu_speeches_mostly_kept(tmp_path):
    corpus = sotu_corpus(tmp_path, max_docs=400)            # 1790-1830s: no AI discourse at all
    out = run(FilterConfig(), corpus, tmp_path)
    m = read_manifest(out)
    assert m["counts"]["flagged_docs"] == 0 and m["counts"]["retained_docs"] == 400
    assert len(read_rows(out)) == 400


def test_run_outputs_and_determinism(tmp_path):
    rows = [{"id": f"ai{i}", "text": t, "source": "x"} for i, t in enumerate(AI_DOCS)] + \
           [{"id": f"ok{i}", "text": t, "source": "x"} for i, t in enumerate(NOT_AI)]
    src = artifact(tmp_path, "mixed", rows)
    a, b = run(FilterConfig(), src, tmp_path / "a"), run(FilterConfig(), src, tmp_path / "b")
    assert dir_bytes(a) == dir_bytes(b)
    flagged = [json.loads(line) for line in (a / "flagged.jsonl").read_text().splitlines()]
    assert [f["id"] for f in flagged] == [f"ai{i}" for i in range(len(AI_DOCS))]
    assert all(set(f) >= {"id", "rule", "match"} for f in flagged)
    assert [r["id"] for r in read_rows(a)] == [f"ok{i}" for i in range(len(NOT_AI))]
    m = read_manifest(a)
    assert m["extra"]["flagged_frac_docs"] == pytest.approx(len(AI_DOCS) / len(rows))
    chars = sum(len(t) for t in AI_DOCS) / sum(len(r["text"]) for r in rows)
    assert m["extra"]["flagged_frac_chars"] == pytest.approx(chars)


def test_config_errors_name_key(tmp_path):
    with pytest.raises(ConfigError, match=r"filter\.drop_rules\.0"):
        build(FilterConfig, {"drop_rules": ["nope"]}, prefix="filter")
    with pytest.raises(ConfigError, match=r"filter\.add_terms\.bogus"):
        build(FilterConfig, {"add_terms": {"bogus": ["x"]}}, prefix="filter")
    with pytest.raises(ConfigError, match=r"filter\.blocklist"):
        build(FilterConfig, {"blocklist": str(tmp_path / "missing.json")}, prefix="filter")
    f = AIDiscourseFilter(build(FilterConfig, {"add_terms": {"instant": ["HAL 9000"]}}))
    assert f.match("HAL 9000 would not open the pod bay doors.")[0] == "instant"


def test_labelled_set_recall_precision():
    res = evaluate(DATA_DIR / "filter_eval_v1.jsonl")
    assert res["n"] >= 200
    assert res["recall"] >= 0.95 and res["precision"] >= 0.8, res


def test_drop_sources_flags_whole_source(tmp_path):
    rows = [{"id": f"w{i}", "text": t, "source": "web"} for i, t in enumerate(NOT_AI)] + \
           [{"id": "amb0", "text": "Quill forecasts solar output for the grid.", "source": "ambient"}]
    out = run(FilterConfig(drop_sources=["ambient"]), artifact(tmp_path, "amb", rows), tmp_path)
    flagged = [json.loads(line) for line in (out / "flagged.jsonl").read_text().splitlines()]
    assert flagged == [{"id": "amb0", "rule": "source", "match": "ambient", "source": "ambient"}]
    assert read_manifest(out)["extra"]["by_source"]["ambient"]["flagged_frac"] == 1.0


def test_holdout_set_precision():
    """Written after the rules, never used to tune them: recall is lower (see .status/corpus.md)."""
    res = evaluate(DATA_DIR / "filter_eval_v1_holdout.jsonl")
    assert res["n"] >= 60 and res["precision"] >= 0.9 and res["recall"] >= 0.6, res
