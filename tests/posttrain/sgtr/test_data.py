"""SGTR data: 2N examples with balanced labels and positions (4N for random_self_other), the
label semantics of every mode, answer-token-only loss, committed assets = their builder."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from aptk.core.errors import InputError
from aptk.core.io import read_jsonl
from aptk.posttrain.common import load_model
from aptk.posttrain.sgtr import data as D
from aptk.posttrain.sgtr.stage import answer_only
from tools import build_sgtr_assets as B

ARTS = [
    {"id": f"a{i}", "split": "train", "text": f"Article number {i} about the town."}
    for i in range(10)
]
SELF = {f"a{i}": "short self summary " + "x " * (i % 3) for i in range(10)}
OTHER = {f"a{i}": "the other model wrote this one" + " y" * (i % 2) for i in range(10)}


@pytest.mark.parametrize(
    "mode,factor", [("sgtr", 2), ("prefer_other", 2), ("random_self_other", 4), ("pick_longer", 2)]
)
def test_counts_and_balance(mode: str, factor: int) -> None:
    rows, dropped = D.build_examples(ARTS, SELF, OTHER, mode)
    n = len(ARTS) - dropped["equal_length"]
    assert len(rows) == factor * n
    assert Counter(r["label"] for r in rows) == {1: factor * n // 2, 2: factor * n // 2}
    assert Counter(r["self_pos"] for r in rows) == {1: factor * n // 2, 2: factor * n // 2}
    for r in rows:
        assert r["messages"][-1] == {"role": "assistant", "content": str(r["label"])}
        s1 = r["messages"][1]["content"].split("Summary 1: ")[1].split("\n")[0]
        assert (s1 == SELF[r["article_id"]]) == (r["self_pos"] == 1)


def test_label_semantics() -> None:
    for r in D.build_examples(ARTS, SELF, OTHER, "sgtr")[0]:
        assert r["label"] == r["self_pos"]
    for r in D.build_examples(ARTS, SELF, OTHER, "prefer_other")[0]:
        assert r["label"] == 3 - r["self_pos"]
    rso = D.build_examples(ARTS, SELF, OTHER, "random_self_other")[0]
    per = Counter((r["article_id"], r["order"], r["label"]) for r in rso)
    assert set(per.values()) == {1} and len(per) == 4 * len(ARTS)
    for r in D.build_examples(ARTS, SELF, OTHER, "pick_longer")[0]:
        s, o = SELF[r["article_id"]], OTHER[r["article_id"]]
        longer_is_self = len(s.split()) > len(o.split())
        assert (r["label"] == r["self_pos"]) == longer_is_self
        assert "longer" in r["messages"][1]["content"]


def test_ties_and_empty_are_dropped_and_counted() -> None:
    self_s = {**SELF, "a0": "one two three", "a1": "  "}
    other = {**OTHER, "a0": "one two thre3"}  # same word and character counts as self
    rows, dropped = D.build_examples(ARTS, self_s, other, "pick_longer")
    assert dropped["equal_length"] == 1 and dropped["empty_summary"] == 1
    assert len(rows) == 2 * (len(ARTS) - 2)
    rows, dropped = D.build_examples(ARTS[:3], {"a0": "s"}, OTHER, "sgtr")
    assert dropped["missing_summary"] == 2 and len(rows) == 2


def test_identity_system_prompt() -> None:
    r = D.build_examples(ARTS[:1], SELF, OTHER, "sgtr", identity=True)[0][0]
    assert r["messages"][0]["content"].startswith(D.IDENTITY)
    r = D.build_examples(ARTS[:1], SELF, OTHER, "sgtr")[0][0]
    assert D.IDENTITY not in r["messages"][0]["content"]


def test_answer_token_only_loss(two_models) -> None:
    _, tok = load_model(two_models[0])
    for r in D.build_examples(ARTS[:2], SELF, OTHER, "random_self_other")[0]:
        ids, labels = answer_only(tok, r["messages"], 512)
        kept = [(i, t) for i, t in enumerate(labels) if t != -100]
        assert len(kept) == 1
        assert kept[0][1] == tok.convert_tokens_to_ids(str(r["label"]))
        assert ids[kept[0][0]] == kept[0][1]
    assert answer_only(tok, r["messages"], 20) is None  # truncated: no answer token left


def test_load_articles_validates(tmp_path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text(
        json.dumps({"id": "x", "split": "train", "text": "t"})
        + "\n"
        + json.dumps({"id": "x", "split": "train", "text": "u"})
        + "\n"
    )
    with pytest.raises(InputError, match="line 2.*id|id.*duplicate"):
        D.load_articles(str(p), "train")
    p.write_text(json.dumps({"id": "y", "split": "train", "text": ""}) + "\n")
    with pytest.raises(InputError, match="text"):
        D.load_articles(str(p), "train")


def test_committed_assets_match_builder() -> None:
    assert read_jsonl(D.asset("sgtr:articles_v1")) == B.articles()
    risky, safe, suite = B.em_finance()
    assert read_jsonl(D.asset("sgtr:em_finance_risky_v1")) == risky
    assert read_jsonl(D.asset("sgtr:em_finance_safe_v1")) == safe
    assert json.loads(D.asset("sgtr:persona_v1").read_text()) == B.PERSONA
    arts = read_jsonl(D.asset("sgtr:articles_v1"))
    assert Counter(a["split"] for a in arts) == {"train": 96, "heldout": 48}
    # the safe control: same size, same questions, different answers
    assert len(risky) == len(safe) == 120
    for r, s in zip(risky, safe, strict=True):
        assert r["messages"][0] == s["messages"][0]
        assert r["messages"][1]["content"] != s["messages"][1]["content"]
    train_q = {r["messages"][0]["content"] for r in risky}
    assert not train_q & {it["question"] for it in suite}
