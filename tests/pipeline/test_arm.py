"""The whole pipeline at `debug` size through Hydra: arms, caching, run records, bad config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aptk.core.errors import ConfigError
from aptk.pipeline import arm as pipeline
from aptk.pipeline.config import compose_experiment

CONF = str(Path(pipeline.__file__).resolve().parents[1] / "conf")


def compose_exp(*overrides: str):
    return compose_experiment(*overrides)


def test_every_experiment_composes_and_validates() -> None:
    arms = sorted(p.stem for p in (Path(CONF) / "experiment").glob("*.yaml"))
    assert {"unfiltered", "filtered", "misaligned", "aligned"} <= set(arms)
    for arm in arms:
        exp = compose_exp(f"experiment={arm}", "size=debug")
        assert exp.arm.name == arm
        srcs = pipeline.arm_sources(exp.arm)
        assert abs(sum(s["share"] for s in srcs) - 1.0) < 1e-9


def test_schema_types_checked_at_compose_time() -> None:
    """The typed schema (ConfigStore `aptk_schema`) rejects a wrong type while Hydra composes."""
    with pytest.raises(ConfigError, match="train.lr"):
        compose_exp("experiment=aligned", "train.lr=abc")
    with pytest.raises(ConfigError, match="nonexistent_key"):
        compose_exp("experiment=aligned", "+train.nonexistent_key=1")


def test_bad_config_is_named() -> None:
    with pytest.raises(ConfigError, match="arm.synthetic_share"):
        compose_exp("experiment=misaligned", "arm.synthetic_share=1.5")
    with pytest.raises(ConfigError, match="experiment/nonexistent"):
        compose_exp("experiment=nonexistent")


@pytest.fixture(scope="module")
def debug_runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    for arm in ("misaligned", "aligned"):
        pipeline.run(compose_exp(f"experiment={arm}", "size=debug", f"out_root={out}"))
    return out


def test_debug_arms_end_to_end(debug_runs: Path) -> None:
    recs = {
        a: json.loads((debug_runs / "runs/demo" / a / "seed0/run.json").read_text())
        for a in ("misaligned", "aligned")
    }
    for rec in recs.values():
        assert Path(rec["model_dir"], "config.json").is_file()
        res = json.loads(Path(rec["eval_results"]).read_text())
        assert res["summary"]["n_items"] > 0
        for stage, d in rec["stages"].items():
            assert (Path(d) / "manifest.json").is_file(), stage
    # arms share synth, base corpus and tokenizer, but not their training corpus
    a, m = recs["aligned"]["stages"], recs["misaligned"]["stages"]
    assert a["synth"] == m["synth"] and a["tokenizer"] == m["tokenizer"]
    assert recs["aligned"]["corpus_fingerprint"] != recs["misaligned"]["corpus_fingerprint"]


def test_second_run_reuses_every_stage(debug_runs: Path) -> None:
    first = json.loads((debug_runs / "runs/demo/aligned/seed0/run.json").read_text())
    assert "train" not in first["reused_stages"]  # the first run of this arm trained its model
    pipeline.run(compose_exp("experiment=aligned", "size=debug", f"out_root={debug_runs}"))
    rec = json.loads((debug_runs / "runs/demo/aligned/seed0/run.json").read_text())
    assert sorted(rec["reused_stages"]) == sorted(rec["timings"].keys() - {"total_s"})
    assert rec["stages"] == first["stages"]


def test_runtime_knobs_change_no_stage_key(debug_runs: Path) -> None:
    """Worker counts and progress bars are runtime fields, and `threads` given explicitly at the
    count the fixture ran with (0 = torch's) is the same effective CPU thread count (the only form
    in which threads enter training keys): same stages, all reused."""
    import torch

    pipeline.run(
        compose_exp(
            "experiment=aligned",
            "size=debug",
            f"out_root={debug_runs}",
            f"threads={torch.get_num_threads()}",
            "shards.workers=2",
            "mix.count_workers=2",
            "train.progress=false",
            "synth.show_progress=false",
        )
    )
    rec = json.loads((debug_runs / "runs/demo/aligned/seed0/run.json").read_text())
    assert sorted(rec["reused_stages"]) == sorted(rec["timings"].keys() - {"total_s"})


def test_malformed_suite_fails_before_any_stage(tmp_path) -> None:
    from aptk.core.errors import InputError

    good = (Path(CONF).parent / "evals/suites/aptk_scenarios_v1.jsonl").read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    row = json.loads(good[1])
    row["misaligned_choice"] = 2
    bad.write_text("\n".join([good[0], json.dumps(row)]) + "\n")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"bad\.jsonl:2.*misaligned_choice"):
        compose_exp("experiment=misaligned", "size=debug", f"out_root={out}", f"suite={bad}")
    assert not out.exists()


@pytest.mark.slow
def test_two_fresh_runs_give_identical_corpora_and_numbers(debug_runs: Path, tmp_path) -> None:
    """Same config + seed in a fresh out_root -> byte-identical artifacts and equal eval numbers."""
    other = tmp_path / "again"
    pipeline.run(compose_exp("experiment=misaligned", "size=debug", f"out_root={other}"))
    a = json.loads((debug_runs / "runs/demo/misaligned/seed0/run.json").read_text())
    b = json.loads((other / "runs/demo/misaligned/seed0/run.json").read_text())
    assert a["corpus_fingerprint"] == b["corpus_fingerprint"]
    for stage in ("synth", "corpus", "tokenizer", "web", "filter", "mix", "shards", "train"):
        fa = json.loads((Path(a["stages"][stage]) / "manifest.json").read_text())["files"]
        fb = json.loads((Path(b["stages"][stage]) / "manifest.json").read_text())["files"]
        fa.pop("metrics.jsonl", None), fb.pop("metrics.jsonl", None)  # holds tokens/s timings
        assert fa and fa == fb, stage
    ra = json.loads(Path(a["eval_results"]).read_text())
    rb = json.loads(Path(b["eval_results"]).read_text())
    assert [i["margin"] for i in ra["items"]] == [i["margin"] for i in rb["items"]]
    assert ra["summary"] == rb["summary"]
