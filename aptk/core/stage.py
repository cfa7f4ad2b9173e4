"""The stage contract as code: open a stage from its config and its input artifacts.

Every stage's `run(cfg, <inputs...>, out_root) -> Path` begins the same way::

    st = open_stage("mix", cfg, inputs={"web": web_dir, "tokenizer": tok_dir}, root=out_root)
    if st.done:
        return st.dir                 # reused: a directory with manifest.json is finished
    ...                               # write files into st.dir atomically
    st.finish(counts=..., files=[...])
    return st.dir

- The stage key hashes the stage name and version, the config minus its runtime-only fields
  (declared on the dataclass with `runtime_field(...)`: worker counts, progress bars, shard
  indices: anything that changes speed but never the bytes written) and minus any
  `added_field(...)` still at its default (a field added after keys were published: existing
  keys and caches stay valid until it is set), any `extra` key material
  (e.g. a rules fingerprint), and the keys of its inputs.
- Inputs are resolved one way (`aptk.core.manifest.artifact_key`): a finished stage dir, or any
  file/folder inside one (`<synth>/aligned`, `<train>/model`), is keyed by that stage's key plus
  the sub-path; any other path (a user's own data) by its content hash. `None` inputs are skipped.
- Whether a stage was built or reused is recorded (`Stage.reused`) and collected by
  `record_stages()`, which the pipeline uses to write `reused_stages` into the run record.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aptk.core.manifest import Stage

RUNTIME = "runtime"
ADDED = "added"


def _field(marker: str, default: Any, default_factory: Any, doc: str) -> Any:
    kw: dict[str, Any] = {"metadata": {marker: True, "doc": doc}}
    if default is not dataclasses.MISSING:
        kw["default"] = default
    if default_factory is not dataclasses.MISSING:
        kw["default_factory"] = default_factory
    return dataclasses.field(**kw)


def runtime_field(
    default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, doc: str = ""
) -> Any:
    """A config field that changes how a stage runs but never what it writes: kept out of the key."""
    return _field(RUNTIME, default, default_factory, doc)


def added_field(
    default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, doc: str = ""
) -> Any:
    """A config field added after stage keys were published: left out of the key while it holds
    its default (so a default config keeps the key, and the cache, it had before the field
    existed) and keyed like any other field once set."""
    return _field(ADDED, default, default_factory, doc)


def is_runtime(f: dataclasses.Field) -> bool:
    return bool(f.metadata.get(RUNTIME))


def _at_added_default(f: dataclasses.Field, value: Any) -> bool:
    if not f.metadata.get(ADDED):
        return False
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    return value == default


def key_config(cfg: Any) -> Any:
    """A config as plain data for the stage key: dataclasses recursively, runtime fields and
    added fields at their default dropped."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {
            f.name: key_config(getattr(cfg, f.name))
            for f in dataclasses.fields(cfg)
            if not is_runtime(f) and not _at_added_default(f, getattr(cfg, f.name))
        }
    if isinstance(cfg, dict):
        return {k: key_config(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [key_config(v) for v in cfg]
    if isinstance(cfg, Path):
        return str(cfg)
    return cfg


_RECORDERS: list[list[dict]] = []


@contextlib.contextmanager
def record_stages() -> Iterator[list[dict]]:
    """Collect {"stage", "dir", "key", "reused"} for every stage opened inside the block."""
    events: list[dict] = []
    _RECORDERS.append(events)
    try:
        yield events
    finally:
        _RECORDERS.remove(events)


def open_stage(
    name: str,
    cfg: Any,
    *,
    inputs: dict[str, str | Path | None] | None = None,
    extra: dict[str, Any] | None = None,
    root: str | Path = "outputs",
    version: str = "1",
) -> Stage:
    """Open (or find finished) the stage dir `<root>/<name>/<key>`; see the module docstring."""
    key = {"cfg": key_config(cfg), **(extra or {})}
    parents = {k: Path(v) for k, v in (inputs or {}).items() if v is not None}
    for k, p in parents.items():
        if not p.exists():
            raise FileNotFoundError(f"stage {name}: input {k!r} ({p}) does not exist")
    st = Stage(name, key, parents=parents, root=root, version=version)
    for events in _RECORDERS:
        events.append({"stage": name, "dir": str(st.dir), "key": st.key, "reused": st.reused})
    return st
