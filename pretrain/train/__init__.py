"""aptk pretraining loop over transformers' LlamaForCausalLM (from scratch).

    python -m pretrain.train.cli --help

API: `run(train_cfg, model_cfg, shards_dir, tokenizer_dir, out_root, hooks=None, ...) -> Path`
(`pretrain.train.loop`), `TrainConfig` (`pretrain.train.config`).
"""

from pretrain.train.config import TrainConfig, lr_at
from pretrain.train.loop import run

__all__ = ["TrainConfig", "lr_at", "run"]
