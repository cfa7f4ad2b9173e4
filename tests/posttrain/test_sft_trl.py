"""SFT's trl backend: the same loss as the own loop on one batch, and the stage runs end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aptk.core.manifest import read_manifest
from aptk.posttrain.common import encode_chat, load_model, load_rows, pad_batch, token_logps
from aptk.posttrain.sft import SFTConfig, run, trl_sft_trainer
from tests.posttrain.test_posttrain import base_model  # noqa: F401  (module fixture)


def test_sft_trl_loss_matches_own_on_one_batch(base_model: Path, tmp_path: Path) -> None:  # noqa: F811
    torch.set_num_threads(1)
    model, tok = load_model(base_model)
    rows = load_rows("builtin:sft_v1", "chat", None, 6)
    units = [encode_chat(tok, r["messages"], 256) for r in rows]
    cfg = SFTConfig(batch_size=6, threads=1, progress=False)
    trainer = trl_sft_trainer(cfg, model, tok, units, str(tmp_path / "t"))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(units))])
    ours = pad_batch(units, tok.pad_token_id)
    assert torch.equal(batch["input_ids"], ours["input_ids"])
    assert torch.equal(batch["labels"], ours["labels"])  # the same assistant tokens
    with torch.no_grad():
        loss_trl = float(trainer.compute_loss(trainer.model, batch))
        lp, mask = token_logps(trainer.model, ours)
    own = float(-lp.sum() / mask.sum())  # the own loop: summed NLL / assistant tokens of the step
    assert own == pytest.approx(loss_trl, abs=1e-5)
    per_example = float((-lp.sum(1) / mask.sum(1)).mean())
    assert abs(per_example - own) > 1e-3  # a per-example mean would be a different loss


def test_sft_trl_stage(base_model: Path, tmp_path: Path) -> None:  # noqa: F811
    cfg = SFTConfig(
        backend="trl", epochs=1, batch_size=4, max_examples=8, threads=1, progress=False,
        log_every=1,
    )  # fmt: skip
    out = run(cfg, base_model, tmp_path)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["loss"] > 0 for r in rows)
    m = read_manifest(out)
    assert m["extra"]["backend"] == "trl" and m["counts"]["examples"] == 8
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out / "model")
    with pytest.raises(Exception, match="backend"):
        run(SFTConfig(backend="nope"), base_model, tmp_path)
