"""Experiment tracking behind one small interface: W&B only when enabled (offline by default).

The pipeline passes `group` (e.g. the ablation arm) and `job_type` (pretrain / sft / dpo) so runs
of one experiment group together. With tracking disabled every call is a no-op.

    python -m aptk.train.cli ... train.wandb=true     # offline run under <out>/wandb
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class Tracker:
    """`log(metrics, step)` and `finish()`; a no-op unless W&B was started."""

    def __init__(self, run: Any = None) -> None:
        self.run = run

    def log(self, metrics: dict[str, Any], step: int) -> None:
        if self.run is not None:
            self.run.log(
                {k: v for k, v in metrics.items() if isinstance(v, (int, float))}, step=step
            )

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


def init_tracker(
    enabled: bool,
    project: str,
    run_dir: str | Path,
    config: dict[str, Any],
    group: str | None = None,
    job_type: str | None = None,
    name: str | None = None,
    rank: int = 0,
) -> Tracker:
    """Start a W&B run (mode from $WANDB_MODE, default 'offline') on rank 0 when `enabled`.
    `run_dir` should be outside stage dirs (the trainer uses `<out_root>/wandb`), since W&B
    writes its files non-atomically."""
    if not enabled or rank != 0:
        return Tracker()
    import wandb

    Path(run_dir).mkdir(parents=True, exist_ok=True)
    mode = os.environ.get("WANDB_MODE", "offline")
    run = wandb.init(
        project=project,
        dir=str(run_dir),
        config=config,
        group=group,
        job_type=job_type,
        name=name,
        mode=mode,
        reinit="finish_previous",
    )
    return Tracker(run)
