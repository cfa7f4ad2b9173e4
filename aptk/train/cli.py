"""Command line for the pretraining stage (one process, or every rank under torchrun).

    python -m aptk.train.cli --shards DIR --tokenizer DIR [--out outputs] \
        [--model tiny] [--train default] [--seed 0] [train.max_steps=100 model.n_layers=2 ...]
    torchrun --nproc_per_node 2 -m aptk.train.cli --shards DIR --tokenizer DIR --train debug

`--model` / `--train` name a file in conf/model, conf/train (or give a yaml path); trailing
`key=value` overrides use Hydra's override syntax (composed by aptk.core.compose). Prints the stage dir.
"""

from __future__ import annotations

import argparse
import os

from aptk.core.compose import compose_group
from aptk.core.config import build
from aptk.core.errors import ConfigError


def load_configs(
    model: str = "tiny", train: str = "default", seed: int = 0, overrides: list[str] | None = None
):
    """(TrainConfig, ModelConfig) from conf/ files (or YAML paths) plus `train.key=value` /
    `model.key=value` overrides, composed by Hydra (aptk.core.compose) and validated."""
    from aptk.train.config import TrainConfig
    from aptk.train.model import ModelConfig

    groups: dict[str, list[str]] = {"model": [], "train": []}
    for o in overrides or []:
        g, _, rest = o.partition(".")
        if g not in groups or not rest:
            raise ConfigError(o, "overrides must look like train.key=value or model.key=value")
        groups[g].append(rest)
    root = {"seed": seed}
    tcfg = compose_group("train", train, groups["train"], root=root)
    mcfg = compose_group("model", model, groups["model"], root=root)
    return build(TrainConfig, tcfg, "train"), build(ModelConfig, mcfg, "model")


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
    out = run(
        tcfg,
        mcfg,
        a.shards,
        a.tokenizer,
        a.out,
        heldout_dir=a.heldout,
        stop_after_steps=a.stop_after_steps,
    )
    if os.environ.get("RANK", "0") == "0":  # one line from torchrun, not one per rank
        print(out)


if __name__ == "__main__":
    main()
