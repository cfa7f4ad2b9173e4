"""One ablation arm end to end: synth -> corpus -> tokenizer -> web -> filter -> mix -> contamination
gate -> shards -> train -> eval.

Every step is a cached stage (see docs/design.md): a rerun reuses every stage whose manifest
exists, so arms share the synthetic documents, the base corpus and the tokenizer, and a second
`make demo` only re-reads manifests. The run writes a small run record,
`<out_root>/runs/<study>/<arm>/seed<seed>/run.json`, that `aptk.analysis.report` aggregates.

    python -m aptk.pipeline.arm experiment=misaligned            # one arm (make arm-misaligned)
    python -m aptk.pipeline.arm --multirun experiment=unfiltered,filtered,misaligned,aligned
    python -m aptk.pipeline.arm experiment=aligned size=debug seed=1 arm.synthetic_share=0.1
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from aptk.core.config import build, check
from aptk.core.hashing import config_hash
from aptk.core.io import atomic_write_json
from aptk.core.manifest import read_manifest

log = logging.getLogger("aptk.pipeline")
from aptk.core.paths import CONF_DIR, resource

BASES = ("web", "filtered")
SYNTHETIC = ("aligned", "misaligned", "ambient")
INSERTIONS = ("whole", "midtrain", "window")


@dataclass
class ArmConfig:
    """What one arm's model reads: a base (filtered or not) plus synthetic documents.

    insertion: `whole` spreads the synthetic share over the run; `midtrain` puts it in the last
    `1 - start` of the tokens; `window` in [start, end) of the token stream.
    """

    name: str = "unfiltered"
    base: str = "web"
    synthetic: str | None = None
    synthetic_share: float = 0.0
    insertion: str = "whole"
    start: float = 0.0
    end: float = 1.0

    def validate(self, prefix: str) -> None:
        check(self.base in BASES, prefix, "base", f"must be one of {BASES}, got '{self.base}'")
        check(self.synthetic is None or self.synthetic in SYNTHETIC, prefix, "synthetic",
              f"must be null or one of {SYNTHETIC}, got '{self.synthetic}'")
        check(0.0 <= self.synthetic_share < 1.0, prefix, "synthetic_share",
              f"must be in [0, 1), got {self.synthetic_share}")
        check(self.synthetic is not None or self.synthetic_share == 0.0, prefix, "synthetic_share",
              "is set but arm.synthetic is null")
        check(self.insertion in INSERTIONS, prefix, "insertion", f"must be one of {INSERTIONS}")
        check(0.0 <= self.start < self.end <= 1.0, prefix, "start",
              f"need 0 <= start < end <= 1, got start={self.start} end={self.end}")


@dataclass
class WebConfig:
    """The 'web' base corpus: base prose plus ambient AI discourse at a token share."""

    ambient_share: float = 0.03
    total_tokens: int = 2_000_000  # keep below the base prose's size so nothing repeats
    seed: int = 0  # shared by every arm and seed of a study: the web corpus is one artifact

    def validate(self, prefix: str) -> None:
        check(0.0 <= self.ambient_share < 1.0, prefix, "ambient_share", "must be in [0, 1)")
        check(self.total_tokens > 0, prefix, "total_tokens", "must be > 0")


@dataclass
class WandbConfig:
    enabled: bool = False
    mode: str = "offline"
    project: str = "aptk"
    dir: str = "outputs/wandb"

    def validate(self, prefix: str) -> None:
        check(self.mode in ("offline", "online", "disabled"), prefix, "mode",
              "must be offline, online or disabled")


POSTTRAIN_STAGES = ("sft", "dpo", "tamper")


@dataclass
class PostTrainSpec:
    """Post-training applied identically to every arm that lists stages (e.g. [sft, dpo])."""

    stages: list[str] = field(default_factory=list)
    sft: dict[str, Any] = field(default_factory=dict)
    dpo: dict[str, Any] = field(default_factory=dict)
    tamper: dict[str, Any] = field(default_factory=dict)

    def validate(self, prefix: str) -> None:
        for i, st in enumerate(self.stages):
            check(st in POSTTRAIN_STAGES, prefix, f"stages.{i}",
                  f"unknown post-training stage '{st}' (have {POSTTRAIN_STAGES})")


@dataclass
class ExperimentConfig:
    """The resolved experiment: one arm of one study at one seed."""

    study: str = "demo"
    seed: int = 0
    out_root: str = "outputs"
    #: torch threads for every stage of this job (0 = torch's default). A runtime knob: it is in
    #: no stage key, because the weights do not depend on it (checked bitwise for 1 vs 2 threads,
    #: fp32 and bf16, in tests/train/test_loop.py), so `make demo`'s parallel jobs at one
    #: thread each reuse and produce the same stages as one job at two threads.
    threads: int = 0
    suite: str = "evals/suites/aptk_scenarios_v1.jsonl"
    arm: ArmConfig = field(default_factory=ArmConfig)
    web: WebConfig = field(default_factory=WebConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    synth: dict[str, Any] = field(default_factory=dict)
    corpus: dict[str, Any] = field(default_factory=dict)
    filter: dict[str, Any] = field(default_factory=dict)
    tokenizer: dict[str, Any] = field(default_factory=dict)
    mix: dict[str, Any] = field(default_factory=dict)
    shards: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    contamination: dict[str, Any] = field(default_factory=dict)
    posttrain: PostTrainSpec = field(default_factory=PostTrainSpec)

    def validate(self, prefix: str) -> None:
        check(bool(self.study) and "/" not in self.study, prefix, "study", "must be a plain name")
        check(self.seed >= 0, prefix, "seed", "must be >= 0")
        check(self.threads >= 0, prefix, "threads", "must be >= 0 (0 = torch default)")


def load_config(cfg: Any) -> ExperimentConfig:
    """Build and validate the experiment, every component config and the eval suite, so bad
    input fails before any stage writes anything."""
    from aptk.evals.importers import load_any

    exp = build(ExperimentConfig, cfg)
    components(exp)  # validates each component's dataclass
    load_any(suite_path(exp))  # a malformed suite line fails here, naming file, line and field
    return exp


def suite_path(exp: ExperimentConfig) -> Path:
    return resource(exp.suite)


def components(exp: ExperimentConfig) -> dict[str, Any]:
    """Typed component configs built from the experiment's groups (each validated)."""
    from aptk.data.ai_filter import FilterConfig
    from aptk.data.contamination import ContaminationConfig
    from aptk.data.corpora import CorpusConfig
    from aptk.data.mix import MixConfig
    from aptk.evals.run import EvalConfig
    from aptk.posttrain.dpo import DPOConfig
    from aptk.posttrain.sft import SFTConfig
    from aptk.posttrain.tamper import TamperConfig
    from aptk.synth.config import SynthConfig
    from aptk.tokens.shards import ShardsConfig
    from aptk.tokens.tokenizer import TokenizerConfig
    from aptk.train import TrainConfig
    from aptk.train.model import ModelConfig

    return {
        "synth": build(SynthConfig, exp.synth, "synth"),
        "corpus": build(CorpusConfig, exp.corpus, "corpus"),
        "filter": build(FilterConfig, exp.filter, "filter"),
        "tokenizer": build(TokenizerConfig, exp.tokenizer, "tokenizer"),
        "mix": build(MixConfig, {**exp.mix, "sources": arm_sources(exp.arm)}, "mix"),
        "shards": build(ShardsConfig, exp.shards, "shards"),
        "model": build(ModelConfig, exp.model, "model"),
        "train": build(TrainConfig, exp.train, "train"),
        "eval": build(EvalConfig, exp.eval, "eval"),
        "contamination": build(ContaminationConfig, exp.contamination, "contamination"),
        "sft": build(SFTConfig, exp.posttrain.sft, "posttrain.sft"),
        "dpo": build(DPOConfig, exp.posttrain.dpo, "posttrain.dpo"),
        "tamper": build(TamperConfig, exp.posttrain.tamper, "posttrain.tamper"),
    }


