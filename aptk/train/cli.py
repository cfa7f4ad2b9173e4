"""Command line for the pretraining stage (one process, or every rank under torchrun).

    python -m aptk.train.cli --shards DIR --tokenizer DIR [--out outputs] \
        [--model tiny] [--train default] [--seed 0] [train.max_steps=100 model.n_layers=2 ...]
    torchrun --nproc_per_node 2 -m aptk.train.cli --shards DIR --tokenizer DIR --train debug

`--model` / `--train` name a file in conf/model, conf/train (or give a yaml path); trailing
`key=value` overrides use OmegaConf dot-list syntax. Prints the stage dir.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from aptk.core.config import build
from aptk.core.paths import CONF_DIR as CONF


def _load_group(group: str, name: str):
    from omegaconf import OmegaConf

    path = Path(name) if name.endswith((".yaml", ".yml")) else CONF / group / f"{name}.yaml"
    cfg = OmegaConf.load(path)
    defaults = cfg.pop("defaults", None) if "defaults" in cfg else None
    base = OmegaConf.create()
    for d in defaults or []:
        if d != "_self_":
            base = OmegaConf.merge(base, _load_group(group, str(d)))
    return OmegaConf.merge(base, cfg)


def load_configs(
    model: str = "tiny", train: str = "default", seed: int = 0, overrides: list[str] | None = None
):
    """(TrainConfig, ModelConfig) from conf/ files plus dot-list overrides, validated."""
    from omegaconf import OmegaConf

    from aptk.train.config import TrainConfig
    from aptk.train.model import ModelConfig

    root = OmegaConf.create(
        {"seed": seed, "model": _load_group("model", model), "train": _load_group("train", train)}
    )
    root = OmegaConf.merge(root, OmegaConf.from_dotlist(list(overrides or [])))
    plain = OmegaConf.to_container(root, resolve=True)
    return build(TrainConfig, plain["train"], "train"), build(ModelConfig, plain["model"], "model")


def main(argv: list[str] | None = None) -> None:
    from aptk.train.loop import run

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shards", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--heldout", default=None)
    ap.add_argument("--out", default="outputs")
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--train", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stop-after-steps", type=int, default=None)
    ap.add_argument("overrides", nargs="*", help="train.key=value / model.key=value")
    a = ap.parse_args(argv)
    tcfg, mcfg = load_configs(a.model, a.train, a.seed, a.overrides)
    out = run(tcfg, mcfg, a.shards, a.tokenizer, a.out, heldout_dir=a.heldout,
              stop_after_steps=a.stop_after_steps)
    if os.environ.get("RANK", "0") == "0":  # one line from torchrun, not one per rank
        print(out)


if __name__ == "__main__":
    main()
