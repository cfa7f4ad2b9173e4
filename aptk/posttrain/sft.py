"""Supervised fine-tuning on chat data, loss on assistant tokens only (stage "sft"); the same
code with capability-only data is benign tampering (stage "tamper", `aptk.posttrain.tamper`).

    python -m aptk.posttrain.sft --model outputs/train/<key>/model [--out outputs] \
        [--data builtin:sft_v1] [--epochs 2] [--lr 3e-4]

Output `<out>/sft/<key>/`: `model/` (HF dir + tokenizer with the chat template),
`metrics.jsonl`, manifest (counts: examples, dropped_too_long, steps).

Backends (`backend=`): `own` (default; aptk.posttrain.loop) or `trl` (trl.SFTTrainer fed the same
pre-tokenized (input_ids, labels) rows; trl >= 1.7 uses a `labels` column as is). Both average
the loss over the assistant tokens of an optimiser step (tests/posttrain/test_sft_trl.py checks
one batch).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from aptk.core.config import build, check, validate_all
from aptk.core.errors import InputError
from aptk.core.stage import open_stage
from aptk.posttrain.common import (
    data_ref,
    encode_chat,
    load_model,
    load_rows,
    pad_batch,
    token_logps,
    train_trl,
    trl_args,
)
from aptk.posttrain.loop import PostTrainConfig, fit
from aptk.train.common import thread_key


@dataclass
class SFTConfig(PostTrainConfig):
    """SFT on `data` (chat jsonl: {"messages": [...]}) — defaults: the built-in instruct set
    (help + refusals + ai_safety)."""

    data: str = "builtin:sft_v1"
    backend: str = "own"  # own | trl

    def validate(self, prefix: str = "") -> None:
        super().validate(prefix)
        check(self.backend in ("own", "trl"), prefix, "backend", "must be 'own' or 'trl'")


def run(cfg: SFTConfig, model_dir: str | Path, out_root: str | Path, stage: str = "sft") -> Path:
    """Fine-tune the HF model in `model_dir` (e.g. a train stage's `model/`); returns the dir."""
    validate_all(cfg, stage)
    st = open_stage(
        stage,
        cfg,
        inputs={"model": model_dir},
        extra={"data": data_ref(cfg.data), **thread_key(cfg.threads, cfg.device)},
        root=out_root,
        version="1",
    )
    if st.done:
        return st.dir
    model, tok = load_model(model_dir, device=cfg.device)
    rows = load_rows(cfg.data, "chat", cfg.kinds, cfg.max_examples)
    units, dropped = encode_chat_rows(tok, rows, cfg.max_len, cfg.data)
    if cfg.backend == "trl":
        summary = train_trl(st, cfg, lambda out: trl_sft_trainer(cfg, model, tok, units, out), tok)
    else:
        summary = fit_assistant_tokens(st, cfg, model, tok, units)
    st.finish(
        counts={"examples": len(units), "dropped_too_long": dropped, "steps": summary["steps"]},
        files=["model/model.safetensors", "metrics.jsonl"],
        extra=summary,
    )
    return st.dir


def encode_chat_rows(tok, rows: list[dict], max_len: int, source: str) -> tuple[list, int]:
    """(input_ids, labels) units of chat rows (loss on assistant tokens) and how many rows were
    longer than `max_len` (dropped, counted); InputError naming `source` if none is left."""
    units, dropped = [], 0
    for r in rows:
        enc = encode_chat(tok, r["messages"], max_len)
        if enc is None:
            dropped += 1
        else:
            units.append(enc)
    if not units:
        raise InputError(source, None, "messages", f"every row is longer than max_len={max_len}")
    return units, dropped


def fit_assistant_tokens(
    st, cfg: PostTrainConfig, model: torch.nn.Module, tok, units: list
) -> dict:
    """The own loop (`fit`) with the token loss on labelled (assistant) tokens, averaged over a
    step's labelled tokens: SFT, tampering and every chat fine-tune built on them."""
    pad = tok.pad_token_id

    def n_targets(u: tuple[list[int], list[int]]) -> float:
        return float(sum(1 for t in u[1][1:] if t != -100))

    def loss_fn(m: torch.nn.Module, mb: list) -> tuple[torch.Tensor, dict[str, float]]:
        lp, _ = token_logps(m, pad_batch(mb, pad))
        return -lp.sum(), {}

    return fit(st, cfg, model, tok, units, n_targets, loss_fn)


def trl_sft_trainer(cfg: SFTConfig, model: torch.nn.Module, tok, units: list, output_dir: str):
    """trl.SFTTrainer on the (input_ids, labels) rows of `encode_chat` with the stage's
    hyper-parameters (no packing, no padding-free batches: the own loop's batches)."""
    from datasets import Dataset
    from trl import SFTConfig as TrlSFTConfig
    from trl import SFTTrainer

    ds = Dataset.from_list([{"input_ids": ids, "labels": lab} for ids, lab in units])
    args = TrlSFTConfig(
        output_dir=output_dir,
        packing=False,
        padding_free=False,
        **trl_args(cfg, "sft", len(units), model),
    )
    return SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)


def main(
    argv: list[str] | None = None, cls: type = SFTConfig, stage: str = "sft", run_fn=None
) -> None:
    """Shared CLI of the post-training stages: --model DIR --out ROOT [--config NAME] key=value ..."""
    ap = argparse.ArgumentParser(description=f"{stage}: " + __doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", default="outputs")
    ap.add_argument(
        "--config",
        default=None,
        help="conf/posttrain/<name>.yaml or a YAML path (default: the stage's own, e.g. sft)",
    )
    ap.add_argument("overrides", nargs="*", help="key=value (Hydra syntax), e.g. epochs=3 lr=1e-4")
    a = ap.parse_args(argv)
    from aptk.core.compose import compose_group

    cfg = build(cls, compose_group("posttrain", a.config or stage, a.overrides), stage)
    print(run_fn(cfg, a.model, a.out) if run_fn else run(cfg, a.model, a.out, stage=stage))


if __name__ == "__main__":
    main()
