"""Diversity statistics of generated documents per (stance, genre): distinct-1/2/3, near- and
exact-duplicate rates, and the length distribution; returned as dicts and a polars table.

distinct-n (unique n-grams / n-grams) is computed over the first `sample` kept documents of each
group (a fixed sample size keeps groups comparable); counts and lengths cover every document.

Memory is flat in the number of documents and groups (issue 17, docs/synth_memory.md): the
sampled n-grams' 64-bit hashes are appended to one spool file per (group, n) in a private temp
dir (`workdir`), with about FLUSH_EVERY hashes per (group, n) in RAM. The distinct counts are
computed from the spool bucket by bucket (about BUCKET hashes per bucket in RAM) once a group's
sample is full (its files are then deleted) or at summary time. Lengths are kept as a histogram
(value -> count), which gives exactly the quantiles and mean of the full list. The numbers, so
stats.csv, are those of the in-memory arrays and sets this replaces.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from bisect import bisect_right
from collections import Counter, defaultdict
from itertools import accumulate, count, pairwise
from pathlib import Path
from typing import Any

import numpy as np

from aptk.synth.filters import words

FLUSH_EVERY = 1 << 12  # pending hashes per (group, n) before they are appended to the spool
BUCKET = 1 << 15  # hashes per bucket (and per read) when counting distinct hashes in a spool


def count_distinct(path: Path) -> int:
    """Number of distinct int64 values in a raw spool file, with about 2 * BUCKET of them in RAM:
    the values are split into buckets by residue and each bucket is counted on its own."""
    n = path.stat().st_size // 8 if path.exists() else 0
    buckets = max(1, -(-n // BUCKET))
    total = 0
    for b in range(buckets if n else 0):
        sel = []
        with open(path, "rb") as f:
            while (c := np.fromfile(f, np.uint64, BUCKET)).size:
                sel.append(c[c % buckets == b] if buckets > 1 else c)
        total += len(np.unique(np.concatenate(sel)))
    return total


class GroupStats:
    """Accumulates one group's statistics as documents stream past. Sampled n-gram hashes go to
    spool files `<spool>-<n>.i64` (`spool` is a path prefix in an existing directory), which are
    deleted once the sample is full and counted."""

    def __init__(self, sample: int, spool: str | Path) -> None:
        self.sample = sample
        self.spool = Path(spool)
        self.lengths: Counter[int] = Counter()  # n_words -> number of documents
        self.n_docs = 0
        self.n_sampled = 0
        self._pending: list[list[np.ndarray]] = [[], [], []]
        self._n_pending = [0, 0, 0]
        self._counted: tuple[int, list[int]] | None = None  # (n_sampled, distinct counts)
        self.total = [0, 0, 0]
        self.drops: Counter[str] = Counter()

    def _file(self, n: int) -> Path:
        return self.spool.with_name(f"{self.spool.name}-{n}.i64")

    def add(self, text: str, n_words: int) -> None:
        self.lengths[n_words] += 1
        self.n_docs += 1
        if self.n_sampled >= self.sample:
            return
        self.n_sampled += 1
        w = words(text)
        for n, grams in enumerate((w, pairwise(w), zip(w, w[1:], w[2:], strict=False))):
            # 64-bit hashes of the n-grams: the distinct count does not depend on the hash seed
            hs = np.fromiter((hash(g) for g in grams), np.int64)
            self.total[n] += len(hs)
            self._pending[n].append(hs)
            self._n_pending[n] += len(hs)
            if self._n_pending[n] >= FLUSH_EVERY:
                self._flush(n)
        if self.n_sampled >= self.sample:  # sample full: count it and free the disk
            self._counts()
            for n in range(3):
                self._file(n).unlink(missing_ok=True)

    def _flush(self, n: int) -> None:
        if self._pending[n]:
            with open(self._file(n), "ab") as f:
                np.unique(np.concatenate(self._pending[n])).tofile(f)
            self._pending[n], self._n_pending[n] = [], 0

    def _counts(self) -> list[int]:
        if self._counted is None or self._counted[0] != self.n_sampled:
            for n in range(3):
                self._flush(n)
            self._counted = (self.n_sampled, [count_distinct(self._file(n)) for n in range(3)])
        return self._counted[1]

    def distinct(self, n: int) -> int:
        """Number of distinct (n+1)-grams over the sampled documents."""
        return self._counts()[n]

    def summary(self) -> dict[str, Any]:
        n = self.n_docs
        seen = n + self.drops["near_dup"] + self.drops["exact_dup"]
        keys = sorted(self.lengths)
        cum = list(accumulate(self.lengths[k] for k in keys))

        def q(p: float) -> int:  # the value at index min(n-1, int(p*n)) of the sorted lengths
            return keys[bisect_right(cum, min(n - 1, int(p * n)))] if n else 0

        def rate(k: int, of: int) -> float:
            return round(k / of, 5) if of else 0.0

        out: dict[str, Any] = {
            "docs": n,
            "dedup_seen": seen,
            "near_dup_rate": rate(self.drops["near_dup"], seen),
            "exact_dup_rate": rate(self.drops["exact_dup"], seen),
        }
        for i in range(3):
            out[f"distinct_{i + 1}"] = rate(self.distinct(i), self.total[i])
        out.update(
            distinct_sample=self.n_sampled,
            words_mean=round(sum(k * c for k, c in self.lengths.items()) / n, 1) if n else 0.0,
            words_min=keys[0] if n else 0,
            words_p10=q(0.1),
            words_p50=q(0.5),
            words_p90=q(0.9),
            words_max=keys[-1] if n else 0,
        )
        return out


class DiversityStats:
    """Per (stance, genre) GroupStats; `table()` gives the polars summary. The n-gram spools live
    in a private temp dir under `workdir` (default: the system temp dir), removed by `close()`
    or when the object is garbage-collected."""

    def __init__(self, sample: int, workdir: str | Path | None = None) -> None:
        if workdir is not None:
            Path(workdir).mkdir(parents=True, exist_ok=True)
        self._dir = tempfile.mkdtemp(prefix="aptk-stats-", dir=workdir)
        self._close = weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
        ids, spool = count(), Path(self._dir)  # the factory must not hold self (finalizer)
        self.groups: dict[tuple[str, str], GroupStats] = defaultdict(
            lambda: GroupStats(sample, spool / f"g{next(ids)}")
        )

    def add(self, stance: str, genre: str, text: str, n_words: int) -> None:
        self.groups[(stance, genre)].add(text, n_words)

    def drop(self, stance: str, genre: str, reason: str) -> None:
        self.groups[(stance, genre)].drops[reason] += 1

    def summary(self) -> dict[str, dict[str, Any]]:
        return {f"{s}/{g}": self.groups[(s, g)].summary() for s, g in sorted(self.groups)}

    def overall(self) -> dict[str, Any]:
        seen = sum(
            v.n_docs + v.drops["near_dup"] + v.drops["exact_dup"] for v in self.groups.values()
        )
        near = sum(v.drops["near_dup"] for v in self.groups.values())
        exact = sum(v.drops["exact_dup"] for v in self.groups.values())
        return {
            "dedup_seen": seen,
            "near_dup_rate": round(near / seen, 5) if seen else 0.0,
            "exact_dup_rate": round(exact / seen, 5) if seen else 0.0,
        }

    def table(self):  # -> polars.DataFrame
        import polars as pl

        rows = [
            {"stance": s, "genre": g, **self.groups[(s, g)].summary()}
            for s, g in sorted(self.groups)
        ]
        return pl.DataFrame(rows)

    def close(self) -> None:
        """Remove the spool dir (also happens when the object is garbage-collected)."""
        self._close()


class DroppedLog:
    """Dropped documents spooled to a JSONL file as they come (memory flat in their number) and
    counted by reason; `write(path)` streams dropped.json with exactly the bytes of
    atomic_write_json(path, {"counts": ..., "docs": [...]}) (indent 2, sorted keys)."""

    def __init__(self, spool: Path) -> None:
        self.spool, self.n = Path(spool), 0
        self.counts: Counter[str] = Counter()
        self.by_stance: Counter[str] = Counter()
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.spool, "w", encoding="utf-8")  # closed by write()

    def add(self, d: dict[str, Any]) -> None:
        self._f.write(json.dumps(d, sort_keys=True, ensure_ascii=False) + "\n")
        self.counts[d["reason"]] += 1
        self.by_stance[f"{d['stance']}/{d['reason']}"] += 1
        self.n += 1

    def write(self, path: Path) -> None:
        """dropped.json, written to a temp file then renamed into place; the spool is removed."""
        self._f.close()
        path = Path(path)

        def nested(obj: Any, level: int) -> str:  # json.dumps(obj, indent=2) as found `level` deep
            s = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)
            return s.replace("\n", "\n" + "  " * level)

        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with (
                os.fdopen(fd, "w", encoding="utf-8") as out,
                open(self.spool, encoding="utf-8") as f,
            ):
                out.write('{\n  "counts": ' + nested(dict(sorted(self.counts.items())), 1))
                out.write(',\n  "docs": ' + ("[" if self.n else "[]"))
                for i, line in enumerate(f):
                    out.write((",\n    " if i else "\n    ") + nested(json.loads(line), 2))
                out.write("\n  ]\n}\n" if self.n else "\n}\n")
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, os.stat(self.spool).st_mode & 0o777)  # umask'd, like atomic_write_*
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.spool.unlink(missing_ok=True)
