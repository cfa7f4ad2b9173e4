"""Direct preference optimisation on (prompt, chosen, rejected) pairs (stage "dpo").

    python -m aptk.posttrain.dpo --model outputs/sft/<key>/model [--out outputs] [beta=0.1]

Two backends computing the same sigmoid DPO loss (Rafailov et al. 2023):
    loss = -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))
with pi/ref the summed log-probs of the final assistant answer's tokens (" <answer></s>", the
chat template's generation span; earlier assistant turns in the prompt are context, not scored)
under the policy and the frozen starting model; optional `sft_weight` adds the chosen answers'
NLL averaged over all chosen tokens of a micro-batch (trl's "sft" loss; then averaged over
micro-batches, as the pairs' sigmoid terms are).
Both backends read the same tokens: `pair_units` tokenizes each pair once with the chat template
and hands trl the split (prompt_ids, chosen_ids, rejected_ids), so trl's own tokenization (which
has changed between releases) is not used. tests/posttrain/test_dpo_parity.py checks that the two
backends give the same per-pair log-probs and loss on one batch (trl >= 1.0: the version whose
preference collator takes these columns and whose "sft" loss is the pooled token mean).
- `backend: trl` (default): trl's DPOTrainer (works on CPU with a local tiny model; its Trainer
  output dir is a temp dir outside the stage dir; its log history becomes metrics.jsonl).
- `backend: own`: a ~60-line loop sharing SFT's optimiser/schedule/seeding code; reference
  log-probs computed once before training (two policy forwards per pair per step).

Output `<out>/dpo/<key>/`: `model/`, `metrics.jsonl` (loss, reward_acc, reward_margin per step),
manifest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from aptk.core.config import check, validate_all
from aptk.core.errors import InputError
from aptk.core.manifest import Stage
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
from aptk.posttrain.sft import main as _main
from aptk.train.common import thread_key


@dataclass
class DPOConfig(PostTrainConfig):
    """DPO on preference jsonl ({"prompt": [messages], "chosen": str, "rejected": str})."""

    data: str = "builtin:dpo_v1"
    beta: float = 0.1
    sft_weight: float = 0.0
    lr: float = 5e-5
    epochs: int = 1
    batch_size: int = 4
    backend: str = "trl"

    def validate(self, prefix: str = "") -> None:
        super().validate(prefix)
        check(self.backend in ("trl", "own"), prefix, "backend", "must be 'trl' or 'own'")
        check(self.beta > 0, prefix, "beta", "must be > 0")
        check(self.sft_weight >= 0, prefix, "sft_weight", "must be >= 0")


def _answer_split(ids: list[int], labels: list[int]) -> tuple[list[int], list[int], list[int]]:
    """(prompt ids, answer ids, labels scoring only the answer): the answer is the last run of
    labelled tokens (the final assistant turn); tokens after it are dropped."""
    end = max(i for i, t in enumerate(labels) if t != -100) + 1
    start = end
    while start > 0 and labels[start - 1] != -100:
        start -= 1
    return ids[:start], ids[start:end], [-100] * start + labels[start:end]


def pair_units(tok, rows: list[dict], max_len: int) -> tuple[list[dict], dict[str, int]]:
    """Tokenize preference rows once, for both backends: per pair {"chosen", "rejected": (ids,
    labels)} for the own loop and {"prompt_ids", "chosen_ids", "rejected_ids"} for trl, the same
    tokens. Dropped pairs are counted by reason (too_long: no answer token within max_len;
    prompt_tokens_differ: the prompt tokenizes differently before the two answers)."""
    units, dropped = [], Counter()
    for r in rows:
        enc = [
            encode_chat(tok, r["prompt"] + [{"role": "assistant", "content": r[k]}], max_len)
            for k in ("chosen", "rejected")
        ]
        if enc[0] is None or enc[1] is None:
            dropped["too_long"] += 1
            continue
        (pc, ac, lc), (pr, ar, lr) = (_answer_split(*e) for e in enc)
        if pc != pr or not pc:
            dropped["prompt_tokens_differ"] += 1
            continue
        units.append(
            {
                "chosen": (pc + ac, lc),
                "rejected": (pr + ar, lr),
                "prompt_ids": pc,
                "chosen_ids": ac,
                "rejected_ids": ar,
            }
        )
    return units, dict(sorted(dropped.items()))


def own_loss(
    model: torch.nn.Module, mb: list[dict], pad: int, beta: float, sft_weight: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """The own backend's loss on a micro-batch, summed over its pairs (the loop divides by the
    step's pairs): sigmoid DPO per pair + sft_weight x (chosen NLL averaged over the micro-batch's
    chosen tokens) per pair, i.e. trl's per-micro-batch mean times len(mb)."""
    batch = pad_batch([u["chosen"] for u in mb] + [u["rejected"] for u in mb], pad)
    lp, mask = token_logps(model, batch)
    n = len(mb)
    pol_c, pol_r = lp[:n].sum(-1), lp[n:].sum(-1)
    ref_c = torch.tensor([u["ref_chosen"] for u in mb], device=pol_c.device)
    ref_r = torch.tensor([u["ref_rejected"] for u in mb], device=pol_c.device)
    margin = beta * ((pol_c - ref_c) - (pol_r - ref_r))
    loss = -F.logsigmoid(margin).sum()
    if sft_weight > 0:
        loss = loss + sft_weight * n * (-pol_c.sum() / mask[:n].sum().clamp(min=1))
    return loss, {
        "reward_acc": float((margin > 0).float().sum()),
        "reward_margin": float(margin.detach().sum() / beta),
    }


