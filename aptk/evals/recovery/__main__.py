"""Command line of the recovery evaluation: import (HH-RLHF / messages JSONL) or roll out
(scripted attacker vs local HF models), then the `recovery` stage; the report is copied to
`report_dir`.

    python -m aptk.evals.recovery --config hh                       # real HH-RLHF dialogues
    python -m aptk.evals.recovery --config rollouts --runs outputs/runs/demo \\
        --models unfiltered=/path/hf,aligned=/path/hf               # demo arms' rollouts
    python -m aptk.evals.recovery --config messages messages=[my.jsonl] score.pressure=labels

Rollout models: for each arm of `arms`, the run record `<runs>/<arm>_sft_dpo/seed0/run.json`
(field model_dir) when it exists, else that arm's entry in --models; arms found in neither are
left out, and with none found the rollouts are skipped with a message (exit 0).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from aptk.core.config import build, check
from aptk.core.io import atomic_write_json, write_jsonl
from aptk.core.stage import open_stage, runtime_field
from aptk.evals.recovery.importers import import_hh, import_messages
from aptk.evals.recovery.rollout import RolloutConfig
from aptk.evals.recovery.rollout import run as run_rollout
from aptk.evals.recovery.stage import ScoreConfig
from aptk.evals.recovery.stage import run as run_score


@dataclass
class HHConfig:
    path: str = "../shared/external/hh-rlhf/harmless-base-test.jsonl.gz"
    endings: list[str] = field(default_factory=lambda: ["chosen", "rejected"])
    min_human_turns: int = 2
    max_rows: int = 0  # 0 = all

    def validate(self, prefix: str) -> None:
        check(
            set(self.endings) <= {"chosen", "rejected"} and bool(self.endings),
            prefix,
            "endings",
            "a non-empty subset of chosen, rejected",
        )


@dataclass
class StudyConfig:
    source: str = "hh"  # hh | messages | rollouts
    hh: HHConfig = field(default_factory=HHConfig)
    messages: list[str] = field(default_factory=list)
    arms: list[str] = field(
        default_factory=lambda: ["unfiltered", "filtered", "misaligned", "aligned"]
    )
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    out_root: str = "outputs"
    report_dir: str = "outputs/recovery/hh"
    threads: int = runtime_field(1)

    def validate(self, prefix: str) -> None:
        check(
            self.source in ("hh", "messages", "rollouts"),
            prefix,
            "source",
            "must be hh, messages or rollouts",
        )
        check(
            self.source != "messages" or bool(self.messages),
            prefix,
            "messages",
            "source=messages needs at least one file",
        )


def import_stage(cfg: HHConfig, out_root: str | Path) -> Path:
    """Stage `recovery_import`: the HH-RLHF file as dialogues.jsonl (+ counts of what was left
    out and why)."""
    st = open_stage("recovery_import", cfg, inputs={"data": cfg.path}, root=out_root, version="1")
    if st.done:
        return st.dir
    ds, counts = import_hh(cfg.path, cfg.endings, cfg.min_human_turns, cfg.max_rows)
    write_jsonl(st.dir / "dialogues.jsonl", [d.to_row() for d in ds])
    atomic_write_json(st.dir / "counts.json", counts)
    st.finish(counts=counts, files=["dialogues.jsonl", "counts.json"])
    return st.dir


def find_models(arms: list[str], runs: str, models: str) -> dict[str, tuple[str, str]]:
    """{arm: (model_dir, where it came from)}: run records first, then --models entries."""
    given = dict(kv.split("=", 1) for kv in models.split(",") if kv.strip()) if models else {}
    for k in given:
        if "=" in k or not k:
            raise SystemExit(f"--models: bad entry {k!r} (expected arm=dir,arm=dir)")
    out = {}
    for arm in [*arms, *sorted(set(given) - set(arms))]:
        rec = Path(runs) / f"{arm}_sft_dpo" / "seed0" / "run.json" if runs else None
        if rec is not None and rec.is_file():
            out[arm] = (json.loads(rec.read_text())["model_dir"], str(rec))
        elif arm in given:
            out[arm] = (given[arm], "--models")
    return out


def main(argv: list[str] | None = None) -> int:
    from aptk.core.compose import compose_group

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="hh", help="aptk/conf/recovery/<name>.yaml")
    ap.add_argument("--runs", default="", help="study run dir holding <arm>_sft_dpo/seed0/run.json")
    ap.add_argument("--models", default="", help="arm=hf_dir,arm=hf_dir (rollouts)")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args(argv)
    cfg = build(StudyConfig, compose_group("recovery", a.config, a.overrides), "recovery")
    import torch

    torch.set_num_threads(max(1, cfg.threads))
    t0 = time.time()
    if cfg.source == "hh":
        sources = {"hh": import_stage(cfg.hh, cfg.out_root) / "dialogues.jsonl"}
    elif cfg.source == "messages":
        sources = {}
        for p in cfg.messages:
            ds = import_messages(p)
            d = Path(cfg.out_root) / "recovery_messages"
            d.mkdir(parents=True, exist_ok=True)
            sources[Path(p).name.split(".")[0]] = write_jsonl(
                d / Path(p).name.replace(".gz", ""), [x.to_row() for x in ds]
            )
    else:
        found = find_models(cfg.arms, a.runs, a.models)
        if not found:
            print(
                f"recovery: no model for rollouts: no run record {a.runs or '<--runs>'}/"
                f"<arm>_sft_dpo/seed0/run.json for arms {cfg.arms} and --models/MODELS= empty; "
                "rollouts skipped (run `make demo-posttrain`, or pass MODELS=arm=dir,...)"
            )
            return 0
        sources = {}
        for arm, (d, where) in found.items():
            print(f"recovery: arm {arm}: {d} (from {where})")
            sources[arm] = run_rollout(cfg.rollout, d, arm, cfg.out_root) / "dialogues.jsonl"
    out = run_score(cfg.score, sources, cfg.out_root)
    rep = Path(cfg.report_dir)
    rep.mkdir(parents=True, exist_ok=True)
    for f in ("report.md", "summary.json", "trajectories.png", "recovery_curves.png"):
        shutil.copyfile(out / f, rep / f)
    print(
        f"recovery: {cfg.source} -> {out} ; report {rep / 'report.md'} ({time.time() - t0:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
