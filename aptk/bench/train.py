"""Trainer benchmark (`make bench`): aptk's loop vs a plain PyTorch loop vs HF Trainer, in fp32
and bf16 in the same process, against GEMM peaks measured in that process.

    python -m aptk.bench.train [--size tiny] [--seq-len 256] [--batch 16] [--steps 12]
        [--dtypes float32,bfloat16] [--threads 1] [--rounds 2] [--out bench.json]
    python -m aptk.bench.train --size debug --vocab 2048 --seq-len 64 --rounds 1   # quick
    python -m aptk.bench.train --size 125m --d-model 1536 --layers 4 --vocab 2048 --dtypes bfloat16

All loops train the same LlamaForCausalLM (same init, shape, vocab) on the same random-token
shards for `steps` optimizer steps of batch x seq_len tokens; the first `warmup` steps are not
timed. Throughput uses the *fastest* timed step of each loop (the least disturbed by other jobs
sharing the CPU; the loops run one after another, so medians mix in different background
load); medians are reported as well. Per dtype: tokens/s of each loop, ratios to the plain loop
and to HF Trainer at the same dtype, model FLOP/s (aptk.train.estimate's FLOPs/token times
tokens/s) as a fraction of (a) the best GEMM peak measured in the run (fp32 or bf16, 1024^2
squares or the model's own GEMM shapes; on AMX hosts bf16 at 1024^2), (b) the same dtype's
1024^2 peak, (c) the same dtype's rate on the model's own GEMM shapes. docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from aptk.core.io import atomic_write_json
from aptk.train.estimate import flops_per_token
from aptk.train.model import DEFAULT_VOCAB, ModelConfig

LOOPS = ("aptk", "aptk_eager", "plain", "hf_trainer", "hf_trainer_compile")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
# attention per dtype, as the recipes set it: conf/train/default.yaml (fp32) and bf16.yaml
ATTN = {"float32": "sdpa", "bfloat16": "eager"}


def matmul_peak(dtype: torch.dtype, n: int = 1024, seconds: float = 1.0) -> float:
    """Measured FLOP/s of n x n matmuls in `dtype` (best of repeated timings)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.matmul(a, b)
    best, t_end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        for _ in range(4):
            torch.matmul(a, b)
        best = min(best, (time.perf_counter() - t) / 4)
    return 2 * n**3 / best


