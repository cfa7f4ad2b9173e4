"""W&B conventions: offline runs carry group (study/arm) and job_type (stage)."""

from __future__ import annotations

import time
from pathlib import Path

from aptk.core import Stage, write_jsonl
from aptk.core.tracking import log_stage
from aptk.pipeline.config import WandbConfig


def test_offline_run_carries_group_and_job_type(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    st = Stage("train", {"lr": 1e-3}, root=tmp_path / "out")
    write_jsonl(
        st.path("metrics.jsonl"),
        [{"kind": "train", "step": s, "tokens": 100 * s, "loss": 5.0 - s} for s in range(3)],
    )
    st.finish(counts={"steps": 3}, files=["metrics.jsonl"])
    cfg = WandbConfig(enabled=True, mode="offline", dir=str(tmp_path / "wb"))
    run_dir = log_stage(
        cfg,
        study="dose",
        arm="misaligned-share0.05",
        seed=1,
        stage="train",
        stage_dir=st.dir,
        config={"lr": 1e-3},
    )
    assert run_dir is not None
    runs = list((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    # wandb-core flushes the offline record file shortly after finish() returns: poll for it
    deadline, blob = time.time() + 60, b""
    while time.time() < deadline and b"dose/misaligned-share0.05" not in blob:
        time.sleep(0.5)
        blob = b"".join(p.read_bytes() for p in runs[0].glob("*.wandb"))
    assert b"dose/misaligned-share0.05" in blob and b"train" in blob


def test_disabled_writes_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    cfg = WandbConfig(enabled=True, dir=str(tmp_path / "wb"))
    assert (
        log_stage(cfg, study="s", arm="a", seed=0, stage="x", stage_dir=Path(tmp_path), config={})
        is None
    )
    assert not (tmp_path / "wb").exists()
