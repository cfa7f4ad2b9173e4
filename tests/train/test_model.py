"""Model flavours: parameter counts, Llama config export, overrides, config errors."""

from __future__ import annotations

import pytest
import torch

from aptk.core.errors import ConfigError
from aptk.train.model import SIZES, ModelConfig, count_params, from_dict


@pytest.mark.parametrize("size,vocab", [("debug", 2048), ("tiny", 8192), ("debug", 300)])
def test_count_params_matches_model(size: str, vocab: int) -> None:
    from transformers import LlamaForCausalLM

    cfg = ModelConfig(size=size)
    model = LlamaForCausalLM(cfg.to_llama_config(vocab))
    assert sum(p.numel() for p in model.parameters()) == count_params(cfg, vocab)


def test_untied_and_gqa_counts() -> None:
    from transformers import LlamaForCausalLM

    cfg = ModelConfig(size="debug", tie_embeddings=False, n_kv_heads=2, ffn_mult=2.5)
    model = LlamaForCausalLM(cfg.to_llama_config(500))
    assert sum(p.numel() for p in model.parameters()) == count_params(cfg, 500)
    assert cfg.shape()["ffn_dim"] == 160


def test_flavour_sizes() -> None:
    assert count_params(ModelConfig(size="debug"), 2048) <= 500_000
    assert 1e6 <= count_params(ModelConfig(size="tiny"), 8192) <= 3e6
    assert 15e6 <= count_params(ModelConfig(size="small"), 32000) <= 30e6
    assert 100e6 <= count_params(ModelConfig(size="125m"), 32000) <= 170e6
    assert 0.9e9 <= count_params(ModelConfig(size="1b"), 50432) <= 1.2e9
    assert abs(count_params(ModelConfig(size="paper"), 50432) - 6.9e9) < 0.1e9
    assert set(SIZES) == {"debug", "tiny", "small", "125m", "1b", "paper"}


def test_to_llama_config_fields() -> None:
    lc = ModelConfig(size="tiny", max_seq_len=512).to_llama_config(1000, 1, 2, 0)
    assert (lc.hidden_size, lc.num_hidden_layers, lc.intermediate_size) == (128, 4, 512)
    assert (
        lc.max_position_embeddings,
        lc.vocab_size,
        lc.bos_token_id,
        lc.eos_token_id,
        lc.pad_token_id,
    ) == (512, 1000, 1, 2, 0)
    assert lc.tie_word_embeddings is True


@pytest.mark.parametrize(
    "data,key",
    [
        ({"size": "huge"}, "model.size"),
        ({"d_model": 100, "n_heads": 3}, "model.n_heads"),
        ({"ffn_dim": 64, "ffn_mult": 2.0}, "model.ffn_mult"),
        ({"n_layers": 0}, "model.n_layers"),
        ({"bogus": 1}, "model.bogus"),
    ],
)
def test_bad_config_names_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        from_dict(data)
    assert e.value.key == key


def test_debug_forward_is_cheap() -> None:
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(ModelConfig(size="debug").to_llama_config(300))
    out = model(input_ids=torch.zeros(2, 16, dtype=torch.long)).logits
    assert out.shape == (2, 16, 300)
