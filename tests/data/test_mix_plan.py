"""The vectorised mix plan (aptk.data.mix.plan: bulk draws per source and segment) equals
drawing one document at a time (the previous loop, kept here as the reference): same
documents, epochs, cuts and training order, same drawer state (epochs reported), over
windows, epochs of tiny sources, exact fits, truncation on/off and large minimum cuts."""

from __future__ import annotations

from array import array

import numpy as np
import pytest

from aptk.core.config import build
from aptk.data.mix import MixConfig, _Drawer, _quotas, plan, schedule
from aptk.data.mix_index import SourceIndex


def _reference(cfg: MixConfig, idx: dict) -> tuple[list[dict], dict]:
    """The per-document loop the plan used before it was vectorised (verbatim logic)."""
    segs = schedule(cfg)
    quotas = _quotas(cfg, segs)
    names = [s.name for s in cfg.sources]
    drawers = {n: _Drawer(idx[n], cfg.seed) for n in names}
    plans = []
    for quota in quotas:
        src, doc, ep, cut = array("i"), array("q"), array("i"), array("q")
        key = array("d")
        for si, n in enumerate(names):
            q = quota.get(n, 0)
            got = 0
            while got < q:
                d, e = drawers[n].next()
                t = int(idx[n].tokens[d])
                c = 0
                if got + t > q and cfg.truncate_last:
                    if q - got < cfg.min_truncated_tokens:
                        break
                    c, t = q - got, q - got
                key.append((got + t / 2) / q)
                got += t
                src.append(si), doc.append(d), ep.append(e), cut.append(c)
        order = (
            np.lexsort((np.frombuffer(src, np.int32), np.frombuffer(key, np.float64)))
            if len(key)
            else np.zeros(0, dtype=np.int64)
        )
        plans.append(
            {
                "src": np.frombuffer(src, np.int32)[order],
                "doc": np.frombuffer(doc, np.int64)[order],
                "epoch": np.frombuffer(ep, np.int32)[order],
                "cut": np.frombuffer(cut, np.int64)[order],
            }
        )
    return plans, drawers


def _index(name: str, tokens: np.ndarray) -> SourceIndex:
    n = len(tokens)
    return SourceIndex(name, [], np.zeros(n, np.int64), np.zeros(n, np.int32), tokens)


RNG = np.random.default_rng(5)
SOURCES = {
    "big": RNG.integers(5, 400, size=3000),
    "small": RNG.integers(20, 120, size=37),  # many epochs
    "even": np.full(200, 10),  # exact fits
    "long": RNG.integers(500, 3000, size=50),  # documents longer than small quotas
}
CASES = [
    ({"total_tokens": 300_000}, [("big", 0.9), ("small", 0.1, 0.8, 1.0)]),
    (
        {"total_tokens": 300_000, "truncate_last": False},
        [("big", 0.9), ("small", 0.1, 0.8, 1.0)],
    ),
    (
        {"total_tokens": 123_457, "min_truncated_tokens": 200, "seed": 3},
        [("big", 0.7), ("small", 0.1, 0.5, 1.0), ("long", 0.2, 0.1, 0.6)],
    ),
    ({"total_tokens": 20_000}, [("even", 0.5), ("big", 0.5)]),
    ({"total_tokens": 1_000, "min_truncated_tokens": 2}, [("long", 0.6), ("small", 0.4)]),
    (
        {"total_tokens": 90_001, "seed": 11},
        [("small", 0.2, 0.0, 0.4), ("even", 0.3, 0.2, 1.0), ("big", 0.5)],
    ),
]


@pytest.mark.parametrize(("kw", "srcs"), CASES)
def test_vectorised_plan_equals_loop(kw, srcs):
    cfg = build(
        MixConfig,
        {
            **kw,
            "sources": [
                {
                    "name": s[0],
                    "share": s[1],
                    **({"start": s[2], "end": s[3]} if len(s) > 2 else {}),
                }
                for s in srcs
            ],
        },
        prefix="mix",
    )
    idx = {s[0]: _index(s[0], SOURCES[s[0]].astype(np.int64)) for s in srcs}
    ref, ref_dr = _reference(cfg, idx)
    _segs, got, dr = plan(cfg, idx)
    assert len(ref) == len(got)
    for a, b in zip(ref, got):
        for k in ("src", "doc", "epoch", "cut"):
            assert a[k].dtype == b[k].dtype, k
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for n in ref_dr:
        assert (ref_dr[n].epoch, ref_dr[n].pos, ref_dr[n].epochs) == (
            dr[n].epoch,
            dr[n].pos,
            dr[n].epochs,
        )
    assert sum(len(p["src"]) for p in got) > 0
