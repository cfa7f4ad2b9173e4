"""aptk.bench.mix at a small size: the token-level mixer runs end to end in child processes
(two stages as two children, and both in one child) against the cat / dd references."""

from __future__ import annotations

from aptk.bench.mix import benchmark


def test_mix_bench_small(tmp_path):
    r = benchmark(20_000_000, tmp_path, keep=True, rounds=1)
    run = r["runs"][0]
    assert run["tokens_from"] == "copied"
    # every planned token written once: 2 bytes per token (uint16 ids of a 2k vocabulary)
    assert r["output_token_bytes"] == 2 * r["total_tokens"]
    assert abs(run["realised_token_shares"]["synth"] - 0.05) < 1e-6
    assert r["peak_rss_MB"] > 0 and r["median_seconds"]["mix_s"] > 0
    for k in ("cat_null_s", "cat_copy_s", "cat_copy_fsync_s", "dd_direct_fsync_s"):
        assert run[k] > 0 and r["ratio_children"][k] > 0 and r["ratio_in_process"][k] > 0
    # in one process the stage calls exclude start-up, so they take less than the child
    assert 0 < run["inproc_mix_s"] < run["inproc_child_wall_s"]


def test_results_json_mix_section_reads_the_bench_output() -> None:
    """`make bench`'s mix section (aptk.bench.run.bench_mix) parses what aptk.bench.mix prints:
    one entry per reference, each with the same in-process mixer rate, ratios in (0, inf)."""
    from aptk.bench.run import bench_mix

    res = bench_mix(0.004)
    assert set(res) == {
        "mix_throughput",
        "mix_throughput_vs_cat_copy",
        "mix_throughput_vs_cat_copy_fsync",
        "mix_throughput_vs_dd_direct",
        "mix_peak_rss_mb",
    }
    rates = {v["value"] for k, v in res.items() if k != "mix_peak_rss_mb"}
    assert len(rates) == 1 and rates.pop() > 0
    for v in res.values():
        assert v["ratio"] > 0 and v["reference"] > 0
    assert 0 < res["mix_peak_rss_mb"]["value"] < 500
