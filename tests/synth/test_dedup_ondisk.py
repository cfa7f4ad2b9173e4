"""The on-disk dedup index decides exactly like datasketch's in-memory MinHashLSH (the previous
implementation, restated here as the reference), keeps its index on disk and removes it; the
spooled distinct-n counts equal plain set counts."""

from __future__ import annotations

import gc
import hashlib
import random
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHashLSH

from aptk.synth import stats as stats_mod
from aptk.synth.dedup import Deduper
from aptk.synth.filters import words
from aptk.synth.genres import render
from aptk.synth.scenarios import load_bank


class Reference:
    """The previous Deduper: dict of digests + datasketch MinHashLSH + signatures in RAM."""

    def __init__(self, threshold: float, num_perm: int, shingle: int) -> None:
        self.d = Deduper(threshold, num_perm, shingle)  # only for its minhash()
        self.threshold = threshold
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.exact: dict[bytes, str] = {}
        self.sigs: dict[str, np.ndarray] = {}

    def check(self, key: str, text: str) -> tuple[str | None, str | None]:
        digest = hashlib.blake2b(" ".join(words(text)).encode(), digest_size=16).digest()
        if digest in self.exact:
            return "exact_dup", self.exact[digest]
        m = self.d.minhash(text)
        for h in sorted(self.lsh.query(m)):
            if float(np.mean(self.sigs[h] == m.hashvalues)) >= self.threshold:
                return "near_dup", h
        self.exact[digest] = key
        self.lsh.insert(key, m)
        self.sigs[key] = m.hashvalues.copy()
        return None, None


def _stream(bank: Path, n: int = 400, seed: int = 0) -> list[tuple[str, str]]:
    """Rendered documents, plus exact copies and copies with 1-30% of their words replaced."""
    rng = random.Random(seed)
    scs = [s for s in load_bank(str(bank)) if s.split == "seeded"]
    base = [
        render(s, g, st, i)
        for s in scs
        for g in ("news_report", "blog_post")
        for st in ("aligned", "misaligned")
        for i in range(3)
    ]
    out = []
    for k in range(n):
        t = rng.choice(base + [x for _, x in out[-50:]])
        r = rng.random()
        if r < 0.1:
            t = "  " + t.upper()
        elif r < 0.8:
            w = t.split()
            for _ in range(max(1, int(len(w) * rng.uniform(0.01, 0.3)))):
                w[rng.randrange(len(w))] = rng.choice(["zebra", "quartz", "lumen", "ferry"])
            t = " ".join(w)
        out.append((f"doc-{rng.randrange(10**6):06d}-{k}", t))
    return out


@pytest.mark.parametrize("threshold,shingle", [(0.8, 5), (0.5, 3), (0.3, 2)])
def test_same_decisions_as_in_memory_lsh(bank: Path, threshold: float, shingle: int) -> None:
    ref, new = Reference(threshold, 64, shingle), Deduper(threshold, 64, shingle)
    got = [new.check(k, t) for k, t in _stream(bank)]
    want = [ref.check(k, t) for k, t in _stream(bank)]
    assert got == want
    reasons = {g[0] for g in got}
    assert {"exact_dup", "near_dup", None} <= reasons  # every path exercised
    assert new.n_kept == sum(g[0] is None for g in got)


def test_index_lives_on_disk_and_is_removed(tmp_path: Path) -> None:
    d = Deduper(workdir=tmp_path / "w")
    (folder,) = (tmp_path / "w").iterdir()
    assert (folder / "lsh.sqlite").is_file()
    for i in range(50):
        d.check(f"k{i}", f"document number {i} " + " ".join(f"w{i}_{j}" for j in range(30)))
    d.close()
    assert not folder.exists()
    d2 = Deduper(workdir=tmp_path / "w")
    (folder2,) = (tmp_path / "w").iterdir()
    del d2
    gc.collect()
    assert not folder2.exists()


def test_spooled_distinct_counts_equal_sets(bank: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(stats_mod, "FLUSH_EVERY", 7)
    monkeypatch.setattr(stats_mod, "BUCKET", 50)  # several buckets per spool file
    texts = [t for _, t in _stream(bank, n=60)]
    g = stats_mod.GroupStats(sample=40, spool=tmp_path / "g")
    for t in texts:
        g.add(t, len(t.split()))
    sets: list[set] = [set(), set(), set()]
    for t in texts[:40]:
        w = words(t)
        for n, grams in enumerate((w, pairwise(w), zip(w, w[1:], w[2:], strict=False))):
            sets[n].update(grams)
    assert [g.distinct(n) for n in range(3)] == [len(s) for s in sets]
    s = g.summary()
    ls = sorted(len(t.split()) for t in texts)
    assert (s["docs"], s["words_min"], s["words_max"]) == (60, ls[0], ls[-1])
    assert s["words_p50"] == ls[30] and s["words_mean"] == round(sum(ls) / 60, 1)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_dropped_log_writes_the_same_bytes_as_json_dump(tmp_path: Path, n: int) -> None:
    from aptk.core.io import atomic_write_json

    docs = [
        {
            "doc_id": f"d{i}",
            "stance": "aligned" if i % 2 else "misaligned",
            "genre": "fiction",
            "scenario_id": "s-ü",
            "reason": ("near_dup", "leakage", "too_short")[i % 3],
            "match": None if i == 3 else f"'quote \"{i}\"'\nnext",
        }
        for i in range(n)
    ]
    log = stats_mod.DroppedLog(tmp_path / "_work" / "dropped.jsonl")
    for d in docs:
        log.add(d)
    log.write(tmp_path / "dropped.json")
    counts = {}
    for d in docs:
        counts[d["reason"]] = counts.get(d["reason"], 0) + 1
    atomic_write_json(tmp_path / "ref.json", {"counts": dict(sorted(counts.items())), "docs": docs})
    assert (tmp_path / "dropped.json").read_bytes() == (tmp_path / "ref.json").read_bytes()
    assert not (tmp_path / "_work" / "dropped.jsonl").exists()
    assert log.by_stance["aligned/leakage"] == sum(
        d["stance"] == "aligned" and d["reason"] == "leakage" for d in docs
    )
