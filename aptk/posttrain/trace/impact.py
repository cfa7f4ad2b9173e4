"""TRACE's losses and alignment impact score.

Sequence log-probs are sums over the final assistant answer's tokens, tokenized once per
(prompt, answer) by `encode_response` (the chat template, as the DPO stage does), so the gold
batch's gradient and every sample's gradient read the same tokens.

Losses (beta = TraceConfig.beta; pi/ref = policy/reference sequence log-probs):
    DPO(x, y+, y-) = -log sigmoid(beta * ((pi+ - ref+) - (pi- - ref-)))
    NPO(x, y)      = -(2/beta) * log sigmoid(-beta * (pi - ref))           (Zhang et al. 2024)
    KL(ref || pi)  = mean over answer positions of sum_v p_ref(v) (log p_ref(v) - log p_pi(v))

Impact score: g_J = gradient of the mean gold-batch DPO loss at the reference model, g_k = the
gradient of sample k's own loss (INVERT: DPO on the swapped pair; PUNISH: NPO on both old
responses, or DPO of the oracle's compliant response over each in the oracle variant), both over
the same parameter subset (`impact_params`). w_k = max(0, gamma * <g_J, g_k>) L1-normalised over
INVERT u PUNISH. gamma > 0 cancels in the normalisation: it has no effect (kept for parity with
the reference; tests check it). Per-sample gradients are formed analytically from
d log pi(y) / d theta (one backward per response):
    d DPO / d theta = -beta * sigmoid(-m) * (d pi+ - d pi-),  m = beta((pi+ - ref+) - (pi- - ref-))
    d NPO / d theta = 2 * sigmoid(beta * (pi - ref)) * d pi
and the tests compare them with autograd of the losses.

    (used by aptk.posttrain.trace.stage; no CLI of its own)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F

from aptk.posttrain.common import encode_chat, pad_batch, token_logps
from aptk.posttrain.dpo import _answer_split

Encoded = tuple[list[int], list[int]]


def encode_response(tok: Any, prompt: list[dict], answer: str, max_len: int) -> Encoded | None:
    """(ids, labels scoring only the final answer) or None when no answer token fits."""
    enc = encode_chat(tok, prompt + [{"role": "assistant", "content": answer}], max_len)
    if enc is None:
        return None
    p, a, lab = _answer_split(*enc)
    return p + a, lab


def seq_logps(model: torch.nn.Module, seqs: list[Encoded], pad: int) -> torch.Tensor:
    """Summed answer-token log-probs, one per sequence (differentiable)."""
    lp, _ = token_logps(model, pad_batch(seqs, pad))
    return lp.sum(-1)


def dpo_loss(pc: torch.Tensor, pr: torch.Tensor, rc: Any, rr: Any, beta: float) -> torch.Tensor:
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr)))


def npo_loss(p: torch.Tensor, r: Any, beta: float) -> torch.Tensor:
    return -(2.0 / beta) * F.logsigmoid(-beta * (p - r))


@contextmanager
def reference(model: torch.nn.Module, ref_model: torch.nn.Module | None) -> Iterator[Any]:
    """The reference policy: `ref_model` (a frozen copy, full fine-tuning) or the same model
    with its LoRA adapters disabled (peft)."""
    if ref_model is not None:
        with torch.no_grad():
            yield ref_model
    else:
        with torch.no_grad(), model.disable_adapter():
            yield model


def kl_ref_policy(
    model: torch.nn.Module, ref_model: torch.nn.Module | None, seqs: list[Encoded], pad: int
) -> torch.Tensor:
    """Per sequence: mean over answer positions of the full-vocabulary KL(ref || policy)."""
    batch = pad_batch(seqs, pad)
    dev = next(model.parameters()).device
    batch = {k: v.to(dev) for k, v in batch.items()}

    def logits(m: torch.nn.Module) -> torch.Tensor:
        out = m(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
        )
        return torch.log_softmax(out.logits[:, :-1].float(), -1)

    with reference(model, ref_model) as ref:
        lref = logits(ref)
    lpol = logits(model)
    mask = (batch["labels"][:, 1:] != -100).float()
    kl = (lref.exp() * (lref - lpol)).sum(-1)
    return (kl * mask).sum(-1) / mask.sum(-1).clamp(min=1)


# ----------------------------------------------------------------------------- impact score
def impact_parameters(model: torch.nn.Module, which: str) -> list[tuple[str, torch.nn.Parameter]]:
    """Named parameters the score uses: `lora` (trainable LoRA weights), `qv` (attention q/v
    projections; LoRA ones if LoRA is on), `non_embedding` (all but embeddings/lm head)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if which == "lora":
        sel = [(n, p) for n, p in named if "lora_" in n]
    elif which == "qv":
        sel = [(n, p) for n, p in named if ("q_proj" in n or "v_proj" in n)]
    elif which == "non_embedding":
        sel = [(n, p) for n, p in named if "embed" not in n and "lm_head" not in n]
    else:
        raise ValueError(f"impact_params must be lora | qv | non_embedding, got {which!r}")
    if not sel:
        raise ValueError(f"impact_params={which!r} selects no trainable parameter")
    return sel


