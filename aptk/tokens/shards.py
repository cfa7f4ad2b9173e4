"""Tokenize a corpus dir into token shards in datatrove's DocumentTokenizer layout, and read them.

Per shard `NNNNN.ds`: the token ids, little-endian uint16 (uint32 when the vocabulary has more than
65536 entries), EOS appended after every document, documents in corpus order; `NNNNN.ds.index`:
uint64 cumulative end position (in tokens) of each document in that file; `NNNNN.ds.metadata`:
"<tokenizer name>|<token size>\\n<token count>\\n<humanized count>" as datatrove writes it.
`TokenShards(dir)` memory-maps them for the trainer.

    python -m aptk.tokens.shards --corpus DIR --tokenizer DIR --out ROOT [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aptk.core.config import check
from aptk.core.io import AtomicStream
from aptk.core.manifest import read_manifest
from aptk.core.stage import open_stage, runtime_field
from aptk.tokens.encode import encode_batches, encode_parallel, text_batches

SUFFIX = ".ds"


@dataclass
class ShardsConfig:
    """max_tokens_per_file: a new shard starts after the document that crosses this size."""

    max_tokens_per_file: int = 100_000_000
    # speed only, never the output: runtime fields, kept out of the stage key
    batch_size: int = runtime_field(1000)
    workers: int = runtime_field(1)
    tokenizer_name: str = ""  # metadata name; default "<tokenizer name>:<tokenizer stage key>"
    direct_io: bool = runtime_field(
        True, doc="copying a mix: write shards with O_DIRECT (page cache bypassed; same bytes)"
    )

    def validate(self, prefix: str) -> None:
        check(self.max_tokens_per_file > 0, prefix, "max_tokens_per_file", "must be positive")
        check(self.batch_size > 0, prefix, "batch_size", "must be positive")
        check(self.workers >= 1, prefix, "workers", "must be >= 1")
        check(
            "|" not in self.tokenizer_name and "\n" not in self.tokenizer_name,
            prefix,
            "tokenizer_name",
            "must not contain '|' or a newline",
        )


def humanize_metric(value: float, unit: str = "", precision: int = 3) -> str:
    """Same text as `humanize.metric` (which datatrove uses for the third metadata line)."""
    exponent = math.floor(math.log10(abs(value))) if value != 0 else 0
    if exponent >= 33 or exponent < -30:
        return f"{value:.{precision - 1}e}{unit}"
    value /= 10 ** (exponent // 3 * 3)
    if exponent >= 3:
        ordinal = "kMGTPEZYRQ"[exponent // 3 - 1]
    elif exponent < 0:
        ordinal = "m\u03bcnpfazyrq"[(-exponent - 1) // 3]
    else:
        ordinal = ""
    text = format(value, f".{max(0, precision - (exponent % 3) - 1)}f")
    space = " " if (unit or ordinal) else ""
    return f"{text}{space}{ordinal}{unit}"


def token_size_for(vocab_size: int) -> int:
    """Bytes per token as datatrove chooses: 4 if the vocabulary exceeds uint16, else 2."""
    return 4 if vocab_size > np.iinfo(np.uint16).max + 1 else 2


class ShardWriter:
    """Write documents (arrays with EOS) into NNNNN.ds / .index / .metadata files atomically."""

    def __init__(self, out_dir: Path, name: str, token_size: int, max_tokens: int) -> None:
        self.out_dir, self.name, self.token_size, self.max_tokens = (
            out_dir,
            name,
            token_size,
            max_tokens,
        )
        self.dtype = np.dtype("<u2" if token_size == 2 else "<u4")
        self.files: list[str] = []
        #: sha256 hex of every file written (hashed while writing: Stage.finish(digests=))
        self.digests: dict[str, str] = {}
        self.total_tokens = self.total_docs = 0
        self._f: AtomicStream | None = None
        self._ends: list[int] = []
        self._n = 0

    def open_file(self, factory: type[AtomicStream] = AtomicStream) -> None:
        """Start the next NNNNN.ds unless one is open (`factory`: AtomicStream or a subclass)."""
        if self._f is None:
            self._f = factory(self.out_dir / f"{len(self.files) // 3:05d}{SUFFIX}")

    def add(self, doc: np.ndarray) -> None:
        self.open_file()
        self._f.write(doc.astype(self.dtype, copy=False).tobytes())
        self._n += len(doc)
        self._ends.append(self._n)
        if self._n >= self.max_tokens:
            self.close_file()

    def add_flat(self, flat: np.ndarray, lengths: np.ndarray) -> None:
        """Many documents at once (flat ids with EOS, per-document lengths) into the open file;
        only for writers with no size limit in practice (one file: a source's token shard)."""
        self.open_file()
        self._f.write(flat.astype(self.dtype, copy=False).tobytes())
        self._ends.extend((np.cumsum(lengths) + self._n).tolist())
        self._n += int(lengths.sum())

    def close_file(self) -> None:
        if self._f is None:
            return
        stem = f"{len(self.files) // 3:05d}{SUFFIX}"
        self._f.commit()
        from aptk.core.io import atomic_write_bytes

        index = np.asarray(self._ends, dtype="<u8").tobytes()
        meta = "\n".join(
            [f"{self.name}|{self.token_size}", str(self._n), humanize_metric(self._n, unit="T")]
        ).encode("utf-8")
        atomic_write_bytes(self.out_dir / f"{stem}.index", index)
        atomic_write_bytes(self.out_dir / f"{stem}.metadata", meta)
        self.digests[stem] = self._f.sha256.hexdigest()
        self.digests[f"{stem}.index"] = hashlib.sha256(index).hexdigest()
        self.digests[f"{stem}.metadata"] = hashlib.sha256(meta).hexdigest()
        self.files += [stem, f"{stem}.index", f"{stem}.metadata"]
        self.total_tokens += self._n
        self.total_docs += len(self._ends)
        self._f, self._ends, self._n = None, [], 0

    def abort(self) -> None:
        if self._f is not None:
            self._f.abort()


def run(
    cfg: ShardsConfig, corpus_dir: str | Path, tokenizer_dir: str | Path, out_root: str | Path
) -> Path:
    """Tokenize corpus_dir (in order, EOS after each document) into datatrove-layout shards."""
    from tqdm import tqdm

    from aptk.tokens.tokenizer import FastTokenizer

    st = open_stage(
        "shards",
        cfg,
        inputs={"corpus": corpus_dir, "tokenizer": tokenizer_dir},
        root=out_root,
        version="1",
    )
    if st.done:
        return st.dir
    tok = FastTokenizer(tokenizer_dir)
    if tok.eos_id is None:
        raise ValueError(f"{tokenizer_dir}: tokenizer has no eos_token")
    vocab = tok.vocab_size
    token_size = token_size_for(vocab)
    name = cfg.tokenizer_name or _tokenizer_name(Path(tokenizer_dir))
    writer = ShardWriter(st.dir, name, token_size, cfg.max_tokens_per_file)
    if (Path(corpus_dir) / "plan.npz").is_file():  # a mix: copy its token ranges, no tokenizer
        from aptk.tokens.copy import copy_plan

        t0 = time.perf_counter()
        try:
            copy_plan(Path(corpus_dir), Path(tokenizer_dir), writer, tok.eos_id, cfg.direct_io)
            t1 = time.perf_counter()
            writer.close_file()
        except BaseException:
            writer.abort()
            raise
        phases = {"copy": round(t1 - t0, 3), "commit": round(time.perf_counter() - t1, 3)}
        return _finish(st, writer, token_size, vocab, tok.eos_id, name, "copied", phases)
    dtype = np.uint16 if token_size == 2 else np.uint32
    if cfg.workers > 1:
        encoded = encode_parallel(
            Path(corpus_dir), Path(tokenizer_dir), tok.eos_id, dtype, cfg.workers, cfg.batch_size
        )
    else:
        encoded = encode_batches(
            text_batches(Path(corpus_dir), cfg.batch_size), tokenizer_dir, tok.eos_id, dtype
        )
    bar = tqdm(unit="docs", desc="tokenize", mininterval=2.0)
    try:
        for docs in encoded:
            for d in docs:
                writer.add(d)
            bar.update(len(docs))
        writer.close_file()
    except BaseException:
        writer.abort()
        raise
    bar.close()
    return _finish(st, writer, token_size, vocab, tok.eos_id, name, "tokenized")


def _finish(
    st,
    writer: ShardWriter,
    token_size: int,
    vocab: int,
    eos: int,
    name: str,
    how: str,
    phases: dict | None = None,
):
    st.finish(
        counts={
            "tokens": writer.total_tokens,
            "docs": writer.total_docs,
            "shards": len(writer.files) // 3,
        },
        files=writer.files,
        digests=writer.digests,  # hashed while writing: no second read of the shards
        extra={
            "token_size": token_size,
            "vocab_size": vocab,
            "eos_id": eos,
            "tokenizer_name": name,
            # "copied": token ranges of the mix's per-source token shards (plan.npz);
            # "tokenized": the corpus's texts encoded here
            "tokens_from": how,
            # copy: reading + writing the token ranges; commit: flush, fsync, rename, index
            **({"phase_seconds": phases} if phases else {}),
        },
    )
    return st.dir


def _tokenizer_name(tokenizer_dir: Path) -> str:
    """'<name_or_path in tokenizer_config.json>:<tokenizer stage key>' (no machine paths)."""
    import json

    conf = tokenizer_dir / "tokenizer_config.json"
    name = json.loads(conf.read_text()).get("name_or_path", "") if conf.is_file() else ""
    name = (name or "tokenizer").replace("|", "_").replace("\n", " ")
    if Path(name).is_absolute():
        name = Path(name).name
    return f"{name}:{read_manifest(tokenizer_dir)['key']}"


class TokenShards:
    """Read-only view of a shard dir: `.n_tokens`, `.n_docs`, `.read(start, length)` (int64),
    spanning file boundaries; files are memory-mapped, so nothing is loaded up front."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        files = sorted(self.path.glob(f"*{SUFFIX}"))
        if not files:
            raise FileNotFoundError(f"{self.path}: no *{SUFFIX} token shards")
        self.files, self._maps, sizes, self._index = files, [], [], []
        self.token_size: int | None = None
        for f in files:
            meta = Path(f"{f}.metadata")
            if not meta.is_file():
                raise FileNotFoundError(
                    f"{meta}: missing (every .ds needs .ds.metadata and .ds.index)"
                )
            lines = meta.read_text(encoding="utf-8").split("\n")
            try:
                self.tokenizer_name, size = lines[0].rsplit("|", 1)
                ts, count = int(size), int(lines[1])
            except (ValueError, IndexError):
                raise ValueError(
                    f"{meta}: expected '<name>|<token size>' then the token count"
                ) from None
            if f.stat().st_size != ts * count:
                raise ValueError(
                    f"{f}: {f.stat().st_size} bytes but metadata says {count} tokens x {ts} B"
                )
            self.token_size = self.token_size or ts
            if ts != self.token_size:
                raise ValueError(
                    f"{f}: token size {ts} differs from the other shards ({self.token_size})"
                )
            dtype = np.dtype("<u2" if ts == 2 else "<u4")
            self._maps.append(np.memmap(f, dtype=dtype, mode="r") if count else np.zeros(0, dtype))
            idx = np.fromfile(f"{f}.index", dtype="<u8")
            if len(idx) and int(idx[-1]) != count:
                raise ValueError(
                    f"{f}.index: last document end {int(idx[-1])} != token count {count}"
                )
            self._index.append(idx)
            sizes.append(count)
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.n_tokens = int(self._starts[-1])
        self.n_docs = int(sum(len(i) for i in self._index))

    @property
    def doc_ends(self) -> np.ndarray:
        """Global cumulative end position of every document (int64)."""
        return (
            np.concatenate([i.astype(np.int64) + s for i, s in zip(self._index, self._starts[:-1])])
            if self._index
            else np.zeros(0, np.int64)
        )

    def read(self, start: int, length: int) -> np.ndarray:
        """Tokens [start, start+length) as int64; raises IndexError beyond n_tokens."""
        if start < 0 or length < 0 or start + length > self.n_tokens:
            raise IndexError(f"read({start}, {length}) outside [0, {self.n_tokens})")
        out = np.empty(length, dtype=np.int64)
        k = int(np.searchsorted(self._starts, start, side="right")) - 1
        pos, done = start, 0
        while done < length:
            off = pos - int(self._starts[k])
            take = min(length - done, len(self._maps[k]) - off)
            out[done : done + take] = self._maps[k][off : off + take]
            done += take
            pos += take
            k += 1
        return out

    def __len__(self) -> int:
        return self.n_tokens


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", default="outputs")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-tokens-per-file", type=int, default=100_000_000)
    ap.add_argument("--buffered-io", action="store_true", help="copying a mix: no O_DIRECT")
    a = ap.parse_args(argv)
    cfg = ShardsConfig(
        workers=a.workers, max_tokens_per_file=a.max_tokens_per_file, direct_io=not a.buffered_io
    )
    cfg.validate("shards")
    print(run(cfg, Path(a.corpus), Path(a.tokenizer), Path(a.out)))


if __name__ == "__main__":
    main()