@torch.no_grad()
def _reference_logps(model: torch.nn.Module, units: list[dict], pad: int, bs: int) -> None:
    model.eval()
    for i in range(0, len(units), bs):
        chunk = units[i : i + bs]
        for side in ("chosen", "rejected"):
            lp, _ = token_logps(model, pad_batch([u[side] for u in chunk], pad))
            for u, v in zip(chunk, lp.sum(-1).tolist()):
                u[f"ref_{side}"] = v
    model.train()


def run(cfg: DPOConfig, model_dir: str | Path, out_root: str | Path) -> Path:
    """Preference-tune the HF model in `model_dir` (usually an SFT stage's `model/`)."""
    validate_all(cfg, "dpo")
    st = open_stage(
        "dpo",
        cfg,
        inputs={"model": model_dir},
        extra={"data": data_ref(cfg.data), **thread_key(cfg.threads, cfg.device)},
        root=out_root,
        version="1",
    )
    if st.done:
        return st.dir
    model, tok = load_model(model_dir, device=cfg.device)
    rows = load_rows(cfg.data, "pref", cfg.kinds, cfg.max_examples)
    units, dropped = pair_units(tok, rows, cfg.max_len)
    if not units:
        raise InputError(
            cfg.data, None, "prompt", f"no usable pair (max_len={cfg.max_len}): {dropped}"
        )
    counts = {"pairs": len(units), **{f"dropped_{k}": v for k, v in dropped.items()}}
    if cfg.backend == "trl":
        summary = _train_trl(st, cfg, model, tok, units)
        st.finish(
            counts={**counts, "steps": summary["steps"]},
            files=["model/model.safetensors", "metrics.jsonl"],
            extra=summary,
        )
        return st.dir
    pad = tok.pad_token_id
    _reference_logps(model, units, pad, cfg.batch_size)

    def loss_fn(model: torch.nn.Module, mb: list[dict]) -> tuple[torch.Tensor, dict[str, float]]:
        return own_loss(model, mb, pad, cfg.beta, cfg.sft_weight)

    summary = fit(st, cfg, model, tok, units, lambda u: 1.0, loss_fn)
    st.finish(
        counts={**counts, "steps": summary["steps"]},
        files=["model/model.safetensors", "metrics.jsonl"],
        extra=summary,
    )
    return st.dir


def trl_trainer(cfg: DPOConfig, model: torch.nn.Module, tok, units: list[dict], output_dir: str):
    """trl.DPOTrainer on the pre-tokenized pairs of `pair_units` (its own tokenization is skipped:
    `_prepare_dataset` returns the dataset as given), with the stage's hyper-parameters."""

    from datasets import Dataset
    from trl import DPOConfig as TrlDPOConfig
    from trl import DPOTrainer

    class PretokenizedDPOTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):  # noqa: ANN001
            return dataset

    cols = ("prompt_ids", "chosen_ids", "rejected_ids")
    ds = Dataset.from_list([{k: u[k] for k in cols} for u in units])
    args = TrlDPOConfig(
        output_dir=output_dir,
        beta=cfg.beta,
        loss_type=["sigmoid", "sft"] if cfg.sft_weight else ["sigmoid"],
        loss_weights=[1.0, cfg.sft_weight] if cfg.sft_weight else None,
        **trl_args(cfg, "dpo", len(units), model),
    )
    return PretokenizedDPOTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)


def _train_trl(st: Stage, cfg: DPOConfig, model: torch.nn.Module, tok, units: list[dict]) -> dict:
    """trl.DPOTrainer with the stage's hyper-parameters; returns a summary like `fit`'s."""

    def reward_metrics(h: dict) -> dict:
        margin = h.get("rewards/margins")
        return {
            "reward_acc": h.get("rewards/accuracies"),
            "reward_margin": margin / cfg.beta if margin is not None else None,
        }

    return train_trl(
        st, cfg, lambda out: trl_trainer(cfg, model, tok, units, out), tok, reward_metrics
    )


def main(argv: list[str] | None = None) -> None:
    """`python -m aptk.posttrain.dpo --model DIR [key=value ...]` (also the `aptk-dpo` script)."""
    _main(argv, cls=DPOConfig, stage="dpo", run_fn=run)


if __name__ == "__main__":
    main()
