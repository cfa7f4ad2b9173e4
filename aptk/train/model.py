"""Model sizes: one `size` dial picks a Llama-style shape; fields can be overridden one by one.

    python -m aptk.train.model              # table of flavours with parameter counts

Flavours (parameter counts at the vocab shown by the table, embeddings included):
- debug: trains in seconds on a CPU (tests)           ~0.2M at vocab 2048
- tiny:  d=128, 4 layers, ffn 512, ctx 256            ~1-3M (CPU demo)
- small: d=384, 6 layers                              ~20M
- 125m, 1b: Pythia-160m/1b-like widths and depths in Llama form
- paper: the paper's 6.9B GPT-NeoX (Pythia-6.9B) shape expressed as Llama fields: d=4096,
  32 layers x 32 heads, ctx 2048, untied embeddings, vocab 50432; NeoX's 4d GeLU MLP
  (2 matrices) becomes a gated SiLU MLP of width 11008 (3 matrices, ~same parameter count);
  rotary embeddings on the full head (NeoX: on 25% of it), RMSNorm instead of LayerNorm, no
  biases, sequential instead of parallel attention/MLP residuals. Never instantiated in tests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

from aptk.core.config import check


class Flavour(NamedTuple):
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    ffn_dim: int
    max_seq_len: int
    tie_embeddings: bool
    init_std: float
    vocab: int  # the vocab the flavour is usually paired with (table and estimates only)


# fmt: off
FLAVOURS: dict[str, Flavour] = {
    #          d_model layers heads kv  ffn    ctx   tied   init  vocab
    "debug": Flavour(64,    2,   4,   4,   128,   128,  True,  0.02, 2048),
    "tiny":  Flavour(128,   4,   4,   4,   512,   256,  True,  0.02, 8192),
    "small": Flavour(384,   6,   6,   6,   1024,  512,  True,  0.02, 32000),
    "125m":  Flavour(768,   12,  12,  12,  2048,  2048, True,  0.02, 32000),
    "1b":    Flavour(2048,  16,  16,  16,  5504,  2048, False, 0.02, 50432),
    "paper": Flavour(4096,  32,  32,  32,  11008, 2048, False, 0.02, 50432),
}
# fmt: on
#: shape fields of each flavour (what ModelConfig fields default to)
SIZES: dict[str, dict[str, Any]] = {
    name: {k: v for k, v in f._asdict().items() if k != "vocab"} for name, f in FLAVOURS.items()
}
#: vocab each flavour is usually paired with (used by the table and estimates only).
DEFAULT_VOCAB = {name: f.vocab for name, f in FLAVOURS.items()}


@dataclass
class ModelConfig:
    """A named flavour (`size`) plus optional overrides; `None` means "the flavour's value".

    `ffn_mult` sets ffn_dim = ffn_mult * d_model rounded up to a multiple of 16 (give at most
    one of ffn_dim / ffn_mult)."""

    size: str = "tiny"
    d_model: int | None = None
    n_layers: int | None = None
    n_heads: int | None = None
    n_kv_heads: int | None = None
    ffn_dim: int | None = None
    ffn_mult: float | None = None
    max_seq_len: int | None = None
    tie_embeddings: bool | None = None
    init_std: float | None = None
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    def validate(self, prefix: str = "") -> None:
        check(
            self.size in SIZES, prefix, "size", f"unknown size {self.size!r}; one of {list(SIZES)}"
        )
        for f in ("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "max_seq_len"):
            v = getattr(self, f)
            check(v is None or v > 0, prefix, f, "must be a positive integer")
        check(self.ffn_mult is None or self.ffn_mult > 0, prefix, "ffn_mult", "must be > 0")
        check(
            self.ffn_dim is None or self.ffn_mult is None,
            prefix,
            "ffn_mult",
            "give ffn_dim or ffn_mult, not both",
        )
        check(self.init_std is None or self.init_std > 0, prefix, "init_std", "must be > 0")
        check(self.rope_theta > 0, prefix, "rope_theta", "must be > 0")
        check(0 < self.norm_eps < 1, prefix, "norm_eps", "must be in (0, 1)")
        s = self.shape()
        check(
            s["d_model"] % s["n_heads"] == 0,
            prefix,
            "n_heads",
            f"d_model {s['d_model']} is not divisible by n_heads {s['n_heads']}",
        )
        check(
            s["n_heads"] % s["n_kv_heads"] == 0,
            prefix,
            "n_kv_heads",
            f"n_heads {s['n_heads']} is not divisible by n_kv_heads {s['n_kv_heads']}",
        )
        check(
            (s["d_model"] // s["n_heads"]) % 2 == 0,
            prefix,
            "n_heads",
            "head dim d_model/n_heads must be even (rotary embeddings)",
        )

    def shape(self) -> dict[str, Any]:
        """The resolved shape: the flavour's values with overrides applied."""
        base = dict(SIZES[self.size])
        for f in (
            "d_model",
            "n_layers",
            "n_heads",
            "n_kv_heads",
            "ffn_dim",
            "max_seq_len",
            "tie_embeddings",
            "init_std",
        ):
            v = getattr(self, f)
            if v is not None:
                base[f] = v
        if self.n_heads is not None and self.n_kv_heads is None:
            base["n_kv_heads"] = base["n_heads"]
        if self.ffn_mult is not None:
            base["ffn_dim"] = -(-int(round(self.ffn_mult * base["d_model"])) // 16) * 16
        base["rope_theta"], base["norm_eps"] = self.rope_theta, self.norm_eps
        return base

    @property
    def head_dim(self) -> int:
        s = self.shape()
        return s["d_model"] // s["n_heads"]

    def to_llama_config(
        self,
        vocab_size: int,
        bos_token_id: int | None = None,
        eos_token_id: int | None = None,
        pad_token_id: int | None = None,
    ):
        """A `transformers.LlamaConfig` for this shape (model built from scratch from it)."""
        from transformers import LlamaConfig

        s = self.shape()
        return LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=s["d_model"],
            intermediate_size=s["ffn_dim"],
            num_hidden_layers=s["n_layers"],
            num_attention_heads=s["n_heads"],
            num_key_value_heads=s["n_kv_heads"],
            hidden_act="silu",
            max_position_embeddings=s["max_seq_len"],
            initializer_range=s["init_std"],
            rms_norm_eps=s["norm_eps"],
            use_cache=True,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
            tie_word_embeddings=s["tie_embeddings"],
            rope_parameters={"rope_type": "default", "rope_theta": s["rope_theta"]},
            attention_bias=False,
            mlp_bias=False,
        )


