"""Stream documents from corpus artifacts: jsonl or parquet files (or directories of them).

Corpora flow between stages as files whose rows have at least `id` and `text`. Reading is
streaming (one row at a time, parquet in record batches) so memory does not grow with size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from aptk.core.errors import InputError
from aptk.core.io import iter_jsonl

DATA_SUFFIXES = (".jsonl", ".parquet")


def data_files(path: str | Path) -> list[Path]:
    """The data files of an artifact: the file itself, or a directory's *.jsonl/*.parquet, sorted."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise FileNotFoundError(f"{p}: no such file or directory")
    files = sorted(
        f for f in p.rglob("*") if f.suffix in DATA_SUFFIXES and not f.name.startswith(".")
    )
    if not files:
        raise FileNotFoundError(f"{p}: no .jsonl or .parquet files")
    return files


def iter_records(
    path: str | Path, required: tuple[str, ...] = ("id", "text"), batch_size: int = 1024
) -> Iterator[dict]:
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


def iter_corpus(corpus_dir: str | Path) -> Iterator[dict]:
    """Stream rows with `id` and `text` from an artifact dir in file order: its docs-*.jsonl, or
    else any jsonl/parquet files in it (synth parts keyed by `doc_id` get `id` = doc_id)."""
    d = Path(corpus_dir)
    files = sorted(d.glob("docs-*.jsonl")) if d.is_dir() else []
    if not files:
        files = [f for f in data_files(d) if f.name != "flagged.jsonl"]
    for f in files:
        for n, row in enumerate(iter_records(f, required=("text",)), 1):
            if row.get("id") is None:
                if row.get("doc_id") is None:
                    raise InputError(f, n, "id", "missing (nor doc_id)")
                row["id"] = row["doc_id"]
            yield row
