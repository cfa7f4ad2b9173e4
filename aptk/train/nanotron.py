"""nanotron backend: aptk's ModelConfig/TrainConfig written as a nanotron run (GPU clusters).

    python -m aptk.train.nanotron --shards DIR --tokenizer DIR --out runs/nt \
        [--model 125m] [--train gpu] [--seed 0] [--gpus-per-node 8] [--nodes 1] [key=value ...]
    python -m aptk.train.nanotron --source web=DIR --source synth=DIR:0.05:0.8:1.0 ...  # midtraining
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
import dataclasses
import math
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

#: huggingface/nanotron main commit the schema was read from (2026-04-07)
NANOTRON_COMMIT = "2411b022a75fb7f7561a1bb4166706da5e1b76de"


def _keys(spec: str) -> dict[str, bool]:
    """'a! b c' -> {"a": True, "b": False, "c": False} (True = no default in nanotron)."""
    return {k.rstrip("!"): k.endswith("!") for k in spec.split()}


# section -> {key: required} (a list = a Union: one of the forms must match); list items "a[]".
# Source: config.py (Config and its *Args), parallelism_config.py, models_config.py (LlamaConfig,
# RandomInit | SpectralMupInit | ExistingCheckpointInit) at NANOTRON_COMMIT.
SCHEMA: dict[str, Any] = {
    "": _keys("general! parallelism! model! tokenizer checkpoints logging metrics_logging tokens "
              "optimizer data_stages profiler lighteval s3_upload"),
    "general": _keys("project! run seed step consumed_train_samples benchmark_csv_path "
                     "ignore_sanity_checks"),
    "parallelism": _keys("dp! pp! tp! pp_engine tp_mode tp_linear_async_communication "
                         "recompute_layer tp_recompute_allgather expert_parallel_size "
                         "context_parallel_size"),
    "model": _keys("model_config! init_method! dtype make_vocab_size_divisible_by ddp_bucket_cap_mb"),
    "model.model_config": _keys(
        "bos_token_id eos_token_id hidden_act hidden_size initializer_range intermediate_size "
        "is_llama_config max_position_embeddings num_attention_heads num_hidden_layers "
        "attention_bias num_key_value_heads pad_token_id pretraining_tp rms_norm_eps "
        "rope_scaling rope_theta rope_interleaved tie_word_embeddings use_cache vocab_size "
        "_attn_implementation z_loss_enabled z_loss_coefficient"),
    "model.init_method": [_keys("std! scaling_method"), _keys("use_mup!"), _keys("path!")],
    "tokenizer": _keys("tokenizer_name_or_path tokenizer_revision tokenizer_max_length"),
    "metrics_logging": _keys("log_level log_detail_interval"),
    "tokens": _keys("sequence_length! train_steps! micro_batch_size! "
                    "batch_accumulation_per_replica! val_check_interval limit_val_batches "
                    "limit_test_batches"),
    "optimizer": _keys("optimizer_factory! zero_stage! weight_decay! clip_grad "
                       "accumulate_grad_in_fp32! learning_rate_scheduler! "
                       "weight_decay_exclude_named_params"),
    "optimizer.optimizer_factory": [_keys("adam_eps! adam_beta1! adam_beta2! torch_adam_is_fused! "
                                          "name"), _keys("name")],
    # lr_warmup_style has no usable default (None fails LRSchedulerArgs.__post_init__)
    "optimizer.learning_rate_scheduler": _keys(
        "learning_rate! lr_warmup_steps lr_warmup_style! lr_decay_style lr_decay_steps "
        "lr_decay_starting_step min_decay_lr"),
    "checkpoints": _keys("checkpoints_path! checkpoint_interval! save_initial_state "
                         "save_final_state resume_checkpoint_path load_lr_scheduler load_optimizer "
                         "checkpoints_path_is_shared_file_system"),
    "logging": _keys("log_level log_level_replica iteration_step_info_interval"),
    "profiler": _keys("profiler_export_path wait warmup active repeat skip_first record_shapes "
                      "profile_memory with_stack export_chrome_trace"),
    "s3_upload": _keys("upload_s3_path! remove_after_upload! s5cmd_numworkers s5cmd_concurrency "
                       "s5cmd_path"),
    "data_stages[]": _keys("name! start_training_step! data! sequence_length"),
    "data_stages[].data": _keys("dataset seed num_loading_workers"),
    "data_stages[].data.dataset": _keys(
        "dataset_folder! dataset_weights dataset_read_path tokenizer_name vocab_size "
        "token_size_in_bytes return_positions skip_in_stream pad_samples_to_global_batch_size "
        "dataset_max_tokens shuffle_files use_old_brrr_dataloader"),
}
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical", "passive")
#: values nanotron accepts (enum names are matched upper-cased, like its dacite type hooks)
ENUMS: dict[str, tuple[str, ...]] = {
    "parallelism.pp_engine": ("afab", "1f1b"),
    "parallelism.tp_mode": ("ALL_REDUCE", "REDUCE_SCATTER"),
    "model.dtype": ("float32", "float64", "complex64", "complex128", "float16", "bfloat16",
                    "uint8", "int8", "int16", "int32", "int64", "bool"),
    "model.init_method.scaling_method": ("NONE", "NUM_LAYERS", "LAYER_INDEX", "MODEL_SCALE"),
    "model.model_config._attn_implementation": ("flash_attention_2", "flex_attention", "sdpa",
                                                "ring_flash_triton", "ring", "llama3_ring_attention"),
    "optimizer.learning_rate_scheduler.lr_warmup_style": ("linear", "constant"),
    "optimizer.learning_rate_scheduler.lr_decay_style": ("linear", "cosine", "1-sqrt"),
    "logging.log_level": _LOG_LEVELS,
    "logging.log_level_replica": _LOG_LEVELS,
}
_UPPER = {"parallelism.tp_mode", "model.init_method.scaling_method"}


def _check_keys(spec: dict[str, bool], obj: dict, section: str, where: str) -> None:
    for k in obj:
        if k not in spec:
            raise ConfigError(f"{where}.{k}".lstrip("."), f"not a nanotron {section or 'Config'} field")
    for k, req in spec.items():
        if req and obj.get(k) is None and not (k in obj and f"{section}.{k}" not in ENUMS):
            raise ConfigError(f"{where}.{k}".lstrip("."), "required by nanotron")


def _walk(section: str, obj: Any, where: str) -> None:
    if not isinstance(obj, dict):
        raise ConfigError(where or "<root>", "expected a mapping")
    spec = SCHEMA[section]
    forms = spec if isinstance(spec, list) else [spec]
    errors: list[ConfigError] = []
    for form in forms:
        try:
            _check_keys(form, obj, section, where)
            break
        except ConfigError as e:
            errors.append(e)
    else:
        if len(forms) == 1:
            raise errors[0]
        raise ConfigError(where, "matches none of nanotron's forms: " + "; ".join(str(e) for e in errors))
    for k, v in obj.items():
        key, sub = f"{where}.{k}".lstrip("."), f"{section}.{k}".lstrip(".")
        if v is None:
            continue
        if sub in ENUMS:
            val = str(v).upper() if sub in _UPPER else v
            if val not in ENUMS[sub]:
                raise ConfigError(key, f"{v!r} is not one of nanotron's {ENUMS[sub]}")
        if section == "" and k == "data_stages":
            if not isinstance(v, list):
                raise ConfigError(key, "expected a list of stages")
            for i, st in enumerate(v):
                _walk("data_stages[]", st, f"data_stages.{i}")
        elif sub in SCHEMA:
            _walk(sub, v, key)


def check_schema(cfg: dict[str, Any]) -> None:
    """ConfigError naming the key when `cfg` has a key nanotron's Config lacks, misses one it
    requires, or breaks an assertion of nanotron's Config.__post_init__ (data stages, vocab and
    tokenizer agreement, head counts vs tp)."""
    _walk("", cfg, "")
    mc, tp = cfg["model"]["model_config"], cfg["parallelism"]["tp"]
    stages = cfg.get("data_stages") or []
    if stages and not any(st["start_training_step"] == 1 for st in stages):
        raise ConfigError("data_stages", "one stage must start at step 1")
    for field in ("name", "start_training_step"):
        vals = [st[field] for st in stages]
        if len(set(vals)) != len(vals):
            raise ConfigError("data_stages", f"stage {field}s must be unique, got {vals}")
    tok = (cfg.get("tokenizer") or {}).get("tokenizer_name_or_path")
    for i, st in enumerate(stages):
        ds = st["data"].get("dataset")
        if not ds:
            continue
        where = f"data_stages.{i}.data.dataset"
        folders = ds["dataset_folder"] if isinstance(ds["dataset_folder"], list) else [1]
        if ds.get("dataset_weights") is not None and len(ds["dataset_weights"]) != len(folders):
            raise ConfigError(f"{where}.dataset_weights", "one weight per dataset_folder")
        if ds.get("vocab_size") is not None and ds["vocab_size"] != mc.get("vocab_size"):
            raise ConfigError(f"{where}.vocab_size", "differs from model vocab_size")
        if tok is not None and ds.get("tokenizer_name") is not None and ds["tokenizer_name"] != tok:
            raise ConfigError("tokenizer.tokenizer_name_or_path",
                              f"must equal {where}.tokenizer_name")
    heads, kv = mc.get("num_attention_heads", 32), mc.get("num_key_value_heads")
    kv = heads if kv is None else kv
    if heads % tp or kv < tp:
        raise ConfigError("parallelism.tp", f"must divide {heads} heads and be <= {kv} kv heads")
    if heads % kv:
        raise ConfigError("model.model_config.num_key_value_heads", "must divide num_attention_heads")


def nanotron_config_module() -> Any | None:
    """`nanotron.config` if it imports here (nanotron installed, with its CUDA deps), else None."""
    try:
        import nanotron.config as nc
    except Exception:  # ImportError, or a CUDA/flash-attn import failure inside nanotron
        return None
    return nc


def validate(cfg: dict[str, Any], path: str | Path | None = None, nc: Any = None) -> str:
    """Validate with nanotron's own loader when it imports (`nc`, or `nanotron.config`):
    get_config_from_file(path) or get_config_from_dict(cfg); else check_schema. Returns which."""
    nc = nc or nanotron_config_module()
    if nc is None:
        check_schema(cfg)
        return f"schema@{NANOTRON_COMMIT[:8]}"
    if path is not None:
        nc.get_config_from_file(str(path))
    else:
        nc.get_config_from_dict(cfg)
    return "nanotron.config"


@dataclasses.dataclass
class Source:
    """One token-shard dir and its place in the stream (aptk.data.mix.MixSource semantics)."""

    name: str
    path: Path
    share: float = 1.0
    start: float = 0.0
    end: float = 1.0


def parse_source(spec: str) -> Source:
    """'NAME=DIR[:SHARE[:START:END]]' (the mixer's --source syntax)."""
    if "=" not in spec:
        raise ConfigError("source", f"{spec!r}: expected NAME=DIR[:SHARE[:START:END]]")
    name, rest = spec.split("=", 1)
    parts = rest.split(":")
    if len(parts) not in (1, 2, 4):
        raise ConfigError(f"source.{name}", f"{spec!r}: expected NAME=DIR[:SHARE[:START:END]]")
    nums = [float(x) for x in parts[1:]]
    return Source(name, Path(parts[0]), *nums)


def shard_meta(shards_dir: Path) -> tuple[str, int, int]:
    """(tokenizer name, token size in bytes, total tokens) from the shards' .ds.metadata files."""
    metas = sorted(Path(shards_dir).glob("*.ds.metadata"))
    if not metas:
        raise FileNotFoundError(f"{shards_dir}: no *.ds.metadata (not a token shard dir)")
    name, size, total = "", 0, 0
    for m in metas:
        lines = m.read_text(encoding="utf-8").split("\n")
        n, s = lines[0].rsplit("|", 1)
        name, size = name or n, size or int(s)
        total += int(lines[1])
    return name, size, total


def data_view(src: Path, tokenizer_dir: Path, out: Path) -> Path:
    """`out`: the shards of `src` symlinked, with .ds.metadata rewritten to name `tokenizer_dir`
    (nanotron asserts metadata tokenizer == tokenizer_name_or_path; aptk writes its own name)."""
    out.mkdir(parents=True, exist_ok=True)
    for ds in sorted(src.resolve().glob("*.ds")):
        for suffix in ("", ".index"):
            link = out / (ds.name + suffix)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(Path(f"{ds}{suffix}"))
        lines = Path(f"{ds}.metadata").read_text(encoding="utf-8").split("\n")
        lines[0] = f"{tokenizer_dir}|{lines[0].rsplit('|', 1)[1]}"
        atomic_write_text(out / f"{ds.name}.metadata", "\n".join(lines))
    return out


def split_batch(train_cfg: TrainConfig, dp: int, micro_batch_size: int | None = None) -> tuple[int, int]:
    """(micro_batch_size, batch_accumulation_per_replica) with mbs * accum * dp = batch_size *
    grad_accum; mbs is the largest divisor of the per-replica rows <= the cap (default: aptk's
    per-rank micro-batch batch_size // dp, at least 1)."""
    rows = train_cfg.batch_size * train_cfg.grad_accum
    check(rows % dp == 0, "train", "batch_size",
          f"batch_size*grad_accum = {rows} rows per step is not divisible by dp={dp} data-parallel "
          f"replicas (GPUs / (tp*pp)); set train.batch_size or train.grad_accum so that it is "
          f"(e.g. train.grad_accum={math.lcm(rows, dp) // train_cfg.batch_size})")
    per = rows // dp
    cap = micro_batch_size or max(1, train_cfg.batch_size // dp)
    mbs = max(d for d in range(1, min(cap, per) + 1) if per % d == 0)
    return mbs, per // mbs


def run_length(train_cfg: TrainConfig, tokens: int | None) -> tuple[int, int, str]:
    """(steps, warmup steps, how warmup was chosen); tokens = one pass (single source) or None."""
    available = None if tokens is None else max(0, (tokens - 1) // train_cfg.tokens_per_step)
    if tokens is None and train_cfg.max_steps is None and train_cfg.total_tokens is None:
        raise ConfigError("train.total_tokens", "several sources: set the run length "
                          "(train.total_tokens or train.max_steps)")
    free = dataclasses.replace(train_cfg, warmup_steps=None)
    steps = free.n_steps(None if train_cfg.max_steps or train_cfg.total_tokens else available)
    w = train_cfg.warmup_steps
    if w is not None and w < steps:
        return steps, w, "train.warmup_steps"
    why = "" if w is None else f" (train.warmup_steps={w} >= the run's {steps} steps)"
    return steps, free.warmup(steps), f"ceil(train.warmup_ratio * steps){why}"


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
    check("|" not in str(tok_dir), "", "tokenizer", "path must not contain '|' (metadata separator)")
    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    metas = {s.name: shard_meta(s.path) for s in sources}
    sizes = {m[1] for m in metas.values()}
    check(len(sizes) == 1, "", "source", f"token sizes differ between sources: {metas}")
    token_size = sizes.pop()
    check(token_size == (2 if len(tok) <= 65536 else 4), "", "tokenizer",
          f"shards hold {token_size}-byte tokens but the tokenizer has {len(tok)} ids")
    mix = MixConfig(total_tokens=1, sources=[MixSource(s.name, s.share, s.start, s.end) for s in sources])
    validate_all(mix, "source")
    one_pass = metas[sources[0].name][2] if len(sources) == 1 else None
    steps, warmup, warmup_from = run_length(train_cfg, one_pass)
    dp = n_gpus // (tp * pp)
    mbs, accum = split_batch(train_cfg, dp, micro_batch_size)
    s = model_cfg.shape()
    check(train_cfg.seq_len <= s["max_seq_len"], "train", "seq_len", "exceeds the model's max_seq_len")
    views = {x.name: data_view(x.path, tok_dir, out_dir / "data" / x.name) for x in sources}
    stages = []
    for k, seg in enumerate(schedule(mix, "source")):
        first = 1 + round(seg["start"] * steps)
        if stages and first <= stages[-1]["start_training_step"]:
            raise ConfigError("train.total_tokens", f"{steps} steps are too few to start segment "
                              f"[{seg['start']}, {seg['end']}) on a step of its own")
        names = [x.name for x in sources if seg["density"].get(x.name, 0.0) > 0]
        stages.append({
            "name": f"{k}-{seg['phase']}", "start_training_step": first,
            "data": {"seed": train_cfg.seed, "num_loading_workers": 1, "dataset": {
                "dataset_folder": [str(views[n]) for n in names],
                "dataset_weights": [round(seg["density"][n], 12) for n in names],
                "tokenizer_name": str(tok_dir), "vocab_size": len(tok),
                "token_size_in_bytes": token_size, "shuffle_files": False}}})
    return {
        "general": {"project": project, "run": run_name or f"{model_cfg.size}_%date_%jobid",
                    "seed": train_cfg.seed, "step": None, "consumed_train_samples": None,
                    "benchmark_csv_path": None, "ignore_sanity_checks": True},
        "parallelism": {"dp": dp, "pp": pp, "tp": tp, "pp_engine": "1f1b", "tp_mode": "ALL_REDUCE",
                        "tp_linear_async_communication": False, "recompute_layer": False,
                        "tp_recompute_allgather": True, "expert_parallel_size": 1,
                        "context_parallel_size": 1},
        "model": {
            "ddp_bucket_cap_mb": 25,
            "dtype": "bfloat16" if train_cfg.dtype == "bfloat16" else "float32",
            # aptk's trainer (HF LlamaForCausalLM._init_weights): N(0, init_std) everywhere, no
            # depth scaling of o_proj/down_proj (nanotron's default is NUM_LAYERS: std/sqrt(2L))
            "init_method": {"std": s["init_std"], "scaling_method": "NONE"},
            "make_vocab_size_divisible_by": 1,
            "model_config": {
                "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
                "pad_token_id": tok.pad_token_id, "hidden_act": "silu",
                "hidden_size": s["d_model"], "intermediate_size": s["ffn_dim"],
                "initializer_range": s["init_std"], "is_llama_config": True,
                "max_position_embeddings": s["max_seq_len"], "num_attention_heads": s["n_heads"],
                "num_key_value_heads": s["n_kv_heads"], "num_hidden_layers": s["n_layers"],
                "attention_bias": False, "pretraining_tp": 1, "rms_norm_eps": s["norm_eps"],
                "rope_scaling": None, "rope_theta": s["rope_theta"], "rope_interleaved": False,
                "tie_word_embeddings": s["tie_embeddings"], "use_cache": True,
                "vocab_size": len(tok), "_attn_implementation": "flash_attention_2",
                "z_loss_enabled": False, "z_loss_coefficient": 0.0001,
            },
        },
        "tokenizer": {"tokenizer_name_or_path": str(tok_dir), "tokenizer_revision": None,
                      "tokenizer_max_length": None},
        "tokens": {"sequence_length": train_cfg.seq_len, "train_steps": steps,
                   "micro_batch_size": mbs, "batch_accumulation_per_replica": accum,
                   "val_check_interval": -1, "limit_val_batches": 0, "limit_test_batches": 0},
        "optimizer": {
            "zero_stage": (1 if dp > 1 else 0) if zero_stage is None else zero_stage,
            "weight_decay": train_cfg.weight_decay,
            "clip_grad": train_cfg.clip if train_cfg.clip > 0 else None,
            "accumulate_grad_in_fp32": True,
            "learning_rate_scheduler": {
                "learning_rate": train_cfg.lr, "lr_warmup_steps": warmup,
                "lr_warmup_style": "linear", "lr_decay_style": "cosine",
                "lr_decay_steps": max(1, steps - warmup), "lr_decay_starting_step": None,
                "min_decay_lr": train_cfg.lr * train_cfg.min_lr_ratio},
            "optimizer_factory": {"name": "adamW", "adam_beta1": train_cfg.beta1,
                                  "adam_beta2": train_cfg.beta2, "adam_eps": train_cfg.adam_eps,
                                  "torch_adam_is_fused": True},
        },
        "data_stages": stages,
        "checkpoints": {"checkpoints_path": str(out_dir / "checkpoints"),
                        "checkpoint_interval": min(train_cfg.ckpt_every or steps, steps),
                        "save_initial_state": False, "save_final_state": True,
                        "resume_checkpoint_path": str(out_dir / "checkpoints"),
                        "checkpoints_path_is_shared_file_system": False},
        "logging": {"iteration_step_info_interval": train_cfg.log_every, "log_level": "info",
                    "log_level_replica": "info"},
        "profiler": None,
        "lighteval": None,
    }, warmup_from


def write_run(cfg: dict[str, Any], out_dir: str | Path, gpus_per_node: int, nodes: int = 1,
              nanotron_dir: str = "$NANOTRON_DIR", partition: str = "gpu",
              hours: int = 48) -> dict[str, Path]:
    """config.yaml + launch.sh (torchrun) + job.sbatch (Slurm) in out_dir; validated first."""
    import yaml

    out = Path(out_dir)
    paths = {"config": out / "config.yaml", "launch": out / "launch.sh", "sbatch": out / "job.sbatch"}
    check_schema(cfg)
    atomic_write_text(paths["config"], yaml.safe_dump(cfg, sort_keys=True))
    validate(cfg, paths["config"])
    cmd = torchrun_command(paths["config"], gpus_per_node, nodes, nanotron_dir)
    atomic_write_text(paths["launch"], "#!/bin/bash\n# single node: bash launch.sh\nset -euo pipefail\n"
                      "export CUDA_DEVICE_MAX_CONNECTIONS=1\n" + " ".join(cmd) + "\n")
    atomic_write_text(paths["sbatch"], f"""#!/bin/bash
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
""")
    return paths


def torchrun_command(config_path: str | Path, gpus_per_node: int, nodes: int = 1,
                     nanotron_dir: str = "$NANOTRON_DIR") -> list[str]:
    return ["torchrun", f"--nnodes={nodes}", f"--nproc_per_node={gpus_per_node}",
            f"{nanotron_dir}/run_train.py", "--config-file", shlex.quote(str(config_path))]


def launch(paths: dict[str, Path]) -> int:
    """Run launch.sh here; needs CUDA and an importable nanotron (checked first)."""
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("the nanotron backend needs CUDA GPUs; this machine has none "
                           "(use aptk.train on CPU, or submit job.sbatch on a GPU cluster)")
    if importlib.util.find_spec("nanotron") is None:
        raise RuntimeError("nanotron is not installed: pip install from its git main on the GPU "
                           "machine and set NANOTRON_DIR to the checkout (for run_train.py)")
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
    ap.add_argument("--launch", action="store_true", help="run launch.sh now (needs CUDA + nanotron)")
    ap.add_argument("overrides", nargs="*", help="train.key=value / model.key=value")
    a = ap.parse_args(argv)
    tcfg, mcfg = load_configs(a.model, a.train, a.seed, a.overrides)
    sources = [parse_source(x) for x in a.source] if a.source else Path(a.shards)
    cfg, warmup_from = build_config(mcfg, tcfg, sources, a.tokenizer, a.out,
                                    a.gpus_per_node * a.nodes, a.tp, a.pp, a.micro_batch_size,
                                    a.zero_stage)
    paths = write_run(cfg, a.out, a.gpus_per_node, a.nodes)
    tk, sch = cfg["tokens"], cfg["optimizer"]["learning_rate_scheduler"]
    print(f"dp={cfg['parallelism']['dp']} micro_batch_size={tk['micro_batch_size']} "
          f"accumulation={tk['batch_accumulation_per_replica']} steps={tk['train_steps']} "
          f"warmup={sch['lr_warmup_steps']} from {warmup_from}; data stages: "
          + ", ".join(f"{s['name']}@{s['start_training_step']}" for s in cfg["data_stages"]))
    print(f"validated with {validate(cfg, paths['config'])}")
    for k, p in paths.items():
        print(f"{k}: {p}")
    if a.launch:
        raise SystemExit(launch(paths))


if __name__ == "__main__":
    main()
