"""aptk pretraining loop over transformers' LlamaForCausalLM (from scratch).

    python -m aptk.train.cli --help

API: `run(train_cfg, model_cfg, shards_dir, tokenizer_dir, out_root, hooks=None, ...) -> Path`
(`aptk.train.loop`), `TrainConfig` (`aptk.train.config`).
"""

from aptk.train.config import TrainConfig, lr_at
from aptk.train.loop import run

__all__ = ["TrainConfig", "lr_at", "run"]
