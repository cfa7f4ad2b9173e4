"""Benchmark harness runs end to end at debug size and reports consistent numbers."""

from __future__ import annotations

from aptk.bench.train import bench, format_result


def test_bench_debug_smoke() -> None:
    r = bench(
        "debug",
        seq_len=32,
        batch=4,
        steps=4,
        warmup=1,
        vocab=512,
        peak_seconds=0.1,
        rounds=1,
        loops=("aptk", "aptk_eager"),
    )
    assert set(r["tokens_per_s"]) == {"aptk", "aptk_eager", "plain", "hf_trainer"}
    assert r["ratio_to_hf_trainer"]["hf_trainer"] == 1.0
    assert 0 < r["fraction_of_model_gemm"]["aptk"] < 2
    assert all(v > 0 for v in r["tokens_per_s"].values())
    assert r["ratio_to_plain"]["plain"] == 1.0
    assert 0 < r["fraction_of_matmul_peak"]["plain"] < 1
    assert "| aptk |" in format_result(r)
