"""Pieces shared by the training stages (pretraining here, SFT/DPO in aptk.posttrain):
model construction, AdamW, determinism, metrics.jsonl and HF export.

    python -m aptk.train.cli ...        # (aptk.train.loop.run uses these)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from aptk.core.errors import ConfigError
from aptk.core.hashing import derive_seed
from aptk.core.io import atomic_write_text
from aptk.core.manifest import Stage
from aptk.train import checkpoint as ckpt
from aptk.train.config import OptimConfig, TrainConfig
from aptk.train.model import ModelConfig

STAGE = "train"


def build_model(model_cfg: ModelConfig, tokenizer: Any, cfg: TrainConfig, init_from: str | None):
    """A fresh LlamaForCausalLM (seeded init) or one loaded exactly from `init_from`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    lc = model_cfg.to_llama_config(
        len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    lc._attn_implementation = cfg.attn_implementation
    if init_from is not None:
        src = LlamaConfig.from_pretrained(init_from)
        for k in (
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "tie_word_embeddings",
        ):
            if getattr(src, k) != getattr(lc, k):
                raise ConfigError(
                    "train.init_from",
                    f"{init_from} has {k}={getattr(src, k)} but "
                    f"the model config / tokenizer give {getattr(lc, k)}",
                )
    torch.manual_seed(derive_seed(cfg.seed, STAGE, "init"))
    model = LlamaForCausalLM(lc)
    if init_from is not None:
        ckpt.load_weights(model, init_from)
    return model


def thread_key(threads: int, device: str) -> dict[str, int]:
    """The stage-key entry for CPU thread count: {"cpu_threads": n} on CPU, {} elsewhere.
    oneDNN/BLAS split GEMMs and Inductor splits reductions over the threads, so at `tiny` shapes
    1 and 2 threads give different weights (measured: the sha256 of model.safetensors differs
    after 20 steps, fp32 or bf16, eager or compiled); the count is therefore part of the key of
    every training stage, so that a cache hit always means identical bytes."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if not device.startswith("cpu"):
        return {}
    return {"cpu_threads": threads if threads > 0 else torch.get_num_threads()}


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory in the process instead of handing it back to the kernel:
    M_MMAP_MAX=0 (large blocks come from the heap, not from a fresh mmap each) and the largest
    M_TRIM_THRESHOLD (the heap top is not trimmed). PyTorch's CPU allocator has no cache: every
    activation and gradient tensor is malloc'd and freed each step, and with glibc's defaults each
    one above the mmap threshold (32 MB at most) is a new mapping whose pages fault in again on the
    next step. Measured (1 thread, bf16 recipe, docs/performance.md): `125m` 844 -> 889 tokens/s,
    minor faults -40%; d_model 2048 x 4 layers 398 -> 451 tokens/s. Values are unchanged (same
    bytes); the process keeps its high-water mark. Process-wide and not undone; returns whether
    it applied (False off glibc/Linux, where it does nothing)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


def apply_runtime(cfg: OptimConfig, device_type: str) -> None:
    """What every training loop (pretraining, the post-training loop, the trl backends) applies
    before its first step from its config's runtime fields: the torch thread count, and on CPU
    `keep_freed_memory`."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if device_type == "cpu" and cfg.keep_freed_memory:
        keep_freed_memory()  # no mmap + page faults per large tensor per step (speed only)


def seed_all(seed: int) -> None:
    """Seed torch, numpy's and Python's global RNGs from one derived seed. The trainer draws
    only from torch, but checkpoints save all three states (rng.pt): unseeded numpy/Python
    states would make checkpoint bytes differ between identical runs."""
    import random

    import numpy as np

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


@contextlib.contextmanager
def deterministic():
    """torch deterministic algorithms (warn-only) for the block; the previous mode is restored."""
    prev, prev_warn = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)


def make_optimizer(model: torch.nn.Module, cfg: Any) -> torch.optim.Optimizer:
    """AdamW (cfg: lr, weight_decay, beta1, beta2, adam_eps); decay on matrices, none on norms.
    The fused kernel (CPU and CUDA) when the device has one: ~25x faster than the per-tensor
    loop for small models on CPU, elementwise and deterministic."""
    decay, no_decay, seen = [], [], set()
    for _, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    kw = {"lr": cfg.lr, "betas": (cfg.beta1, cfg.beta2), "eps": cfg.adam_eps}
    dev = next(model.parameters()).device.type
    return torch.optim.AdamW(groups, **kw, fused=dev in ("cpu", "cuda"))


def read_metrics(path: Path, upto_step: int) -> list[dict]:
    if not path.is_file():
        return []
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [r for r in rows if r.get("step", 0) <= upto_step]


def write_metrics(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def export_model(st: Stage, model: torch.nn.Module, tok: Any) -> Path:
    """`model/`: save_pretrained (safetensors) + tokenizer files, renamed into place at once."""
    final = st.path("model")
    tmp = Path(tempfile.mkdtemp(prefix=".model.", dir=st.dir))
    m = ckpt.unwrap(model)
    m.config.use_cache = True
    m.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final
