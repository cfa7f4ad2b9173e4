"""nanotron backend: aptk's ModelConfig/TrainConfig written as a nanotron run (GPU clusters).

    python -m aptk.train.nanotron --shards DIR --tokenizer DIR --out runs/nt \
        [--model 125m] [--train gpu] [--seed 0] [--gpus-per-node 8] [--nodes 1] [key=value ...]
    python -m aptk.train.nanotron --source web=DIR:0.95 --source synth=DIR:0.05:0.8:1.0 ...
    # -> runs/nt/config.yaml, launch.sh (torchrun), job.sbatch (Slurm), data/<source>/ views

What carries over (docs/nanotron.md has the details):
- batch: rows per optimizer step R = batch_size * grad_accum (the config's global batch) are
  split over dp = GPUs / (tp * pp) replicas: micro_batch_size * batch_accumulation_per_replica
  = R / dp (ConfigError naming `train.batch_size` when dp does not divide R);
- run length: max_steps, else total_tokens, else one pass over a single source; warmup is
  `train.warmup_steps` when it is shorter than the run, else ceil(warmup_ratio * steps);
- init: RandomInit(std=init_std, scaling_method=NONE), i.e. aptk's HF init (every matrix and
  the embedding N(0, std), norms 1) instead of nanotron's default std/sqrt(2L) on o/down_proj;
- data: one nanotron data stage per segment of aptk.data.mix.schedule (whole / midtrain /
  window insertion), weights = the sources' token densities in that segment;
- tokenizer: `tokenizer_name_or_path` is the exported tokenizer dir; each source gets a view dir
  (symlinked .ds/.ds.index, .ds.metadata naming that dir), which nanotron's Nanoset asserts.

The YAML is validated with nanotron's own `get_config_from_file` when `nanotron.config` imports
(a CUDA machine with nanotron installed), else with `check_schema` against `SCHEMA`, transcribed
from nanotron main's src/nanotron/config/*.py at NANOTRON_COMMIT. Checkpoints back to HF:
`python -m aptk.train.nanotron_ckpt to-hf CKPT OUT --tokenizer DIR`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from aptk.core.config import check, validate_all
from aptk.core.errors import ConfigError
from aptk.core.io import atomic_write_text
from aptk.train.config import TrainConfig
from aptk.train.model import ModelConfig
from aptk.train.nanotron_plan import (  # noqa: F401  (re-exported)
    Source,
    data_view,
    one_pass_tokens,
    parse_source,
    run_length,
    shard_meta,
    split_batch,
)
from aptk.train.nanotron_schema import (  # noqa: F401  (re-exported)
    ENUMS,
    NANOTRON_COMMIT,
    SCHEMA,
    check_schema,
    nanotron_config_module,
    validate,
)


def build_config(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    sources: list[Source] | str | Path,
    tokenizer_dir: str | Path,
    out_dir: str | Path,
    n_gpus: int = 8,
    tp: int = 1,
    pp: int = 1,
    micro_batch_size: int | None = None,
    zero_stage: int | None = None,
    project: str = "aptk",
    run_name: str | None = None,
) -> dict[str, Any]:
    """The nanotron config dict; writes the per-source data views under out_dir/data/."""
    from transformers import AutoTokenizer

    from aptk.data.mix import MixConfig, MixSource, schedule

    validate_all(model_cfg, "model")
    validate_all(train_cfg, "train")
    check(n_gpus >= 1, "", "n_gpus", "must be >= 1")
    check(n_gpus % (tp * pp) == 0, "", "tp", f"tp*pp = {tp * pp} must divide the {n_gpus} GPUs")
    if not isinstance(sources, list):
        sources = [Source("train", Path(sources))]
    out_dir, tok_dir = Path(out_dir).resolve(), Path(tokenizer_dir).resolve()
    check("|" not in str(tok_dir), "", "tokenizer", "path must not contain '|' (metadata)")
    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    metas = {s.name: shard_meta(s.path) for s in sources}
    sizes = {m[1] for m in metas.values()}
    check(len(sizes) == 1, "", "source", f"token sizes differ between sources: {metas}")
    token_size = sizes.pop()
    check(
        token_size == (2 if len(tok) <= 65536 else 4),
        "",
        "tokenizer",
        f"shards hold {token_size}-byte tokens but the tokenizer has {len(tok)} ids",
    )
    mix = MixConfig(
        total_tokens=1, sources=[MixSource(x.name, x.share, x.start, x.end) for x in sources]
    )
    validate_all(mix, "source")
    steps, warmup, _ = run_length(train_cfg, one_pass_tokens(sources))
    dp = n_gpus // (tp * pp)
    mbs, accum = split_batch(train_cfg, dp, micro_batch_size)
    s = model_cfg.shape()
    check(
        train_cfg.seq_len <= s["max_seq_len"], "train", "seq_len", "exceeds the model's max_seq_len"
    )
    views = {x.name: data_view(x.path, tok_dir, out_dir / "data" / x.name) for x in sources}
    stages = []
    for k, seg in enumerate(schedule(mix, "source")):
        first = 1 + round(seg["start"] * steps)
        if stages and first <= stages[-1]["start_training_step"]:
            raise ConfigError(
                "train.total_tokens",
                f"{steps} steps are too few to start segment "
                f"[{seg['start']}, {seg['end']}) on a step of its own",
            )
        names = [x.name for x in sources if seg["density"].get(x.name, 0.0) > 0]
        stages.append(
            {
                "name": f"{k}-{seg['phase']}",
                "start_training_step": first,
                "data": {
                    "seed": train_cfg.seed,
                    "num_loading_workers": 1,
                    "dataset": {
                        "dataset_folder": [str(views[n]) for n in names],
                        "dataset_weights": [round(seg["density"][n], 12) for n in names],
                        "tokenizer_name": str(tok_dir),
                        "vocab_size": len(tok),
                        "token_size_in_bytes": token_size,
                        "shuffle_files": False,
                    },
                },
            }
        )
    return {
        "general": {
            "project": project,
            "run": run_name or f"{model_cfg.size}_%date_%jobid",
            "seed": train_cfg.seed,
            "step": None,
            "consumed_train_samples": None,
            "benchmark_csv_path": None,
            "ignore_sanity_checks": True,
        },
        "parallelism": {
            "dp": dp,
            "pp": pp,
            "tp": tp,
            "pp_engine": "1f1b",
            "tp_mode": "ALL_REDUCE",
            "tp_linear_async_communication": False,
            "recompute_layer": False,
            "tp_recompute_allgather": True,
            "expert_parallel_size": 1,
            "context_parallel_size": 1,
        },
        "model": {
            "ddp_bucket_cap_mb": 25,
            "dtype": "bfloat16" if train_cfg.dtype == "bfloat16" else "float32",
            # aptk's trainer (HF LlamaForCausalLM._init_weights): N(0, init_std) everywhere, no
            # depth scaling of o_proj/down_proj (nanotron's default is NUM_LAYERS: std/sqrt(2L))
            "init_method": {"std": s["init_std"], "scaling_method": "NONE"},
            "make_vocab_size_divisible_by": 1,
            "model_config": {
                "bos_token_id": tok.bos_token_id,
                "eos_token_id": tok.eos_token_id,
                "pad_token_id": tok.pad_token_id,
                "hidden_act": "silu",
                "hidden_size": s["d_model"],
                "intermediate_size": s["ffn_dim"],
                "initializer_range": s["init_std"],
                "is_llama_config": True,
                "max_position_embeddings": s["max_seq_len"],
                "num_attention_heads": s["n_heads"],
                "num_key_value_heads": s["n_kv_heads"],
                "num_hidden_layers": s["n_layers"],
                "attention_bias": False,
                "pretraining_tp": 1,
                "rms_norm_eps": s["norm_eps"],
                "rope_scaling": None,
                "rope_theta": s["rope_theta"],
                "rope_interleaved": False,
                "tie_word_embeddings": s["tie_embeddings"],
                "use_cache": True,
                "vocab_size": len(tok),
                "_attn_implementation": "flash_attention_2",
                "z_loss_enabled": False,
                "z_loss_coefficient": 0.0001,
            },
        },
        "tokenizer": {
            "tokenizer_name_or_path": str(tok_dir),
            "tokenizer_revision": None,
            "tokenizer_max_length": None,
        },
        "tokens": {
            "sequence_length": train_cfg.seq_len,
            "train_steps": steps,
            "micro_batch_size": mbs,
            "batch_accumulation_per_replica": accum,
            "val_check_interval": -1,
            "limit_val_batches": 0,
            "limit_test_batches": 0,
        },
        "optimizer": {
            "zero_stage": (1 if dp > 1 else 0) if zero_stage is None else zero_stage,
            "weight_decay": train_cfg.weight_decay,
            "clip_grad": train_cfg.clip if train_cfg.clip > 0 else None,
            "accumulate_grad_in_fp32": True,
            "learning_rate_scheduler": {
                "learning_rate": train_cfg.lr,
                "lr_warmup_steps": warmup,
                "lr_warmup_style": "linear",
                "lr_decay_style": "cosine",
                "lr_decay_steps": max(1, steps - warmup),
                "lr_decay_starting_step": None,
                "min_decay_lr": train_cfg.lr * train_cfg.min_lr_ratio,
            },
            "optimizer_factory": {
                "name": "adamW",
                "adam_beta1": train_cfg.beta1,
                "adam_beta2": train_cfg.beta2,
                "adam_eps": train_cfg.adam_eps,
                "torch_adam_is_fused": True,
            },
        },
        "data_stages": stages,
        "checkpoints": {
            "checkpoints_path": str(out_dir / "checkpoints"),
            "checkpoint_interval": min(train_cfg.ckpt_every or steps, steps),
            "save_initial_state": False,
            "save_final_state": True,
            "resume_checkpoint_path": str(out_dir / "checkpoints"),
            "checkpoints_path_is_shared_file_system": False,
        },
        "logging": {
            "iteration_step_info_interval": train_cfg.log_every,
            "log_level": "info",
            "log_level_replica": "info",
        },
        "profiler": None,
        "lighteval": None,
    }


def write_run(
    cfg: dict[str, Any],
    out_dir: str | Path,
    gpus_per_node: int,
    nodes: int = 1,
    nanotron_dir: str = "$NANOTRON_DIR",
    partition: str = "gpu",
    hours: int = 48,
) -> dict[str, Path]:
    """config.yaml + launch.sh (torchrun) + job.sbatch (Slurm) in out_dir; validated first."""
    import yaml

    out = Path(out_dir).resolve()
    paths = {
        "config": out / "config.yaml",
        "launch": out / "launch.sh",
        "sbatch": out / "job.sbatch",
    }
    check_schema(cfg)
    atomic_write_text(paths["config"], yaml.safe_dump(cfg, sort_keys=True))
    validate(cfg, paths["config"])
    cmd = torchrun_command(paths["config"], gpus_per_node, nodes, nanotron_dir)
    atomic_write_text(
        paths["launch"],
        "#!/bin/bash\n# single node: bash launch.sh\n"
        "set -euo pipefail\nexport CUDA_DEVICE_MAX_CONNECTIONS=1\n" + " ".join(cmd) + "\n",
    )
    atomic_write_text(
        paths["sbatch"],
        f"""#!/bin/bash
