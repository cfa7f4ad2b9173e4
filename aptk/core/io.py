"""Atomic file writes (temp file + rename) and jsonl reading with file:line:field errors."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from aptk.core.errors import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write to a temp file in the same directory, fsync, then rename into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; use the usual umask instead
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class AtomicStream:
    """The streaming twin of `atomic_write_bytes`, for files too large to hold in memory: bytes
    go into a temp file beside `path`; `commit()` fsyncs and renames it into place, `abort()`
    removes it. Keeps the sha256 of the bytes as they are written (a stage manifest's fingerprint
    without reading the file back). `write` may be called from one other thread at a time (the
    GIL is released while writing and hashing large buffers); or `put` from one thread and
    `sha256.update` of the same buffers, in the same order, from another."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd, self.tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self.f = os.fdopen(fd, "wb")
        self.sha256 = hashlib.sha256()

    def write(self, data) -> None:
        """Append `data` (bytes or any C-contiguous buffer) and hash it."""
        self.put(data)
        self.sha256.update(data)

    def put(self, data) -> None:
        """Append `data` without hashing it: a caller that hashes on another thread (in write
        order) feeds `self.sha256` itself, so writing and hashing a buffer overlap."""
        self.f.write(data)

    def commit(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.f.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(
        path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    return atomic_write_text(path, text)


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line_number, object) for each non-blank line; bad JSON raises InputError."""
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            obj = parse_jsonl_line(line, path, i)
            if obj is not None:
                yield i, obj


def parse_jsonl_line(line: str | bytes, path: str | Path, i: int) -> dict | None:
    """One jsonl line as a dict (None if blank); bad JSON or a non-object raises InputError."""
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise InputError(path, i, None, f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, dict):
        raise InputError(path, i, None, f"expected a JSON object, got {type(obj).__name__}")
    return obj


def read_jsonl(path: str | Path) -> list[dict]:
    return [obj for _, obj in iter_jsonl(path)]
