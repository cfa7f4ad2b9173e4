"""Encode a corpus dir into per-document token arrays (EOS appended), in one process or many.

The parallel path is datatrove-style: for the corpus stage's own layout (`docs-*.jsonl`) the
parent only cuts the files into byte ranges at line ends; each worker reads, parses, validates
and encodes its ranges and returns one flat token buffer plus document lengths, so the parent
does almost nothing and two processes run close to 2x one. Other layouts (parquet, user jsonl)
are read by the parent and sent to the workers in batches. Either way `imap` keeps corpus
order, so the output is byte-identical to a single-process run.

Its speed (2 processes vs 1) is measured by `python -m aptk.bench.tokens` (`make bench`).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import numpy as np

from aptk.core.errors import InputError
from aptk.core.io import parse_jsonl_line

Chunk = tuple[str, int, int, int]  # path, start byte, end byte, line number of the first line


def encode_batches(
    texts: Iterator[list[str]], tokenizer_dir: str | Path, eos_id: int, dtype
) -> Iterator[list[np.ndarray]]:
    """Encode batches of texts into arrays of ids with EOS appended (the single-process path)."""
    from aptk.tokens.tokenizer import FastTokenizer

    tok = FastTokenizer(tokenizer_dir)
    for batch in texts:
        yield [np.asarray(ids + [eos_id], dtype=dtype) for ids in tok.encode_batch(batch)]


def text_batches(corpus_dir: Path, size: int) -> Iterator[list[str]]:
    """The corpus's texts in order, `size` at a time (rows validated by iter_corpus)."""
    from aptk.core.records import iter_corpus

    batch: list[str] = []
    for d in iter_corpus(corpus_dir):
        batch.append(d["text"])
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def jsonl_chunks(corpus_dir: Path, workers: int, min_bytes: int = 1 << 18) -> list[Chunk] | None:
    """The corpus stage's docs-*.jsonl files as `line_chunks`; None when the dir holds another
    layout (parquet, other names), which the parent then reads itself."""
    files = sorted(Path(corpus_dir).glob("docs-*.jsonl")) if Path(corpus_dir).is_dir() else []
    return line_chunks(files, workers, min_bytes) if files else None


