"""Shared core of aptk: atomic IO, hashing and seeds, manifests, typed configs, errors.

Every stage in synth/, pretrain/ and evals/ builds on these few helpers so that artifacts are
written atomically, carry a manifest written last, and are keyed by a hash of what made them.
"""

from aptk.core.errors import ConfigError, InputError
from aptk.core.hashing import canonical_json, config_hash, derive_seed, sha256_bytes, sha256_file
from aptk.core.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_jsonl,
    write_jsonl,
)
from aptk.core.manifest import Stage, is_done, read_manifest

__all__ = [
    "ConfigError",
    "InputError",
    "canonical_json",
    "config_hash",
    "derive_seed",
    "sha256_bytes",
    "sha256_file",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "read_jsonl",
    "write_jsonl",
    "Stage",
    "is_done",
    "read_manifest",
]
