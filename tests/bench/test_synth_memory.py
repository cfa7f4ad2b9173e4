"""Synth peak RSS does not grow with the document count (issue 17: flat within 20% from 2k to
20k documents; `python -m aptk.bench.synth` adds 100k). Each size runs in a fresh process."""

from __future__ import annotations

import pytest

from aptk.bench.synth import bench_subprocess


@pytest.mark.slow
def test_synth_peak_rss_flat_2k_to_20k() -> None:
    small, big = (bench_subprocess(n, "builtin:v1", True) for n in (2000, 20_000))
    assert big["generated"] > 8 * small["generated"]
    assert big["peak_rss_mb"] <= 1.2 * small["peak_rss_mb"], (small, big)
