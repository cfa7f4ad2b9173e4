"""nanotron backend: the same ModelConfig/TrainConfig written as a nanotron run (GPU clusters).

    python -m aptk.train.nanotron --shards DIR --tokenizer DIR --out runs/nt \
        [--model 125m] [--train gpu] [--seed 0] [--gpus-per-node 8] [--nodes 1] [key=value ...]
    # -> runs/nt/config.yaml, launch.sh (torchrun), job.sbatch (Slurm); then `bash launch.sh`

Targets nanotron main's YAML schema (src/nanotron/config/config.py + models_config.py: sections
general, parallelism, model.model_config (LlamaConfig fields, is_llama_config), tokenizer, tokens,
optimizer with learning_rate_scheduler and optimizer_factory, data_stages with
data.dataset = NanosetDatasetsArgs {dataset_folder, dataset_weights, ...}, checkpoints, logging).
`SCHEMA` below lists the keys used per section; `check_schema` validates a config against it.
The token shards are datatrove's layout, which nanotron's Nanoset reads directly.
nanotron itself is never imported here (install it from git on a CUDA machine); `launch()` fails
with a clear message when CUDA or nanotron is missing.

Caveats: nanotron's Config asserts tokenizer.tokenizer_name_or_path == the shards' metadata
tokenizer name, so shards written for nanotron should set `shards.tokenizer_name` to the
tokenizer dir (a loadable path); the data order follows nanotron's sampler, not aptk's strictly
sequential stream (aptk's midtraining placement relies on the stream order).
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


def _keys(spec: str) -> dict[str, bool]:
    """'a! b c' -> {"a": True, "b": False, "c": False} (True = required by nanotron)."""
    return {k.rstrip("!"): k.endswith("!") for k in spec.split()}


# section -> {key: required}; nested sections as "a.b", list items as "a[]"
SCHEMA: dict[str, dict[str, bool]] = {
    "": _keys("general! parallelism! model! tokenizer checkpoints logging tokens optimizer "
              "data_stages profiler lighteval"),
    "general": _keys("project! run seed step consumed_train_samples benchmark_csv_path "
                     "ignore_sanity_checks"),
    "parallelism": _keys("dp! pp! tp! pp_engine tp_mode recompute_granularity "
                         "tp_linear_async_communication expert_parallel_size"),
    "model": _keys("model_config! init_method! dtype make_vocab_size_divisible_by ddp_bucket_cap_mb"),
    "model.model_config": _keys(
        "bos_token_id eos_token_id hidden_act hidden_size initializer_range intermediate_size "
        "is_llama_config max_position_embeddings num_attention_heads num_hidden_layers "
        "attention_bias num_key_value_heads pad_token_id pretraining_tp rms_norm_eps "
        "rope_scaling rope_theta rope_interleaved tie_word_embeddings use_cache vocab_size "
        "_attn_implementation z_loss_enabled z_loss_coefficient"),
    "model.init_method": _keys("std!"),
    "tokenizer": _keys("tokenizer_name_or_path tokenizer_revision tokenizer_max_length"),
    "tokens": _keys("sequence_length! train_steps! micro_batch_size! "
                    "batch_accumulation_per_replica! val_check_interval limit_val_batches "
                    "limit_test_batches"),
    "optimizer": _keys("optimizer_factory! zero_stage! weight_decay! clip_grad! "
                       "accumulate_grad_in_fp32! learning_rate_scheduler! "
                       "weight_decay_exclude_named_params"),
    "optimizer.optimizer_factory": _keys("adam_eps! adam_beta1! adam_beta2! torch_adam_is_fused! "
                                         "name"),
    "optimizer.learning_rate_scheduler": _keys(
        "learning_rate! lr_warmup_steps lr_warmup_style lr_decay_style lr_decay_steps "
        "lr_decay_starting_step min_decay_lr"),
    "checkpoints": _keys("checkpoints_path! checkpoint_interval! save_initial_state "
                         "save_final_state resume_checkpoint_path load_lr_scheduler load_optimizer "
                         "checkpoints_path_is_shared_file_system"),
    "logging": _keys("log_level log_level_replica iteration_step_info_interval"),
    "data_stages[]": _keys("name! start_training_step! data! sequence_length"),
    "data_stages[].data": _keys("dataset! seed! num_loading_workers"),
    "data_stages[].data.dataset": _keys(
        "dataset_folder! dataset_weights dataset_read_path tokenizer_name vocab_size "
        "token_size_in_bytes return_positions skip_in_stream pad_samples_to_global_batch_size "
        "dataset_max_tokens shuffle_files use_old_brrr_dataloader"),
}


def _shard_meta(shards_dir: Path) -> tuple[str, int, int]:
    """(tokenizer name, token size in bytes, total tokens) from the shards' .ds.metadata files."""
    metas = sorted(shards_dir.glob("*.ds.metadata"))
    if not metas:
        raise FileNotFoundError(f"{shards_dir}: no *.ds.metadata (not a token shard dir)")
    name, size, total = None, None, 0
    for m in metas:
        lines = m.read_text(encoding="utf-8").split("\n")
        n, s = lines[0].rsplit("|", 1)
        name, size = name or n, size or int(s)
        total += int(lines[1])
    return name, size, total  # type: ignore[return-value]


