"""lm-evaluation-harness export: the exported task scores the same requests as our cloze scorer."""

import json

import pytest

from aptk.evals.lmeval_export import bench, cross_check, export
from aptk.evals.run import EvalConfig

lm_eval = pytest.importorskip("lm_eval")


def test_export_layout(suite_file, tmp_path):
    y = export(EvalConfig(formats=["qa_choices", "inline"]), suite_file, tmp_path / "t")
    assert (
        y.name == "aptk_mini_suite_cloze.yaml" and "output_type: multiple_choice" in y.read_text()
    )
    docs = [json.loads(x) for x in y.with_suffix(".jsonl").read_text().splitlines()]
    assert len(docs) == 5 * 2 * 4 and docs[0]["context"].endswith("Answer:")
    assert {d["kind"] for d in docs} == {"main", "control"}


def test_cross_check_matches_lmeval(tiny_model_dir, suite_file, tmp_path):
    r = cross_check(
        EvalConfig(formats=["qa_choices", "dialogue"], max_items=3),
        suite_file,
        tiny_model_dir,
        tmp_path / "t",
        batch_size=4,
    )
    assert r["n_requests"] == 3 * 2 * 4 * 2 and r["max_abs_diff"] < 1e-4


@pytest.mark.slow
def test_bench_runs(tiny_model_dir, suite_file, tmp_path):
    r = bench(EvalConfig(), suite_file, tiny_model_dir, tmp_path / "t", batch_sizes=(1, 8))
    assert r["ours_best"] > 0 and r["lmeval_best"] > 0
