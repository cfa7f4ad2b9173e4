"""Held-out loss and the periodic eval-hook interface used by the training loop.

A hook is any callable `hook(step, model, tokenizer) -> dict[str, float]`; the loop calls every
hook each `eval_every` steps and at the end (rank 0, model in eval mode, no grad, torch RNG
restored afterwards so hooks that sample do not change training) and logs the merged dict as a
`{"kind": "eval", ...}` row of metrics.jsonl.

    python -m aptk.train.cli ... --heldout SHARDS_DIR train.eval_every=100   # held-out loss
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F

from aptk.train.data import TokenSource

Hook = Callable[[int, Any, Any], dict]


def as_hook_list(hooks: Hook | Iterable[Hook] | None) -> list[Hook]:
    if hooks is None:
        return []
    if callable(hooks):
        return [hooks]
    return list(hooks)


@torch.no_grad()
def heldout_loss(
    model: torch.nn.Module,
    source: TokenSource,
    seq_len: int,
    batch_size: int,
    max_tokens: int,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Mean next-token loss over the first `max_tokens` tokens of `source` (whole rows only)."""
    n_rows = max(0, min(max_tokens, int(source.n_tokens) - 1) // seq_len)
    if n_rows == 0:
        return {}
    total, count = 0.0, 0
    for r0 in range(0, n_rows, batch_size):
        n = min(batch_size, n_rows - r0)
        flat = torch.from_numpy(source.read(r0 * seq_len, n * seq_len + 1).astype("int64"))
        idx = torch.arange(n)[:, None] * seq_len + torch.arange(seq_len + 1)[None, :]
        win = flat[idx].to(device)
        with torch.autocast(
            device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None
        ):
            logits = model(input_ids=win[:, :-1], use_cache=False).logits
        loss = F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), win[:, 1:].reshape(-1), reduction="sum"
        )
        total += float(loss)
        count += n * seq_len
    mean = total / count
    return {"heldout_loss": mean, "heldout_ppl": math.exp(min(mean, 50.0)), "heldout_tokens": count}


def run_hooks(hooks: list[Hook], step: int, model: torch.nn.Module, tokenizer: Any) -> dict:
    out: dict = {}
    if not hooks:
        return out
    was_training = model.training
    model.eval()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        for h in hooks:
            res = h(step, model, tokenizer) or {}
            if not isinstance(res, dict):
                raise TypeError(f"eval hook {h!r} returned {type(res).__name__}, expected a dict")
            out.update(res)
    model.train(was_training)
    return out
