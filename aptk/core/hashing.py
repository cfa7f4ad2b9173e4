"""Content hashes, config hashes and derived seeds (hashlib only: never Python's salted hash())."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any


def _default(o: Any) -> Any:
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def canonical_json(obj: Any) -> str:
    """Stable JSON text (sorted keys, no spaces) so equal configs hash equally."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), default=_default, ensure_ascii=False
    )


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def config_hash(obj: Any, n: int = 12) -> str:
    """Short hex digest of a config (dataclass/dict) plus anything else it depends on."""
    return sha256_bytes(canonical_json(obj).encode())[:n]


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed derived from any parts (base seed, stage name, shard, row, ...)."""
    return (
        int.from_bytes(hashlib.sha256(canonical_json(list(parts)).encode()).digest()[:8], "big")
        >> 1
    )