def line_chunks(
    files: list[Path], workers: int, min_bytes: int = 1 << 18, max_bytes: int = 1 << 24
) -> list[Chunk]:
    """`files` cut at line ends into byte ranges, in order, each with its first line's number.
    Guided sizes: each range is 1/(4*workers) of the bytes still unassigned, within
    [min_bytes, max_bytes], so early ranges are big (little overhead), the last are small (the
    workers finish together) and a worker never holds more than ~max_bytes of text."""
    left = sum(f.stat().st_size for f in files)
    chunks: list[Chunk] = []
    for f in files:
        size = f.stat().st_size
        if size == 0:
            continue
        with open(f, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos, line = 0, 1
            while pos < size:
                step = min(max_bytes, max(min_bytes, left // (4 * workers)))
                end = mm.find(b"\n", min(pos + step, size) - 1)
                end = size if end == -1 else end + 1
                chunks.append((str(f), pos, end, line))
                line += mm[pos:end].count(b"\n")
                left -= end - pos
                pos = end
    return chunks


_WORKER: dict = {}


def _init_worker(tokenizer_dir: str, eos_id: int, dtype: str, batch_size: int) -> None:
    import gc

    gc.disable()  # rows are acyclic (refcounting frees them); a collection would walk, and so
    # copy-on-write, every object inherited from the parent
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    setup_local(tokenizer_dir, eos_id, dtype, batch_size)


def setup_local(tokenizer_dir: str | Path, eos_id: int, dtype, batch_size: int) -> None:
    """Load the worker state (tokenizer, EOS, dtype) into this process: the serial path runs the
    same chunk functions in-process, so one and many processes share every line of code."""
    from aptk.tokens.tokenizer import FastTokenizer

    _WORKER.update(
        tok=FastTokenizer(tokenizer_dir), eos=eos_id, dtype=np.dtype(dtype), batch_size=batch_size
    )


def _flat(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One flat token array (EOS after each text) and the document lengths; encodes
    `batch_size` texts at a time and converts each batch to numpy at once (a huge batch of
    Python int lists is slower per token)."""
    size, eos, dtype = _WORKER["batch_size"], _WORKER["eos"], _WORKER["dtype"]
    parts, lengths = [], []
    for i in range(0, len(texts), size):
        enc = _WORKER["tok"].encode_batch(texts[i : i + size])
        lengths += [len(ids) + 1 for ids in enc]
        parts.append(np.fromiter(chain.from_iterable(ids + [eos] for ids in enc), dtype=dtype))
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype)
    return flat, np.asarray(lengths, dtype=np.int64)


def _rows(path: str, data: bytes, line0: int, start: int = 0) -> tuple[list[str], list[int]]:
    """Texts of the non-blank jsonl lines in `data` (validated as iter_corpus does) and their
    byte offsets in the file (`data` begins at byte `start`, on line `line0`)."""
    texts, offsets, pos = [], [], start
    for i, raw in enumerate(data.split(b"\n"), line0):
        off, pos = pos, pos + len(raw) + 1
        row = parse_jsonl_line(raw, path, i)
        if row is None:
            continue
        if row.get("text") is None:
            raise InputError(path, i, "text", "missing")
        if not isinstance(row["text"], str):
            raise InputError(
                path, i, "text", f"expected a string, got {type(row['text']).__name__}"
            )
        if row.get("id") is None and row.get("doc_id") is None:
            raise InputError(path, i, "id", "missing (nor doc_id)")
        texts.append(row["text"])
        offsets.append(off)
    return texts, offsets


def _read(chunk: Chunk) -> bytes:
    path, start, end, _ = chunk
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(end - start)


def _encode_chunk(chunk: Chunk) -> tuple[np.ndarray, np.ndarray]:
    return _flat(_rows(chunk[0], _read(chunk), chunk[3])[0])


def tokens_chunk(chunk: Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Byte offsets, flat tokens (EOS after each document) and lengths (ids + 1 EOS) of every
    document in a range: a source's token shards and its mixer index in one pass."""
    texts, offsets = _rows(chunk[0], _read(chunk), chunk[3], chunk[1])
    flat, lengths = _flat(texts)
    return np.asarray(offsets, dtype=np.int64), flat, lengths


def _pool(workers: int, tokenizer_dir: Path, eos_id: int, dtype, batch_size: int):
    """A pool of `workers` tokenizer processes (fork where available), each set up once."""
    import multiprocessing as mp

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    return ctx.Pool(
        workers,
        initializer=_init_worker,
        initargs=(str(tokenizer_dir), eos_id, np.dtype(dtype).str, batch_size),
    )


def tokens_ranges(
    files: list[Path],
    tokenizer_dir: Path,
    eos_id: int,
    dtype,
    workers: int,
    batch_size: int = 1000,
    min_chunk_bytes: int = 1 << 18,
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(file, byte offsets, flat tokens, lengths) of the documents of jsonl `files`, range by
    range in file order, in this process (workers == 1) or a pool of `workers`: same output."""
    chunks = line_chunks(files, workers, min_chunk_bytes)
    if workers <= 1:
        setup_local(tokenizer_dir, eos_id, dtype, batch_size)
        for chunk in chunks:
            yield (chunk[0], *tokens_chunk(chunk))
        return
    with _pool(workers, tokenizer_dir, eos_id, dtype, batch_size) as pool:
        for chunk, res in zip(chunks, pool.imap(tokens_chunk, chunks, chunksize=1)):
            yield (chunk[0], *res)


def _encode_texts(batch: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return _flat(batch)


def encode_parallel(
    corpus_dir: Path,
    tokenizer_dir: Path,
    eos_id: int,
    dtype,
    workers: int,
    batch_size: int = 1000,
    min_chunk_bytes: int = 1 << 18,
) -> Iterator[list[np.ndarray]]:
    """Encode the corpus in `workers` processes, yielding lists of per-document arrays in
    corpus order (identical to `encode_batches` over `text_batches`); jsonl ranges are at
    least `min_chunk_bytes` (see jsonl_chunks)."""
    chunks = jsonl_chunks(corpus_dir, workers, min_chunk_bytes)
    with _pool(workers, tokenizer_dir, eos_id, dtype, batch_size) as pool:
        results = (
            pool.imap(_encode_chunk, chunks, chunksize=1)
            if chunks is not None
            else pool.imap(_encode_texts, text_batches(corpus_dir, batch_size), chunksize=1)
        )
        for flat, lengths in results:  # an InputError in a worker is re-raised here
            yield np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []
