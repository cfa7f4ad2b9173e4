"""Training-compute estimates: FLOPs, GPU-hours at a stated MFU, and the MFU a reported budget implies.

    python -m aptk.train.estimate                          # the paper flavour at 550B tokens on H100
    python -m aptk.train.estimate --size 1b --tokens 20e9 --gpu a100 --mfu 0.45
    python -m aptk.train.estimate --all                    # every flavour at 20 tokens/parameter
    python -m aptk.train.estimate model.size=1b model.n_layers=24 train.total_tokens=30e9 mfu=0.5
    make estimate ARGS="model.size=paper"                # key=value form (model.*, train.*, ...)

FLOPs per trained token = 6 * N_matmul + 12 * L * T * d_model (PaLM, appendix B: the attention
score and value matmuls QK^T and AV, forward + backward, counted for the full T x T square as
is conventional even though causal kernels skip half). N_matmul = non-embedding parameters plus
the output projection (vocab * d_model), i.e. every weight that takes part in a matmul.
GPU-hours = FLOPs / (peak * MFU) / 3600 with peak = the GPU's dense bf16 tensor throughput
(H100 SXM: 989 TFLOP/s). The paper (Tice et al., 6.9B parameters, 550B tokens) reports about
20k H100-hours; `implied_mfu` is the MFU that makes the estimate match that budget.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass

from aptk.train.model import DEFAULT_VOCAB, SIZES, ModelConfig, count_params, non_embedding_params

#: dense (no sparsity) bf16 tensor-core peak, FLOP/s
GPU_PEAK = {"h100": 989e12, "h200": 989e12, "a100": 312e12, "l40s": 362e12, "b200": 2250e12}
PAPER = {"size": "paper", "tokens": 550e9, "gpu": "h100", "gpu_hours": 20_000.0}


@dataclass
class Estimate:
    size: str
    params: int
    matmul_params: int
    tokens: float
    seq_len: int
    flops_per_token: float
    flops: float
    gpu: str
    mfu: float
    gpu_hours: float
    reported_gpu_hours: float | None = None
    implied_mfu: float | None = None


def flops_per_token(cfg: ModelConfig, vocab: int, seq_len: int) -> tuple[float, int]:
    """(training FLOPs per token, matmul parameter count)."""
    s = cfg.shape()
    n_mm = non_embedding_params(cfg, vocab) + vocab * s["d_model"]
    attn = 12 * s["n_layers"] * seq_len * s["d_model"]
    return 6.0 * n_mm + attn, n_mm


def estimate(
    size: str | ModelConfig = "paper",
    tokens: float = 550e9,
    vocab: int | None = None,
    seq_len: int | None = None,
    gpu: str = "h100",
    mfu: float = 0.4,
    reported_gpu_hours: float | None = None,
) -> Estimate:
    if gpu not in GPU_PEAK:
        raise ValueError(f"unknown gpu {gpu!r}; one of {sorted(GPU_PEAK)}")
    if not 0 < mfu <= 1:
        raise ValueError("mfu must be in (0, 1]")
    cfg = size if isinstance(size, ModelConfig) else ModelConfig(size=size)
    size = cfg.size
    vocab = vocab or DEFAULT_VOCAB[size]
    seq_len = seq_len or cfg.shape()["max_seq_len"]
    fpt, n_mm = flops_per_token(cfg, vocab, seq_len)
    flops = fpt * tokens
    hours = flops / (GPU_PEAK[gpu] * mfu) / 3600
    implied = None
    if reported_gpu_hours:
        implied = flops / (GPU_PEAK[gpu] * reported_gpu_hours * 3600)
    return Estimate(
        size,
        count_params(cfg, vocab),
        n_mm,
        tokens,
        seq_len,
        fpt,
        flops,
        gpu,
        mfu,
        hours,
        reported_gpu_hours,
        implied,
    )


def _h(x: float) -> str:
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"


def _hours(h: float) -> str:
    return f"{h:,.0f}" if h >= 100 else f"{h:.3g}"


def format_estimate(e: Estimate) -> str:
    lines = [
        f"flavour {e.size}: {_h(e.params)} parameters ({_h(e.matmul_params)} in "
        f"matmuls), {_h(e.tokens)} tokens at context {e.seq_len}",
        f"  FLOPs/token {e.flops_per_token:.3e}  total {e.flops:.3e} FLOPs "
        f"(6ND share {6 * e.matmul_params / e.flops_per_token:.1%})",
        f"  {e.gpu.upper()} at {GPU_PEAK[e.gpu] / 1e12:.0f} TFLOP/s bf16 dense, MFU {e.mfu:.0%}: "
        f"{_hours(e.gpu_hours)} GPU-hours ({e.gpu_hours / 24 / 256:,.3g} days on 256 GPUs)",
    ]
    if e.reported_gpu_hours:
        lines.append(
            f"  reported {e.reported_gpu_hours:,.0f} GPU-hours -> implied MFU {e.implied_mfu:.1%}"
        )
    return "\n".join(lines)


def parse_overrides(items: list[str]) -> tuple[list[str], dict]:
    """Split Hydra-syntax overrides: `model.k=v` go to the model config (composed by Hydra);
    `train.total_tokens|seq_len=v`, `tokens|gpu|mfu|vocab|seq_len|reported_gpu_hours=v` become
    estimate() arguments, their values typed by Hydra's override parser."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    model, args = [], {}
    alias = {"train.total_tokens": "tokens", "train.seq_len": "seq_len", "total_tokens": "tokens"}
    try:
        parsed = OverridesParser.create().parse_overrides(list(items))
    except HydraException as e:
        raise SystemExit(f"bad override: {e}") from None
    for it, o in zip(items, parsed):
        k = o.key_or_group
        if k.startswith("model."):
            model.append(it[len("model.") :])
        elif alias.get(k, k) in ("tokens", "gpu", "mfu", "vocab", "seq_len", "reported_gpu_hours"):
            args[alias.get(k, k)] = o.value()
        else:
            raise SystemExit(
                f"unknown key {k!r} (model.*, train.total_tokens, train.seq_len, "
                "tokens, gpu, mfu, vocab, seq_len, reported_gpu_hours)"
            )
    for k in ("vocab", "seq_len"):
        if k in args:
            args[k] = int(args[k])
    return model, args


def main(argv: list[str] | None = None) -> None:
    from aptk.core.config import build

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default=None, choices=list(SIZES))
    ap.add_argument("--tokens", type=float, default=None, help="default: 550e9 for paper")
    ap.add_argument("--vocab", type=int, default=None)
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--gpu", default="h100", choices=sorted(GPU_PEAK))
    ap.add_argument("--mfu", type=float, default=0.4)
    ap.add_argument("--reported-gpu-hours", type=float, default=None)
    ap.add_argument("--all", action="store_true", help="every flavour at 20 tokens/parameter")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("overrides", nargs="*", help="model.size=paper train.total_tokens=550e9 ...")
    a = ap.parse_args(argv)
    from aptk.core.compose import compose_group

    mo, kw = parse_overrides(a.overrides)
    size = next((o.split("=", 1)[1] for o in mo if o.startswith("size=")), a.size or PAPER["size"])
    cfg = build(
        ModelConfig,
        compose_group("model", size, [o for o in mo if not o.startswith("size=")]),
        "model",
    )
    opts = {
        "tokens": a.tokens,
        "vocab": a.vocab,
        "seq_len": a.seq_len,
        "gpu": a.gpu,
        "mfu": a.mfu,
        "reported_gpu_hours": a.reported_gpu_hours,
        **kw,
    }
    if a.all:
        ests = [
            estimate(
                s,
                20 * count_params(ModelConfig(size=s), DEFAULT_VOCAB[s]),
                gpu=opts["gpu"],
                mfu=opts["mfu"],
            )
            for s in SIZES
        ]
    else:
        paper = cfg == ModelConfig(size="paper")
        vocab = opts["vocab"] or DEFAULT_VOCAB[cfg.size]
        tokens = opts["tokens"] or (PAPER["tokens"] if paper else 20 * count_params(cfg, vocab))
        if (
            opts["reported_gpu_hours"] is None
            and paper
            and opts["gpu"] == "h100"
            and tokens == PAPER["tokens"]
        ):
            opts["reported_gpu_hours"] = PAPER["gpu_hours"]
        ests = [
            estimate(
                cfg,
                tokens,
                opts["vocab"],
                opts["seq_len"],
                opts["gpu"],
                opts["mfu"],
                opts["reported_gpu_hours"],
            )
        ]
    if a.json:
        import json

        print(json.dumps([asdict(e) for e in ests], indent=2))
    else:
        print("\n".join(format_estimate(e) for e in ests))


if __name__ == "__main__":
    main()
