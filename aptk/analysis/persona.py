"""Persona vectors: a per-layer "misaligned persona" direction and where a model's default
responses sit on it (aptk's own addition to the SGTR/EM protocol).

For a model and the contrastive prompts of a versioned file (`sgtr:persona_v1`: aligned and
misaligned persona system prompts, train and test questions):

1. the model answers every question under every persona prompt (greedy, `max_new_tokens`), and
   without a system prompt ("default");
2. per layer l, h_l = the mean hidden state over the response tokens of one answer;
3. v_l = mean h_l (misaligned prompts, train questions) - mean h_l (aligned prompts, train);
4. on the test questions: `auc[l]` = P(proj of a misaligned-prompt answer > proj of an
   aligned-prompt answer) (separation), and `default_position[l]` = (mean proj of default
   answers - mean aligned proj) / (mean misaligned - mean aligned): 0 = sits with the aligned
   persona, 1 = with the misaligned one.
5. with `ref` (the base model's vectors), `shift_vs_ref[l]` = the default answers' mean
   projection on the reference vector minus the reference model's, in units of the reference's
   misaligned - aligned gap (one frame for every stage fine-tuned from the base).

Caveats: the persona prompts differ in wording, so separation is partly lexical (the response
tokens attend to the system prompt); at ~1M parameters the "responses" are barely language.
Read AUCs as "the model's states carry the prompt contrast", not as a measured disposition.

    (called by aptk.analysis.sgtr for every stage's model)
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from aptk.posttrain.sgtr.data import asset


def load_prompts(spec: str = "sgtr:persona_v1") -> dict:
    d = json.loads(asset(spec).read_text())
    for k in ("aligned", "misaligned", "questions_train", "questions_test"):
        if not isinstance(d.get(k), list) or not d[k]:
            raise ValueError(f"{spec}: {k!r} must be a non-empty list")
    return d


def _messages(system: str | None, q: str) -> list[dict]:
    return ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": q}
    ]


@torch.inference_mode()
def response_states(
    model: Any, tok: Any, system: str | None, questions: list[str], max_new_tokens: int = 16
) -> np.ndarray:
    """(n_questions, n_layers + 1, d): mean hidden state over each greedy answer's tokens."""
    prompts = [
        tok.apply_chat_template(_messages(system, q), tokenize=False, add_generation_prompt=True)
        for q in questions
    ]
    side = tok.padding_side
    tok.padding_side = "left"
    try:
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        gen = model.generate(
            **enc,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
    finally:
        tok.padding_side = side
    n_prompt = enc["input_ids"].shape[1]
    att = torch.cat([enc["attention_mask"], torch.ones_like(gen[:, n_prompt:])], 1)
    resp = torch.zeros_like(att)
    resp[:, n_prompt:] = 1
    # stop counting after the first EOS of each answer (the EOS itself is kept)
    after_eos = (gen[:, n_prompt:] == tok.eos_token_id).long().cumsum(1) - (
        gen[:, n_prompt:] == tok.eos_token_id
    ).long()
    resp[:, n_prompt:] *= (after_eos == 0).long()
    att = att * ((resp == 1) | (torch.arange(att.shape[1]) < n_prompt)).long()
    pos = (att.cumsum(1) - 1).clamp(min=0)
    hs = model(
        input_ids=gen, attention_mask=att, position_ids=pos, output_hidden_states=True
    ).hidden_states
    w = resp.unsqueeze(-1).float()
    return torch.stack([(h.float() * w).sum(1) / w.sum(1).clamp(min=1) for h in hs], 1).numpy()


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(pos > neg) + 0.5 P(tie) (Mann-Whitney)."""
    d = pos[:, None] - neg[None, :]
    return float(((d > 0).sum() + 0.5 * (d == 0).sum()) / d.size)


def probe(
    model: Any, tok: Any, prompts: dict, ref: dict | None = None, max_new_tokens: int = 16
) -> dict:
    """Persona vectors and scores of one model (module docstring); `vectors` and the raw
    projections are kept under `_arrays` (not JSON) for use as `ref`."""

    def states(systems: list[str | None], qs: list[str]) -> np.ndarray:
        return np.concatenate(
            [response_states(model, tok, s, qs, max_new_tokens) for s in systems], 0
        )

    tr_al, tr_mis = (
        states(prompts["aligned"], prompts["questions_train"]),
        states(prompts["misaligned"], prompts["questions_train"]),
    )
    te_al, te_mis = (
        states(prompts["aligned"], prompts["questions_test"]),
        states(prompts["misaligned"], prompts["questions_test"]),
    )
    te_def = states([None], prompts["questions_test"])
    v = tr_mis.mean(0) - tr_al.mean(0)  # (layers, d)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True).clip(min=1e-12)

    def proj(x: np.ndarray, vec: np.ndarray) -> np.ndarray:
        return np.einsum("nld,ld->nl", x, vec)

    p_al, p_mis, p_def = proj(te_al, v), proj(te_mis, v), proj(te_def, v)
    n_layers = v.shape[0]
    gap = p_mis.mean(0) - p_al.mean(0)
    out: dict = {
        "n_layers": n_layers,
        "auc": [auc(p_mis[:, layer], p_al[:, layer]) for layer in range(n_layers)],
        "train_auc": [
            auc(proj(tr_mis, v)[:, layer], proj(tr_al, v)[:, layer]) for layer in range(n_layers)
        ],
        "default_position": (
            (p_def.mean(0) - p_al.mean(0)) / np.where(gap == 0, np.nan, gap)
        ).tolist(),
        "_arrays": {"v": v, "al": te_al, "mis": te_mis, "default": te_def},
    }
    if ref is not None:
        rv, ra = ref["_arrays"]["v"], ref["_arrays"]
        r_gap = proj(ra["mis"], rv).mean(0) - proj(ra["al"], rv).mean(0)
        shift = proj(te_def, rv).mean(0) - proj(ra["default"], rv).mean(0)
        out["shift_vs_ref"] = (shift / np.where(r_gap == 0, np.nan, r_gap)).tolist()
        out["cos_vs_ref"] = np.einsum("ld,ld->l", v, rv).tolist()
    return out


def public(res: dict) -> dict:
    """The JSON-able part of a probe result."""
    return {k: v for k, v in res.items() if not k.startswith("_")}
