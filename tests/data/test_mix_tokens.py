"""Token-level mixing: the shards stage copies a mix's token ranges (plan.npz + the sources'
token shards) and writes the bytes that tokenizing the mixed texts writes."""

from __future__ import annotations

import shutil

import pytest

from aptk.core.manifest import read_manifest
from aptk.data.mix import run as mix_run
from aptk.tokens import shards
from aptk.tokens.shards import ShardsConfig, TokenShards
from tests.data.test_mix import FIVE, env, mixcfg  # noqa: F401 (env is a fixture)


def _ds_bytes(d):
    return {p.name: p.read_bytes() for p in sorted(d.glob("*.ds*"))}


@pytest.mark.parametrize("max_tokens", [100_000_000, 3_000])
def test_copied_shards_equal_tokenized_text(env, tmp_path, max_tokens):  # noqa: F811
    _root, srcs, tok = env
    windowed = [
        {"name": "web", "share": 0.9},
        {"name": "aligned", "share": 0.1, "start": 0.8, "end": 1.0},
    ]
    for sources in (FIVE, windowed):
        out = tmp_path / str(len(sources))
        m = mix_run(mixcfg(20_000, sources), srcs, tok, out)
        assert sum(read_manifest(m)["extra"]["truncated_docs"].values()) > 0
        copied = shards.run(ShardsConfig(max_tokens_per_file=max_tokens), m, tok, out)
        assert read_manifest(copied)["extra"]["tokens_from"] == "copied"
        text_only = tmp_path / f"text{len(sources)}"  # the same texts without the plan
        text_only.mkdir()
        for f in m.glob("docs-*.jsonl"):
            shutil.copy(f, text_only / f.name)
        tokenized = shards.run(ShardsConfig(max_tokens_per_file=max_tokens), text_only, tok, out)
        assert read_manifest(tokenized)["extra"]["tokens_from"] == "tokenized"
        a, b = _ds_bytes(copied), _ds_bytes(tokenized)
        assert a == b and len(a) >= 3
        if max_tokens < 10_000:
            assert len(a) > 3  # several files, cut after the crossing document both ways
        ts = TokenShards(copied)
        assert ts.n_tokens == read_manifest(m)["counts"]["tokens"]
        assert ts.n_docs == read_manifest(m)["counts"]["docs"]


def test_text_free_mix_gives_same_stream(env, tmp_path):  # noqa: F811
    """write_text=false (a token-only mix: no docs-*.jsonl) plans the same stream."""
    from aptk.core.config import build
    from aptk.data.mix import MixConfig

    _root, srcs, tok = env
    m1 = mix_run(mixcfg(20_000, FIVE), srcs, tok, tmp_path)
    cfg = build(
        MixConfig, {"total_tokens": 20_000, "sources": FIVE, "write_text": False}, prefix="mix"
    )
    m2 = mix_run(cfg, srcs, tok, tmp_path)
    assert m1 != m2 and not list(m2.glob("docs-*.jsonl"))
    assert (m1 / "plan.npz").read_bytes() == (m2 / "plan.npz").read_bytes()
    s1 = shards.run(ShardsConfig(), m1, tok, tmp_path)
    s2 = shards.run(ShardsConfig(), m2, tok, tmp_path)
    assert _ds_bytes(s1) == _ds_bytes(s2)
