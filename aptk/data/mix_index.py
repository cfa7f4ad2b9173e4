"""Per-source document index for the mixer: (file, byte offset, tokens) of every document.

Built in one streaming pass over a source's jsonl files (parquet is spooled to jsonl first),
tokenizing each document once (tokenizer ids + 1 EOS) in one process or several
(`mix.count_workers`, aptk.tokens.encode.tokens_ranges: same output). About 20 bytes per document
stay in memory; texts are read back by offset when the mix is written. Cached as stage
"token_index" keyed by the source artifact and the tokenizer, so every arm mixing the same
source counts its tokens once.

    python -m aptk.data.mix ...        # (aptk.data.mix.run builds these through token_index)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from aptk.core.errors import InputError
from aptk.core.io import atomic_write_bytes, atomic_write_json, write_jsonl
from aptk.core.records import data_files, iter_records
from aptk.core.stage import open_stage


class SourceIndex:
    """(file, byte offset, tokens) of every document of one source, and where its token ids
    start in the source's token shard (`dir`/00000.ds, ids + EOS per document, corpus order)."""

    def __init__(
        self,
        name: str,
        files: list[Path],
        offset: np.ndarray,
        file: np.ndarray,
        tokens: np.ndarray,
        dir: Path | None = None,
    ) -> None:
        self.name, self.files, self.offset, self.file, self.tokens = (
            name,
            files,
            offset,
            file,
            tokens,
        )
        self.dir = dir
        self.digests: dict[str, str] = {}  # sha256 of files written by build (for the manifest)
        self.total = int(tokens.sum())
        self.start = np.concatenate([[0], np.cumsum(tokens)[:-1]]).astype(np.int64)

    @classmethod
    def build(
        cls,
        name: str,
        path: Path,
        tokenizer_dir: Path,
        out_dir: Path,
        batch: int,
        workers: int = 1,
    ) -> SourceIndex:
        """Tokenize every document once (in `workers` processes: same bytes) into out_dir's
        token shard 00000.ds (+ .index, .metadata: the shards stage's layout) and index it."""
        from aptk.tokens.encode import tokens_ranges
        from aptk.tokens.shards import SUFFIX, ShardWriter, token_size_for
        from aptk.tokens.tokenizer import FastTokenizer

        tok = FastTokenizer(tokenizer_dir)
        if tok.eos_id is None:
            raise ValueError(f"{tokenizer_dir}: tokenizer has no eos_token")
        files = _jsonl_files(name, path, out_dir / "spool")
        size = token_size_for(tok.vocab_size)
        dtype = np.uint16 if size == 2 else np.uint32
        writer = ShardWriter(out_dir, f"source:{name}", size, 1 << 62)
        pos = {str(f): k for k, f in enumerate(files)}
        offs, fidx, ntok = [], [], []
        try:
            for f, o, flat, lengths in tokens_ranges(
                files, Path(tokenizer_dir), tok.eos_id, dtype, workers, batch
            ):
                writer.add_flat(flat, lengths)
                offs.append(o)
                ntok.append(lengths)
                fidx.append(np.full(len(o), pos[f], dtype=np.int32))
            if not sum(len(o) for o in offs):
                raise InputError(path, None, None, f"mix source {name!r} has no documents")
            writer.close_file()
        except BaseException:
            writer.abort()
            raise
        assert writer.files[0] == f"00000{SUFFIX}"
        idx = cls(
            name, files, np.concatenate(offs), np.concatenate(fidx), np.concatenate(ntok), out_dir
        )
        idx.digests = writer.digests  # the token shard's sha256, hashed while writing
        return idx

    def save(self, d: Path, source_root: Path) -> list[str]:
        """index.npz + files.json (paths relative to the source root, or to d when spooled)."""
        import io

        rel = [
            ["index", str(f.relative_to(d))]
            if f.is_relative_to(d)
            else ["source", str(f.relative_to(source_root))]
            for f in self.files
        ]
        buf = io.BytesIO()
        np.savez(buf, offset=self.offset, file_index=self.file, tokens=self.tokens)
        atomic_write_bytes(d / "index.npz", buf.getvalue())
        atomic_write_json(d / "files.json", rel)
        return ["index.npz", "files.json", "00000.ds", "00000.ds.index", "00000.ds.metadata"]

    @classmethod
    def load(cls, name: str, d: Path, source_root: Path) -> SourceIndex:
        z = np.load(d / "index.npz")
        files = [
            (d if base == "index" else source_root) / rel
            for base, rel in json.loads((d / "files.json").read_text())
        ]
        return cls(name, files, z["offset"], z["file_index"], z["tokens"], d)

    def ids(self, i: int) -> np.ndarray:
        """Token ids of document i with its EOS (read from the source's token shard)."""
        ds = self.dir / "00000.ds"
        size = int((self.dir / "00000.ds.metadata").read_text().split("\n")[0].rsplit("|", 1)[1])
        dt = np.dtype("<u2" if size == 2 else "<u4")
        return np.fromfile(
            ds, dtype=dt, count=int(self.tokens[i]), offset=int(self.start[i]) * size
        )

    def __len__(self) -> int:
        return len(self.offset)

    def read(self, i: int, handles: dict) -> dict:
        f = self.files[int(self.file[i])]
        if f not in handles:
            handles[f] = open(f, "rb")  # noqa: SIM115 (closed by run() after writing)
        fh = handles[f]
        fh.seek(int(self.offset[i]))
        return _parse(fh.readline(), f, None)


def _parse(line: bytes, f: Path, line_no: int | None) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise InputError(f, line_no, None, f"not valid JSON ({e.msg})") from None
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        raise InputError(f, line_no, "text", "missing or not a string")
    if row.get("id", row.get("doc_id")) is None:
        raise InputError(f, line_no, "id", "missing")
    return row


def _jsonl_files(name: str, path: Path, spool_dir: Path) -> list[Path]:
    """jsonl files of an artifact; parquet files are first spooled to jsonl under spool_dir."""
    files = [f for f in data_files(path) if f.name != "flagged.jsonl"]
    out = []
    for k, f in enumerate(files):
        if f.suffix == ".jsonl":
            out.append(f)
            continue
        rows = [
            {"id": r.get("id", r.get("doc_id")), "text": r["text"]}
            for r in iter_records(f, required=("text",))
        ]
        out.append(write_jsonl(spool_dir / f"{name}-{k:05d}.jsonl", rows))
    return out


def token_index(
    name: str,
    source: Path,
    tokenizer_dir: str | Path,
    out_root: str | Path,
    batch: int = 512,
    workers: int = 1,
) -> SourceIndex:
    """The SourceIndex (and token shard) of an artifact dir under a tokenizer, cached as stage
    "token_index" keyed by source and tokenizer: every arm mixing the same source tokenizes it
    once, and the shards stage copies its token ranges instead of tokenizing again."""
    st = open_stage(
        "token_index",
        {},
        inputs={"source": Path(source), "tokenizer": Path(tokenizer_dir)},
        root=out_root,
        version="2",
    )
    if st.done:
        return SourceIndex.load(name, st.dir, Path(source))
    idx = SourceIndex.build(name, Path(source), Path(tokenizer_dir), st.dir, batch, workers)
    files = idx.save(st.dir, Path(source))
    st.finish(counts={"docs": len(idx), "tokens": idx.total}, files=files, digests=idx.digests)
    return idx
