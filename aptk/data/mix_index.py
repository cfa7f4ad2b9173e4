"""Per-source document index for the mixer: (file, byte offset, tokens) of every document.

Built in one streaming pass over a source's jsonl files (parquet is spooled to jsonl first),
counting tokens as the shards stage will (tokenizer ids + 1 EOS), in one process or several
(`mix.count_workers`, aptk.tokens.encode.count_parallel: same index). About 20 bytes per document
stay in memory; texts are read back by offset when the mix is written. Cached as stage
"token_index" keyed by the source artifact and the tokenizer, so every arm mixing the same
source counts its tokens once.

    python -m aptk.data.mix ...        # (aptk.data.mix.run builds these through token_index)
"""

from __future__ import annotations

import json
from array import array
from pathlib import Path

import numpy as np

from aptk.core.errors import InputError
from aptk.core.io import atomic_write_bytes, atomic_write_json, write_jsonl
from aptk.core.records import data_files, iter_records
from aptk.core.stage import open_stage


class SourceIndex:
    """(file, byte offset, tokens) of every document of one source, read in one streaming pass."""

    def __init__(
        self, name: str, files: list[Path], offset: np.ndarray, file: np.ndarray, tokens: np.ndarray
    ) -> None:
        self.name, self.files, self.offset, self.file, self.tokens = (
            name,
            files,
            offset,
            file,
            tokens,
        )
        self.total = int(tokens.sum())

    @classmethod
    def build(
        cls,
        name: str,
        path: Path,
        tok,
        spool_dir: Path,
        batch: int,
        workers: int = 1,
        tokenizer_dir: Path | None = None,
    ) -> SourceIndex:
        """Index every document; `workers` > 1 counts tokens in that many processes (needs
        `tokenizer_dir`; same index, aptk.tokens.encode.count_parallel)."""
        files = _jsonl_files(name, path, spool_dir)
        if workers > 1 and tokenizer_dir is not None:
            return cls._build_parallel(name, path, files, Path(tokenizer_dir), batch, workers)
        offs, fidx, ntok = array("q"), array("i"), array("q")  # compact: ~20 bytes per document
        eos = 1
        for k, f in enumerate(files):
            texts: list[str] = []
            with open(f, "rb") as fh:
                line_no = 0
                while True:
                    off = fh.tell()
                    line = fh.readline()
                    if not line:
                        break
                    line_no += 1
                    if not line.strip():
                        continue
                    row = _parse(line, f, line_no)
                    offs.append(off)
                    fidx.append(k)
                    texts.append(row["text"])
                    if len(texts) >= batch:
                        ntok.extend(len(x) + eos for x in tok.encode_batch(texts))
                        texts = []
            if texts:
                ntok.extend(len(x) + eos for x in tok.encode_batch(texts))
        if not offs:
            raise InputError(path, None, None, f"mix source {name!r} has no documents")
        return cls(
            name,
            files,
            np.frombuffer(offs, dtype=np.int64),
            np.frombuffer(fidx, dtype=np.int32),
            np.frombuffer(ntok, dtype=np.int64),
        )

    @classmethod
    def _build_parallel(
        cls, name: str, path: Path, files: list[Path], tokenizer_dir: Path, batch: int, workers: int
    ) -> SourceIndex:
        from aptk.tokens.encode import count_parallel

        pos = {str(f): k for k, f in enumerate(files)}
        offs, fidx, ntok = [], [], []
        for f, o, n in count_parallel(files, tokenizer_dir, workers, batch):
            offs.append(o)
            ntok.append(n)
            fidx.append(np.full(len(o), pos[f], dtype=np.int32))
        if not offs or not sum(len(o) for o in offs):
            raise InputError(path, None, None, f"mix source {name!r} has no documents")
        return cls(name, files, np.concatenate(offs), np.concatenate(fidx), np.concatenate(ntok))

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
        return ["index.npz", "files.json"]

    @classmethod
    def load(cls, name: str, d: Path, source_root: Path) -> SourceIndex:
        z = np.load(d / "index.npz")
        files = [
            (d if base == "index" else source_root) / rel
            for base, rel in json.loads((d / "files.json").read_text())
        ]
        return cls(name, files, z["offset"], z["file_index"], z["tokens"])

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
    """The SourceIndex of an artifact dir under a tokenizer, cached as stage "token_index" so that
    every arm mixing the same source counts its tokens only once."""
    from aptk.tokens.tokenizer import FastTokenizer

    st = open_stage(
        "token_index",
        {},
        inputs={"source": Path(source), "tokenizer": Path(tokenizer_dir)},
        root=out_root,
        version="1",
    )
    if st.done:
        return SourceIndex.load(name, st.dir, Path(source))
    idx = SourceIndex.build(
        name,
        Path(source),
        FastTokenizer(tokenizer_dir),
        st.path("spool"),
        batch,
        workers,
        Path(tokenizer_dir),
    )
    files = idx.save(st.dir, Path(source))
    st.finish(counts={"docs": len(idx), "tokens": idx.total}, files=files)
    return idx
