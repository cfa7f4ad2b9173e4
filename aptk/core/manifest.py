"""Stage directories keyed by config hash, and the manifest that marks a stage as done.

A stage writes into `<root>/<stage>/<key>/` where key = hash(stage name, stage version, resolved
config, parents' keys). Files are written atomically as they are produced (so a killed stage can
resume from what it finished), and `manifest.json` is written last: a directory with a manifest
is done and is reused as is.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from aptk.core.hashing import config_hash, sha256_file
from aptk.core.io import atomic_write_json

MANIFEST = "manifest.json"
_PACKAGES = ("torch", "transformers", "datasets", "sentencepiece", "polars", "hydra-core", "numpy")


def is_done(d: str | Path) -> bool:
    return (Path(d) / MANIFEST).is_file()


def read_manifest(d: str | Path) -> dict:
    p = Path(d) / MANIFEST
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no manifest; the stage that writes {d} has not finished")
    return json.loads(p.read_text())


def git_sha(repo: Path | None = None) -> str:
    """HEAD commit of the aptk checkout (with '+dirty' when there are uncommitted changes)."""
    cwd = repo or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return (sha or "unknown") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


_LOCKS: dict[str, int] = {}


def _lock(d: Path) -> None:
    """Hold an exclusive flock on `<root>/.locks/<stage>-<key>.lock` while this process builds the stage, so concurrent
    jobs (submitit, SLURM arrays sharing out_root) build a shared stage once; re-entrant per process."""
    key = str(d.resolve())
    if key in _LOCKS or os.environ.get("RANK", "0") != "0":
        return  # ranks of one torchrun job build the stage together: only rank 0 takes the lock
    locks = d.parent.parent / ".locks"  # <root>/.locks/<stage>-<key>.lock: outside every artifact
    locks.mkdir(exist_ok=True)
    fd = os.open(locks / f"{d.parent.name}-{d.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _LOCKS[key] = fd


def _unlock(d: Path) -> None:
    fd = _LOCKS.pop(str(d.resolve()), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def artifact_key(path: str | Path) -> str:
    """Cache key of an artifact: the key of the stage dir holding it (+ the sub-path inside it).

    Inputs may be a stage dir or a folder/file inside one (e.g. `<synth>/aligned`); any other
    path (a user's own data) is keyed by its content hash.
    """
    p = Path(path).resolve()
    for d in [p, *p.parents]:
        if is_done(d):
            rel = p.relative_to(d).as_posix()
            return read_manifest(d)["key"] + ("" if rel == "." else "/" + rel)
    if not p.exists():
        raise FileNotFoundError(f"{path}: input does not exist")
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    return config_hash(
        {f.relative_to(p).as_posix() if p.is_dir() else f.name: sha256_file(f) for f in files}, n=16
    )


class Stage:
    """One stage's output directory. Usage::

    st = Stage("mix", cfg, parents={"base": base_dir}, root="outputs", version="1")
    if st.done:
        return st.dir
    ... write files into st.dir ...
    st.finish(counts={"docs": n}, files=["corpus.jsonl"])
    return st.dir
    """

    def __init__(
        self,
        name: str,
        config: Any,
        parents: dict[str, str | Path] | None = None,
        root: str | Path = "outputs",
        version: str = "1",
    ) -> None:
        self.name, self.config, self.version = name, config, version
        self.parents = {k: Path(v) for k, v in (parents or {}).items()}
        parent_keys = {k: artifact_key(v) for k, v in self.parents.items()}
        self.key = config_hash(
            {"stage": name, "version": version, "config": config, "parents": parent_keys}
        )
        self.dir = Path(root) / name / self.key
        self.parent_keys = parent_keys
        self.t0 = time.time()
        if not self.done:
            self.dir.mkdir(parents=True, exist_ok=True)
            _lock(self.dir)  # another process building the same stage: wait, then reuse its output
            if self.done:
                _unlock(self.dir)
        #: finished before this process opened it (built earlier, or by a concurrent job)
        self.reused = self.done

    @property
    def done(self) -> bool:
        return is_done(self.dir)

    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)

    def finish(
        self,
        counts: dict[str, Any] | None = None,
        files: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        timings: dict[str, float] | None = None,
        digests: dict[str, str] | None = None,
    ) -> dict:
        """Write manifest.json last. `files` (relative names) get their sha256 recorded.

        `digests` {name: sha256 hex}: digests the stage computed itself while writing those
        files (e.g. the shard writer hashes each buffer as it writes it), recorded as given
        instead of reading the files again. Every name must be in `files` and exist; the
        digest is trusted (the caller hashed exactly the bytes it wrote)."""
        given = digests or {}
        names = set(files or [])
        for f, h in given.items():
            if f not in names:
                raise ValueError(f"{self.dir}: digest given for {f!r}, which is not in files")
            if not (self.dir / f).is_file():
                raise FileNotFoundError(f"{self.dir / f}: digest given but no such file")
            if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
                raise ValueError(f"{self.dir}: digest of {f!r} is not a sha256 hex: {h!r}")
        fingerprints = {
            f: given[f] if f in given else sha256_file(self.dir / f) for f in sorted(names)
        }
        manifest = {
            "stage": self.name,
            "version": self.version,
            "key": self.key,
            "config": json.loads(json.dumps(self.config, default=_jsonable)),
            "parents": {
                k: {"dir": str(v), "key": self.parent_keys[k]} for k, v in self.parents.items()
            },
            "files": fingerprints,
            "counts": counts or {},
            "extra": extra or {},
            "timings": {"wall_s": round(time.time() - self.t0, 3), **(timings or {})},
            "git_sha": git_sha(),
            "packages": package_versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        atomic_write_json(self.dir / MANIFEST, manifest)
        _unlock(self.dir)
        return manifest


def _jsonable(o: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    return str(o)