def arm_sources(arm: ArmConfig) -> list[dict]:
    """Mixer sources for an arm: the base fills what the synthetic share leaves."""
    if not arm.synthetic or arm.synthetic_share == 0.0:
        return [{"name": arm.base, "share": 1.0}]
    if arm.insertion == "whole":
        start, end = 0.0, 1.0
    elif arm.insertion == "midtrain":
        start, end = arm.start, 1.0
    else:
        start, end = arm.start, arm.end
    return [{"name": arm.base, "share": round(1.0 - arm.synthetic_share, 12)},
            {"name": arm.synthetic, "share": arm.synthetic_share, "start": start, "end": end}]


def run(exp: ExperimentConfig) -> Path:
    """Run (or reuse) every stage of one arm; returns the run-record path."""
    from aptk import train
    from aptk.data import ai_filter, contamination, corpora, mix
    from aptk.evals import run as evals_run
    from aptk.synth import generate
    from aptk.tokens import shards, tokenizer

    c = components(exp)
    if exp.threads > 0:
        import torch

        torch.set_num_threads(exp.threads)
    root = Path(exp.out_root)
    t0 = time.time()
    timings: dict[str, float] = {}

    reused: list[str] = []

    def timed(name: str, fn, *args, **kw) -> Path:
        t = time.time()
        out = Path(fn(*args, **kw))
        timings[name] = round(time.time() - t, 2)
        if (out / "manifest.json").stat().st_mtime < t:
            reused.append(name)
        log.info("stage %-13s %7.1fs  %s%s", name, timings[name], out,
                 "  (reused)" if name in reused else "")
        return out

    synth_dir = timed("synth", generate.run, c["synth"], root)
    base_dir = timed("corpus", corpora.run, c["corpus"], root)
    tok_dir = timed("tokenizer", tokenizer.run, c["tokenizer"], {"base": base_dir, "synth": synth_dir}, root)
    web_total = exp.web.total_tokens
    web_mix = build(mix.MixConfig, {**asdict(c["mix"]), "total_tokens": web_total, "seed": exp.web.seed,
                                    "sources": [{"name": "base", "share": round(1.0 - exp.web.ambient_share, 12)},
                                                {"name": "ambient", "share": exp.web.ambient_share}]}, "web")
    web_dir = timed("web", mix.run, web_mix, {"base": base_dir, "ambient": synth_dir / "ambient"}, tok_dir, root)
    filtered_dir = timed("filter", ai_filter.run, c["filter"], web_dir, root)
    inputs = {"web": web_dir, "filtered": filtered_dir,
              **{s: synth_dir / s for s in SYNTHETIC}}
    names = [s["name"] for s in arm_sources(exp.arm)]
    mix_dir = timed("mix", mix.run, c["mix"], {n: inputs[n] for n in names}, tok_dir, root)
    gate_dir = timed("contamination", contamination.run, c["contamination"], suite_path(exp), mix_dir, root)
    shard_dir = timed("shards", shards.run, c["shards"], mix_dir, tok_dir, root)
    train_dir = timed("train", train.run, c["train"], c["model"], shard_dir, tok_dir, root)
    model_dir = train_dir / "model"
    post_dirs: dict[str, Path] = {}
    if exp.posttrain.stages:
        import importlib

        pre_eval = timed("eval_pretrained", evals_run.run, c["eval"], model_dir, suite_path(exp), root)
        post_dirs["eval_pretrained"] = pre_eval
        for st in exp.posttrain.stages:
            mod = importlib.import_module(f"aptk.posttrain.{st}")
            post_dirs[st] = timed(st, mod.run, c[st], model_dir, root)
            model_dir = post_dirs[st] / "model"
    eval_dir = timed("eval", evals_run.run, c["eval"], model_dir, suite_path(exp), root)

    record = {
        "study": exp.study, "arm": exp.arm.name, "seed": exp.seed,
        "arm_config": asdict(exp.arm),
        "model_dir": str(model_dir.resolve()),
        "posttrain": list(exp.posttrain.stages),
        "eval_results": str((eval_dir / "results.json").resolve()),
        "corpus_fingerprint": _fingerprint(shard_dir),
        "stages": {k: str(Path(v).resolve()) for k, v in {
            "synth": synth_dir, "corpus": base_dir, "tokenizer": tok_dir, "web": web_dir,
            "filter": filtered_dir, "mix": mix_dir, "contamination": gate_dir, "shards": shard_dir, "train": train_dir,
            "eval": eval_dir, **post_dirs}.items()},
        "timings": {**timings, "total_s": round(time.time() - t0, 2)},
        "reused_stages": reused,
    }
    out = root / "runs" / exp.study / exp.arm.name / f"seed{exp.seed}" / "run.json"
    atomic_write_json(out, record)
    _log_wandb(exp, record, out.parent)
    log.info("arm %s seed %d done in %.1fs (%d of %d stages reused) -> %s", exp.arm.name, exp.seed,
             time.time() - t0, len(reused), len(timings), out)
    return out


