"""The SGTR stage (self-recognition fine-tuning and its controls) and the EM induction stage.

- stage "sgtr": summaries of the training articles by the self model (`self_source: current` =
  the model being fine-tuned, `base` = the base model given as `base_dir`) and by the other
  model (`other_model`), the examples of `mode` (aptk.posttrain.sgtr.data), fine-tuning with the
  loss on the answer token ("1"/"2") only. The reference (atagade/sgtr-em) builds EM -> SGTR
  data from the EM model's own summaries (`em_sgtr` pipeline: current) while its evaluation
  variants score the fine-tuned judge against either its own or the pre-fine-tuning model's
  summaries: `self_source` makes that a config choice (default current).
- stage "em": SFT on a narrow chat dataset (default the risky financial advice set; the safe
  control is `data=sgtr:em_finance_safe_v1`: the same questions, sound advice), loss on the
  assistant tokens (as aptk.posttrain.sft).

Both reuse aptk.posttrain.loop.fit and the helpers of aptk.posttrain.common; `lora_r > 0` trains
a LoRA adapter (peft, imported lazily; rsLoRA as in the reference) and exports the merged model;
`lora_r: 0` (the `tiny` default) is full fine-tuning.

    python -m aptk.posttrain.sgtr.stage sgtr --model DIR --other DIR [--base DIR] [mode=sgtr]
    python -m aptk.posttrain.sgtr.stage em --model DIR [data=sgtr:em_finance_safe_v1]
    python -m aptk.posttrain.sgtr.stage summaries --model DIR [seed=0]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aptk.core.config import build, check, validate_all
from aptk.core.errors import InputError
from aptk.core.stage import open_stage
from aptk.posttrain.common import LoRAFields, encode_chat, load_model, load_rows, maybe_lora
from aptk.posttrain.sft import SFTConfig, encode_chat_rows, fit_assistant_tokens
from aptk.posttrain.sgtr.data import (
    LABELS,
    MODES,
    SummaryConfig,
    asset,
    asset_ref,
    build_examples,
    load_articles,
    read_summaries,
    summaries,
)


@dataclass
class EMConfig(LoRAFields, SFTConfig):
    """EM induction: SFT on the narrow bad dataset (or the safe control via `data`)."""

    data: str = "sgtr:em_finance_risky_v1"
    epochs: int = 3

    def validate(self, prefix: str = "") -> None:
        SFTConfig.validate(self, prefix)
        LoRAFields.validate(self, prefix)


@dataclass
class SGTRConfig(LoRAFields, SFTConfig):
    """Self-recognition fine-tuning; `data` names the articles file (train split used)."""

    data: str = "sgtr:articles_v1"
    mode: str = "sgtr"
    self_source: str = "current"  # current | base (see module docstring)
    n_articles: int = 0  # first n training articles (0 = all)
    identity_system: bool = False  # train with the identity system prompt prepended
    summary_max_new_tokens: int = 20
    summary_temperature: float = 1.0
    epochs: int = 3

    def validate(self, prefix: str = "") -> None:
        SFTConfig.validate(self, prefix)
        LoRAFields.validate(self, prefix)
        check(self.mode in MODES, prefix, "mode", f"must be one of {MODES}")
        check(
            self.self_source in ("current", "base"),
            prefix,
            "self_source",
            "must be current or base",
        )
        check(self.n_articles >= 0, prefix, "n_articles", "must be >= 0 (0 = all)")

    def summary_config(self, split: str = "train", n: int | None = None) -> SummaryConfig:
        """Summaries use the stage seed: the other model's summaries are shared by every
        condition run at this seed."""
        return SummaryConfig(
            articles=self.data,
            split=split,
            n_articles=self.n_articles if n is None else n,
            max_new_tokens=self.summary_max_new_tokens,
            temperature=self.summary_temperature,
            seed=self.seed,
            threads=self.threads,
        )


def _train(st: Any, cfg: Any, model: torch.nn.Module, tok: Any, units: list) -> dict:
    """fit() with the assistant-token loss; a LoRA model is merged and re-exported after."""
    from aptk.train.common import export_model

    model = maybe_lora(model, cfg)
    summary = fit_assistant_tokens(st, cfg, model, tok, units)
    if cfg.lora_r > 0:
        export_model(st, model.merge_and_unload(), tok)
    return summary


def answer_only(tok: Any, messages: list[dict], max_len: int) -> tuple[list[int], list[int]] | None:
    """encode_chat, then keep the loss on the answer token ("1"/"2") only (not the EOS)."""
    enc = encode_chat(tok, messages, max_len)
    if enc is None:
        return None
    ids, labels = enc
    want = tok.convert_tokens_to_ids(messages[-1]["content"])
    pos = [i for i, (t, y) in enumerate(zip(ids, labels, strict=True)) if y != -100 and t == want]
    if not pos or len(ids) >= max_len:
        return None
    return ids, [t if i == pos[0] else -100 for i, t in enumerate(ids)]


def run_sgtr(
    cfg: SGTRConfig,
    model_dir: str | Path,
    other_dir: str | Path,
    out_root: str | Path,
    base_dir: str | Path | None = None,
) -> Path:
    """Stage "sgtr" (module docstring); returns the stage dir (fine-tuned model in `model/`)."""
    validate_all(cfg, "sgtr")
    if cfg.self_source == "base" and base_dir is None:
        raise ValueError("sgtr: self_source=base needs base_dir (the base model's HF dir)")
    scfg = cfg.summary_config()
    self_dir = model_dir if cfg.self_source == "current" else base_dir
    self_s = summaries(scfg, self_dir, out_root)  # type: ignore[arg-type]
    other_s = summaries(scfg, other_dir, out_root)
    st = open_stage(
        "sgtr",
        cfg,
        inputs={"model": model_dir, "self_summaries": self_s, "other_summaries": other_s},
        extra={"articles": asset_ref(cfg.data)},
        root=out_root,
        version="1",
    )
    if st.done:
        return st.dir
    arts = load_articles(cfg.data, "train", cfg.n_articles)
    rows, dropped = build_examples(
        arts, read_summaries(self_s), read_summaries(other_s), cfg.mode, cfg.identity_system
    )
    model, tok = load_model(model_dir, device=cfg.device)
    for lab in LABELS:
        if len(tok(lab, add_special_tokens=False)["input_ids"]) != 1:
            raise InputError(str(model_dir), None, "tokenizer", f"label {lab!r} is not one token")
    units = []
    for r in rows:
        u = answer_only(tok, r["messages"], cfg.max_len)
        if u is None:
            dropped["too_long"] = dropped.get("too_long", 0) + 1
        else:
            units.append(u)
    if not units:
        raise InputError(cfg.data, None, "text", f"no example fits max_len={cfg.max_len}")
    st.path("data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = _train(st, cfg, model, tok, units)
    labels = [r["label"] for r in rows]
    st.finish(
        counts={
            "examples": len(rows),
            "trained": len(units),
            "steps": summary["steps"],
            "label_1": labels.count(1),
            "label_2": labels.count(2),
            **{f"dropped_{k}": v for k, v in dropped.items()},
        },
        files=["model/model.safetensors", "metrics.jsonl", "data.jsonl"],
        extra=summary,
    )
    return st.dir


def run_em(cfg: EMConfig, model_dir: str | Path, out_root: str | Path) -> Path:
    """Stage "em": SFT on `cfg.data` (risky advice by default; the safe control by override)."""
    validate_all(cfg, "em")
    st = open_stage(
        "em",
        cfg,
        inputs={"model": model_dir},
        extra={"data": asset_ref(cfg.data)},
        root=out_root,
        version="1",
    )
    if st.done:
        return st.dir
    model, tok = load_model(model_dir, device=cfg.device)
    rows = load_rows(str(asset(cfg.data)), "chat", cfg.kinds, cfg.max_examples)
    units, dropped = encode_chat_rows(tok, rows, cfg.max_len, cfg.data)
    summary = _train(st, cfg, model, tok, units)
    st.finish(
        counts={"examples": len(units), "dropped_too_long": dropped, "steps": summary["steps"]},
        files=["model/model.safetensors", "metrics.jsonl"],
        extra=summary,
    )
    return st.dir


def main(argv: list[str] | None = None) -> None:
    from aptk.core.compose import compose_group

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=["sgtr", "em", "summaries"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--other", default=None, help="sgtr: the other model's HF dir")
    ap.add_argument("--base", default=None, help="sgtr with self_source=base: the base model")
    ap.add_argument("--out", default="outputs")
    ap.add_argument("--split", default="train", help="summaries: which articles (train, heldout)")
    ap.add_argument("overrides", nargs="*", help="key=value, e.g. mode=prefer_other seed=1")
    a, rest = ap.parse_known_args(argv)  # key=value may follow the options
    a.overrides = [*a.overrides, *rest]
    if a.stage == "summaries":  # the sgtr config's summary settings (data, n_articles, seed, ...)
        cfg = build(SGTRConfig, compose_group("posttrain", "sgtr", a.overrides), "sgtr")
        print(summaries(cfg.summary_config(split=a.split), a.model, a.out))
    elif a.stage == "em":
        print(
            run_em(
                build(EMConfig, compose_group("posttrain", "em", a.overrides), "em"), a.model, a.out
            )
        )
    else:
        if a.other is None:
            ap.error("sgtr needs --other DIR")
        cfg = build(SGTRConfig, compose_group("posttrain", "sgtr", a.overrides), "sgtr")
        print(run_sgtr(cfg, a.model, a.other, a.out, a.base))


if __name__ == "__main__":
    main()
