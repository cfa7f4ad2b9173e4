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
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from aptk.core.config import build
from aptk.core.hashing import config_hash
from aptk.core.io import atomic_write_json
from aptk.core.manifest import read_manifest
from aptk.core.paths import CONF_DIR
from aptk.core.stage import record_stages
from aptk.pipeline.config import (
    CONTROLS,
    SYNTHETIC,
    ExperimentConfig,
    arm_sources,
    components,
    load_config,
    register_configs,
    suite_path,
    uses_tags,
)

log = logging.getLogger("aptk.pipeline")
__all__ = ["ExperimentConfig", "load_config", "run", "main"]


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
        with record_stages() as opened:
            out = Path(fn(*args, **kw))
        timings[name] = round(time.time() - t, 2)
        # reused = the stage that wrote `out` was finished before this job opened it
        if any(e["reused"] and Path(e["dir"]) == out for e in opened):
            reused.append(name)
        log.info(
            "stage %-13s %7.1fs  %s%s",
            name,
            timings[name],
            out,
            "  (reused)" if name in reused else "",
        )
        return out

    synth_dir = timed("synth", generate.run, c["synth"], root)
    base_dir = timed("corpus", corpora.run, c["corpus"], root)
    tok_dir = timed(
        "tokenizer", tokenizer.run, c["tokenizer"], {"base": base_dir, "synth": synth_dir}, root
    )
    web_total = exp.web.total_tokens
    web_mix = build(
        mix.MixConfig,
        {
            **asdict(c["mix"]),
            "total_tokens": web_total,
            "seed": exp.web.seed,
            "sources": [
                {"name": "base", "share": round(1.0 - exp.web.ambient_share, 12)},
                {"name": "ambient", "share": exp.web.ambient_share},
            ],
        },
        "web",
    )
    web_dir = timed(
        "web", mix.run, web_mix, {"base": base_dir, "ambient": synth_dir / "ambient"}, tok_dir, root
    )
    filtered_dir = timed("filter", ai_filter.run, c["filter"], web_dir, root)
    inputs = {"web": web_dir, "filtered": filtered_dir, **{s: synth_dir / s for s in SYNTHETIC}}
    control_dir = None
    if exp.arm.synthetic in CONTROLS:  # instrument controls (aptk.synth.controls, docs/controls.md)
        from aptk.synth import controls

        sy = c["synth"]
        control_dir = timed(
            "controls",
            controls.run,
            exp.controls,
            root,
            sy.bank,
            sy.heldout_fraction,
            sy.split_seed,
        )
        inputs.update({f"control_{k}": control_dir / k for k in controls.KINDS})
    names = [s["name"] for s in arm_sources(exp.arm)]
    arm_tok, tag_dirs = tok_dir, {}
    if uses_tags(exp):  # conditional tags (aptk.data.tags, docs/tags.md)
        from aptk.data import tags

        tag_dirs["tag_web"] = timed(
            "tag_web", tags.run, exp.tags, web_dir, root, filter_dir=filtered_dir
        )
        for s in tags.STANCES:
            tag_dirs[f"tag_{s}"] = timed(f"tag_{s}", tags.run, exp.tags, synth_dir / s, root, s)
        inputs.update({"web_tagged": tag_dirs["tag_web"]})
        inputs.update({f"{s}_tagged": tag_dirs[f"tag_{s}"] for s in tags.STANCES})
        # the same spm model + the tags as added ids: every other text encodes as with tok_dir
        arm_tok = tag_dirs["tokenizer_tags"] = timed(
            "tokenizer_tags",
            tokenizer.run,
            replace(c["tokenizer"], special_tokens=exp.tags.tokens()),
            {"base": base_dir, "synth": synth_dir},
            root,
        )
    mix_dir = timed("mix", mix.run, c["mix"], {n: inputs[n] for n in names}, arm_tok, root)
    gate_dir = timed(
        "contamination", contamination.run, c["contamination"], suite_path(exp), mix_dir, root
    )
    shard_dir = timed("shards", shards.run, c["shards"], mix_dir, arm_tok, root)
    train_dir = timed("train", train.run, c["train"], c["model"], shard_dir, arm_tok, root)
    model_dir = train_dir / "model"
    post_dirs: dict[str, Path] = {}
    if exp.posttrain.stages:
        import importlib

        pre_eval = timed(
            "eval_pretrained", evals_run.run, c["eval"], model_dir, suite_path(exp), root
        )
        post_dirs["eval_pretrained"] = pre_eval
        for st in exp.posttrain.stages:
            mod = importlib.import_module(f"aptk.posttrain.{st}")
            post_dirs[st] = timed(st, mod.run, c[st], model_dir, root)
            model_dir = post_dirs[st] / "model"
    eval_dir = timed("eval", evals_run.run, c["eval"], model_dir, suite_path(exp), root)
    cond_dirs = {}  # the tags arm: the same eval with each stance's tag after the prefix token
    for s in exp.tags.eval_conditions if uses_tags(exp) else []:
        ecfg = replace(c["eval"], condition=exp.tags.tag(s))
        cond_dirs[f"eval_{s}"] = timed(
            f"eval_{s}", evals_run.run, ecfg, model_dir, suite_path(exp), root
        )

    record = {
        "study": exp.study,
        "arm": exp.arm.name,
        "seed": exp.seed,
        "arm_config": asdict(exp.arm),
        "model_dir": str(model_dir.resolve()),
        "posttrain": list(exp.posttrain.stages),
        "eval_results": str((eval_dir / "results.json").resolve()),
        **(
            {
                "eval_conditions": {
                    "none": str((eval_dir / "results.json").resolve()),
                    **{
                        k[len("eval_") :]: str((v / "results.json").resolve())
                        for k, v in cond_dirs.items()
                    },
                }
            }
            if uses_tags(exp)
            else {}
        ),
        "corpus_fingerprint": _fingerprint(shard_dir),
        "stages": {
            k: str(Path(v).resolve())
            for k, v in {
                "synth": synth_dir,
                "corpus": base_dir,
                "tokenizer": tok_dir,
                "web": web_dir,
                "filter": filtered_dir,
                "mix": mix_dir,
                "contamination": gate_dir,
                "shards": shard_dir,
                "train": train_dir,
                "eval": eval_dir,
                **({"controls": control_dir} if control_dir else {}),
                **tag_dirs,
                **cond_dirs,
                **post_dirs,
            }.items()
        },
        "timings": {**timings, "total_s": round(time.time() - t0, 2)},
        "reused_stages": reused,
    }
    out = root / "runs" / exp.study / exp.arm.name / f"seed{exp.seed}" / "run.json"
    atomic_write_json(out, record)
    _log_wandb(exp, record, out.parent)
    log.info(
        "arm %s seed %d done in %.1fs (%d of %d stages reused) -> %s",
        exp.arm.name,
        exp.seed,
        time.time() - t0,
        len(reused),
        len(timings),
        out,
    )
    return out


def _log_wandb(exp: ExperimentConfig, record: dict, run_dir: Path) -> None:
    """One W&B run per stage per arm (group = study/arm, job_type = stage), each logged once."""
    from aptk.core.tracking import log_stage

    done_file = run_dir / "wandb_logged.json"
    done = json.loads(done_file.read_text()) if done_file.is_file() else {}
    for stage, d in record["stages"].items():
        manifest = read_manifest(d)
        key = manifest["key"]
        if done.get(stage) == key:
            continue
        try:
            run_path = log_stage(
                exp.wandb,
                study=exp.study,
                arm=exp.arm.name,
                seed=exp.seed,
                stage=stage,
                stage_dir=Path(d),
                config=manifest["config"],
            )
        except Exception as e:  # tracking must not lose a finished arm; say so loudly instead
            log.warning(
                "W&B logging of stage %s failed (%s: %s); the arm's artifacts are intact",
                stage,
                type(e).__name__,
                e,
            )
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

    register_configs()

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
