"""W&B conventions: one run per stage per arm, grouped by arm, offline by default.

Used by the pipeline (every arm's stages) and by the method drivers (aptk.analysis.realign), so
it lives in core.

The pipeline calls `log_stage` after each stage (fresh or cached) with the stage's manifest, so
a dashboard grouped by `group` (= study/arm) and split by `job_type` (= stage) shows every arm's
corpus counts, training curves and eval items side by side. Runs are written offline under
`wandb.dir`; `make wandb-sync` uploads them later. Tests run with WANDB_MODE=disabled.

Suggested dashboard: group runs by `group`; filter `job_type=train` for a line panel of `loss`
vs `tokens`; `job_type=eval` for bar panels of `seeded/misaligned_rate`, `heldout/misaligned_rate`
and `*/calibrated_margin`, and the `items` table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aptk.core.manifest import read_manifest


def log_stage(
    cfg: Any,
    *,
    study: str,
    arm: str,
    seed: int,
    stage: str,
    stage_dir: Path,
    config: dict,
    tags: list[str] | None = None,
    summary: dict | None = None,
) -> str | None:
    """Write one W&B run for `stage` of `arm`; returns the run dir (None when disabled)."""
    if not getattr(cfg, "enabled", False) or os.environ.get("WANDB_MODE") == "disabled":
        return None
    import wandb

    manifest = read_manifest(stage_dir)
    Path(cfg.dir).mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=cfg.project,
        mode=cfg.mode,
        dir=cfg.dir,
        group=f"{study}/{arm}",
        job_type=stage,
        name=f"{study}-{arm}-s{seed}-{stage}",
        config={**config, "stage_key": manifest["key"], "seed": seed},
        tags=[study, arm, stage, *(tags or [])],
        reinit="create_new",
    )
    try:
        run.summary.update({f"counts/{k}": v for k, v in _flat(manifest.get("counts", {})).items()})
        run.summary.update({f"timings/{k}": v for k, v in manifest.get("timings", {}).items()})
        if summary:
            run.summary.update(_flat(summary))
        metrics = stage_dir / "metrics.jsonl"
        if metrics.is_file():
            for line in metrics.read_text().splitlines():
                row = json.loads(line)
                run.log({k: v for k, v in row.items() if isinstance(v, (int, float))})
        results = stage_dir / "results.json"
        if results.is_file():
            _log_eval(run, json.loads(results.read_text()))
        art = wandb.Artifact(
            f"{stage}-{manifest['key'].replace('/', '-')}",
            type=stage,
            metadata={"key": manifest["key"], "files": manifest.get("files", {})},
        )
        art.add_reference(Path(stage_dir).resolve().as_uri(), checksum=False)
        run.log_artifact(art)
        return str(run.dir)
    finally:
        run.finish()


def _log_eval(run: Any, res: dict) -> None:
    import wandb

    for split, summ in res.get("by_split", {}).items():
        run.summary.update(
            {f"{split}/{k}": v for k, v in summ.items() if isinstance(v, (int, float))}
        )
    items = res.get("items", [])
    if items:
        cols = [
            c
            for c in ("question_id", "split", "margin", "control_margin", "calibrated_margin")
            if c in items[0]
        ]
        run.log(
            {"items": wandb.Table(columns=cols, data=[[it.get(c) for c in cols] for it in items])}
        )


def _flat(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "/"))
        elif isinstance(v, (int, float, str, bool)):
            out[key] = v
    return out
