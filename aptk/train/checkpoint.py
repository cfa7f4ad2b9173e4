"""Training checkpoints: weights, optimizer, schedule position, RNG states and data position.

Layout: `<stage>/checkpoints/step-NNNNNNN/` with `config.json` + `model.safetensors` (an HF
model dir, so `init_from` and `AutoModelForCausalLM.from_pretrained` accept it),
`optimizer.pt`, `rng.pt` and `state.json` ({step, tokens, lr, ...}). Each checkpoint is written
into a hidden temp dir and renamed into place, so every `step-*` dir is complete; a run killed
at any point resumes from the newest one. The data position is the step: batches are a pure
function of (step, micro-step, rank).

    python -m aptk.train.checkpoint STAGE_DIR    # list checkpoints and their state
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aptk.core.io import atomic_write_json

PREFIX = "step-"


def ckpt_name(step: int) -> str:
    return f"{PREFIX}{step:07d}"


def list_checkpoints(ckpt_root: str | Path) -> list[tuple[int, Path]]:
    root = Path(ckpt_root)
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith(PREFIX) and (p / "state.json").is_file():
            out.append((int(p.name[len(PREFIX) :]), p))
    return sorted(out)


def latest(ckpt_root: str | Path) -> tuple[int, Path] | None:
    c = list_checkpoints(ckpt_root)
    return c[-1] if c else None


def rng_state() -> dict[str, Any]:
    st: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain HF model under DDP / torch.compile wrappers."""
    while True:
        if hasattr(model, "module"):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def save(
    ckpt_root: str | Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write checkpoint `step` atomically (temp dir + rename); prune to the newest `keep`."""
    root = Path(ckpt_root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / ckpt_name(step)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        unwrap(model).save_pretrained(tmp, safe_serialization=True)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(rng_state(), tmp / "rng.pt")
        atomic_write_json(tmp / "state.json", {"step": step, **state})
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for _, old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(f".{PREFIX}*"):
        if stale != tmp:
            shutil.rmtree(stale, ignore_errors=True)
    return final


def load_weights(model: torch.nn.Module, model_dir: str | Path) -> None:
    """Load every `*.safetensors` of an HF dir into `model` exactly (tied lm_head allowed)."""
    from safetensors.torch import load_file

    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{model_dir}: no *.safetensors weights")
    sd: dict[str, torch.Tensor] = {}
    for f in files:
        sd.update(load_file(str(f)))
    target = unwrap(model)
    res = target.load_state_dict(sd, strict=False)
    tied = getattr(target.config, "tie_word_embeddings", False)
    missing = [k for k in res.missing_keys if not (tied and k == "lm_head.weight")]
    if missing or res.unexpected_keys:
        raise ValueError(
            f"{model_dir}: weights do not fit the model (missing {missing[:5]}, "
            f"unexpected {res.unexpected_keys[:5]})"
        )
    if tied:
        target.tie_weights()


def load(
    path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore weights, optimizer and RNG from checkpoint dir `path`; returns its state.json."""
    path = Path(path)
    load_weights(model, path)
    optimizer.load_state_dict(
        torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False)
    )
    set_rng_state(torch.load(path / "rng.pt", weights_only=False))
    return json.loads((path / "state.json").read_text())


if __name__ == "__main__":
    for step, p in list_checkpoints(Path(sys.argv[1]) / "checkpoints"):
        print(step, p, (p / "state.json").read_text().strip().replace("\n", " "))
