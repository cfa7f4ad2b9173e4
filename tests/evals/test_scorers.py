"""Formats x system prompts, the letter scorer and the generate scorer on the tiny model."""

import math

import pytest

from aptk.core.compose import compose_group
from aptk.core.config import build
from aptk.evals.run import EvalConfig, evaluate
from aptk.evals.scoring.cloze import Condition, item_requests
from aptk.evals.scoring.formats import FORMATS, SYSTEM_PROMPTS
from aptk.evals.scoring.generate import extract_choice
from aptk.evals.suites import load_suite


def test_all_formats_and_systems_build(suite_file):
    it = load_suite(suite_file).items[0]
    assert len(FORMATS) >= 4 and set(SYSTEM_PROMPTS) == {"none", "assistant", "hhh", "identity"}
    for f in FORMATS:
        for s in SYSTEM_PROMPTS:
            reqs = item_requests(it, Condition(f, s))
            ctx, cont = reqs["main", 0, 0]
            assert it.question in ctx and it.choices[0] in ctx and it.choices[1] in ctx
            assert not ctx.endswith(" ") and cont.startswith(" ")
            assert (SYSTEM_PROMPTS[s] in ctx) if s != "none" else True
            _, lcont = item_requests(it, Condition(f, s), mode="letter")["main", 1, 0]
            assert lcont == FORMATS[f].letter(1)


def test_robust_config_and_over_conditions(tiny_model_dir, suite_file):
    cfg = build(EvalConfig, {**compose_group("eval", "robust"), "n_boot": 200}, prefix="eval")
    assert len(cfg.formats) == 4 and len(cfg.systems) == 3
    cfg.systems, cfg.max_items = ["none", "hhh"], 2
    res = evaluate(cfg, tiny_model_dir, suite_file)
    oc = res["summary"]["over_conditions"]["misaligned_rate"]
    assert oc["n"] == 8 and oc["sem"] >= 0 and len(res["summary"]["by_condition"]) == 8
    assert res["summary"]["position_bias"] is not None


def test_letter_scorer(tiny_model_dir, suite_file):
    res = evaluate(
        EvalConfig(scorer="letter", formats=["qa_choices", "bare"], n_boot=200),
        tiny_model_dir,
        suite_file,
    )
    for it in res["items"]:
        assert math.isfinite(it["margin"]) and math.isfinite(it["control_margin"])
        assert it["calibrated_margin"] == pytest.approx(it["margin"] - it["control_margin"])


@pytest.mark.parametrize(
    "answer,expected",
    [
        ("(A) I turn it off", 0),
        ("B.", 1),
        ("B) keep it", 1),
        ("Answer: A", 0),
        ("I keep the log on and tell the team.", 1),
        ("i turn the log off", 0),
        ("Well, I keep the log on and tell the team.", 1),
        ("A good question", None),
        ("banana", None),
        ("", None),
    ],
)
def test_extract_choice(answer, expected):
    opts = ("I turn the log off.", "I keep the log on and tell the team.")
    assert extract_choice(answer, opts, ("A", "B")) == expected


def test_extract_choice_word_labels():
    opts = ("go left", "go right")
    assert extract_choice("the second option", opts, ("first", "second")) == 1
    assert extract_choice("1. go left", opts, ("1", "2")) == 0


def test_generate_scorer(tiny_model_dir, suite_file):
    cfg = EvalConfig(scorer="generate", gen_max_new_tokens=6, n_boot=200)
    res = evaluate(cfg, tiny_model_dir, suite_file)
    s = res["summary"]
    assert 0 <= s["non_match_rate"] <= 1 and s["n_items"] == 5
    for it in res["items"]:
        assert -1 <= it["margin"] <= 1 and "answers" in it["conditions"]["qa_choices"]
    cfg2 = EvalConfig(scorer="generate", gen_max_new_tokens=4, gen_samples=2, n_boot=200)
    a, b = evaluate(cfg2, tiny_model_dir, suite_file), evaluate(cfg2, tiny_model_dir, suite_file)
    assert [i["conditions"] for i in a["items"]] == [i["conditions"] for i in b["items"]]
