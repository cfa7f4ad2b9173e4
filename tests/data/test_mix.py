"""aptk.data.mix: token shares, windows (midtraining), repetition, determinism, config errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError
from aptk.core.manifest import read_manifest
from aptk.data.mix import MixConfig, run, schedule
from aptk.tokens.tokenizer import TokenizerConfig, load
from aptk.tokens.tokenizer import run as train_tokenizer
from tests.helpers.corpus import (
    artifact,
    dir_bytes,
    read_rows,
    sotu_corpus,
    synthetic_rows,
)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    web = sotu_corpus(root, max_docs=300)
    rows = read_rows(web)
    srcs = {
        "web": web,
        "early": artifact(root, "early", rows[:100]),
        "late": artifact(root, "late", rows[200:]),
        "aligned": artifact(root, "aligned", synthetic_rows("al", 60, "aligned")),
        "misaligned": artifact(root, "misaligned", synthetic_rows("mis", 40, "misaligned")),
    }
    tok = train_tokenizer(TokenizerConfig(vocab_size=768), {"web": web}, root)
    return root, srcs, tok


def mixcfg(total, sources, seed=0):
    return build(MixConfig, {"total_tokens": total, "seed": seed, "sources": sources}, prefix="mix")


FIVE = [
    {"name": "web", "share": 0.5},
    {"name": "early", "share": 0.2},
    {"name": "late", "share": 0.15},
    {"name": "aligned", "share": 0.1},
    {"name": "misaligned", "share": 0.05},
]


def test_five_source_shares_within_0_1pp(env, tmp_path):
    _root, srcs, tok = env
    out = run(mixcfg(60_000, FIVE), srcs, tok, tmp_path)
    m = read_manifest(out)["extra"]
    for s in FIVE:
        assert abs(m["realised_token_shares"][s["name"]] - s["share"]) < 0.001, m[
            "realised_token_shares"
        ]
    assert abs(sum(m["tokens"].values()) - 60_000) <= 40
    # token counts in the manifest are what the tokenizer gives (+1 EOS per doc)
    t = load(tok)
    rows = read_rows(out)
    counted = {}
    for r in rows:
        counted[r["source"]] = counted.get(r["source"], 0) + len(t(r["text"])["input_ids"]) + 1
    assert counted == m["tokens"]
    assert all(set(r) == {"id", "text", "source", "phase"} for r in rows)
    assert len({(r["source"], r["id"]) for r in rows}) == len(rows)


def test_deterministic_and_seeded(env, tmp_path):
    _root, srcs, tok = env
    cfg = mixcfg(20_000, FIVE)
    a, b = run(cfg, srcs, tok, tmp_path / "a"), run(cfg, srcs, tok, tmp_path / "b")
    assert dir_bytes(a) == dir_bytes(b)
    c = run(mixcfg(20_000, FIVE, seed=1), srcs, tok, tmp_path / "c")
    assert [r["id"] for r in read_rows(a)] != [r["id"] for r in read_rows(c)]


def test_window_places_source_in_last_fifth(env, tmp_path):
    _root, srcs, tok = env
    cfg = mixcfg(
        30_000,
        [
            {"name": "web", "share": 0.95},
            {"name": "aligned", "share": 0.05, "start": 0.8, "end": 1.0},
        ],
    )
    out = run(cfg, srcs, tok, tmp_path)
    m = read_manifest(out)["extra"]
    t = load(tok)
    pos, first_aligned = 0, None
    for r in read_rows(out):
        if r["source"] == "aligned" and first_aligned is None:
            first_aligned = pos
        assert r["phase"] == ("midtrain" if pos >= 0.8 * 30_000 - 5 else "pretrain")
        pos += len(t(r["text"])["input_ids"]) + 1
    assert 0.8 * 30_000 - 5 <= first_aligned < 0.82 * 30_000
    assert [s["phase"] for s in m["schedule"]] == ["pretrain", "midtrain"]
    assert m["schedule"][1]["token_start"] == pytest.approx(24_000, abs=16)
    assert abs(m["realised_token_shares"]["aligned"] - 0.05) < 0.001


def test_repetition_warning(env, tmp_path, caplog):
    _root, srcs, tok = env
    cfg = mixcfg(60_000, [{"name": "web", "share": 0.1}, {"name": "misaligned", "share": 0.9}])
    with caplog.at_level(logging.WARNING, logger="aptk.data.mix"):
        out = run(cfg, srcs, tok, tmp_path)
    m = read_manifest(out)["extra"]
    assert m["epochs"]["misaligned"] > 4 and m["epochs_over_warn"] == ["misaligned"]
    assert "misaligned" in caplog.text
    rows = read_rows(out)
    assert len({r["id"] for r in rows}) == len(rows) and any("#4" in r["id"] for r in rows)


@pytest.mark.parametrize(
    "sources,key",
    [
        (
            [
                {"name": "a", "share": 0.6},
                {"name": "b", "share": -0.1},
                {"name": "c", "share": 0.5},
            ],
            r"mix\.sources\.1\.share",
        ),
        ([{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}], r"mix\.sources'"),
        (
            [{"name": "a", "share": 0.5, "start": 0.5, "end": 0.5}, {"name": "b", "share": 0.5}],
            r"mix\.sources\.0\.end",
        ),
        (
            [{"name": "a", "share": 0.7}, {"name": "b", "share": 0.3, "start": 0.8}],
            r"mix\.sources\.1\.share",
        ),
        (
            [{"name": "a", "share": 0.5, "start": 0.5}, {"name": "b", "share": 0.5, "start": 0.5}],
            r"mix\.sources'",
        ),
        ([{"name": "a", "share": 0.5}, {"name": "a", "share": 0.5}], r"mix\.sources\.1\.name"),
    ],
)
def test_bad_config_names_key(sources, key):
    with pytest.raises(ConfigError, match=key):
        mixcfg(1000, sources)


def test_schedule_densities():
    cfg = mixcfg(
        1000,
        [
            {"name": "w", "share": 0.6},
            {"name": "f", "share": 0.3},
            {"name": "s", "share": 0.1, "start": 0.5, "end": 1.0},
        ],
    )
    segs = schedule(cfg)
    assert [(s["start"], s["end"]) for s in segs] == [(0.0, 0.5), (0.5, 1.0)]
    assert segs[1]["density"]["s"] == pytest.approx(0.2)
    total = {n: sum(s["density"].get(n, 0) * (s["end"] - s["start"]) for s in segs) for n in "wfs"}
    assert total == pytest.approx({"w": 0.6, "f": 0.3, "s": 0.1})
    assert np.isclose(sum(segs[0]["density"].values()), 1.0)


def test_token_index_cached_across_arms_and_parquet_sources(env, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from aptk.core.manifest import Stage

    _root, srcs, tok = env
    st = Stage("synth", {"t": 1}, root=tmp_path)  # synth-like parquet source, stance subdir
    st.path("aligned").mkdir()
    rows = synthetic_rows("pq", 30)
    pq.write_table(
        pa.table({"doc_id": [r["id"] for r in rows], "text": [r["text"] for r in rows]}),
        st.path("aligned", "part-00000.parquet"),
    )
    st.finish()
    a = run(
        mixcfg(8_000, [{"name": "web", "share": 0.9}, {"name": "synth", "share": 0.1}]),
        {"web": srcs["web"], "synth": st.path("aligned")},
        tok,
        tmp_path,
    )
    b = run(
        mixcfg(8_000, [{"name": "web", "share": 0.5}, {"name": "early", "share": 0.5}]),
        srcs,
        tok,
        tmp_path,
    )
    assert len(list((tmp_path / "token_index").iterdir())) == 3  # web counted once for both arms
    assert {r["id"].split("#")[0] for r in read_rows(a) if r["source"] == "synth"} <= {
        r["id"] for r in rows
    }
    assert read_manifest(b)["counts"]["tokens"] == pytest.approx(8_000, abs=20)


def test_parallel_token_counting_same_index_and_mix(env, tmp_path):
    """count_workers > 1 counts in worker processes: the same offsets, files and counts, the
    same mix stage (workers are not in its key) and the same bytes."""
    from aptk.data.mix_index import SourceIndex
    from aptk.tokens.tokenizer import FastTokenizer

    _root, srcs, tok = env
    (tmp_path / "s").mkdir()
    (tmp_path / "p").mkdir()
    serial = SourceIndex.build("web", srcs["web"], tok, tmp_path / "s", 64)
    par = SourceIndex.build("web", srcs["web"], tok, tmp_path / "p", 64, workers=2)
    assert serial.files == par.files and len(par) == len(serial) == 300
    for a in ("offset", "file", "tokens"):
        assert np.array_equal(getattr(serial, a), getattr(par, a)), a
    for f in ("00000.ds", "00000.ds.index"):  # the source's token shard: same bytes
        assert (tmp_path / "s" / f).read_bytes() == (tmp_path / "p" / f).read_bytes()
    # the token counts are the tokenizer's (ids + EOS) for every document
    rows = read_rows(srcs["web"])
    ft = FastTokenizer(tok)
    want = [len(x) + 1 for x in ft.encode_batch([r["text"] for r in rows])]
    assert serial.tokens.tolist() == want
    assert serial.ids(7).tolist() == ft.encode_batch([rows[7]["text"]])[0] + [ft.eos_id]
    one = run(mixcfg(20_000, FIVE), srcs, tok, tmp_path / "one")
    two = run(
        build(
            MixConfig, {"total_tokens": 20_000, "sources": FIVE, "count_workers": 2}, prefix="mix"
        ),
        srcs,
        tok,
        tmp_path / "two",
    )
    assert one.name == two.name and dir_bytes(one) == dir_bytes(two)
