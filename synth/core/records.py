"""Stream documents from corpus artifacts: jsonl or parquet files (or directories of them).

Corpora flow between stages as files whose rows have at least `id` and `text`. Reading is
streaming (one row at a time, parquet in record batches) so memory does not grow with size.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from synth.core.errors import InputError
from synth.core.io import iter_jsonl

DATA_SUFFIXES = (".jsonl", ".parquet")


def data_files(path: str | Path) -> list[Path]:
    """The data files of an artifact: the file itself, or a directory's *.jsonl/*.parquet, sorted."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise FileNotFoundError(f"{p}: no such file or directory")
    files = sorted(f for f in p.rglob("*") if f.suffix in DATA_SUFFIXES and not f.name.startswith("."))
    if not files:
        raise FileNotFoundError(f"{p}: no .jsonl or .parquet files")
    return files


def iter_records(path: str | Path, required: tuple[str, ...] = ("id", "text"),
                 batch_size: int = 1024) -> Iterator[dict]:
    """Yield row dicts from jsonl/parquet files; a row lacking a required field raises InputError."""
    for f in data_files(path):
        if f.suffix == ".jsonl":
            for line, row in iter_jsonl(f):
                _check(row, required, f, line)
                yield row
        else:
            import pyarrow.parquet as pq
            pf = pq.ParquetFile(f)
            missing = [r for r in required if r not in pf.schema_arrow.names]
            if missing:
                raise InputError(f, None, missing[0], "column missing from parquet file")
            n = 0
            for batch in pf.iter_batches(batch_size=batch_size):
                for row in batch.to_pylist():
                    n += 1
                    _check(row, required, f, n)
                    yield row


def _check(row: dict, required: tuple[str, ...], f: Path, line: int) -> None:
    for r in required:
        if r not in row or row[r] is None:
            raise InputError(f, line, r, "missing")
    if "text" in required and not isinstance(row["text"], str):
        raise InputError(f, line, "text", f"expected a string, got {type(row['text']).__name__}")