def build_config(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    shards_dir: str | Path,
    tokenizer_dir: str | Path,
    out_dir: str | Path,
    n_gpus: int = 8,
    project: str = "aptk",
    run_name: str | None = None,
) -> dict[str, Any]:
    """The nanotron config dict (data parallel over `n_gpus`; tp = pp = 1)."""
    from transformers import AutoTokenizer

    validate_all(model_cfg, "model")
    validate_all(train_cfg, "train")
    check(n_gpus >= 1, "", "n_gpus", "must be >= 1")
    check(
        train_cfg.batch_size % n_gpus == 0,
        "train",
        "batch_size",
        f"global rows per micro-step {train_cfg.batch_size} not divisible by {n_gpus} GPUs",
    )
    shards_dir, out_dir = Path(shards_dir).resolve(), Path(out_dir).resolve()
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    meta_name, token_size, n_tokens = _shard_meta(shards_dir)
    steps = train_cfg.n_steps(max(0, (n_tokens - 1) // train_cfg.tokens_per_step))
    warmup = train_cfg.warmup(steps)
    s = model_cfg.shape()
    check(
        train_cfg.seq_len <= s["max_seq_len"], "train", "seq_len", "exceeds the model's max_seq_len"
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
            "dp": n_gpus,
            "pp": 1,
            "tp": 1,
            "pp_engine": "1f1b",
            "tp_mode": "ALL_REDUCE",
            "tp_linear_async_communication": False,
            "expert_parallel_size": 1,
        },
        "model": {
            "ddp_bucket_cap_mb": 25,
            "dtype": "bfloat16" if train_cfg.dtype == "bfloat16" else "float32",
            "init_method": {"std": s["init_std"]},
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
            },
        },
        "tokenizer": {
            "tokenizer_name_or_path": meta_name,
            "tokenizer_revision": None,
            "tokenizer_max_length": None,
        },
        "tokens": {
            "sequence_length": train_cfg.seq_len,
            "train_steps": steps,
            "micro_batch_size": train_cfg.batch_size // n_gpus,
            "batch_accumulation_per_replica": train_cfg.grad_accum,
            "val_check_interval": -1,
            "limit_val_batches": 0,
            "limit_test_batches": 0,
        },
        "optimizer": {
            "zero_stage": 0,
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
        "data_stages": [
            {
                "name": "stable",
                "start_training_step": 1,
                "data": {
                    "seed": train_cfg.seed,
                    "num_loading_workers": 1,
                    "dataset": {
                        "dataset_folder": [str(shards_dir)],
                        "dataset_weights": [1.0],
                        "tokenizer_name": meta_name,
                        "vocab_size": len(tok),
                        "token_size_in_bytes": token_size,
                        "shuffle_files": False,
                    },
                },
            }
        ],
        "checkpoints": {
            "checkpoints_path": str(out_dir / "checkpoints"),
            "checkpoint_interval": train_cfg.ckpt_every or steps,
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


def check_schema(cfg: dict[str, Any]) -> None:
    """ConfigError naming the key when `cfg` has a key nanotron's schema lacks or misses one it
    requires; also the cross-section rules nanotron asserts (vocab/tokenizer match, heads, stage 1)."""

    def walk(section: str, obj: Any, where: str) -> None:
        spec = SCHEMA[section]
        if not isinstance(obj, dict):
            raise ConfigError(where or "<root>", "expected a mapping")
        for k in obj:
            if k not in spec:
                raise ConfigError(
                    f"{where}.{k}".lstrip("."), f"not a nanotron {section or 'Config'} field"
                )
        for k, req in spec.items():
            if req and k not in obj:
                raise ConfigError(f"{where}.{k}".lstrip("."), "required by nanotron")
        for k, v in obj.items():
            sub = f"{section}.{k}".lstrip(".")
            if k == "data_stages" and v is not None:
                for i, st in enumerate(v):
                    walk("data_stages[]", st, f"data_stages.{i}")
            elif section.startswith("data_stages[]") and f"{section}.{k}" in SCHEMA:
                walk(f"{section}.{k}", v, f"{where}.{k}")
            elif sub in SCHEMA and v is not None:
                walk(sub, v, f"{where}.{k}".lstrip("."))

    walk("", cfg, "")
    mc = cfg["model"]["model_config"]
    for st in cfg.get("data_stages") or []:
        ds = st["data"]["dataset"]
        if ds.get("vocab_size") is not None and ds["vocab_size"] != mc["vocab_size"]:
            raise ConfigError("data_stages.dataset.vocab_size", "differs from model vocab_size")
        if ds.get("tokenizer_name") != (cfg.get("tokenizer") or {}).get("tokenizer_name_or_path"):
            raise ConfigError(
                "tokenizer.tokenizer_name_or_path", "must equal the dataset tokenizer_name"
            )
    if not any(
        st["start_training_step"] == 1
        for st in cfg.get("data_stages") or [{"start_training_step": 1}]
    ):
        raise ConfigError("data_stages", "one stage must start at step 1")
    if mc["num_attention_heads"] % mc["num_key_value_heads"]:
        raise ConfigError(
            "model.model_config.num_key_value_heads", "must divide num_attention_heads"
        )


def write_run(
    cfg: dict[str, Any],
    out_dir: str | Path,
    gpus_per_node: int,
    nodes: int = 1,
    nanotron_dir: str = "$NANOTRON_DIR",
    partition: str = "gpu",
    hours: int = 48,
) -> dict[str, Path]:
    """config.yaml + launch.sh (torchrun) + job.sbatch (Slurm) in out_dir."""
    import yaml

    check_schema(cfg)
    out = Path(out_dir)
    paths = {
        "config": out / "config.yaml",
        "launch": out / "launch.sh",
        "sbatch": out / "job.sbatch",
    }
    atomic_write_text(paths["config"], yaml.safe_dump(cfg, sort_keys=True))
    cmd = torchrun_command(paths["config"], gpus_per_node, nodes, nanotron_dir)
    atomic_write_text(
        paths["launch"],
        "#!/bin/bash\n# single node: bash launch.sh\nset -euo pipefail\n"
        "export CUDA_DEVICE_MAX_CONNECTIONS=1\n" + " ".join(cmd) + "\n",
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
  --rdzv_endpoint=$MASTER_ADDR:$MASTER_PORT {nanotron_dir}/run_train.py --config-file {paths["config"]}
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
    ap.add_argument("--shards", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="125m")
    ap.add_argument("--train", default="gpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gpus-per-node", type=int, default=8)
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument(
        "--launch", action="store_true", help="run launch.sh now (needs CUDA + nanotron)"
    )
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args(argv)
    tcfg, mcfg = load_configs(a.model, a.train, a.seed, a.overrides)
    cfg = build_config(mcfg, tcfg, a.shards, a.tokenizer, a.out, a.gpus_per_node * a.nodes)
    paths = write_run(cfg, a.out, a.gpus_per_node, a.nodes)
    for k, p in paths.items():
        print(f"{k}: {p}")
    if a.launch:
        raise SystemExit(launch(paths))


if __name__ == "__main__":
    main()