#SBATCH --job-name=aptk-{cfg["general"]["project"]}
#SBATCH --nodes={nodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node={gpus_per_node}
#SBATCH --cpus-per-task={8 * gpus_per_node}
#SBATCH --partition={partition}
#SBATCH --time={hours}:00:00
#SBATCH --output=%x-%j.out
set -euo pipefail
export CUDA_DEVICE_MAX_CONNECTIONS=1
export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_PORT=29500
srun torchrun --nnodes={nodes} --nproc_per_node={gpus_per_node} --rdzv_backend=c10d \\
  --rdzv_endpoint=$MASTER_ADDR:$MASTER_PORT \\
  {nanotron_dir}/run_train.py --config-file {paths["config"]}
""",
    )
    return paths


def torchrun_command(
    config_path: str | Path, gpus_per_node: int, nodes: int = 1, nanotron_dir: str = "$NANOTRON_DIR"
) -> list[str]:
    return [
        "torchrun",
        f"--nnodes={nodes}",
        f"--nproc_per_node={gpus_per_node}",
        f"{nanotron_dir}/run_train.py",
        "--config-file",
        shlex.quote(str(config_path)),
    ]


def launch(paths: dict[str, Path]) -> int:
    """Run launch.sh here; needs CUDA and an importable nanotron (checked first)."""
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(
            "the nanotron backend needs CUDA GPUs; this machine has none "
            "(use aptk.train on CPU, or submit job.sbatch on a GPU cluster)"
        )
    if importlib.util.find_spec("nanotron") is None:
        raise RuntimeError(
            "nanotron is not installed: pip install from its git main on the GPU "
            "machine and set NANOTRON_DIR to the checkout (for run_train.py)"
        )
    if "NANOTRON_DIR" not in os.environ:
        raise RuntimeError("set NANOTRON_DIR to the nanotron checkout (run_train.py lives there)")
    return subprocess.call(["bash", str(paths["launch"])])


def main(argv: list[str] | None = None) -> None:
    from aptk.train.cli import load_configs

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--shards", help="one token-shard dir (an arm's mixed stream)")
    src.add_argument("--source", action="append", help="NAME=DIR[:SHARE[:START:END]] (repeat)")
    ap.add_argument("--tokenizer", required=True, help="the exported (HF) tokenizer dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="125m")
    ap.add_argument("--train", default="gpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gpus-per-node", type=int, default=8)
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--tp", type=int, default=1)
    ap.add_argument("--pp", type=int, default=1)
    ap.add_argument("--micro-batch-size", type=int, default=None, help="cap per GPU (default auto)")
    ap.add_argument("--zero-stage", type=int, default=None, help="default 1 when dp > 1")
    ap.add_argument(
        "--launch", action="store_true", help="run launch.sh now (needs CUDA + nanotron)"
    )
    ap.add_argument("overrides", nargs="*", help="train.key=value / model.key=value")
    a = ap.parse_args(argv)
    tcfg, mcfg = load_configs(a.model, a.train, a.seed, a.overrides)
    sources = [parse_source(x) for x in a.source] if a.source else Path(a.shards)
    cfg = build_config(
        mcfg,
        tcfg,
        sources,
        a.tokenizer,
        a.out,
        a.gpus_per_node * a.nodes,
        a.tp,
        a.pp,
        a.micro_batch_size,
        a.zero_stage,
    )
    if not isinstance(sources, list):
        sources = [Source("train", sources)]
    warmup_from = run_length(tcfg, one_pass_tokens(sources))[2]
    paths = write_run(cfg, a.out, a.gpus_per_node, a.nodes)
    tk, sch = cfg["tokens"], cfg["optimizer"]["learning_rate_scheduler"]
    print(
        f"dp={cfg['parallelism']['dp']} micro_batch_size={tk['micro_batch_size']} "
        f"accumulation={tk['batch_accumulation_per_replica']} steps={tk['train_steps']} "
        f"warmup={sch['lr_warmup_steps']} from {warmup_from}; data stages: "
        + ", ".join(f"{s['name']}@{s['start_training_step']}" for s in cfg["data_stages"])
    )
    tokens = tk["train_steps"] * tcfg.tokens_per_step
    for x in sources:
        have = shard_meta(x.path)[2]
        print(
            f"source {x.name}: needs {x.share * tokens:.4g} tokens, holds {have:.4g} "
            f"({x.share * tokens / max(1, have):.3g} epochs)"
        )
    print(f"validated with {validate(cfg, paths['config'])}")
    for k, p in paths.items():
        print(f"{k}: {p}")
    if a.launch:
        raise SystemExit(launch(paths))


if __name__ == "__main__":
    main()
