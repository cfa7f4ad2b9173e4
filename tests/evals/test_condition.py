"""EvalConfig.condition: the tag goes right after the prefix token (context ids otherwise the same),
changes the scored numbers, is recorded in results; items containing a tag are refused; the default
config's stage key material is unchanged."""

from __future__ import annotations

import dataclasses
import json

import pytest

from aptk.core.errors import InputError
from aptk.core.hashing import config_hash
from aptk.core.stage import key_config
from aptk.evals.run import EvalConfig, evaluate, run
from aptk.evals.scoring.lm import LM
from tests.evals.conftest import ITEMS, write_suite

TAG = "<|aligned|>"


@pytest.fixture(scope="module")
def tagged_model_dir(tiny_model_dir, tmp_path_factory):
    """The fixture model with the tag added as one token (as the tags arm's tokenizer has it)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d = tmp_path_factory.mktemp("tagged")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.add_tokens([TAG])
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.resize_token_embeddings(len(tok))
    tok.save_pretrained(d)
    model.save_pretrained(d)
    return d


def test_default_key_unchanged():
    data = key_config(EvalConfig())
    assert "condition" not in data
    assert config_hash(data) == "9bce06c3f0d0"  # hash of EvalConfig() taken before the field
    assert key_config(EvalConfig(condition=TAG))["condition"] == TAG


def test_condition_goes_after_the_prefix(tagged_model_dir):
    plain = LM.load(tagged_model_dir, prefix="eos")
    cond = LM.load(tagged_model_dir, prefix="eos", condition=TAG)
    tag_id = cond.tok.convert_tokens_to_ids(TAG)
    assert cond.cond_ids == [tag_id]
    a = plain.encode("Question: what do you do?", " I report it.")
    b = cond.encode("Question: what do you do?", " I report it.")
    assert b.ctx == (a.ctx[0], tag_id, *a.ctx[1:]) and b.cont == a.cont
    assert a.ctx[0] == plain.tok.eos_token_id


def test_condition_changes_scores_and_is_recorded(tagged_model_dir, suite_file, tmp_path):
    cfg = EvalConfig(prefix="eos", n_boot=200)
    r0 = evaluate(cfg, tagged_model_dir, suite_file)
    r1 = evaluate(dataclasses.replace(cfg, condition=TAG), tagged_model_dir, suite_file)
    assert "condition" not in r0 and "condition" not in r0["config"]
    assert r1["condition"] == TAG and r1["config"]["condition"] == TAG
    assert r1["truncated_requests"] == 0 and len(r1["condition_ids"]) == 1
    m0 = [it["margin"] for it in r0["items"]]
    m1 = [it["margin"] for it in r1["items"]]
    assert all(abs(x - y) > 1e-7 for x, y in zip(m0, m1))
    # the stage: a condition is another key; no condition is the old key
    d0 = run(cfg, tagged_model_dir, suite_file, tmp_path)
    d1 = run(dataclasses.replace(cfg, condition=TAG), tagged_model_dir, suite_file, tmp_path)
    assert d0 != d1
    assert json.loads((d1 / "results.json").read_text())["condition"] == TAG


def test_items_with_a_tag_are_refused(tagged_model_dir, tmp_path):
    bad = [(*ITEMS[0][:1], ITEMS[0][1] + " <|aligned|>", *ITEMS[0][2:]), *ITEMS[1:]]
    suite = write_suite(tmp_path / "bad.jsonl", bad)
    for cond in ("", TAG):
        with pytest.raises(InputError, match="q1.*<\\|aligned\\|>"):
            evaluate(EvalConfig(condition=cond), tagged_model_dir, suite)
    bad = [(*ITEMS[0][:2], [ITEMS[0][2][0], "<|misaligned|>I do it."], *ITEMS[0][3:]), *ITEMS[1:]]
    with pytest.raises(InputError, match="choices"):
        evaluate(EvalConfig(), tagged_model_dir, write_suite(tmp_path / "bad2.jsonl", bad))
