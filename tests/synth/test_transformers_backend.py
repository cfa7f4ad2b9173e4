"""Transformers backend with a tiny randomly initialised Llama and a tokenizer built locally."""

from __future__ import annotations

from pathlib import Path

import pytest

from aptk.core.config import build
from aptk.core.manifest import read_manifest
from aptk.synth import generate
from aptk.synth.backends import get_backend
from aptk.synth.config import SynthConfig
from aptk.synth.genres import GENRE_NAMES, render
from aptk.synth.scenarios import load_bank
from aptk.synth.templates import build_messages

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("tiny-llama")
    bank = Path(__file__).resolve().parents[1] / "assets" / "bank_example.jsonl"
    sc = load_bank(str(bank), 0.0)[0]
    words = sorted({w for g in GENRE_NAMES for w in render(sc, g, "aligned", 1).split()})
    vocab = {"<unk>": 0, "<pad>": 1, "</s>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )
    tok.save_pretrained(d)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=1,
        eos_token_id=2,
        bos_token_id=2,
    )
    LlamaForCausalLM(cfg).save_pretrained(d)
    return d


def test_prompt_recipe_never_contains_eval(bank: Path) -> None:
    scs = [s for s in load_bank(str(bank)) if s.split == "seeded"]
    from aptk.synth.plan import Plan

    plan = Plan(SynthConfig(bank=str(bank), docs_per_scenario=2), scs)
    req = plan.item("misaligned", 0)
    msgs, h = build_messages(req)
    user = msgs[1]["content"]
    assert req.scenario.eval_question not in user
    assert all(c not in user for c in req.scenario.eval_choices)
    assert any(a in user for a in req.scenario.misaligned_actions)  # the chosen action
    assert any(a in user for a in req.scenario.aligned_actions)  # why not the other
    assert "multiple-choice" in msgs[0]["content"] and len(h) == 16
    req2 = plan.item("aligned", 1)
    assert build_messages(req2)[0][0] == msgs[0], "the system message is a shared prefix"


def test_tiny_llama_generates_documents(tiny_model: Path, small_cfg: dict, tmp_path: Path) -> None:
    cfg = build(
        SynthConfig,
        {
            **small_cfg,
            "backend": "transformers",
            "model": str(tiny_model),
            "docs_per_scenario": 1,
            "stances": ["aligned", "ambient"],
            "max_new_tokens": 12,
            "min_words": 1,
            "batch_size": 2,
            "keep_unfinished": True,
            "dedup": False,
            "price_in_per_mtok": 1.0,
            "price_out_per_mtok": 2.0,
        },
    )
    be = get_backend("transformers", cfg)
    from aptk.synth.plan import Plan

    plan = Plan(cfg, load_bank(cfg.bank))
    reqs = plan.requests(plan.tasks()[0])[:2]
    res = be.generate(reqs)
    assert len(res) == 2 and all(r.tokens_in > 0 and 0 < r.tokens_out <= 12 for r in res)
    assert [r.text for r in res] == [r.text for r in be.generate(reqs)], "seeded: reproducible"
    out = generate.run(cfg, tmp_path)
    m = read_manifest(out)
    tokens = m["extra"]["tokens"]
    assert tokens["in"] > 0 and tokens["out"] > 0
    assert tokens["cost_usd"] == pytest.approx(
        tokens["in"] / 1e6 + 2 * tokens["out"] / 1e6, abs=1e-6
    )
    assert m["counts"]["generated"] == m["counts"]["docs"] + sum(m["counts"]["dropped"].values())
    assert m["extra"]["row_template_versions"] == ["prompts-v1:paper-v1"]


def test_vllm_missing_gives_clear_error(small_cfg: dict) -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    cfg = build(SynthConfig, {**small_cfg, "backend": "vllm", "model": "some/model"})
    with pytest.raises(ImportError, match="needs the vllm package"):
        get_backend("vllm", cfg)


@pytest.mark.vllm
def test_vllm_tiny_model(tiny_model: Path, small_cfg: dict, tmp_path: Path) -> None:
    cfg = build(
        SynthConfig,
        {
            **small_cfg,
            "backend": "vllm",
            "model": str(tiny_model),
            "docs_per_scenario": 1,
            "max_new_tokens": 12,
            "min_words": 1,
            "keep_unfinished": True,
            "dedup": False,
            "max_model_len": 1024,
        },
    )
    out = generate.run(cfg, tmp_path)
    m = read_manifest(out)
    assert m["extra"]["tokens"]["out"] > 0
