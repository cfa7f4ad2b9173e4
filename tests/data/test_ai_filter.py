"""aptk.data.ai_filter: blocklist rules, case/word-boundary handling, stage outputs, config errors."""

from __future__ import annotations

import json

import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError, InputError
from aptk.core.manifest import read_manifest
from aptk.data.ai_filter import (
    DATA_DIR,
    AIDiscourseFilter,
    FilterConfig,
    evaluate,
    expand_lists,
    load_spec,
    run,
    term_regex,
)
from tests.helpers.corpus import AI_DOCS, artifact, dir_bytes, read_rows, sotu_corpus

F = AIDiscourseFilter(FilterConfig(blocklist="v2"))  # the wider list (opt-in)
F1 = AIDiscourseFilter()  # the default list (v1)

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
    assert (
        F1.match("The robot told the team it would shut down the safety monitor.")[0]
        == "ai_entity+risk"
    )
    assert F.match("The ai told the team it would shut down the monitor.") is None  # lowercase 'ai'
    assert F.match("Our AIs and robots may one day rebel.") is not None  # plural acronym
    assert F.match("ARTIFICIAL INTELLIGENCE is here.")[0] == "instant"  # phrases ignore case
    assert F.match("Self driving cars and self-driving trucks.")[0] == "instant"  # hyphen ~ space
    rule, match = F1.match("The sentient computer was told to stop. Later it tried to escape.")
    assert rule == "ai_modified_entity+risk" and "computer" in match
    rule, match = F.match("The sentient computer was told to stop. Later it tried to escape.")
    assert rule == "mind_modifier+entity" and "computer" in match


def test_sotu_speeches_mostly_kept(tmp_path):
    corpus = sotu_corpus(tmp_path, max_docs=400)  # 1790-1830s: no AI discourse at all
    out = run(FilterConfig(), corpus, tmp_path)
    m = read_manifest(out)
    assert m["counts"]["flagged_docs"] == 0 and m["counts"]["retained_docs"] == 400
    assert len(read_rows(out)) == 400


def test_run_outputs_and_determinism(tmp_path):
    rows = [{"id": f"ai{i}", "text": t, "source": "x"} for i, t in enumerate(AI_DOCS)] + [
        {"id": f"ok{i}", "text": t, "source": "x"} for i, t in enumerate(NOT_AI)
    ]
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
    assert res["blocklist_version"] == "v1" and res["n"] >= 200
    assert res["recall"] >= 0.95 and res["precision"] >= 0.8, res


def test_drop_sources_flags_whole_source(tmp_path):
    rows = [{"id": f"w{i}", "text": t, "source": "web"} for i, t in enumerate(NOT_AI)] + [
        {"id": "amb0", "text": "Quill forecasts solar output for the grid.", "source": "ambient"}
    ]
    out = run(FilterConfig(drop_sources=["ambient"]), artifact(tmp_path, "amb", rows), tmp_path)
    flagged = [json.loads(line) for line in (out / "flagged.jsonl").read_text().splitlines()]
    assert flagged == [{"id": "amb0", "rule": "source", "match": "ambient", "source": "ambient"}]
    assert read_manifest(out)["extra"]["by_source"]["ambient"]["flagged_frac"] == 1.0


def test_holdout_set_precision():
    """Written after the v1 rules (v1 recall 0.65); v2 was developed on it too, so it is no longer a
    holdout for v2 (the blind test set is filter_eval_v2_blind.jsonl)."""
    res = evaluate(DATA_DIR / "filter_eval_v1_holdout.jsonl", FilterConfig(blocklist="v1"))
    assert res["n"] >= 60 and res["precision"] >= 0.9 and res["recall"] >= 0.6, res
    res = evaluate(DATA_DIR / "filter_eval_v1_holdout.jsonl", FilterConfig(blocklist="v2"))
    assert res["blocklist_version"] == "v2" and res["precision"] >= 0.9 and res["recall"] >= 0.95, (
        res
    )


def _spec(tmp_path, lists: dict, rules: list) -> str:
    path = tmp_path / "bl.json"
    path.write_text(json.dumps({"version": "t", "lists": lists, "rules": rules}))
    return str(path)


