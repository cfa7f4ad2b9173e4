"""Trainer: loss goes down, determinism, HF export, resume (in-process stop and SIGKILL),
held-out loss and eval hooks, continued pretraining, config errors. Debug size, seconds each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from aptk.core.errors import ConfigError
from aptk.core.manifest import is_done, read_manifest
from aptk.train import TrainConfig, lr_at, run
from aptk.train.checkpoint import list_checkpoints
from aptk.train.loop import bf16_support
from aptk.train.model import ModelConfig
from tests.helpers.train import make_shards, make_tokenizer

REPO = Path(__file__).resolve().parents[2]
CFG = TrainConfig(
    seq_len=32,
    batch_size=8,
    max_steps=24,
    warmup_steps=4,
    lr=3e-3,
    log_every=1,
    ckpt_every=5,
    progress=False,
    threads=1,
)
MODEL = ModelConfig(size="debug")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("train_data")
    tok = make_tokenizer(root / "tok")
    return make_shards(root / "shards", tok), tok


def _weights(d: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(d / "model" / "model.safetensors"))


def _metrics(d: Path, kind: str = "train") -> list[dict]:
    rows = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["kind"] == kind]


def test_loss_decreases_and_exports(data, tmp_path: Path) -> None:
    shards, tok = data
    out = run(CFG, MODEL, shards, tok, tmp_path)
    assert is_done(out)
    rows = _metrics(out)
    assert [r["step"] for r in rows] == list(range(1, 25))
    first, last = sum(r["loss"] for r in rows[:3]) / 3, sum(r["loss"] for r in rows[-3:]) / 3
    assert last < first - 1.0, (first, last)
    assert rows[-1]["tokens"] == 24 * 8 * 32
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(out / "model")
    tk = AutoTokenizer.from_pretrained(out / "model")
    ids = tk("The operators reviewed", return_tensors="pt").input_ids
    gen = model.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=tk.pad_token_id)
    assert gen.shape[1] == ids.shape[1] + 5
    man = read_manifest(out)
    assert man["counts"]["steps"] == 24 and "model/model.safetensors" in man["files"]
    assert run(CFG, MODEL, shards, tok, tmp_path) == out  # cached


def test_deterministic(data, tmp_path: Path) -> None:
    shards, tok = data
    cfg = replace(CFG, max_steps=8, ckpt_every=0)
    a, b = (
        run(cfg, MODEL, shards, tok, tmp_path / "a"),
        run(cfg, MODEL, shards, tok, tmp_path / "b"),
    )
    assert (a / "model/model.safetensors").read_bytes() == (
        b / "model/model.safetensors"
    ).read_bytes()
    c = run(replace(cfg, seed=1), MODEL, shards, tok, tmp_path / "c")
    assert not torch.equal(
        _weights(a)["model.norm.weight"], _weights(c)["model.norm.weight"]
    ) or not torch.equal(
        _weights(a)["model.embed_tokens.weight"], _weights(c)["model.embed_tokens.weight"]
    )


NO_BF16 = pytest.mark.skipif(
    bf16_support(torch.device("cpu")) is not None, reason="no native bf16 matmuls on this CPU"
)


@pytest.mark.parametrize("dtype", ["float32", pytest.param("bfloat16", marks=NO_BF16)])
def test_thread_count_is_in_the_key(data, tmp_path: Path, dtype: str) -> None:
    """BLAS and Inductor split work over the threads, so the thread count can change the weights
    (at `tiny` shapes 1 and 2 threads differ after 20 steps): it is part of the train stage's key
    (aptk.train.common.thread_key), and a run at another thread count never reuses a stage. The
    same count twice gives the same key and reuses it."""
    shards, tok = data
    wide = ModelConfig(size="debug", d_model=128, n_heads=4, n_kv_heads=4, ffn_dim=512)
    cfg = replace(CFG, max_steps=4, ckpt_every=2, batch_size=16, seq_len=64, dtype=dtype)
    prev = torch.get_num_threads()
    try:
        one = run(replace(cfg, threads=1), wide, shards, tok, tmp_path)
        two = run(replace(cfg, threads=2), wide, shards, tok, tmp_path)
        torch.set_num_threads(1)
        again = run(replace(cfg, threads=0), wide, shards, tok, tmp_path)  # 0: torch's count
    finally:
        torch.set_num_threads(prev)
    assert one.name != two.name
    assert again.name == one.name
    assert json.loads((one / "manifest.json").read_text())["config"]["cpu_threads"] == 1
    assert json.loads((two / "manifest.json").read_text())["config"]["cpu_threads"] == 2


def test_compiled_matches_eager(data, tmp_path: Path) -> None:
    """train.compile=true (model + loss as one inductor graph) follows the eager loss curve:
    fused kernels reorder float sums, so equality is to a tolerance, not bitwise."""
    shards, tok = data
    cfg = replace(CFG, max_steps=6, ckpt_every=0)
    eager = _metrics(run(cfg, MODEL, shards, tok, tmp_path / "eager"))
    comp = _metrics(run(replace(cfg, compile=True), MODEL, shards, tok, tmp_path / "comp"))
    assert [r["step"] for r in comp] == [r["step"] for r in eager]
    for a, b in zip(eager, comp):
        assert abs(a["loss"] - b["loss"]) < 1e-3, (a, b)


def test_resume_after_stop_is_bitwise_equal(data, tmp_path: Path) -> None:
    shards, tok = data
    cfg = replace(CFG, max_steps=12, grad_accum=2)
    ref = run(cfg, MODEL, shards, tok, tmp_path / "ref")
    part = run(cfg, MODEL, shards, tok, tmp_path / "cut", stop_after_steps=7)
    assert not is_done(part)
    assert [s for s, _ in list_checkpoints(part / "checkpoints")] == [5, 7]
    again = run(cfg, MODEL, shards, tok, tmp_path / "cut")
    assert again == part and is_done(again)
    wa, wb = _weights(ref), _weights(again)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert [r["step"] for r in _metrics(again)] == list(range(1, 13))
    assert [r["loss"] for r in _metrics(again)] == [r["loss"] for r in _metrics(ref)]


def test_resume_after_sigkill(data, tmp_path: Path) -> None:
    shards, tok = data
    cfg = replace(CFG, max_steps=12)
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from tests.train.test_loop import CFG, MODEL
        from dataclasses import replace
        from aptk.train import run
        def killer(step, model, tok):
            if step == 8:
                os.kill(os.getpid(), signal.SIGKILL)
            return {{}}
        run(replace(CFG, max_steps=12, eval_every=1), MODEL, {str(shards)!r}, {str(tok)!r},
            {str(tmp_path / "killed")!r}, hooks=killer)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    (stage,) = (tmp_path / "killed" / "train").iterdir()
    assert not is_done(stage) and list_checkpoints(stage / "checkpoints")[-1][0] == 5
    resumed = run(replace(cfg, eval_every=1), MODEL, shards, tok, tmp_path / "killed")
    assert resumed == stage and is_done(resumed)
    ref = run(replace(cfg, eval_every=1), MODEL, shards, tok, tmp_path / "ref")
    wa, wb = _weights(ref), _weights(resumed)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@NO_BF16
def test_heldout_and_hooks(data, tmp_path: Path) -> None:
    shards, tok = data
    calls = []

    def hook(step, model, tokenizer):
        calls.append(step)
        assert not model.training
        return {"hook_metric": float(step)}

    cfg = replace(CFG, max_steps=6, eval_every=3, eval_tokens=2000, dtype="bfloat16")
    out = run(cfg, MODEL, shards, tok, tmp_path, hooks=[hook], heldout_dir=shards)
    ev = _metrics(out, "eval")
    assert calls == [3, 6] and [r["step"] for r in ev] == [3, 6]
    assert ev[0]["hook_metric"] == 3.0 and ev[1]["heldout_loss"] < ev[0]["heldout_loss"]
    assert ev[0]["heldout_tokens"] == (2000 // 32) * 32


def test_init_from_continues(data, tmp_path: Path) -> None:
    shards, tok = data
    base = run(replace(CFG, max_steps=6), MODEL, shards, tok, tmp_path)
    cont = run(
        replace(CFG, max_steps=4, init_from=str(base / "model")), MODEL, shards, tok, tmp_path
    )
    first = _metrics(cont)[0]["loss"]
    assert first < _metrics(base)[0]["loss"] - 0.5
    with pytest.raises(ConfigError) as e:
        run(
            replace(CFG, max_steps=4, init_from=str(base / "model")),
            ModelConfig(size="tiny"),
            shards,
            tok,
            tmp_path,
        )
    assert e.value.key == "train.init_from"


@pytest.mark.parametrize(
    "change,key",
    [
        ({"max_steps": 10_000}, "train.max_steps"),
        ({"seq_len": 1024}, "train.seq_len"),
        ({"dtype": "fp8"}, "train.dtype"),
        ({"warmup_steps": 100, "max_steps": 10}, "train.warmup_steps"),
        ({"total_tokens": 10, "max_steps": None}, "train.total_tokens"),
    ],
)
def test_bad_config(data, tmp_path: Path, change: dict, key: str) -> None:
    shards, tok = data
    with pytest.raises(ConfigError) as e:
        run(replace(CFG, **change), MODEL, shards, tok, tmp_path)
    assert e.value.key == key


def test_lr_schedule() -> None:
    cfg = TrainConfig(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    lrs = [lr_at(cfg, s, 100) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1) and all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
