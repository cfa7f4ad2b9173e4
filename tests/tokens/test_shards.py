"""aptk.tokens.shards: datatrove layout byte for byte, EOS per document, order, reader, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError
from aptk.core.manifest import read_manifest
from aptk.tokens.shards import ShardsConfig, TokenShards, humanize_metric, run, token_size_for
from aptk.tokens.tokenizer import TokenizerConfig, load
from aptk.tokens.tokenizer import run as train_tokenizer
from tests.helpers.corpus import dir_bytes, read_rows, sotu_corpus


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    corpus = sotu_corpus(root, max_docs=120)
    tok = train_tokenizer(TokenizerConfig(vocab_size=512), {"web": corpus}, root)
    out = run(ShardsConfig(max_tokens_per_file=20_000), corpus, tok, root)
    return root, corpus, tok, out


def test_layout_matches_datatrove(env):
    _, corpus, tok, out = env
    t = load(tok)
    docs = read_rows(corpus)
    expected = [t(d["text"])["input_ids"] + [t.eos_token_id] for d in docs]
    names = sorted(p.name for p in out.iterdir() if p.name != "manifest.json")
    n_files = len([n for n in names if n.endswith(".ds")])
    assert n_files > 2
    assert names == sorted(
        f"{k:05d}.ds{s}" for k in range(n_files) for s in ("", ".index", ".metadata")
    )
    got, key = [], read_manifest(tok)["key"]
    for k in range(n_files):
        stem = out / f"{k:05d}.ds"
        tokens = np.frombuffer(stem.read_bytes(), dtype="<u2")
        ends = np.frombuffer((out / f"{k:05d}.ds.index").read_bytes(), dtype="<u8")
        assert ends[-1] == len(tokens) and np.all(np.diff(ends) > 0)
        assert np.all(tokens[ends - 1] == t.eos_token_id)  # EOS closes each doc
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        ends = ends.astype(np.int64)
        got += [tokens[a:b].tolist() for a, b in zip(starts, ends)]
        meta = (out / f"{k:05d}.ds.metadata").read_text()
        assert meta == f"aptk-spm:{key}|2\n{len(tokens)}\n{humanize_metric(len(tokens), unit='T')}"
    assert got == expected  # corpus order kept


def test_reader_spans_files(env):
    _, corpus, _tok, out = env
    ts = TokenShards(out)
    flat = np.concatenate(
        [
            np.frombuffer((out / f"{k:05d}.ds").read_bytes(), dtype="<u2")
            for k in range(len(ts.files))
        ]
    ).astype(np.int64)
    assert ts.n_tokens == len(flat) and ts.n_docs == len(read_rows(corpus))
    boundary = int(ts._starts[1])
    for start, length in [(0, 10), (boundary - 5, 10), (0, ts.n_tokens), (ts.n_tokens - 3, 3)]:
        r = ts.read(start, length)
        assert r.dtype == np.int64 and np.array_equal(r, flat[start : start + length])
    assert ts.doc_ends[-1] == ts.n_tokens and len(ts.doc_ends) == ts.n_docs
    with pytest.raises(IndexError):
        ts.read(ts.n_tokens - 1, 2)


def test_deterministic(env, tmp_path):
    _, corpus, tok, out = env
    again = run(ShardsConfig(max_tokens_per_file=20_000), corpus, tok, tmp_path)
    assert dir_bytes(out) == dir_bytes(again)


def test_token_size_and_humanize():
    assert token_size_for(2048) == 2 and token_size_for(65536) == 2 and token_size_for(65537) == 4
    # the strings humanize.metric gives (datatrove's third metadata line)
    assert humanize_metric(0, unit="T") == "0.00 T"
    assert humanize_metric(999, unit="T") == "999 T"
    assert humanize_metric(1500, unit="T") == "1.50 kT"
    assert humanize_metric(123456, unit="T") == "123 kT"
    assert humanize_metric(2_000_000_000, unit="T") == "2.00 GT"


def test_bad_config_and_missing_metadata(env, tmp_path):
    with pytest.raises(ConfigError, match=r"shards\.workers"):
        build(ShardsConfig, {"workers": 0}, prefix="shards")
    (tmp_path / "00000.ds").write_bytes(b"\x01\x00")
    with pytest.raises(FileNotFoundError, match="metadata"):
        TokenShards(tmp_path)


def test_parallel_output_identical(env, tmp_path):
    _, corpus, tok, out = env
    par = run(
        ShardsConfig(max_tokens_per_file=20_000, workers=2, batch_size=16), corpus, tok, tmp_path
    )
    assert dir_bytes(par) == dir_bytes(out)
    from aptk.bench.tokens import benchmark_parallel

    b = benchmark_parallel(corpus, tok, workers=2, batch_size=32)
    assert b["identical"] and b["docs"] == 120 and b["speedup"] > 0


def test_worker_ranges_cover_every_line_and_report_bad_rows(env, tmp_path):
    """Workers read their own byte ranges of docs-*.jsonl: many small ranges give the same
    documents in order, and a malformed row in a worker names its file and line."""
    import shutil

    from aptk.core.errors import InputError
    from aptk.tokens.encode import encode_batches, encode_parallel, jsonl_chunks, text_batches
    from aptk.tokens.tokenizer import FastTokenizer

    _, corpus, tok, _ = env
    chunks = jsonl_chunks(corpus, 2, min_bytes=1)
    assert len(chunks) > 10
    for (f, _, end, _), (g, start, _, _) in zip(chunks, chunks[1:]):
        assert start == (end if f == g else 0)
    eos = FastTokenizer(tok).eos_id
    one = [d for b in encode_batches(text_batches(corpus, 7), tok, eos, np.uint16) for d in b]
    many = [
        d for b in encode_parallel(corpus, tok, eos, np.uint16, 2, min_chunk_bytes=1) for d in b
    ]
    assert len(one) == len(many) and all(np.array_equal(a, b) for a, b in zip(one, many))
    bad = tmp_path / "bad"
    shutil.copytree(corpus, bad)
    f = sorted(bad.glob("docs-*.jsonl"))[-1]
    lines = f.read_text().splitlines()
    lines[len(lines) // 2] = '{"id": "x", "text": 5}'
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"{f.name}:{len(lines) // 2 + 1}: field 'text'"):
        list(encode_parallel(bad, tok, eos, np.uint16, 2, min_chunk_bytes=1))
