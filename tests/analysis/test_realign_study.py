"""The realignment study driver end to end on a tiny random model: results do not depend on the
number of worker processes (slow: two short studies)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aptk.analysis.realign import RealignStudyConfig, aggregate, render_md, run_study


@pytest.mark.slow
def test_study_same_results_with_one_or_two_workers(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = []
    for w in (1, 2):
        cfg = RealignStudyConfig(
            model=str(tiny_model_dir),
            seeds=[0, 1],
            arms=["naive_dpo", "trace"],
            lr_grid=[1e-3],
            noise=[0.2],
            noise_arms=["trace"],
            start_sft={"epochs": 1},
            start_dpo={"epochs": 1},
            common={"epochs": 1},
            eval={"max_new_tokens": 8, "capability": False, "suite": False},
            out_root=str(tmp_path / f"w{w}"),
            wandb={"enabled": w == 2, "dir": str(tmp_path / "wb")},
            workers=w,
        )
        study = run_study(cfg)
        out.append(study["results"])
        assert set(study["results"]) == {"base", "naive_dpo", "trace", "trace@noise0.2"}

    def strip(r: dict) -> dict:
        return {
            a: {s: {k: v for k, v in x.items() if k != "model_dir"} for s, x in b.items()}
            for a, b in r.items()
        }

    assert strip(out[0]) == strip(out[1])
    # W&B: one offline run per trained arm x seed (3 arms x 2 seeds), grouped realign/<arm>
    assert len(list((tmp_path / "wb" / "wandb").glob("offline-run-*"))) == 6
    md = render_md(aggregate(study), study, [0, 1])
    assert "trace - naive_dpo" in md