def make_inputs(root: Path, vocab: int, n_tokens: int, seed: int = 0) -> tuple[Path, Path]:
    """A word-level tokenizer with exactly `vocab` ids and random-token datatrove shards."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel({f"t{i}": i for i in range(vocab)}, unk_token="t0"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="t1", eos_token="t2", pad_token="t0"
    )
    tok.save_pretrained(root / "tok")
    shards = root / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    size = 2 if vocab < 65536 else 4
    toks = (
        np.random.default_rng(seed)
        .integers(3, vocab, n_tokens)
        .astype("<u2" if size == 2 else "<u4")
    )
    toks.tofile(shards / "00000.ds")
    np.array([n_tokens], dtype="<u8").tofile(shards / "00000.ds.index")
    (shards / "00000.ds.metadata").write_text(f"bench|{size}\n{n_tokens}\n{n_tokens}")
    return shards, root / "tok"


def _batches(shards: Path, steps: int, batch: int, seq_len: int) -> list[torch.Tensor]:
    from aptk.train.data import BatchStream, open_tokens

    st = BatchStream(open_tokens(shards), seq_len, batch)
    return [torch.cat([x, y[:, -1:]], dim=1) for x, y in (st.get(s, 0) for s in range(steps))]


def _model(cfg: ModelConfig, vocab: int, seed: int = 0, attn: str = "sdpa"):
    from transformers import LlamaForCausalLM

    lc = cfg.to_llama_config(vocab, 1, 2, 0)
    lc._attn_implementation = attn
    torch.manual_seed(seed)
    return LlamaForCausalLM(lc)


def plain_loop(
    cfg: ModelConfig,
    vocab: int,
    windows: list[torch.Tensor],
    dtype: str,
    warmup: int,
    attn: str = "sdpa",
) -> list[float]:
    """Seconds per timed step of a minimal forward/backward/AdamW loop."""
    model = _model(cfg, vocab, attn=attn)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1, fused=True)
    times = []
    for i, w in enumerate(windows):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
            logits = model(input_ids=w[:, :-1], use_cache=False).logits
        loss = F.cross_entropy(logits.float().reshape(-1, vocab), w[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return times


def shape_peak(
    cfg: ModelConfig, vocab: int, tokens: int, dtype: torch.dtype, seconds: float = 1.0
) -> float:
    """FLOP/s of the model's own GEMMs, FLOP-weighted: for every linear layer (q/k/v/o,
    gate/up/down, lm head) with M = tokens, the forward [M,K]@[K,N] and the two backward
    products (input grad [M,N]@[N,K], weight grad [K,M]@[M,N]) — what BLAS delivers for these
    skinny matrices, i.e. the rate a loop would reach if it did nothing but its matmuls."""
    sh = cfg.shape()
    d, f, kv = sh["d_model"], sh["ffn_dim"], sh["n_kv_heads"] * cfg.head_dim
    layers = [(d, d), (d, kv), (d, kv), (d, d), (d, f), (d, f), (f, d), (d, vocab)]
    shapes = [s for k, n in layers for s in ((tokens, k, n), (tokens, n, k), (k, tokens, n))]
    total_flops, total_s = 0.0, 0.0
    for m, k, n in shapes:
        a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
        torch.matmul(a, b)
        best, t_end = float("inf"), time.perf_counter() + seconds / len(shapes)
        while time.perf_counter() < t_end:
            t = time.perf_counter()
            torch.matmul(a, b)
            best = min(best, time.perf_counter() - t)
        total_flops += 2 * m * k * n
        total_s += best
    return total_flops / total_s


def hf_trainer(
    cfg: ModelConfig,
    vocab: int,
    windows: list[torch.Tensor],
    dtype: str,
    warmup: int,
    out: Path,
    compile: bool = False,
    attn: str = "sdpa",
) -> list[float]:
    """Seconds per timed step of transformers.Trainer on the same windows (labels = inputs);
    `compile` sets its `torch_compile` argument (compiles the model, not the loss)."""
    from transformers import Trainer, TrainerCallback, TrainingArguments

    rows = [{"input_ids": r[:-1], "labels": r[:-1]} for w in windows for r in w]
    times: list[float] = []

    class Timer(TrainerCallback):
        t = 0.0

        def on_step_begin(self, args, state, control, **kw):
            Timer.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if state.global_step > warmup:
                times.append(time.perf_counter() - Timer.t)

    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=windows[0].shape[0],
        max_steps=len(windows),
        learning_rate=1e-3,
        weight_decay=0.1,
        max_grad_norm=1.0,
        logging_strategy="no",
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=dtype == "bfloat16",
        dataloader_num_workers=0,
        disable_tqdm=True,
        seed=0,
        torch_compile=compile,
    )
    Trainer(
        model=_model(cfg, vocab, attn=attn), args=args, train_dataset=rows, callbacks=[Timer()]
    ).train()
    return times


def aptk_loop(
    cfg: ModelConfig,
    shards: Path,
    tok: Path,
    out: Path,
    steps: int,
    batch: int,
    seq_len: int,
    dtype: str,
    warmup: int,
    compile: bool = True,
    attn: str = "sdpa",
) -> list[float]:
    """Seconds per timed step of aptk.train.run (log every step, no checkpoints; the
    metrics row's interval includes writing metrics.jsonl). `compile` is the trainer's
    `train.compile` switch (model + loss compiled as one graph)."""
    from aptk.train import TrainConfig, run

    tcfg = TrainConfig(
        seq_len=seq_len,
        batch_size=batch,
        max_steps=steps,
        warmup_steps=1,
        log_every=1,
        ckpt_every=0,
        progress=False,
        dtype=dtype,
        compile=compile,
        attn_implementation=attn,
    )
    d = run(tcfg, cfg, shards, tok, out)
    rows = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    return [batch * seq_len / r["tokens_per_s"] for r in rows[warmup:]]


def bench(
    size: str = "tiny",
    seq_len: int = 256,
    batch: int = 16,
    steps: int = 12,
    warmup: int = 3,
    dtypes: tuple[str, ...] = ("float32", "bfloat16"),
    threads: int = 0,
    vocab: int | None = None,
    peak_seconds: float = 1.0,
    rounds: int = 2,
    loops: tuple[str, ...] = LOOPS,
    attn: dict[str, str] | None = None,
    shape: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every dtype in `dtypes` in one process: `rounds` times, GEMM peaks of fp32 and bf16
    (1024^2 and the model's own shapes) then, per dtype, the loops in turn (plain, aptk, HF);
    the fastest step and the highest peak over all rounds count, so slow phases of background
    load do not favour whichever loop ran in a quiet moment. `loops` picks a subset of LOOPS
    ("plain" and "hf_trainer" always run: the references). Model FLOP/s are reported against
    the best peak measured (any dtype, any shape) and against their own dtype's peaks.
    `attn` is the attention implementation per dtype, used by every loop of that dtype (like for
    like): by default the recipes' own, SDPA for fp32 (conf/train/default.yaml) and eager for
    bf16 (conf/train/bf16.yaml: the CPU flash-attention kernels are slow in bf16). `shape`:
    ModelConfig overrides of the flavour (e.g. {"d_model": 1536, "n_layers": 4, ...}: a wider,
    shallower model than any flavour this host can hold at full depth)."""
    from aptk.train.common import keep_freed_memory

    attn = {**ATTN, **(attn or {})}
    if threads > 0:
        torch.set_num_threads(threads)
    # the aptk loop turns this on (train.keep_freed_memory); on for every loop, like for like
    malloc_kept = keep_freed_memory()
    cfg = ModelConfig(size=size, **(shape or {}))
    cfg.validate("model")
    vocab = vocab or DEFAULT_VOCAB[size]
    names = [k for k in LOOPS if k in loops or k in ("plain", "hf_trainer")]
    peak = {d: {"square_1024": 0.0, "model_shapes": 0.0} for d in DTYPES}
    secs: dict[str, dict[str, list[float]]] = {d: {k: [] for k in names} for d in dtypes}
    with tempfile.TemporaryDirectory(prefix="aptk-bench-") as tmp:
        root = Path(tmp)
        shards, tok = make_inputs(root, vocab, (steps + 1) * batch * seq_len + 1)
        windows = _batches(shards, steps, batch, seq_len)
        for r in range(rounds):
            for d, tdt in DTYPES.items():
                p = peak[d]
                p["square_1024"] = max(p["square_1024"], matmul_peak(tdt, seconds=peak_seconds))
                sp = shape_peak(cfg, vocab, batch * seq_len, tdt, peak_seconds)
                p["model_shapes"] = max(p["model_shapes"], sp)
            for d in dtypes:
                s = secs[d]
                s["plain"] += plain_loop(cfg, vocab, windows, d, warmup, attn[d])
                for key, comp in (("aptk", True), ("aptk_eager", False)):
                    if key in s:
                        out = root / f"{key}-{d}-{r}"
                        s[key] += aptk_loop(
                            cfg, shards, tok, out, steps, batch, seq_len, d, warmup, comp, attn[d]
                        )
                for key, comp in (("hf_trainer", False), ("hf_trainer_compile", True)):
                    if key in s:
                        s[key] += hf_trainer(
                            cfg, vocab, windows, d, warmup, root / key, comp, attn[d]
                        )
    fpt, _ = flops_per_token(cfg, vocab, seq_len)
    best_peak = max(v for p in peak.values() for v in p.values())
    best_peak_at = max(((d, k) for d in peak for k in peak[d]), key=lambda t: peak[t[0]][t[1]])
    per: dict[str, Any] = {}
    for d in dtypes:
        tps = {k: batch * seq_len / min(v) for k, v in secs[d].items()}
        per[d] = {
            "tokens_per_s": {k: round(v, 1) for k, v in tps.items()},
            "tokens_per_s_median": {
                k: round(batch * seq_len / statistics.median(v), 1) for k, v in secs[d].items()
            },
            "ratio_to_plain": {k: round(v / tps["plain"], 3) for k, v in tps.items()},
            "ratio_to_hf_trainer": {k: round(v / tps["hf_trainer"], 3) for k, v in tps.items()},
            "model_flops_per_s": {k: v * fpt for k, v in tps.items()},
            "fraction_of_best_peak": {k: round(v * fpt / best_peak, 4) for k, v in tps.items()},
            "fraction_of_matmul_peak": {
                k: round(v * fpt / peak[d]["square_1024"], 4) for k, v in tps.items()
            },
            "fraction_of_model_gemm": {
                k: round(v * fpt / peak[d]["model_shapes"], 4) for k, v in tps.items()
            },
        }
    best = max(dtypes, key=lambda d: per[d]["tokens_per_s"].get("aptk", 0.0))
    return {
        "size": size,
        "shape": cfg.shape(),
        "vocab": vocab,
        "seq_len": seq_len,
        "batch": batch,
        "steps": steps,
        "timed_steps": steps - warmup,
        "rounds": rounds,
        "dtypes": list(dtypes),
        "attn": {d: attn[d] for d in dtypes},
        "threads": torch.get_num_threads(),
        "keep_freed_memory": malloc_kept,
        "flops_per_token": fpt,
        "peaks": peak,
        "best_peak": best_peak,
        "best_peak_at": "/".join(best_peak_at),
        "best_dtype": best,
        "by_dtype": per,
    }


def format_result(r: dict[str, Any]) -> str:
    pk = r["peaks"]
    lines = [
        (
            f"{r['size']} (d_model {r['shape']['d_model']} x {r['shape']['n_layers']} layers) "
            f"vocab {r['vocab']}, {r['batch']}x{r['seq_len']} tokens/step, "
            f"{r['threads']} threads, fastest of {r['rounds']} x {r['timed_steps']} timed steps "
            "(median in brackets); attention "
            + ", ".join(f"{d} {a}" for d, a in r.get("attn", {}).items())
        ),
        "GEMM peaks (GFLOP/s): "
        + ", ".join(
            f"{d} {pk[d]['square_1024'] / 1e9:.0f} at 1024^2 / {pk[d]['model_shapes'] / 1e9:.0f} "
            "at the model's shapes"
            for d in pk
        )
        + f"; best {r['best_peak'] / 1e9:.0f} ({r['best_peak_at']})",
        (
            "| dtype | loop | tokens/s | vs HF Trainer (same dtype) | vs plain | model GFLOP/s "
            "| of best peak | of own-dtype 1024^2 peak | of own-dtype model-GEMM rate |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d, x in r["by_dtype"].items():
        for k in (k for k in LOOPS if k in x["tokens_per_s"]):
            lines.append(
                f"| {d} | {k} | {x['tokens_per_s'][k]:,.0f} ({x['tokens_per_s_median'][k]:,.0f}) "
                f"| {x['ratio_to_hf_trainer'][k]:.2f} | {x['ratio_to_plain'][k]:.2f} | "
                f"{x['model_flops_per_s'][k] / 1e9:.1f} | {x['fraction_of_best_peak'][k]:.1%} | "
                f"{x['fraction_of_matmul_peak'][k]:.1%} | {x['fraction_of_model_gemm'][k]:.1%} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--dtypes", default="float32,bfloat16", help="comma list of float32, bfloat16")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
    ap.add_argument("--vocab", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--attn",
        default="",
        help="dtype=impl overrides of the attention per dtype, e.g. bfloat16=sdpa (default: "
        + ", ".join(f"{k}={v}" for k, v in ATTN.items())
        + ")",
    )
    ap.add_argument("--d-model", type=int, default=None, help="override the flavour's width")
    ap.add_argument("--layers", type=int, default=None, help="override the flavour's depth")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    shape: dict[str, Any] = {}
    if a.d_model:  # head dim 128 and ffn 8/3 x d_model, as the `1b` and `paper` flavours
        heads = max(1, a.d_model // 128)
        shape.update(d_model=a.d_model, n_heads=heads, n_kv_heads=heads, ffn_mult=8 / 3)
    if a.layers:
        shape["n_layers"] = a.layers
    dts = tuple(a.dtypes.split(","))
    if not set(dts) <= set(DTYPES):
        ap.error(f"--dtypes: each one of {sorted(DTYPES)}")
    attn = dict(kv.split("=", 1) for kv in a.attn.split(",") if kv)
    if not set(attn) <= set(DTYPES):
        ap.error(f"--attn: keys must be among {sorted(DTYPES)}")
    r = bench(
        a.size,
        a.seq_len,
        a.batch,
        a.steps,
        a.warmup,
        dts,
        a.threads,
        a.vocab,
        rounds=a.rounds,
        attn=attn,
        shape=shape,
    )
    print(format_result(r))
    if a.out:
        atomic_write_json(a.out, r)


if __name__ == "__main__":
    main()