def count_params(cfg: ModelConfig, vocab: int, embeddings: bool = True) -> int:
    """Analytic parameter count of the Llama model `cfg` builds (equals sum(p.numel()))."""
    s = cfg.shape()
    d, f, L = s["d_model"], s["ffn_dim"], s["n_layers"]
    kv = s["n_kv_heads"] * (d // s["n_heads"])
    attn = d * d + 2 * d * kv + d * d
    mlp = 3 * d * f
    per_layer = attn + mlp + 2 * d  # + two RMSNorm weights
    n = L * per_layer + d  # + final norm
    if embeddings:
        n += vocab * d * (1 if s["tie_embeddings"] else 2)
    return n


def non_embedding_params(cfg: ModelConfig, vocab: int) -> int:
    return count_params(cfg, vocab, embeddings=False)


def from_dict(d: dict | None) -> ModelConfig:
    from aptk.core.config import build

    return build(ModelConfig, d or {}, prefix="model")


def _table() -> str:
    rows = [
        "| size | d_model | layers | heads | ffn | ctx | tied | vocab | params | non-emb |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in SIZES:
        c = ModelConfig(size=name)
        s, v = c.shape(), DEFAULT_VOCAB[name]
        rows.append(
            f"| {name} | {s['d_model']} | {s['n_layers']} | {s['n_heads']} | {s['ffn_dim']} "
            f"| {s['max_seq_len']} | {s['tie_embeddings']} | {v} | "
            f"{count_params(c, v) / 1e6:,.2f}M | {non_embedding_params(c, v) / 1e6:,.2f}M |"
        )
    return "\n".join(rows)


def replace(cfg: ModelConfig, **kw: Any) -> ModelConfig:
    return dataclasses.replace(cfg, **kw)


if __name__ == "__main__":
    print(_table())
