"""Hydra multirun sweeps: the dose sweep through submitit_local, then fully cached, then reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def multirun(out: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m aptk.pipeline.arm --multirun size=debug <args>` into `out`, W&B off."""
    cmd = [
        sys.executable,
        "-m",
        "aptk.pipeline.arm",
        "--multirun",
        "size=debug",
        f"out_root={out}",
        "wandb.enabled=false",
        *args,
    ]
    env = {**os.environ, "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "1"}
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def sweep(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return multirun(out, "+sweep=dose", "arm.synthetic_share=0.0,0.05,0.1", "seed=0,1", *extra)


@pytest.mark.slow
def test_dose_sweep_submitit_then_cached_then_report(tmp_path) -> None:
    out = tmp_path / "out"
    sweep(out, "hydra/launcher=submitit_local")
    recs = sorted((out / "runs" / "dose").glob("*/seed*/run.json"))
    assert len(recs) == 6, recs
    shares = {json.loads(r.read_text())["arm_config"]["synthetic_share"] for r in recs}
    assert shares == {0.0, 0.05, 0.1}
    # second invocation (basic launcher): every stage of every point is reused
    p = sweep(out)
    assert "multirun finished in" in p.stdout
    for r in recs:
        rec = json.loads(r.read_text())
        assert set(rec["reused_stages"]) == set(rec["timings"]) - {"total_s"}, rec["reused_stages"]
    rep = subprocess.run(
        [
            sys.executable,
            "-m",
            "aptk.analysis.report",
            "--runs",
            str(out / "runs" / "dose"),
            "--out",
            str(tmp_path / "report"),
            "--n-boot",
            "200",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert rep.returncode == 0, rep.stderr[-2000:]
    j = json.loads((tmp_path / "report" / "report.json").read_text())
    assert (tmp_path / "report" / "dose_response.png").is_file()
    assert len(j["sweep"]["rows"]) == 3 and all(r["n_seeds"] == 2 for r in j["sweep"]["rows"])


@pytest.mark.slow
def test_parallel_launcher_builds_the_same_stages_as_sequential(tmp_path) -> None:
    """`make demo`'s launcher: two joblib jobs at one thread each give byte-identical stage dirs
    (same keys, same model bytes, same eval results) as the basic launcher running the arms in
    turn at the same thread count (the count itself is part of training keys: 1 and 2 threads
    give different weights, tests/train/test_loop.py)."""
    par, seq = tmp_path / "par", tmp_path / "seq"
    arms = "experiment=misaligned,aligned"
    multirun(par, arms, "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "threads=1")
    multirun(seq, arms, "hydra/launcher=basic", "threads=1")
    for arm in ("misaligned", "aligned"):
        a, b = (
            json.loads((r / "runs/demo" / arm / "seed0/run.json").read_text()) for r in (par, seq)
        )
        for stage in ("mix", "shards", "train", "eval"):
            assert Path(a["stages"][stage]).name == Path(b["stages"][stage]).name, stage
        assert (Path(a["model_dir"]) / "model.safetensors").read_bytes() == (
            Path(b["model_dir"]) / "model.safetensors"
        ).read_bytes()
        ra, rb = (json.loads(Path(r["eval_results"]).read_text()) for r in (a, b))
        assert ra["items"] == rb["items"]
