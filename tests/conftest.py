"""Shared test setup: offline, deterministic, small thread count, W&B disabled."""

import os

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault(
    "MKL_CBWR", "AUTO,STRICT"
)  # as aptk/__init__.py: thread-count-invariant GEMMs
