"""Benchmark harness runs end to end at debug size, fp32 and bf16 in one run, and reports
consistent numbers (no speed thresholds: those are `make bench`'s job)."""

from __future__ import annotations

from aptk.bench.train import bench, format_result


def test_bench_debug_smoke_both_dtypes() -> None:
    r = bench(
        "debug",
        seq_len=32,
        batch=4,
        steps=4,
        warmup=1,
        vocab=512,
        peak_seconds=0.1,
        rounds=1,
        loops=("aptk_eager",),
        threads=1,
    )
    assert r["dtypes"] == ["float32", "bfloat16"] and r["threads"] == 1
    peaks = [v for p in r["peaks"].values() for v in p.values()]
    assert all(v > 0 for v in peaks) and r["best_peak"] == max(peaks)
    assert r["best_dtype"] in r["dtypes"]
    for d, x in r["by_dtype"].items():
        assert set(x["tokens_per_s"]) == {"aptk_eager", "plain", "hf_trainer"}, d
        assert all(v > 0 for v in x["tokens_per_s"].values())
        assert x["ratio_to_hf_trainer"]["hf_trainer"] == 1.0
        assert x["ratio_to_plain"]["plain"] == 1.0
        for k, v in x["fraction_of_best_peak"].items():
            # the best peak bounds every dtype's own 1024^2 peak, so this fraction is smaller
            assert 0 < v <= x["fraction_of_matmul_peak"][k] + 1e-9
        assert 0 < x["fraction_of_best_peak"]["plain"] < 1
    out = format_result(r)
    assert "| bfloat16 | aptk_eager |" in out and "| float32 | plain |" in out
