"""The small optimisation loop shared by SFT, DPO and benign tampering.

Epochs over a list of examples in a seeded order (derive_seed(seed, stage, epoch)), micro-batches
of `batch_size`, `grad_accum` micro-batches per step, AdamW + warmup/cosine, grad clipping,
optional bf16 autocast. The step loss is sum(per-unit losses) / sum(units' weights) over the
whole step (assistant tokens for SFT, pairs for DPO), so accumulation does not change it.
Post-training runs take minutes, so there are no mid-run checkpoints: a killed run restarts.

    python -m aptk.posttrain.sft --model DIR epochs=3     # (sft, dpo backend=own, tamper)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aptk.core.config import check
from aptk.core.hashing import derive_seed
from aptk.core.manifest import Stage
from aptk.train.common import (
    apply_runtime,
    deterministic,
    export_model,
    make_optimizer,
    write_metrics,
)
from aptk.train.config import OptimConfig, cosine_lr


@dataclass
class PostTrainConfig(OptimConfig):
    """Fields shared by the post-training stages (each adds its own); the optimiser and runtime
    fields come from `aptk.train.config.OptimConfig`, shared with pretraining."""

    data: str = "builtin:sft_v1"
    kinds: list[str] | None = None
    max_examples: int | None = None
    epochs: int = 2
    max_len: int = 256
    # post-training defaults differ from pretraining's
    batch_size: int = 8
    lr: float = 3e-4
    weight_decay: float = 0.0
    log_every: int = 5

    def validate(self, prefix: str = "") -> None:
        super().validate(prefix)
        check(bool(self.data), prefix, "data", "must name a jsonl file or builtin:NAME")
        for f in ("epochs", "max_len"):
            check(getattr(self, f) >= 1, prefix, f, "must be >= 1")
        check(
            self.max_examples is None or self.max_examples >= 1,
            prefix,
            "max_examples",
            "must be >= 1",
        )


LossFn = Callable[[torch.nn.Module, list[Any]], tuple[torch.Tensor, dict[str, float]]]


@deterministic()
def fit(
    st: Stage,
    cfg: PostTrainConfig,
    model: torch.nn.Module,
    tok: Any,
    units: list[Any],
    weight: Callable[[Any], float],
    loss_fn: LossFn,
) -> dict:
    """Train `model` on `units`; write metrics.jsonl and model/ into st.dir; returns a summary.

    `loss_fn(model, micro_units) -> (summed loss, {metric: summed value})`; metrics are divided
    by the number of units of the step before logging."""
    from tqdm.auto import tqdm

    apply_runtime(cfg, next(model.parameters()).device.type)
    torch.manual_seed(derive_seed(cfg.seed, st.name, "torch"))
    per_step = cfg.batch_size * cfg.grad_accum
    steps_per_epoch = math.ceil(len(units) / per_step)
    n_steps = cfg.epochs * steps_per_epoch
    warmup = math.ceil(cfg.warmup_ratio * n_steps)
    opt = make_optimizer(model, cfg)
    model.train()
    rows: list[dict] = []
    bar = tqdm(total=n_steps, unit="step", disable=not cfg.progress, desc=f"{st.name} {st.key}")
    t0, step = time.perf_counter(), 0
    for epoch in range(cfg.epochs):
        order = np.random.default_rng(derive_seed(cfg.seed, st.name, "order", epoch)).permutation(
            len(units)
        )
        for s in range(steps_per_epoch):
            chosen = [units[i] for i in order[s * per_step : (s + 1) * per_step]]
            micro = [chosen[i : i + cfg.batch_size] for i in range(0, len(chosen), cfg.batch_size)]
            denom = float(sum(weight(u) for u in chosen)) or 1.0
            lr = cosine_lr(step, n_steps, cfg.lr, warmup, cfg.min_lr_ratio)
            for g in opt.param_groups:
                g["lr"] = lr
            total, sums = 0.0, {}
            for mb in micro:
                dev = next(model.parameters()).device.type
                with torch.autocast(dev, dtype=torch.bfloat16, enabled=cfg.dtype == "bfloat16"):
                    loss, mets = loss_fn(model, mb)
                (loss / denom).backward()
                total += float(loss.detach())
                for k, v in mets.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
            gnorm = torch.nn.utils.clip_grad_norm_(
                model.parameters(), cfg.clip if cfg.clip > 0 else float("inf")
            )
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == n_steps:
                row = {
                    "kind": "train",
                    "step": step,
                    "epoch": epoch,
                    "loss": round(total / denom, 6),
                    "lr": lr,
                    "grad_norm": round(float(gnorm), 6),
                    **{k: round(v / len(chosen), 6) for k, v in sums.items()},
                    "elapsed_s": round(time.perf_counter() - t0, 3),
                }
                rows.append(row)
                bar.set_postfix(loss=f"{row['loss']:.3f}")
                write_metrics(st.path("metrics.jsonl"), rows)
    bar.close()
    model.eval()
    export_model(st, model, tok)
    return {
        "steps": n_steps,
        "final_loss": rows[-1]["loss"] if rows else None,
        "first_loss": rows[0]["loss"] if rows else None,
    }
