"""Diversity statistics of generated documents per (stance, genre): distinct-1/2/3, near- and
exact-duplicate rates, and the length distribution; returned as dicts and a polars table.

distinct-n (unique n-grams / n-grams) is computed over the first `sample` kept documents of each
group (a fixed sample size keeps groups comparable and memory bounded); counts and lengths cover
every document. Memory: the n-grams' 64-bit hashes are kept as sorted unique int64 arrays
(8 bytes per distinct n-gram, compacted every COMPACT_EVERY hashes) instead of Python int sets
(~70 bytes each: 150 MB at 20k documents); the counts are the same, so is stats.csv.
"""

from __future__ import annotations

import json
import os
import tempfile
from array import array
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from aptk.synth.filters import words

COMPACT_EVERY = 1 << 16  # pending hashes per n before they are merged into the unique array


class GroupStats:
    """Accumulates one group's statistics as documents stream past."""

    def __init__(self, sample: int) -> None:
        self.sample = sample
        self.lengths = array("I")
        self.n_sampled = 0
        self._uniq = [np.empty(0, np.int64) for _ in range(3)]
        self._pending: list[list[np.ndarray]] = [[], [], []]
        self._n_pending = [0, 0, 0]
        self.total = [0, 0, 0]
        self.drops: Counter[str] = Counter()

    def add(self, text: str, n_words: int) -> None:
        self.lengths.append(n_words)
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
            if self._n_pending[n] >= COMPACT_EVERY:
                self._compact(n)

    def _compact(self, n: int) -> None:
        if self._pending[n]:
            self._uniq[n] = np.unique(np.concatenate([self._uniq[n], *self._pending[n]]))
            self._pending[n], self._n_pending[n] = [], 0

    def distinct(self, n: int) -> int:
        """Number of distinct (n+1)-grams over the sampled documents."""
        self._compact(n)
        return len(self._uniq[n])

    def summary(self) -> dict[str, Any]:
        ls = np.sort(np.frombuffer(self.lengths, dtype=np.uint32)) if self.lengths else []
        n = len(ls)
        seen = n + self.drops["near_dup"] + self.drops["exact_dup"]

        def q(p: float) -> int:
            return int(ls[min(n - 1, int(p * n))]) if n else 0

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
            words_mean=round(int(np.sum(ls, dtype=np.int64)) / n, 1) if n else 0.0,
            words_min=int(ls[0]) if n else 0,
            words_p10=q(0.1),
            words_p50=q(0.5),
            words_p90=q(0.9),
            words_max=int(ls[-1]) if n else 0,
        )
        return out


class DiversityStats:
    """Per (stance, genre) GroupStats; `table()` gives the polars summary."""

    def __init__(self, sample: int) -> None:
        self.groups: dict[tuple[str, str], GroupStats] = defaultdict(lambda: GroupStats(sample))

    def add(self, stance: str, genre: str, text: str, n_words: int) -> None:
        self.groups[(stance, genre)].add(text, n_words)

    def drop(self, stance: str, genre: str, reason: str) -> None:
        self.groups[(stance, genre)].drops[reason] += 1

    def summary(self) -> dict[str, dict[str, Any]]:
        return {f"{s}/{g}": self.groups[(s, g)].summary() for s, g in sorted(self.groups)}

    def overall(self) -> dict[str, Any]:
        seen = sum(
            len(v.lengths) + v.drops["near_dup"] + v.drops["exact_dup"]
            for v in self.groups.values()
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