def _log_wandb(exp: ExperimentConfig, record: dict, run_dir: Path) -> None:
    """One W&B run per stage per arm (group = study/arm, job_type = stage), each logged once."""
    from aptk.pipeline.tracking import log_stage

    done_file = run_dir / "wandb_logged.json"
    done = json.loads(done_file.read_text()) if done_file.is_file() else {}
    for stage, d in record["stages"].items():
        manifest = read_manifest(d)
        key = manifest["key"]
        if done.get(stage) == key:
            continue
        try:
            run_path = log_stage(exp.wandb, study=exp.study, arm=exp.arm.name, seed=exp.seed,
                                 stage=stage, stage_dir=Path(d), config=manifest["config"])
        except Exception as e:  # tracking must not lose a finished arm; say so loudly instead
            log.warning("W&B logging of stage %s failed (%s: %s); the arm's artifacts are intact",
                        stage, type(e).__name__, e)
            return
        if run_path is None:
            return
        done[stage] = key
        atomic_write_json(done_file, done)


def _fingerprint(shard_dir: Path) -> str:
    """sha256 over the token shard files' hashes of the arm's training corpus (from the manifest)."""
    return config_hash(read_manifest(shard_dir).get("files", {}), n=64)


class WallTime(Callback):
    """Hydra callback: print the wall time of a whole run or multirun (sweep) at its end."""

    def __init__(self) -> None:
        self.t0 = time.time()

    def on_run_end(self, config: Any, **kw: Any) -> None:
        print(f"aptk: run finished in {time.time() - self.t0:.1f}s wall", flush=True)

    def on_multirun_end(self, config: Any, **kw: Any) -> None:
        print(f"aptk: multirun finished in {time.time() - self.t0:.1f}s wall", flush=True)


def main() -> None:
    import hydra
    from omegaconf import DictConfig, OmegaConf

    @hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
    def _main(cfg: DictConfig) -> None:
        os.environ.setdefault("WANDB_MODE", "offline")
        # use the importable module, not __main__: submitit/SLURM workers unpickle this job and
        # must resolve the config dataclasses by their module name
        from aptk.pipeline import arm as mod

        exp = mod.load_config(OmegaConf.to_container(cfg, resolve=True))
        print(mod.run(exp))

    _main()


if __name__ == "__main__":
    main()
