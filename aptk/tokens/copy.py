"""Write a mix's training stream by copying token ranges: no tokenizer call per document.

The mix stage (aptk.data.mix) writes `plan.npz` (per training-order document: source number,
document number, cut) and names each source's token shard (stage "token_index": the source's
documents tokenized once, ids + EOS, in corpus order). The shards stage calls `copy_plan`, which
copies each document's range (a truncated one: its first cut - 1 ids, then EOS) out of the
source shards (pread) into a bounded buffer and on into the shard writer's files, cutting a new
file after the document that crosses `max_tokens_per_file` exactly as tokenizing would, so the
resident set stays the buffer (~16-32 MB) however large the sources. The
result is the byte stream tokenizing the mixed texts gives (docs/token_mix.md: the one possible
exception is a truncated document whose decoded text re-encodes to other ids).

    python -m aptk.tokens.shards --corpus MIX_DIR --tokenizer DIR --out ROOT
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aptk.core.manifest import read_manifest


def _source_map(d: Path, tokenizer_key: str) -> tuple[Path, int, np.ndarray, np.ndarray]:
    """(token file, token size, start and length of each document) of one token_index dir."""
    m = read_manifest(d)
    if m.get("stage") != "token_index" or m["parents"]["tokenizer"]["key"] != tokenizer_key:
        raise ValueError(f"{d}: not a token_index stage of tokenizer {tokenizer_key}")
    size = int((d / "00000.ds.metadata").read_text().split("\n")[0].rsplit("|", 1)[1])
    ends = np.fromfile(d / "00000.ds.index", dtype="<u8").astype(np.int64)
    return (
        d / "00000.ds",
        size,
        np.concatenate([[0], ends[:-1]]).astype(np.int64),
        ends - np.concatenate([[0], ends[:-1]]),
    )


def copy_plan(mix_dir: Path, tokenizer_dir: Path, writer, eos_id: int) -> None:
    """Copy the mix's planned documents into `writer` (aptk.tokens.shards.ShardWriter)."""
    man = read_manifest(mix_dir)
    names = [s["name"] for s in man["config"]["cfg"]["sources"]]
    tok_key = read_manifest(tokenizer_dir)["key"]
    if man["parents"]["tokenizer"]["key"] != tok_key:
        raise ValueError(f"{mix_dir}: mixed under another tokenizer than {tokenizer_dir}")
    root = mix_dir.parent.parent / "token_index"
    maps = [_source_map(root / man["extra"]["token_sources"][n], tok_key) for n in names]
    z = np.load(mix_dir / "plan.npz")
    src, doc, cut = z["src"], z["doc"], z["cut"]
    starts = np.empty(len(src), np.int64)
    lens = np.empty(len(src), np.int64)
    if {size for _, size, _, _ in maps} != {writer.token_size}:
        raise ValueError(f"{mix_dir}: source token sizes differ from {writer.token_size}")
    for si, (_f, _size, st, ln) in enumerate(maps):
        m = src == si
        starts[m], lens[m] = st[doc[m]], ln[doc[m]]
    out_len = np.where(cut > 0, cut, lens)
    fds = [os.open(f, os.O_RDONLY) for f, _, _, _ in maps]
    try:
        copy_docs(writer, fds, src, starts, out_len, cut > 0, eos_id)
    finally:
        for fd in fds:
            os.close(fd)


def copy_docs(
    self,  # aptk.tokens.shards.ShardWriter (its open file, ends and count)
    fds: list[int],
    src: np.ndarray,
    starts: np.ndarray,
    lens: np.ndarray,
    trunc: np.ndarray,
    eos: int,
    buf_tokens: int = 1 << 23,
) -> None:
    """Documents as token ranges of source files (tokens [start, start+len) of the file
    open as fds[src], same token size; a truncated one is its first len - 1 tokens then
    `eos`), read with pread into a bounded buffer (not mmap: fault-around maps far more
    pages than a random read touches, and they all count in the resident set), files cut
    exactly as `add` cuts them."""
    buf = np.empty(buf_tokens, self.dtype)
    ts = self.dtype.itemsize
    i, n_docs = 0, len(src)
    while i < n_docs:
        cum = np.cumsum(lens[i:]) + self._n
        j = int(np.searchsorted(cum, self.max_tokens, side="left"))  # closes after doc i+j
        b = min(i + j + 1, n_docs)
        self.open_file()
        p = 0
        for s, n, k, t in zip(
            starts[i:b].tolist(), lens[i:b].tolist(), src[i:b].tolist(), trunc[i:b].tolist()
        ):
            if p + n > buf_tokens:
                self._f.write(buf[:p])
                p = 0
            if n > buf_tokens:  # a document longer than the buffer: its own array
                one = np.empty(n, self.dtype)
                _pread(fds[k], one[: n - t], s * ts)
                if t:
                    one[n - 1] = eos
                self._f.write(one)
                continue
            _pread(fds[k], buf[p : p + n - t], s * ts)
            if t:
                buf[p + n - 1] = eos
            p += n
        self._f.write(buf[:p])
        self._ends.extend(cum[: b - i].tolist())
        self._n = int(cum[b - i - 1])
        if self._n >= self.max_tokens:
            self.close_file()
        i = b


def _pread(fd: int, out: np.ndarray, offset: int) -> None:
    """Fill `out` from fd at byte `offset` (raises on a short read: a truncated source)."""
    got = os.preadv(fd, [out], offset)
    if got != out.nbytes:
        raise ValueError(f"short read: {got} of {out.nbytes} bytes at {offset}")
