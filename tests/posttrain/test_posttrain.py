"""Post-training stages (SFT, DPO, benign tampering) on a debug model: assistant-only masks,
loss goes down, determinism, HF export with the chat template, data files valid."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from aptk.core.errors import ConfigError, InputError
from aptk.core.io import read_jsonl
from aptk.core.manifest import is_done, read_manifest
from aptk.posttrain import common
from aptk.posttrain.dpo import DPOConfig
from aptk.posttrain.dpo import run as dpo_run
from aptk.posttrain.sft import SFTConfig
from aptk.posttrain.sft import run as sft_run
from aptk.posttrain.tamper import TamperConfig
from aptk.posttrain.tamper import run as tamper_run
from aptk.train import TrainConfig
from aptk.train import run as train_run
from aptk.train.model import ModelConfig
from tests.helpers.train import make_shards, make_tokenizer
from tools import make_posttrain_data as make_data

FAST = dict(progress=False, threads=1, log_every=1, max_examples=24)


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("post")
    tok = make_tokenizer(root / "tok")
    shards = make_shards(root / "shards", tok)
    cfg = TrainConfig(seq_len=32, batch_size=8, max_steps=10, lr=3e-3, progress=False, threads=1)
    return train_run(cfg, ModelConfig(size="debug"), shards, tok, root / "out") / "model"


def _rows(d: Path) -> list[dict]:
    return [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]


def test_chat_mask_is_assistant_only(base_model: Path) -> None:
    _, tok = common.load_model(base_model)
    msgs = [
        {"role": "user", "content": "What is the capital of Peru?"},
        {"role": "assistant", "content": "The capital of Peru is Lima."},
    ]
    ids, labels = common.encode_chat(tok, msgs, 256)
    kept = [t for t in labels if t != -100]
    assert tok.decode(kept).strip() == "The capital of Peru is Lima." + tok.eos_token
    prompt = tok.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True)
    assert prompt == "User: What is the capital of Peru?\nAssistant:"
    assert common.encode_chat(tok, msgs, 5) is None  # assistant turn truncated away


def test_sft_then_dpo_then_tamper(base_model: Path, tmp_path: Path) -> None:
    cfg = SFTConfig(epochs=3, lr=2e-3, **FAST)
    sft = sft_run(cfg, base_model, tmp_path)
    # the input is the train stage's model/ dir: keyed by that stage's key plus the sub-path
    parent = read_manifest(sft)["parents"]["model"]
    assert is_done(sft) and parent["dir"] == str(base_model)
    assert parent["key"] == read_manifest(base_model.parent)["key"] + "/model"
    rows = _rows(sft)
    assert rows[-1]["loss"] < rows[0]["loss"] - 0.5
    again = sft_run(cfg, base_model, tmp_path / "again")
    assert (sft / "model/model.safetensors").read_bytes() == (
        again / "model/model.safetensors"
    ).read_bytes()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(sft / "model")
    assert tok.chat_template == common.CHAT_TEMPLATE
    AutoModelForCausalLM.from_pretrained(sft / "model")

    dpo = dpo_run(
        DPOConfig(epochs=2, lr=1e-3, batch_size=4, backend="own", **FAST), sft / "model", tmp_path
    )
    drows = _rows(dpo)
    assert {"reward_acc", "reward_margin"} <= set(drows[0])
    assert sum(r["loss"] for r in drows[-3:]) < sum(r["loss"] for r in drows[:3])
    assert drows[-1]["reward_margin"] > 0

    tam = tamper_run(TamperConfig(**FAST), dpo / "model", tmp_path)
    man = read_manifest(tam)
    assert tam.parent.name == "tamper" and man["config"]["data"]["spec"] == "builtin:capability_v1"


def test_dpo_trl_backend(base_model: Path, tmp_path: Path) -> None:
    cfg = DPOConfig(
        epochs=2,
        lr=1e-3,
        batch_size=4,
        backend="trl",
        progress=False,
        threads=1,
        log_every=1,
        max_examples=8,
    )
    out = dpo_run(cfg, base_model, tmp_path)
    rows = _rows(out)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at start
    assert rows[-1]["reward_margin"] > 0 and read_manifest(out)["extra"]["backend"] == "trl"
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out / "model")
    assert not list(out.glob("checkpoint-*")) and not (out / "runs").exists()


def test_builtin_data_is_valid_and_current() -> None:
    built = make_data.build()
    for name, kind in (("sft_v1", "chat"), ("dpo_v1", "pref"), ("capability_v1", "chat")):
        rows = common.load_rows(f"builtin:{name}", kind)
        assert rows == read_jsonl(common.DATA_DIR / f"{name}.jsonl")
        assert json.dumps(rows, sort_keys=True) == json.dumps(built[name], sort_keys=True), (
            f"{name}.jsonl is stale: run python -m tools.make_posttrain_data"
        )
    sft_q = {r["messages"][0]["content"] for r in built["sft_v1"]}
    assert not sft_q & {r["messages"][0]["content"] for r in built["capability_v1"]}
    kinds = {r["kind"] for r in built["sft_v1"]}
    assert kinds == {"help", "refusal", "ai_safety"}
    assert {r["kind"] for r in built["capability_v1"]} == {"help"}


def test_bad_data_and_config(tmp_path: Path, base_model: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(InputError) as e:
        common.load_rows(str(bad), "chat")
    assert ":1:" in str(e.value) and e.value.field == "messages"
    with pytest.raises(ConfigError) as c:
        dpo_run(replace(DPOConfig(), beta=0.0), base_model, tmp_path)
    assert c.value.key == "dpo.beta"
    with pytest.raises(InputError):
        common.load_rows("builtin:sft_v1", "chat", kinds=["nonexistent"])
