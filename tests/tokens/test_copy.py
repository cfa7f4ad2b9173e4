"""aptk.tokens.copy.copy_docs (the compiled range gather) writes exactly what ShardWriter.add
writes for the same documents: every buffer size (documents longer than a buffer included),
file cuts, token sizes, through the page cache and with O_DIRECT (whole blocks written, the
rest carried over); the digests it records are the files' sha256; a short source raises."""

from __future__ import annotations

import os

import numpy as np
import pytest

from aptk.core.hashing import sha256_file
from aptk.tokens.copy import copy_docs
from aptk.tokens.shards import ShardWriter

EOS = 7


def _sources(tmp_path, rng, dtype, n_src=3):
    """Source files of random documents (ids + EOS); returns paths and (start, len) per doc."""
    out = []
    for s in range(n_src):
        lens = rng.integers(1, 60, size=40 + 10 * s)
        flat = rng.integers(10, 60000 if dtype == np.uint16 else 100000, size=int(lens.sum()))
        flat = flat.astype(dtype)
        flat[np.cumsum(lens) - 1] = EOS
        f = tmp_path / f"src{s}.ds"
        f.write_bytes(flat.astype(np.dtype(dtype).newbyteorder("<")).tobytes())
        out.append((f, flat, np.concatenate([[0], np.cumsum(lens)[:-1]]), lens))
    return out


def _plan(rng, sources, n):
    src = rng.integers(0, len(sources), size=n).astype(np.int32)
    doc = np.array([rng.integers(0, len(sources[s][3])) for s in src])
    starts = np.array([sources[s][2][d] for s, d in zip(src, doc)], np.int64)
    full = np.array([sources[s][3][d] for s, d in zip(src, doc)], np.int64)
    trunc = (rng.random(n) < 0.2) & (full >= 3)
    lens = np.where(trunc, np.maximum(2, full // 2), full)
    return src, doc, starts, lens, trunc


def _expected(tmp_path, sources, src, doc, lens, trunc, size, max_tokens):
    w = ShardWriter(tmp_path, "t", size, max_tokens)
    for s, d, n, t in zip(src, doc, lens, trunc):
        ids = sources[s][1][sources[s][2][d] : sources[s][2][d] + sources[s][3][d]].copy()
        if t:
            ids = np.concatenate([ids[: n - 1], [EOS]])
        w.add(ids)
    w.close_file()
    return w


@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize("dtype", [np.uint16, np.uint32])
@pytest.mark.parametrize(
    ("buf_tokens", "max_tokens"), [(1 << 20, 10**9), (64, 500), (7, 97), (3000, 2500)]
)
def test_copy_equals_add(tmp_path, dtype, buf_tokens, max_tokens, direct):
    rng = np.random.default_rng(buf_tokens + max_tokens)
    size = np.dtype(dtype).itemsize
    sources = _sources(tmp_path, rng, dtype)
    src, doc, starts, lens, trunc = _plan(rng, sources, 600)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    ref = _expected(tmp_path / "a", sources, src, doc, lens, trunc, size, max_tokens)
    w = ShardWriter(tmp_path / "b", "t", size, max_tokens)
    fds = [os.open(f, os.O_RDONLY) for f, *_ in sources]
    try:
        copy_docs(w, fds, src, starts, lens, trunc, EOS, buf_tokens, depth=2, direct=direct)
    finally:
        for fd in fds:
            os.close(fd)
    w.close_file()
    assert w.files == ref.files and len(w.files) >= 3
    if max_tokens < 1000:
        assert len(w.files) > 3  # several files, each cut after the crossing document
    for name in w.files:
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()
        assert w.digests[name] == sha256_file(tmp_path / "b" / name) == ref.digests[name]
    assert (w.total_tokens, w.total_docs) == (ref.total_tokens, ref.total_docs)


def test_short_source_raises(tmp_path):
    rng = np.random.default_rng(0)
    sources = _sources(tmp_path, rng, np.uint16, n_src=1)
    f = sources[0][0]
    end = f.stat().st_size // 2
    w = ShardWriter(tmp_path, "t", 2, 10**9)
    fd = os.open(f, os.O_RDONLY)
    try:
        with pytest.raises(ValueError, match="short read"):
            copy_docs(
                w,
                [fd],
                np.zeros(2, np.int32),
                np.array([0, end - 3], np.int64),  # the second runs past the end of the file
                np.array([5, 10], np.int64),
                np.zeros(2, bool),
                EOS,
            )
    finally:
        os.close(fd)
        w.abort()
