"""DPO backends agree: on one batch the trl backend (trl.DPOTrainer fed aptk's tokens) and the own
backend score the same answer tokens and give the same per-pair log-probs and loss, including
the `sft_weight` term (the chosen NLL averaged over a micro-batch's chosen tokens)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aptk.posttrain.common import load_model, load_rows, token_logps
from aptk.posttrain.dpo import (
    DPOConfig,
    _reference_logps,
    own_loss,
    pair_units,
    trl_trainer,
)
from tests.posttrain.test_posttrain import base_model  # noqa: F401  (module fixture)


def _pairs(tok, n: int = 4) -> list[dict]:
    rows = load_rows("builtin:dpo_v1", "pref")
    # answers of different lengths, so a per-pair token mean differs from the pooled one
    picked, seen = [], set()
    for r in rows:
        k = (r.get("kind"), len(r["chosen"]) // 25)
        if k not in seen:
            seen.add(k)
            picked.append(r)
        if len(picked) == n:
            break
    units, dropped = pair_units(tok, picked, 256)
    assert len(units) == n and dropped == {}
    return units


def test_trl_and_own_backends_agree_on_one_batch(base_model: Path, tmp_path: Path) -> None:  # noqa: F811
    torch.set_num_threads(1)
    model, tok = load_model(base_model)
    units = _pairs(tok)
    cfg = DPOConfig(batch_size=len(units), beta=0.3, sft_weight=0.7, threads=1, progress=False)
    trainer = trl_trainer(cfg, model, tok, units, str(tmp_path / "trl"))
    policy, ref = trainer.model, trainer.ref_model
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # policy != reference, so the margins are not all 0
        for p in policy.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(units))])

    # 1. the same answer tokens: trl's completion tokens == the own backend's labelled tokens
    n = len(units)
    for i, u in enumerate(units):
        for side, row in (("chosen", i), ("rejected", n + i)):
            m = batch["completion_mask"][row].bool()
            trl_tokens = batch["input_ids"][row][m].tolist()
            ids, labels = u[side]
            assert trl_tokens == [t for t in labels if t != -100] == u[f"{side}_ids"]
            assert tok.decode(trl_tokens).endswith(tok.eos_token)

    # 2. the same per-pair summed log-probs (trl's own fused-head forward vs aptk's token_logps)
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    kw = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        trl_lp = policy(**kw, labels=labels, fused_lm_head=True, use_cache=False).log_probs
        own_lp, _ = token_logps(policy, {**kw, "labels": labels})
    trl_sum = (trl_lp * batch["completion_mask"][:, 1:]).sum(1)
    assert torch.allclose(trl_sum, own_lp.sum(1), atol=1e-4), (trl_sum, own_lp.sum(1))

    # 3. the same loss: trl's compute_loss vs the own loop's (summed over pairs / pairs)
    with torch.no_grad():
        loss_trl = float(trainer.compute_loss(policy, batch))
    _reference_logps(ref, units, tok.pad_token_id, n)
    with torch.no_grad():
        loss_own, mets = own_loss(policy, units, tok.pad_token_id, cfg.beta, cfg.sft_weight)
    assert float(loss_own) / n == pytest.approx(loss_trl, abs=1e-5)
    met = trainer._metrics["train" if policy.training else "eval"]
    assert met["rewards/margins"][-1] == pytest.approx(
        mets["reward_margin"] * cfg.beta / n, abs=1e-5
    )

    # the test can fail: averaging the sft term per pair (the own backend before issue #16)
    # gives a different loss on this batch
    with torch.no_grad():
        lp, mask = token_logps(policy, {**kw, "labels": labels})
    per_pair = (-lp[:n].sum(1) / mask[:n].sum(1)).mean()
    pooled = -lp[:n].sum() / mask[:n].sum()
    assert abs(cfg.sft_weight * float(per_pair - pooled)) > 1e-3
