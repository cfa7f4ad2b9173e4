"""Issue 17: the diversity statistics hold a bounded amount of RAM whatever the number of sampled
documents (n-gram hashes spooled to disk, lengths as a histogram), and the synth stage's
statistics are still exactly the plain recount over its kept documents."""

from __future__ import annotations

import random
import tracemalloc
from itertools import pairwise
from pathlib import Path

import pyarrow.parquet as pq

from aptk.core.manifest import read_manifest
from aptk.synth import generate
from aptk.synth import stats as stats_mod
from aptk.synth.filters import words


def _recount(texts: list[str], lengths: list[int], sample: int) -> dict:
    """The statistics by definition: Python sets over the first `sample` texts, sorted lengths."""
    sets: list[set] = [set(), set(), set()]
    total = [0, 0, 0]
    for t in texts[:sample]:
        w = words(t)
        for n, grams in enumerate((w, list(pairwise(w)), list(zip(w, w[1:], w[2:])))):
            sets[n].update(grams)
            total[n] += len(grams)
    ls, k = sorted(lengths), len(lengths)
    out = {f"distinct_{n + 1}": round(len(sets[n]) / max(1, total[n]), 5) for n in range(3)}
    out.update(
        docs=k,
        distinct_sample=min(sample, k),
        words_mean=round(sum(ls) / k, 1),
        words_min=ls[0],
        words_max=ls[-1],
        **{f"words_p{int(p * 100)}": ls[min(k - 1, int(p * k))] for p in (0.1, 0.5, 0.9)},
    )
    return out


def test_stage_statistics_equal_a_plain_recount(
    small_cfg: dict, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(stats_mod, "FLUSH_EVERY", 50)  # many flushes
    monkeypatch.setattr(stats_mod, "BUCKET", 64)  # several buckets per spool file
    cfg = {**small_cfg, "docs_per_scenario": 12, "docs_per_part": 7, "stats_sample": 4}
    d = generate.run(cfg, tmp_path)
    rows = [r for p in sorted(d.rglob("part-*.parquet")) for r in pq.read_table(p).to_pylist()]
    groups: dict[str, list[dict]] = {}
    for stance in ("aligned", "misaligned", "ambient"):  # plan order: stance, then part
        for r in rows:
            if r["stance"] == stance:
                groups.setdefault(f"{stance}/{r['genre']}", []).append(r)
    got = read_manifest(d)["extra"]["diversity"]["by_group"]
    assert set(got) == set(groups)
    sizes = [len(v) for v in groups.values()]
    assert min(sizes) < 4 < max(sizes)  # both sealed (sample full) and unsealed groups
    for g, rs in groups.items():
        want = _recount([r["text"] for r in rs], [r["n_words"] for r in rs], 4)
        assert {k: got[g][k] for k in want} == want, g
    assert not (d / "_work").exists()  # spool dir went with the work dir


def test_group_stats_ram_is_bounded(tmp_path: Path) -> None:
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(5000)]
    texts = [" ".join(rng.choices(vocab, k=rng.randint(150, 250))) for _ in range(1200)]
    max_grams = 250
    warm = stats_mod.DiversityStats(sample=1, workdir=tmp_path / "warm")  # lazy imports (numpy.ma)
    warm.add("aligned", "fiction", texts[0], 1)
    warm.close()
    stats = stats_mod.DiversityStats(sample=500, workdir=tmp_path / "w")
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i, t in enumerate(texts):
            stats.add("aligned", ("fiction", "blog_post")[i % 2], t, len(t.split()))
            if i == 800:  # group 0 is sealed at i=998, group 1 at i=999
                (spool,) = (tmp_path / "w").iterdir()
                assert len(list(spool.iterdir())) == 6  # 2 groups x 3 n-gram files
        held, peak = (m - base for m in tracemalloc.get_traced_memory())
    finally:
        tracemalloc.stop()
    fed = 8 * sum(sum(g.total) for g in stats.groups.values())
    pending = 2 * 3 * (stats_mod.FLUSH_EVERY + max_grams) * 8  # hashes waiting for a flush
    assert fed > 10 * (pending + 100_000)  # the old in-RAM arrays would exceed the bounds below
    assert held < pending + 100_000, (held, fed)
    assert peak < pending + 8 * 8 * stats_mod.BUCKET, (peak, fed)  # + count_distinct's buckets
    assert not list(spool.iterdir())  # both samples full: counted and deleted
    s = stats.summary()["aligned/fiction"]
    assert s["docs"] == 600 and s["distinct_sample"] == 500
    assert s["distinct_1"] == _recount(texts[0::2], [0], 500)["distinct_1"]
    stats.close()
    assert not spool.exists()


def test_length_histogram_quantiles_equal_the_sorted_list(tmp_path: Path) -> None:
    rng = random.Random(1)
    for n in (0, 1, 2, 7, 100, 1001):
        ls = [rng.choice([100, 101, 150, 400, 899]) for _ in range(n)]
        g = stats_mod.GroupStats(sample=0, spool=tmp_path / f"g{n}")
        for x in ls:
            g.add("", x)
        s = g.summary()
        if not n:
            assert (s["docs"], s["words_p50"], s["words_mean"], s["distinct_1"]) == (0, 0, 0.0, 0.0)
            continue
        want = _recount([], ls, 0)
        assert {k: s[k] for k in want if k.startswith("words") or k == "docs"} == {
            k: v for k, v in want.items() if k.startswith("words") or k == "docs"
        }
