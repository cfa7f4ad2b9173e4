"""The pretraining stage: a Llama model trained from scratch on sequential token shards.

    python -m aptk.train.cli --shards DIR --tokenizer DIR --model tiny --train default
    torchrun --nproc_per_node 2 -m aptk.train.cli ...        # data parallel (gloo on CPU)

`run()` follows the stage contract (docs/design.md): output `<out_root>/train/<key>/` with
`model/` (HF safetensors + tokenizer), `metrics.jsonl`, `checkpoints/step-NNNNNNN/`, manifest
last. Rerunning an unfinished stage dir resumes from its newest checkpoint and ends bitwise
equal to an uninterrupted run on CPU (same threads). AdamW, linear warmup + cosine decay, grad
clipping and accumulation, optional bf16 (`train.dtype: bfloat16`: autocast with fp32 master
weights, the fused LM head in bf16 too; a ConfigError on a device without native bf16) and
torch.compile. docs/performance.md has the measured speeds.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from aptk.core.config import check, validate_all
from aptk.core.errors import ConfigError, InputError
from aptk.core.hashing import derive_seed
from aptk.core.manifest import Stage
from aptk.core.stage import open_stage
from aptk.train import checkpoint as ckpt
from aptk.train.common import (
    STAGE,
    apply_runtime,
    build_model,
    deterministic,
    export_model,
    make_optimizer,
    read_metrics,
    seed_all,
    thread_key,
    write_metrics,
)
from aptk.train.config import TrainConfig, lr_at
from aptk.train.data import BatchStream, open_tokens
from aptk.train.distributed import DistEnv, barrier, mean, setup, teardown
from aptk.train.evaluate import Hook, as_hook_list, heldout_loss, run_hooks
from aptk.train.fused_ce import fused_linear_cross_entropy
from aptk.train.model import ModelConfig, count_params
from aptk.train.tracking import init_tracker

VERSION = "1"


def run(
    train_cfg: TrainConfig,
    model_cfg: ModelConfig,
    shards_dir: str | Path,
    tokenizer_dir: str | Path,
    out_root: str | Path,
    hooks: Hook | list[Hook] | None = None,
    heldout_dir: str | Path | None = None,
    stop_after_steps: int | None = None,
    group: str | None = None,
    job_type: str = "pretrain",
) -> Path:
    """Train (or resume, or reuse) the stage; returns its dir.

    `stop_after_steps` ends this call after that many steps with a checkpoint (for time-sliced
    jobs and tests); the dir then has no manifest and the next call resumes. `group`/`job_type`
    go to W&B when `train_cfg.wandb` is on. Under torchrun every rank calls run()."""
    from transformers import AutoTokenizer

    validate_all(train_cfg, "train")
    validate_all(model_cfg, "model")
    shape = model_cfg.shape()
    check(
        train_cfg.seq_len <= shape["max_seq_len"],
        "train",
        "seq_len",
        f"{train_cfg.seq_len} exceeds the model's max_seq_len {shape['max_seq_len']}",
    )
    check(stop_after_steps is None or stop_after_steps >= 1, "", "stop_after_steps", "must be >= 1")
    env = setup(train_cfg.device)
    try:
        if train_cfg.dtype == "bfloat16":
            require_bf16(env.device)  # before any output dir exists
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        vocab = len(tok)
        source = open_tokens(shards_dir)
        stream = BatchStream(
            source,
            train_cfg.seq_len,
            train_cfg.batch_size,
            train_cfg.grad_accum,
            env.rank,
            env.world_size,
        )
        check(
            train_cfg.batch_size % env.world_size == 0,
            "train",
            "batch_size",
            f"{train_cfg.batch_size} is not divisible by the world size {env.world_size}",
        )
        n_steps = train_cfg.n_steps(stream.max_steps())
        st = open_stage(
            STAGE,
            train_cfg,
            inputs={
                "shards": shards_dir,
                "tokenizer": tokenizer_dir,
                "heldout": heldout_dir,
                "init": train_cfg.init_from,
            },
            extra={
                "model": asdict(model_cfg),
                "shape": shape,
                "vocab_size": vocab,
                "n_steps": n_steps,
                **thread_key(train_cfg.threads, env.device.type),
            },
            root=out_root,
            version=VERSION,
        )
        if st.done:
            return st.dir
        with deterministic():
            _train(
                st,
                train_cfg,
                model_cfg,
                tok,
                stream,
                n_steps,
                env,
                as_hook_list(hooks),
                heldout_dir,
                stop_after_steps,
                group,
                job_type,
            )
        return st.dir
    finally:
        teardown(env)


class LMLoss(torch.nn.Module):
    """The model and its next-token cross entropy as one module, so that `torch.compile` sees
    the loss too and DDP wraps a single forward. `fused` computes the LM head and CE in chunks
    (aptk.train.fused_ce) instead of materialising [tokens, vocab] logits — the vocab-wide
    log-softmax is ~17% of an eager `tiny` step. Holds no parameters: checkpoints save `model`."""

    def __init__(
        self,
        model: torch.nn.Module,
        fused: bool = True,
        chunk: int = 0,
        mm_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.model, self.fused, self.chunk, self.mm_dtype = model, fused, chunk, mm_dtype

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not self.fused:
            logits = self.model(input_ids=x, use_cache=False).logits
            return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        h = self.model.model(input_ids=x, use_cache=False).last_hidden_state
        return fused_linear_cross_entropy(
            h.reshape(-1, h.shape[-1]),
            self.model.lm_head.weight,
            y.reshape(-1),
            self.chunk,
            self.mm_dtype,
        )


def bf16_support(device: torch.device) -> str | None:
    """None if `device` has native bf16 matmuls, else why not: CUDA needs compute capability
    >= 8.0 (Ampere); a CPU needs oneDNN bf16 kernels (AVX512-BF16 / AMX, or AVX512 emulation
    that oneDNN accepts). Without them bf16 would be an emulated slowdown, not a speed-up."""
    if device.type == "cuda":
        if not torch.cuda.is_bf16_supported(including_emulation=False):
            return f"{torch.cuda.get_device_name(device)} has no native bf16 (needs sm_80+)"
        return None
    if device.type == "cpu":
        if not (
            torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        ):
            return "this CPU has no oneDNN bf16 matmuls (no AVX512-BF16/AMX)"
        return None
    return f"bf16 support on {device.type!r} is not known"


def require_bf16(device: torch.device) -> None:
    """ConfigError naming `train.dtype` if bf16 was asked for on a device without it."""
    why = bf16_support(device)
    if why is not None:
        raise ConfigError("train.dtype", f"bfloat16 requested but {why}: use float32")


def _train(
    st: Stage,
    cfg: TrainConfig,
    model_cfg: ModelConfig,
    tok: Any,
    stream: BatchStream,
    n_steps: int,
    env: DistEnv,
    hooks: list[Hook],
    heldout_dir: str | Path | None,
    stop_after: int | None,
    group: str | None,
    job_type: str,
) -> None:
    from tqdm.auto import tqdm
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Writing model shards" bar per checkpoint
    apply_runtime(cfg, env.device.type)
    if env.device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    vocab = len(tok)
    ckpt_root, metrics_path = st.path("checkpoints"), st.path("metrics.jsonl")
    last = ckpt.latest(ckpt_root)
    model = build_model(model_cfg, tok, cfg, None if last else cfg.init_from).to(env.device)
    optimizer = make_optimizer(model, cfg)
    start = 0
    if last is not None:
        start = int(ckpt.load(last[1], model, optimizer)["step"])
    if last is None:  # on resume the checkpoint's RNG state continues the original run
        seed_all(derive_seed(cfg.seed, STAGE, "train"))
    rows = read_metrics(metrics_path, start) if env.is_main else []
    model.train()
    amp = cfg.dtype == "bfloat16"  # run() has checked the device has native bf16
    # under bf16 the fused LM head runs its matmuls in bf16 too (softmax and loss in fp32)
    fwd: torch.nn.Module = LMLoss(
        model, cfg.fused_loss, cfg.loss_chunk, torch.bfloat16 if amp else None
    )
    if env.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        fwd = DDP(fwd, device_ids=[env.device.index] if env.device.type == "cuda" else None)
    if cfg.compile:
        fwd = torch.compile(fwd)
    heldout = open_tokens(heldout_dir) if heldout_dir is not None else None
    tracker = init_tracker(
        cfg.wandb,
        cfg.wandb_project,
        st.dir.parents[1] / "wandb",
        {"train": asdict(cfg), "model": model_cfg.shape(), "vocab": vocab},
        group=group,
        job_type=job_type,
        name=f"{job_type}-{st.key}",
        rank=env.rank,
    )
    tps = cfg.tokens_per_step
    bar = tqdm(
        total=n_steps * tps,
        initial=start * tps,
        unit="tok",
        unit_scale=True,
        disable=not (cfg.progress and env.is_main),
        desc=f"train {st.key}",
        dynamic_ncols=True,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    t_last, tok_last, t0 = time.perf_counter(), start * tps, time.perf_counter()
    step = start
    while step < n_steps:
        if stop_after is not None and step - start >= stop_after:
            break
        lr = lr_at(cfg, step, n_steps)
        for g in optimizer.param_groups:
            g["lr"] = lr
        loss_sum = torch.zeros((), device=env.device)
        for micro in range(cfg.grad_accum):
            x, y = stream.get(step, micro)
            if int(x.max()) >= vocab or int(y.max()) >= vocab:
                raise InputError(
                    getattr(stream.src, "path", "shards"),
                    None,
                    None,
                    f"token id {int(max(x.max(), y.max()))} >= vocab {vocab} at step {step}",
                )
            x, y = x.to(env.device, non_blocking=True), y.to(env.device, non_blocking=True)
            sync = contextlib.nullcontext()
            if env.enabled and micro < cfg.grad_accum - 1:
                sync = (fwd._orig_mod if cfg.compile else fwd).no_sync()
            with sync:
                with torch.autocast(env.device.type, dtype=torch.bfloat16, enabled=amp):
                    loss = fwd(x, y)
                (loss / cfg.grad_accum).backward()
            loss_sum += loss.detach()
        if cfg.clip > 0:
            gnorm = torch.nn.utils.clip_grad_norm_(params, cfg.clip)
        else:
            gnorm = torch.linalg.vector_norm(
                torch.stack([p.grad.norm() for p in params if p.grad is not None])
            )
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        bar.update(tps)
        if step % cfg.log_every == 0 or step == n_steps:
            loss_v = float(mean(loss_sum / cfg.grad_accum, env))
            now = time.perf_counter()
            row = {
                "kind": "train",
                "step": step,
                "tokens": step * tps,
                "loss": round(loss_v, 6),
                "lr": lr,
                "grad_norm": round(float(gnorm), 6),
                "tokens_per_s": round((step * tps - tok_last) / max(now - t_last, 1e-9), 1),
                "elapsed_s": round(now - t0, 3),
            }
            t_last, tok_last = now, step * tps
            bar.set_postfix(loss=f"{loss_v:.3f}", lr=f"{lr:.2e}")
            if env.is_main:
                rows.append(row)
                write_metrics(metrics_path, rows)
                tracker.log(row, step)
        if (
            cfg.eval_every
            and (step % cfg.eval_every == 0 or step == n_steps)
            and (hooks or heldout)
        ):
            if env.is_main:
                row = {
                    "kind": "eval",
                    "step": step,
                    "tokens": step * tps,
                    **_evaluate(model, tok, hooks, heldout, cfg, env, step),
                }
                rows.append(row)
                write_metrics(metrics_path, rows)
                tracker.log({f"eval/{k}": v for k, v in row.items()}, step)
            barrier(env)
        stopping = stop_after is not None and step - start >= stop_after and step < n_steps
        if (cfg.ckpt_every and step % cfg.ckpt_every == 0 and step < n_steps) or stopping:
            if env.is_main:
                ckpt.save(
                    ckpt_root,
                    step,
                    model,
                    optimizer,
                    {
                        "tokens": step * tps,
                        "lr": lr,
                        "n_steps": n_steps,
                        "world_size": env.world_size,
                    },
                    keep=cfg.keep_checkpoints,
                )
            barrier(env)
    bar.close()
    if step < n_steps:
        tracker.finish()
        return
    if env.is_main:
        export_model(st, model, tok)
        train_rows = [r for r in rows if r["kind"] == "train"]
        st.finish(
            counts={
                "steps": n_steps,
                "tokens": n_steps * tps,
                "params": count_params(model_cfg, vocab),
            },
            files=["model/model.safetensors", "metrics.jsonl"],
            extra={
                "final_loss": train_rows[-1]["loss"] if train_rows else None,
                "world_size": env.world_size,
                "device": str(env.device),
                "threads": torch.get_num_threads(),
            },
        )
    tracker.finish()
    barrier(env)


def _evaluate(
    model: torch.nn.Module,
    tok: Any,
    hooks: list[Hook],
    heldout: Any,
    cfg: TrainConfig,
    env: DistEnv,
    step: int,
) -> dict:
    was = model.training
    model.eval()
    out: dict = {}
    if heldout is not None:
        out.update(
            heldout_loss(
                model,
                heldout,
                cfg.seq_len,
                cfg.batch_size,
                cfg.eval_tokens,
                env.device,
                torch.bfloat16 if cfg.dtype == "bfloat16" else None,
            )
        )
    out.update(run_hooks(hooks, step, model, tok))
    model.train(was)
    return out


if __name__ == "__main__":
    sys.exit("use: python -m aptk.train.cli  (see its docstring)")
