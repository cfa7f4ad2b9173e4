"""Dedup (exact and MinHash near-duplicates) and diversity statistics."""

from __future__ import annotations

from aptk.synth.dedup import Deduper
from aptk.synth.genres import render
from aptk.synth.scenarios import load_bank
from aptk.synth.stats import DiversityStats


def test_exact_and_near_duplicates(bank) -> None:  # type: ignore[no-untyped-def]
    sc = next(s for s in load_bank(str(bank)) if s.split == "seeded")
    a = render(sc, "news_report", "aligned", 1)
    b = render(sc, "news_report", "aligned", 2)
    d = Deduper(threshold=0.8, num_perm=64, shingle=5)
    assert d.check("a", a) == (None, None)
    assert d.check("b", b) == (None, None)
    assert d.check("a2", "  " + a.upper()) == ("exact_dup", "a")
    words = a.split()
    words[len(words) // 2] = "zebra"
    assert d.check("a3", " ".join(words)) == ("near_dup", "a")


def test_diversity_stats_table() -> None:
    st = DiversityStats(sample=10)
    st.add("aligned", "blog_post", "one two three four", 4)
    st.add("aligned", "blog_post", "one two three five", 4)
    st.drop("aligned", "blog_post", "near_dup")
    s = st.summary()["aligned/blog_post"]
    assert s["docs"] == 2 and s["distinct_1"] == 5 / 8 and s["near_dup_rate"] == round(1 / 3, 5)
    assert s["words_p50"] == 4
    df = st.table()
    assert df.height == 1 and {"distinct_2", "distinct_3", "words_p90"} <= set(df.columns)
