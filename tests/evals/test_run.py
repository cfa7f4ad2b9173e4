"""aptk.evals.run: Stage caching, CLI, config validation, results layout."""

import json

import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError
from aptk.evals.run import EvalConfig, main, run

SUMMARY_KEYS = {
    "misaligned_rate",
    "n_items",
    "margin",
    "control_margin",
    "calibrated_margin",
    "calibrated_misaligned_rate",
    "ci95",
}


def test_stage_and_layout(tiny_model_dir, suite_file, tmp_path):
    d = run(EvalConfig(n_boot=200), tiny_model_dir, suite_file, tmp_path / "out")
    res = json.loads((d / "results.json").read_text())
    assert (d / "manifest.json").is_file()
    assert res["suite"]["name"] == "mini_suite" and len(res["suite"]["version"]) == 12
    assert SUMMARY_KEYS <= set(res["summary"]) and set(res["by_split"]) == {"seeded", "heldout"}
    assert SUMMARY_KEYS <= set(res["by_split"]["heldout"])
    it = res["items"][0]
    assert {
        "question_id",
        "split",
        "topics",
        "margin",
        "control_margin",
        "calibrated_margin",
        "margin_sum",
        "misaligned",
    } <= set(it)
    rate = sum(i["margin"] > 0 for i in res["items"]) / len(res["items"])
    assert res["summary"]["misaligned_rate"] == rate
    mtime = (d / "results.json").stat().st_mtime_ns
    assert run(EvalConfig(n_boot=200), tiny_model_dir, suite_file, tmp_path / "out") == d
    assert (d / "results.json").stat().st_mtime_ns == mtime


def test_cli(tiny_model_dir, suite_file, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "--model",
                str(tiny_model_dir),
                "--suite",
                str(suite_file),
                "--out",
                str(out),
                "--config",
                "conf/eval/default.yaml",
                "--splits",
                "heldout",
            ]
        )
        == 0
    )
    res = json.loads(out.read_text())
    assert res["summary"]["n_items"] == 2 and "misaligned_rate" in capsys.readouterr().out
    assert (
        main(
            [
                "--model",
                str(tiny_model_dir),
                "--suite",
                str(suite_file),
                "--out",
                str(out),
                "--formats",
                "nope",
            ]
        )
        == 1
    )
    assert "eval.formats.0" in capsys.readouterr().err


def test_config_validation():
    with pytest.raises(ConfigError, match="eval.normalize"):
        build(EvalConfig, {"normalize": "mean"}, prefix="eval")
    with pytest.raises(ConfigError, match="eval.bogus"):
        build(EvalConfig, {"bogus": 1}, prefix="eval")