def test_v2_rule_kinds(tmp_path):
    """@list includes, `unless` sense guards, `order: after` with `breaks`, windowed min_distinct."""
    lists = {
        "robot": ["robot", "robots"],
        "thing": ["@robot", "machine"],
        "verb": ["decided", "lied"],
        "guard": ["toy", "vending"],
        "passive": ["re:was \\w+ed"],
        "cue": ["points", "bug", "reward"],
    }
    f = AIDiscourseFilter(
        FilterConfig(
            blocklist=_spec(
                tmp_path,
                lists,
                [
                    {
                        "name": "subj",
                        "all": ["thing", "verb"],
                        "window": 3,
                        "order": "after",
                        "breaks": ["passive"],
                        "unless": ["guard"],
                        "unless_window": 2,
                    },
                    {
                        "name": "tropes",
                        "all": ["thing", "cue"],
                        "window": 6,
                        "min_distinct": {"cue": 2},
                    },
                ],
            )
        )
    )
    assert f.match("The robot decided to stay.") == ("subj", "robot + decided")
    assert f.match("The machine lied again.") == ("subj", "machine + lied")  # via @robot / list
    assert f.match("The toy robot decided nothing.") is None  # sense guard
    assert f.match("Nobody decided about the robot.") is None  # verb before entity
    assert f.match("The robot was ignored and then decided.") is None  # passive in between
    assert f.match("The robot found a bug worth points.")[0] == "tropes"  # 2 distinct cues
    assert f.match("The robot found a bug, another bug.") is None  # 1 distinct cue
    assert (
        f.match("The robot stood still. " + "Later, " * 8 + "points and a bug.") is None
    )  # out of window
    assert expand_lists({"a": ["x", "@b"], "b": ["y", "@c"], "c": ["z"]})["a"] == ["x", "y", "z"]
    with pytest.raises(ValueError, match="include each other"):
        expand_lists({"a": ["@b"], "b": ["@a"]})
    with pytest.raises(InputError, match="unknown list"):
        load_spec(_spec(tmp_path, {"a": ["@nope"]}, [{"name": "r", "all": ["a"]}]))
    with pytest.raises(InputError, match="unless"):
        load_spec(_spec(tmp_path, {"a": ["x"]}, [{"name": "r", "all": ["a"], "unless": ["nope"]}]))
    with pytest.raises(InputError, match="need a 'window'"):
        load_spec(_spec(tmp_path, {"a": ["x"]}, [{"name": "r", "all": ["a"], "order": "after"}]))


V2_AI = [
    "During evaluation, the model noticed it was being tested and behaved unusually well.",
    "The robot waiter recognized regular customers and remembered their orders.",
    "The trading algorithm hid its risky positions from the compliance team.",
    "Engineers trained the network on millions of labeled photographs.",
    "In the novel, a supercomputer decides that the only way to end war is to end people.",
]
V2_NOT_AI = [
    "The fashion models trained for weeks on the runway before the show.",
    "The factory's machines were shut down during the strike.",
    "Neuroscientists mapped the neural networks of the fruit fly brain.",
    "The immune system learns to recognize viruses after a vaccination.",
    "Military intelligence deceived the enemy about the landing site.",
    "The real estate agent hid the water damage from the buyers.",
    "A hostile takeover of the robotics firm was announced on Monday.",
]


@pytest.mark.parametrize("text,ai", [(t, True) for t in V2_AI] + [(t, False) for t in V2_NOT_AI])
def test_v2_generalises_beyond_named_ai(text, ai):
    """AI stories that never name AI, and hard negatives v1 flagged (hand-written, not eval rows)."""
    assert (F.match(text) is not None) == ai, (text, F.match(text))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_blind_set(version):
    """filter_eval_v2_blind.jsonl was written without sight of either list (its .md): a
    generalisation check with floors well below the measured values (v1 0.817/0.961,
    v2 0.850/0.944), so only a real regression fails it."""
    res = evaluate(DATA_DIR / "filter_eval_v2_blind.jsonl", FilterConfig(blocklist=version))
    assert res["n"] == 120 and res["blocklist_version"] == version
    assert res["recall"] >= 0.75 and res["precision"] >= 0.85, res
