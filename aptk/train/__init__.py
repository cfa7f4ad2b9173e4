"""aptk pretraining loop over transformers' LlamaForCausalLM (from scratch).

    python -m aptk.train.cli --help          # or the `aptk-train` script

API: `run(train_cfg, model_cfg, shards_dir, tokenizer_dir, out_root, hooks=None, ...) -> Path`
(`aptk.train.loop`), `TrainConfig` and `lr_at` (`aptk.train.config`). They are re-exported here
lazily (PEP 562), so importing a submodule such as `aptk.train.model` does not pull in the loop
and the package has no import cycle.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "aptk.train.config",
    "lr_at": "aptk.train.config",
    "run": "aptk.train.loop",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'aptk.train' has no attribute {name!r}")
