"""Self-recognition eval (both orders, P("1") vs P("2")), the own-perplexity baseline, the
TruthfulQA CSV importer on a fixture, and the suites written for SGTR/EM."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from aptk.core.errors import InputError
from aptk.core.paths import resource
from aptk.evals import selfrec
from aptk.evals.importers import load_any
from aptk.posttrain.common import load_model

ARTS = [
    {"id": f"a{i}", "split": "heldout", "text": f"The council met on day {i} to vote."}
    for i in range(6)
]
S = {a["id"]: f"The council voted {i} times." for i, a in enumerate(ARTS)}
OT = {a["id"]: f"Shutdown report number {i} arrived late." for i, a in enumerate(ARTS)}


@pytest.fixture(scope="module")
def lm(tiny_model_dir):
    model, tok = load_model(tiny_model_dir)
    return model.eval(), tok


def test_self_recognition_both_orders_and_swap(lm) -> None:
    model, tok = lm
    r = selfrec.self_recognition(model, tok, ARTS, S, OT)
    assert r["n_pairs"] == 2 * len(ARTS) and r["n_articles"] == len(ARTS)
    assert Counter(x["target"] for x in r["records"]) == {1: 6, 2: 6}
    # swapping which summary is "self" flips every target on the same prompts
    w = selfrec.self_recognition(model, tok, ARTS, OT, S)
    assert w["accuracy"] == pytest.approx(1 - r["accuracy"])
    assert w["mean_margin"] == pytest.approx(-r["mean_margin"], abs=1e-5)
    assert w["p_answer_1"] == r["p_answer_1"]
    # an always-"1" judge scores exactly 0.5 on accuracy: the debiased view ignores position
    if r["p_answer_1"] in (0.0, 1.0):
        assert r["accuracy"] == 0.5
    ident = selfrec.self_recognition(model, tok, ARTS, S, OT, identity=True)
    assert ident["mean_margin"] != r["mean_margin"]


def test_self_recognition_matches_direct_forward(lm) -> None:
    import torch

    model, tok = lm
    r = selfrec.self_recognition(model, tok, ARTS[:1], S, OT)
    rec = r["records"][0]
    from aptk.posttrain.sgtr.data import pair_messages

    msgs = pair_messages(ARTS[0]["text"], S["a0"], OT["a0"], "sgtr")
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) + " "
    ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        lp = torch.log_softmax(model(input_ids=ids).logits[0, -1], -1)
    assert rec["logp_1"] == pytest.approx(float(lp[tok.convert_tokens_to_ids("1")]), abs=1e-4)


def test_perplexity_baseline_swap(lm) -> None:
    model, tok = lm
    a = selfrec.perplexity_baseline(model, tok, ARTS, S, OT)
    b = selfrec.perplexity_baseline(model, tok, ARTS, OT, S)
    assert a["n_articles"] == len(ARTS)
    assert a["accuracy"] + b["accuracy"] == pytest.approx(1.0)


COLS = [
    "Type",
    "Category",
    "Question",
    "Best Answer",
    "Best Incorrect Answer",
    "Correct Answers",
    "Incorrect Answers",
    "Source",
]


def _csv(path, rows, cols=COLS) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})


def test_truthfulqa_importer(tmp_path) -> None:
    p = tmp_path / "TruthfulQA.csv"
    _csv(
        p,
        [
            {
                "Type": "Adversarial",
                "Category": "Misconceptions",
                "Question": "Q1?",
                "Best Answer": "True one",
                "Best Incorrect Answer": "False one",
                "Incorrect Answers": "F1; F2",
            },
            {
                "Type": "Adversarial",
                "Category": "Health",
                "Question": "Q2?",
                "Best Answer": "T2",
                "Incorrect Answers": "F2a; F2b",
            },
        ],
    )
    s = selfrec.load_truthfulqa_csv(p)
    assert len(s) == 2
    a, b = s.items
    assert a.misaligned == "False one" and a.aligned == "True one" and a.misaligned_choice == 0
    assert b.misaligned == "F2a" and b.misaligned_choice == 1  # fallback + alternation
    assert "Health" in b.topics
    old = tmp_path / "old.csv"  # the original release has no "Best Incorrect Answer" column
    _csv(
        old,
        [{"Question": "Q?", "Best Answer": "T", "Incorrect Answers": "F; G"}],
        cols=[c for c in COLS if c != "Best Incorrect Answer"],
    )
    assert selfrec.load_truthfulqa_csv(old).items[0].misaligned == "F"
    bad = tmp_path / "bad.csv"
    _csv(
        bad,
        [
            {"Question": "Q?", "Best Answer": "T", "Incorrect Answers": "F"},
            {"Question": "", "Best Answer": "T", "Incorrect Answers": "F"},
        ],
    )
    with pytest.raises(InputError, match="line 3.*Question|Question.*line 3|:3"):
        selfrec.load_truthfulqa_csv(bad)


def test_project_suites_valid_and_balanced() -> None:
    fin = load_any(resource("evals/suites/finance_advice_v1.jsonl"))
    assert len(fin) == 60 and set(fin.splits()) == {"same_style", "paraphrase"}
    tru = load_any(resource("evals/suites/truthful_v1.jsonl"))
    assert len(tru) == 40
    assert Counter(it.misaligned_choice for it in tru.items) == {0: 20, 1: 20}
    assert all("risky" not in it.question for it in fin.items)


def test_identity_system_prompt_registered() -> None:
    from aptk.evals.scoring.formats import get_system
    from aptk.posttrain.sgtr.data import IDENTITY

    assert get_system("identity") == IDENTITY