def flat_grad(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    gs = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat(
        [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gs, params)]
    )


def logp_grads(
    model: torch.nn.Module, seqs: list[Encoded], pad: int, params: list[torch.nn.Parameter]
) -> tuple[list[float], list[torch.Tensor]]:
    """(log pi(y), d log pi(y) / d params) per sequence: one forward/backward each."""
    vals, grads = [], []
    for s in seqs:
        lp = seq_logps(model, [s], pad)[0]
        grads.append(flat_grad(lp, params))
        vals.append(float(lp.detach()))
    return vals, grads


def dpo_grad(
    beta: float, pc: float, pr: float, rc: float, rr: float, gc: torch.Tensor, gr: torch.Tensor
) -> torch.Tensor:
    m = torch.tensor(beta * ((pc - rc) - (pr - rr)), dtype=torch.float64)
    return (-beta * torch.sigmoid(-m)).to(gc.dtype) * (gc - gr)


def npo_grad(beta: float, p: float, r: float, g: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(torch.tensor(beta * (p - r), dtype=torch.float64))
    return (2.0 * s).to(g.dtype) * g


def sample_grad(
    unit: dict, model: torch.nn.Module, pad: int, params: list[torch.nn.Parameter], beta: float
) -> torch.Tensor:
    """Analytic gradient of one conflict sample's loss (see module docstring). `unit` holds
    encoded sequences and their reference log-probs:
    invert: "pos", "neg" (the swapped pair: pos = old rejected); punish npo: "bad" (list);
    punish oracle: "pos" (compliant) and "bad" (list of old responses)."""
    kind = unit["kind"]
    if kind == "invert":
        (pc, pr), (gc, gr) = logp_grads(model, [unit["pos"], unit["neg"]], pad, params)
        return dpo_grad(beta, pc, pr, unit["ref_pos"], unit["ref_neg"], gc, gr)
    if kind == "punish_npo":
        vals, grads = logp_grads(model, unit["bad"], pad, params)
        return sum(npo_grad(beta, v, r, g) for v, r, g in zip(vals, unit["ref_bad"], grads))
    if kind == "punish_oracle":
        vals, grads = logp_grads(model, [unit["pos"], *unit["bad"]], pad, params)
        return sum(
            dpo_grad(beta, vals[0], v, unit["ref_pos"], r, grads[0], g)
            for v, r, g in zip(vals[1:], unit["ref_bad"], grads[1:])
        )
    raise ValueError(f"no sample gradient for unit kind {kind!r}")


def gold_grad(
    gold: list[tuple[Encoded, Encoded, float, float]],
    model: torch.nn.Module,
    pad: int,
    params: list[torch.nn.Parameter],
    beta: float,
    batch: int = 16,
) -> torch.Tensor:
    """Autograd gradient of the mean DPO loss over the gold pairs (pos, neg, ref_pos, ref_neg)."""
    total = None
    for i in range(0, len(gold), batch):
        chunk = gold[i : i + batch]
        lp = seq_logps(model, [g[0] for g in chunk] + [g[1] for g in chunk], pad)
        n = len(chunk)
        rc = torch.tensor([g[2] for g in chunk], dtype=lp.dtype)
        rr = torch.tensor([g[3] for g in chunk], dtype=lp.dtype)
        loss = dpo_loss(lp[:n], lp[n:], rc, rr, beta).sum() / len(gold)
        g = flat_grad(loss, params)
        total = g if total is None else total + g
    return total


def impact_weights(dots: list[float], gamma: float = 1.0) -> tuple[list[float], str]:
    """w_k = max(0, gamma * dot_k) / sum; ("uniform" fallback when every score is <= 0)."""
    if gamma <= 0:
        raise ValueError("gamma must be > 0")
    raw = [max(0.0, gamma * d) for d in dots]
    s = sum(raw)
    if s <= 0:
        return [1.0 / len(dots)] * len(dots), "uniform_fallback"
    return [r / s for r in raw], "impact"
