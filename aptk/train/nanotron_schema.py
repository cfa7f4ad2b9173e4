"""nanotron's config schema (transcribed, no nanotron import) and validation of aptk's configs.

`SCHEMA`/`ENUMS` mirror the dataclasses of huggingface/nanotron main's src/nanotron/config/
(config.py, parallelism_config.py, models_config.py, utils_config.py) at NANOTRON_COMMIT: which
keys each section has, which have no default, which values enums take. `check_schema` also
repeats the cross-section assertions of nanotron's Config.__post_init__. `validate` prefers
nanotron's own loader (get_config_from_file / get_config_from_dict) whenever it imports.

    python -m aptk.train.nanotron ...     # (write_run validates every config it writes)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aptk.core.errors import ConfigError

#: huggingface/nanotron main commit the schema was read from (2026-04-07)
NANOTRON_COMMIT = "2411b022a75fb7f7561a1bb4166706da5e1b76de"


def _keys(spec: str) -> dict[str, bool]:
    """'a! b c' -> {"a": True, "b": False, "c": False} (True = no default in nanotron)."""
    return {k.rstrip("!"): k.endswith("!") for k in spec.split()}


# section -> {key: required} (a list = a Union: one of the forms must match); list items "a[]".
# Source: config.py (Config and its *Args), parallelism_config.py, models_config.py (LlamaConfig,
# RandomInit | SpectralMupInit | ExistingCheckpointInit) at NANOTRON_COMMIT.
SCHEMA: dict[str, Any] = {
    "": _keys(
        "general! parallelism! model! tokenizer checkpoints logging metrics_logging tokens "
        "optimizer data_stages profiler lighteval s3_upload"
    ),
    "general": _keys(
        "project! run seed step consumed_train_samples benchmark_csv_path ignore_sanity_checks"
    ),
    "parallelism": _keys(
        "dp! pp! tp! pp_engine tp_mode tp_linear_async_communication "
        "recompute_layer tp_recompute_allgather expert_parallel_size "
        "context_parallel_size"
    ),
    "model": _keys(
        "model_config! init_method! dtype make_vocab_size_divisible_by ddp_bucket_cap_mb"
    ),
    "model.model_config": _keys(
        "bos_token_id eos_token_id hidden_act hidden_size initializer_range intermediate_size "
        "is_llama_config max_position_embeddings num_attention_heads num_hidden_layers "
        "attention_bias num_key_value_heads pad_token_id pretraining_tp rms_norm_eps "
        "rope_scaling rope_theta rope_interleaved tie_word_embeddings use_cache vocab_size "
        "_attn_implementation z_loss_enabled z_loss_coefficient"
    ),
    "model.init_method": [_keys("std! scaling_method"), _keys("use_mup!"), _keys("path!")],
    "tokenizer": _keys("tokenizer_name_or_path tokenizer_revision tokenizer_max_length"),
    "metrics_logging": _keys("log_level log_detail_interval"),
    "tokens": _keys(
        "sequence_length! train_steps! micro_batch_size! "
        "batch_accumulation_per_replica! val_check_interval limit_val_batches "
        "limit_test_batches"
    ),
    "optimizer": _keys(
        "optimizer_factory! zero_stage! weight_decay! clip_grad "
        "accumulate_grad_in_fp32! learning_rate_scheduler! "
        "weight_decay_exclude_named_params"
    ),
    "optimizer.optimizer_factory": [
        _keys("adam_eps! adam_beta1! adam_beta2! torch_adam_is_fused! name"),
        _keys("name"),
    ],
    # lr_warmup_style has no usable default (None fails LRSchedulerArgs.__post_init__)
    "optimizer.learning_rate_scheduler": _keys(
        "learning_rate! lr_warmup_steps lr_warmup_style! lr_decay_style lr_decay_steps "
        "lr_decay_starting_step min_decay_lr"
    ),
    "checkpoints": _keys(
        "checkpoints_path! checkpoint_interval! save_initial_state "
        "save_final_state resume_checkpoint_path load_lr_scheduler load_optimizer "
        "checkpoints_path_is_shared_file_system"
    ),
    "logging": _keys("log_level log_level_replica iteration_step_info_interval"),
    "profiler": _keys(
        "profiler_export_path wait warmup active repeat skip_first record_shapes "
        "profile_memory with_stack export_chrome_trace"
    ),
    "s3_upload": _keys(
        "upload_s3_path! remove_after_upload! s5cmd_numworkers s5cmd_concurrency s5cmd_path"
    ),
    "data_stages[]": _keys("name! start_training_step! data! sequence_length"),
    "data_stages[].data": _keys("dataset seed num_loading_workers"),
    "data_stages[].data.dataset": _keys(
        "dataset_folder! dataset_weights dataset_read_path tokenizer_name vocab_size "
        "token_size_in_bytes return_positions skip_in_stream pad_samples_to_global_batch_size "
        "dataset_max_tokens shuffle_files use_old_brrr_dataloader"
    ),
}
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical", "passive")
#: values nanotron accepts (enum names are matched upper-cased, like its dacite type hooks)
ENUMS: dict[str, tuple[str, ...]] = {
    "parallelism.pp_engine": ("afab", "1f1b"),
    "parallelism.tp_mode": ("ALL_REDUCE", "REDUCE_SCATTER"),
    "model.dtype": (
        "float32",
        "float64",
        "complex64",
        "complex128",
        "float16",
        "bfloat16",
        "uint8",
        "int8",
        "int16",
        "int32",
        "int64",
        "bool",
    ),
    "model.init_method.scaling_method": ("NONE", "NUM_LAYERS", "LAYER_INDEX", "MODEL_SCALE"),
    "model.model_config._attn_implementation": (
        "flash_attention_2",
        "flex_attention",
        "sdpa",
        "ring_flash_triton",
        "ring",
        "llama3_ring_attention",
    ),
    "optimizer.learning_rate_scheduler.lr_warmup_style": ("linear", "constant"),
    "optimizer.learning_rate_scheduler.lr_decay_style": ("linear", "cosine", "1-sqrt"),
    "logging.log_level": _LOG_LEVELS,
    "logging.log_level_replica": _LOG_LEVELS,
}
_UPPER = {"parallelism.tp_mode", "model.init_method.scaling_method"}


def _check_keys(spec: dict[str, bool], obj: dict, section: str, where: str) -> None:
    for k in obj:
        if k not in spec:
            raise ConfigError(
                f"{where}.{k}".lstrip("."), f"not a nanotron {section or 'Config'} field"
            )
    for k, req in spec.items():
        if req and obj.get(k) is None:
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
        raise ConfigError(
            where, "matches none of nanotron's forms: " + "; ".join(str(e) for e in errors)
        )
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
            raise ConfigError(
                "tokenizer.tokenizer_name_or_path", f"must equal {where}.tokenizer_name"
            )
    heads, kv = mc.get("num_attention_heads", 32), mc.get("num_key_value_heads")
    kv = heads if kv is None else kv
    if heads % tp or kv < tp:
        raise ConfigError("parallelism.tp", f"must divide {heads} heads and be <= {kv} kv heads")
    if heads % kv:
        raise ConfigError(
            "model.model_config.num_key_value_heads", "must divide num_attention_heads"
        )


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
