"""Training config (`conf/train/*.yaml` maps onto `TrainConfig` one to one) and the LR schedule.

python -m aptk.train.config          # print the defaults as YAML-ish key: value lines
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from aptk.core.config import check
from aptk.core.stage import key_config, runtime_field


@dataclass
class OptimConfig:
    """Optimiser and runtime fields shared by pretraining (`TrainConfig`) and every post-training
    stage (`aptk.posttrain.loop.PostTrainConfig`): AdamW + warmup/cosine, clipping, dtype, seed.
    Runtime fields (threads, device, progress, keep_freed_memory) are not in the key as fields;
    the effective CPU thread count enters training stage keys as `cpu_threads`
    (aptk.train.common.thread_key)."""

    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_ratio: float = 0.05
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    adam_eps: float = 1e-8
    clip: float = 1.0
    seed: int = 0
    dtype: str = "float32"
    log_every: int = 10
    threads: int = runtime_field(0, doc="torch threads (0 = torch default)")
    device: str = runtime_field("auto", doc="auto | cpu | cuda[:N]")
    progress: bool = runtime_field(True, doc="tqdm progress bar")
    keep_freed_memory: bool = runtime_field(
        True, doc="CPU: glibc keeps freed memory (aptk.train.common.keep_freed_memory; speed only)"
    )

    def validate(self, prefix: str = "") -> None:
        for f in ("batch_size", "grad_accum", "log_every"):
            check(getattr(self, f) >= 1, prefix, f, "must be >= 1")
        check(self.threads >= 0, prefix, "threads", "must be >= 0")
        check(0 <= self.warmup_ratio < 1, prefix, "warmup_ratio", "must be in [0, 1)")
        check(self.lr > 0, prefix, "lr", "must be > 0")
        check(0 <= self.min_lr_ratio <= 1, prefix, "min_lr_ratio", "must be in [0, 1]")
        check(self.weight_decay >= 0, prefix, "weight_decay", "must be >= 0")
        check(0 <= self.beta1 < 1, prefix, "beta1", "must be in [0, 1)")
        check(0 <= self.beta2 < 1, prefix, "beta2", "must be in [0, 1)")
        check(self.adam_eps > 0, prefix, "adam_eps", "must be > 0")
        check(self.clip >= 0, prefix, "clip", "must be >= 0 (0 disables clipping)")
        check(
            self.dtype in ("float32", "bfloat16"),
            prefix,
            "dtype",
            f"must be 'float32' or 'bfloat16' (autocast), got {self.dtype!r}",
        )
        check(
            self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
            prefix,
            "device",
            "must be 'auto', 'cpu' or 'cuda[:N]'",
        )

    def stage_config(self) -> dict:
        """The fields that define the result (the stage key): all but the runtime fields."""
        return key_config(self)


@dataclass
class TrainConfig(OptimConfig):
    """Pretraining hyper-parameters.

    `batch_size` is the *global* number of rows per micro-step (split over DDP ranks), so one
    optimizer step consumes batch_size * grad_accum * seq_len tokens whatever the world size.
    Length: `max_steps` if set, else `total_tokens` (rounded down to whole steps), else one pass
    over the shards."""

    seq_len: int = 256
    warmup_steps: int | None = None
    total_tokens: int | None = None
    max_steps: int | None = None
    compile: bool = False
    fused_loss: bool = True  # chunked LM head + CE (aptk.train.fused_ce): faster, less memory
    loss_chunk: int = 0  # tokens per chunk of the fused loss; 0 = auto (fused_ce.auto_chunk)
    attn_implementation: str = "sdpa"
    # checkpoint cadence may differ between a killed run and its resume: runtime, not in the key
    ckpt_every: int = runtime_field(200)
    keep_checkpoints: int = runtime_field(2)
    eval_every: int = 0
    eval_tokens: int = 65536
    init_from: str | None = None
    wandb: bool = runtime_field(False)
    wandb_project: str = runtime_field("aptk")

    def validate(self, prefix: str = "") -> None:
        super().validate(prefix)
        for f in ("seq_len", "keep_checkpoints"):
            check(getattr(self, f) >= 1, prefix, f, "must be >= 1")
        for f in ("ckpt_every", "eval_every", "eval_tokens", "loss_chunk"):
            check(getattr(self, f) >= 0, prefix, f, "must be >= 0")
        check(
            self.warmup_steps is None or self.warmup_steps >= 0,
            prefix,
            "warmup_steps",
            "must be >= 0 (or null: warmup_ratio of the run's steps)",
        )
        check(
            self.total_tokens is None or self.total_tokens > 0,
            prefix,
            "total_tokens",
            "must be > 0",
        )
        check(self.max_steps is None or self.max_steps > 0, prefix, "max_steps", "must be > 0")
        check(
            self.attn_implementation in ("sdpa", "eager"),
            prefix,
            "attn_implementation",
            "must be 'sdpa' or 'eager'",
        )

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.grad_accum * self.seq_len

    def n_steps(self, available_steps: int | None = None, prefix: str = "train") -> int:
        """Optimizer steps of the run; ConfigError if the shards hold fewer."""
        if self.max_steps is not None:
            n, key = self.max_steps, "max_steps"
        elif self.total_tokens is not None:
            n, key = self.total_tokens // self.tokens_per_step, "total_tokens"
            check(
                n >= 1,
                prefix,
                key,
                f"{self.total_tokens} tokens is less than one step ({self.tokens_per_step} tokens)",
            )
        else:
            check(
                bool(available_steps),
                prefix,
                "total_tokens",
                "the shards hold less than one step of tokens",
            )
            n, key = int(available_steps), "total_tokens"  # type: ignore[arg-type]
        if available_steps is not None:
            check(
                n <= available_steps,
                prefix,
                key,
                f"needs {n} steps x {self.tokens_per_step} tokens but the shards hold only "
                f"{available_steps} full steps",
            )
        check(
            self.warmup(n) <= n,
            prefix,
            "warmup_steps",
            f"{self.warmup_steps} warmup steps exceed the run's {n} steps",
        )
        return n

    def warmup(self, n_steps: int) -> int:
        """Warmup steps: `warmup_steps` if set, else ceil(warmup_ratio * n_steps)."""
        if self.warmup_steps is not None:
            return self.warmup_steps
        return math.ceil(self.warmup_ratio * n_steps)


def lr_at(cfg: TrainConfig, step: int, n_steps: int) -> float:
    """Linear warmup from lr/W to lr over W = cfg.warmup(n_steps) steps, then cosine decay to
    lr * min_lr_ratio at the last step."""
    return cosine_lr(step, n_steps, cfg.lr, cfg.warmup(n_steps), cfg.min_lr_ratio)


def cosine_lr(step: int, n_steps: int, lr: float, warmup: int, min_lr_ratio: float) -> float:
    """Linear warmup over `warmup` steps, then cosine from lr to lr*min_lr_ratio at the last step."""
    if step < warmup:
        return lr * (step + 1) / warmup
    span = max(1, n_steps - 1 - warmup)
    progress = min(1.0, (step - warmup) / span)
    lo = lr * min_lr_ratio
    return lo + (lr - lo) * 0.5 * (1.0 + math.cos(math.pi * progress))


if __name__ == "__main__":
    for k, v in dataclasses.asdict(TrainConfig()).items():
        print(f"{k}: {'null' if v is None else v}")
