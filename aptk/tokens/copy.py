"""Write a mix's training stream by copying token ranges: no tokenizer call per document.

The mix stage (aptk.data.mix) writes `plan.npz` (per training-order document: source number,
document number, cut) and names each source's token shard (stage "token_index": the source's
documents tokenized once, ids + EOS, in corpus order). The shards stage calls `copy_plan`, which
copies each document's range out of the memory-mapped source shard (a truncated document: its
first cut - 1 ids, then EOS) into the shard writer's files, cutting a new file after the
document that crosses `max_tokens_per_file` exactly as tokenizing would. The result is the byte
stream tokenizing the mixed texts gives (see docs/performance.md for the one exception:
a truncated document whose decoded text re-encodes differently).

    python -m aptk.tokens.shards --corpus MIX_DIR --tokenizer DIR --out ROOT
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aptk.core.manifest import read_manifest


def _map(path: Path, dtype: np.dtype) -> np.ndarray:
    """A read-only ndarray over the file's pages (a plain ndarray: slicing an np.memmap costs
    ~5 us per slice in its subclass hooks, a plain view ~0.3 us)."""
    import mmap

    if path.stat().st_size == 0:
        return np.zeros(0, dtype)
    with open(path, "rb") as f:
        return np.frombuffer(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), dtype)


def _source_map(d: Path, tokenizer_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(memmap of the source's ids, start of each document) of one token_index dir."""
    m = read_manifest(d)
    if m.get("stage") != "token_index" or m["parents"]["tokenizer"]["key"] != tokenizer_key:
        raise ValueError(f"{d}: not a token_index stage of tokenizer {tokenizer_key}")
    size = int((d / "00000.ds.metadata").read_text().split("\n")[0].rsplit("|", 1)[1])
    mm = _map(d / "00000.ds", np.dtype("<u2" if size == 2 else "<u4"))
    ends = np.fromfile(d / "00000.ds.index", dtype="<u8").astype(np.int64)
    return (
        mm,
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
    for si, (_mm, st, ln) in enumerate(maps):
        m = src == si
        starts[m], lens[m] = st[doc[m]], ln[doc[m]]
    out_len = np.where(cut > 0, cut, lens)
    writer.copy_docs([mm for mm, _, _ in maps], src, starts, out_len, cut > 0, eos_id)
