"""`make bench`: every speed and memory claim of aptk, each as a ratio to a reference measured
in the same run, written to outputs/bench/results.json as {metric: {value, unit, reference, ratio}}.

    python -m aptk.bench.run                  # all sections (~10-20 min on 2 cores)
    python -m aptk.bench.run --only synth,train --quick
    python -m aptk.bench.run --mix-gb 0.1     # a smaller token-level mixer run (default 2 GB)

Sections (each calls the benchmark function its package owns):
- synth: procedural docs/s end to end vs generation alone; peak RSS at N docs vs N/10 docs.
- mix: token-level mixer (plan + copy) MB/s vs `cat` of the same token bytes (to /dev/null and
  to a copy) on 2 GB of token shards; peak RSS vs the 500 MB budget.
- tokenize: 2-process vs 1-process tokenization of the SOTU corpus as the token_index stage does it
  (identical output checked; fastest of 5 runs each, and the median of per-round ratios).
- train: fp32 and bf16 in one run (1 torch thread): aptk loop (compiled and eager) vs plain
  PyTorch loop vs HF Trainer at the same dtype (default and torch_compile) in tokens/s; model
  FLOP/s vs the best GEMM peak (fp32/bf16, 1024^2 or the model's own shapes) and per dtype.
- eval: our cloze scorer items/s vs lm-evaluation-harness at its best batch size (a demo arm's
  model, or a random-init `tiny` one before any `make demo`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aptk.core.io import atomic_write_json

OUT = Path("outputs/bench/results.json")


def metric(
    value: float, unit: str, reference: float, ref_unit: str | None = None, **extra: Any
) -> dict:
    """One results.json entry; ratio = value / reference (both measured in this run)."""
    ratio = value / reference if reference else float("nan")
    return {
        "value": round(value, 4),
        "unit": unit,
        "reference": round(reference, 4),
        "reference_unit": ref_unit or unit,
        "ratio": round(ratio, 4),
        **extra,
    }


def bench_synth(quick: bool) -> dict:
    from aptk.bench.synth import bench_subprocess

    sizes = (2_000, 5_000) if quick else (2_000, 20_000, 100_000)
    rows = [bench_subprocess(n, "builtin:v1", True) for n in sizes]  # each in a fresh process
    big, rss = rows[-1], [r["peak_rss_mb"] for r in rows]
    return {
        "synth_docs_per_s": metric(
            big["docs_per_s"],
            "docs/s",
            big["generate_docs_per_s"],
            note="end to end (generate+filter+dedup+write) vs generation alone",
            share_filter=big["share_filter"],
            share_dedup=big["share_dedup"],
            near_dup_rate=big["near_dup_rate"],
            docs=big["generated"],
        ),
        "synth_peak_rss_mb": metric(
            max(rss),
            "MB",
            min(rss),
            note="largest vs smallest peak RSS over "
            + ", ".join(f"{r['generated']}" for r in rows)
            + " docs: "
            + ", ".join(f"{x} MB" for x in rss)
            + " (target ratio <= 1.2)",
        ),
    }


def bench_mix(gb: float) -> dict:
    """The token-level mixer (aptk.bench.mix: plan + copy) on `gb` of source token shards,
    against four references timed in the same rounds (cat to /dev/null, cat into a file with and
    without fsync, dd O_DIRECT + fsync: the mixer's own write path). The headline mixer time is
    in-process (mix.run + shards.run as the pipeline calls them); the two-child-process time
    (interpreter start-up inside) is recorded beside it."""
    import subprocess

    p = subprocess.run(
        [sys.executable, "-m", "aptk.bench.mix", "--gb", str(gb)],
        capture_output=True,
        text=True,
        check=True,
    )
    r = json.loads(p.stdout[p.stdout.index("{") :])
    mbs, med = r["MB_per_s"], r["median_seconds"]
    gb_in = round(r["source_token_bytes"] / 1e9, 3)
    common = {
        "seconds": med["inproc_mix_s"],
        "seconds_children": med["mix_s"],
        "ratio_children": r["ratio_children"],
        "rounds": r["rounds"],
    }
    refs = {
        "mix_throughput": ("cat_null_s", "cat of the same token bytes to /dev/null"),
        "mix_throughput_vs_cat_copy": ("cat_copy_s", "cat of the same bytes into a file"),
        "mix_throughput_vs_cat_copy_fsync": ("cat_copy_fsync_s", "cat into a file + fsync"),
        "mix_throughput_vs_dd_direct": (
            "dd_direct_fsync_s",
            "cat | dd oflag=direct conv=fsync (the mixer's own write path: like for like)",
        ),
    }
    out = {
        name: metric(
            mbs["inproc_mix_s"],
            "MB/s",
            mbs[ref],
            note=f"token-level mix (plan + copy, in-process) of {gb_in} GB of source token "
            f"shards vs {what}; median of {r['rounds']} rounds",
            **common,
        )
        for name, (ref, what) in refs.items()
    }
    out["mix_peak_rss_mb"] = metric(
        r["peak_rss_MB"],
        "MB",
        500.0,
        note="largest peak RSS of the plan child, the copy child and the in-process child vs "
        "the 500 MB budget",
        input_gb=gb_in,
    )
    return out


def _repeat_corpus(corpus: Path, out: Path, times: int) -> Path:
    """A corpus dir whose docs-*.jsonl holds `corpus`'s documents `times` over (ids suffixed):
    a tokenization workload long enough that pool start-up does not dominate."""
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(corpus.glob("docs-*.jsonl"))
    for k in range(times):
        for i, f in enumerate(files):
            rows = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
            with open(out / f"docs-{k * len(files) + i:05d}.jsonl", "w", encoding="utf-8") as w:
                for r in rows:
                    w.write(json.dumps({**r, "id": f"{r['id']}~{k}"}) + "\n")
    return out


def bench_tokenize(quick: bool) -> dict:
    from aptk.bench.tokens import benchmark_parallel
    from aptk.data.corpora import CorpusConfig
    from aptk.data.corpora import run as corpus_run
    from aptk.tokens.tokenizer import TokenizerConfig
    from aptk.tokens.tokenizer import run as tok_run

    times = 1 if quick else 4
    with tempfile.TemporaryDirectory(prefix="aptk-bench-tok-") as tmp:
        corpus = corpus_run(CorpusConfig(max_docs=2000 if quick else None), tmp)
        tok = tok_run(TokenizerConfig(), {"base": corpus}, tmp)
        small = benchmark_parallel(corpus, tok, workers=2)
        big = (
            small
            if times == 1
            else benchmark_parallel(
                _repeat_corpus(Path(corpus), Path(tmp) / "big", times), tok, workers=2, rounds=5
            )
        )
    assert small["identical"] and big["identical"], "parallel tokenization differs from 1 process"
    tps1 = big["tokens"] / big["seconds_1"]
    return {
        "tokenize_2proc_speedup": metric(
            big["tokens"] / big["seconds_2"],
            "tokens/s",
            tps1,
            ref_unit="tokens/s (1 process)",
            cpus=big["cpus"],
            rounds=big["rounds"],
            tokens=big["tokens"],
            all_seconds=big["all_seconds"],
            note=f"sotu corpus x{times}; fastest of {big['rounds']} runs each",
            sotu_x1_ratio=round(small["speedup"], 4),
            median_ratio_of_rounds=round(big["speedup_median_of_rounds"], 4),
            ratio_per_round=big["speedup_rounds"],
            sotu_x1_tokens=small["tokens"],
        )
    }


def bench_train(quick: bool, threads: int = 1) -> dict:
    """fp32 and bf16 trainers and GEMM peaks in one process, at `threads` torch threads (1: the
    demo's per-arm count, and less exposed to other jobs on a shared 2-core host)."""
    from aptk.bench.train import bench, format_result

    r = bench(size="tiny", steps=8 if quick else 12, rounds=1 if quick else 2, threads=threads)
    print(format_result(r), flush=True)
    f32, b16 = r["by_dtype"]["float32"], r["by_dtype"]["bfloat16"]
    best = r["by_dtype"][r["best_dtype"]]
    tps, tps16 = f32["tokens_per_s"], b16["tokens_per_s"]
    common = {"threads": r["threads"], "rounds": r["rounds"]}
    return {
        "train_mfu": metric(
            best["model_flops_per_s"]["aptk"],
            "FLOP/s",
            r["best_peak"],
            ref_unit=f"FLOP/s (best GEMM peak: {r['best_peak_at']})",
            dtype=r["best_dtype"],
            note="aptk loop (compiled) in its fastest dtype vs the best GEMM peak of the run",
            **common,
        ),
        "train_mfu_fp32": metric(
            f32["model_flops_per_s"]["aptk"],
            "FLOP/s",
            r["peaks"]["float32"]["square_1024"],
            ref_unit="FLOP/s (float32 matmul peak, 1024x1024)",
            **common,
        ),
        "train_bf16_speedup": metric(
            tps16["aptk"], "tokens/s", tps["aptk"], ref_unit="tokens/s (aptk, float32)", **common
        ),
        "train_gemm_bf16_vs_fp32": metric(
            r["peaks"]["bfloat16"]["square_1024"],
            "FLOP/s",
            r["peaks"]["float32"]["square_1024"],
            ref_unit="FLOP/s (float32 matmul peak, 1024x1024)",
            model_shapes={d: round(p["model_shapes"]) for d, p in r["peaks"].items()},
            **common,
        ),
        "train_vs_hf_trainer": metric(
            tps["aptk"], "tokens/s", tps["hf_trainer"], ref_unit="tokens/s (HF Trainer)", **common
        ),
        "train_vs_hf_trainer_bf16": metric(
            tps16["aptk"],
            "tokens/s",
            tps16["hf_trainer"],
            ref_unit="tokens/s (HF Trainer, bf16=True)",
            **common,
        ),
        "train_vs_plain_loop": metric(
            tps["aptk"], "tokens/s", tps["plain"], ref_unit="tokens/s (plain PyTorch loop)"
        ),
        "train_vs_hf_trainer_compiled": metric(
            tps["aptk"],
            "tokens/s",
            tps["hf_trainer_compile"],
            ref_unit="tokens/s (HF Trainer, torch_compile=True)",
        ),
        "train_compile_speedup": metric(
            tps["aptk"], "tokens/s", tps["aptk_eager"], ref_unit="tokens/s (aptk, compile off)"
        ),
        "train_vs_model_gemm_rate": metric(
            best["model_flops_per_s"]["aptk"],
            "FLOP/s",
            r["peaks"][r["best_dtype"]]["model_shapes"],
            ref_unit=f"FLOP/s (the model's own GEMM shapes, {r['best_dtype']})",
        ),
    }


def _eval_section(quick: bool, model: str | None) -> dict:
    from aptk.evals.lmeval_export import bench
    from aptk.evals.run import EvalConfig

    suite = "evals/suites/aptk_scenarios_v1.jsonl"
    with tempfile.TemporaryDirectory(prefix="aptk-bench-eval-") as tmp:
        which = model or "random-init tiny"  # --model, else a demo arm's, else a random one
        if model is None:  # a fresh checkout, no demo run yet
            model = random_model(Path(tmp) / "m")
        r = bench(EvalConfig(max_items=40 if quick else 100), suite, model, tmp)
    return {
        "eval_items_per_s": metric(
            r["ours_best"],
            "items/s",
            r["lmeval_best"],
            ref_unit="items/s (lm-eval, best batch size)",
            n_items=r["n_items"],
            n_requests=r["n_requests"],
            model=which,
        )
    }


def random_model(root: Path) -> str:
    """A random-init `tiny` Llama with the bench's 2k-vocabulary SOTU tokenizer (the demo's
    shape and vocabulary size), saved as an HF dir: scoring speed depends on the shapes, not on
    the weights, so `make bench` runs on a fresh checkout before any `make demo`."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from aptk.bench.mix import small_tokenizer
    from aptk.train.model import ModelConfig

    tok = AutoTokenizer.from_pretrained(str(small_tokenizer(root)))
    lc = ModelConfig(size="tiny").to_llama_config(
        len(tok), tok.bos_token_id, tok.eos_token_id, tok.pad_token_id
    )
    torch.manual_seed(0)
    out = root / "model"
    LlamaForCausalLM(lc).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def find_model() -> str | None:
    """A demo arm's trained model, if one exists."""
    runs = sorted(Path("outputs/runs").glob("*/*/seed*/run.json"))
    for f in runs:
        d = json.loads(f.read_text()).get("model_dir")
        if d and Path(d, "config.json").is_file():
            return d
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m aptk.bench.run", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--only", default="synth,mix,tokenize,train,eval")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--mix-gb", type=float, default=2.0)
    ap.add_argument("--model", default=None, help="HF model dir for the eval section")
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args(argv)
    sections: dict[str, Callable[[], dict]] = {
        "synth": lambda: bench_synth(a.quick),
        "mix": lambda: bench_mix(a.mix_gb),
        "tokenize": lambda: bench_tokenize(a.quick),
        "train": lambda: bench_train(a.quick),
        "eval": lambda: _eval_section(a.quick, a.model or find_model()),
    }
    out = Path(a.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    failed = []
    for name in a.only.split(","):
        t = time.time()
        print(f"== bench {name}", flush=True)
        try:
            res = sections[name]()
        except Exception as e:  # one failing section must not hide the others' numbers
            print(f"   {name} failed: {type(e).__name__}: {e}", file=sys.stderr)
            failed.append(name)
            continue
        for k, v in res.items():
            print(
                f"   {k:24s} {v['value']:>14,.4g} {v['unit']:9s} vs {v['reference']:>14,.4g} "
                f"{v['reference_unit']:34s} ratio {v['ratio']:.3f}"
            )
        results.update(res)
        atomic_write_json(out, results)
        print(f"   ({time.time() - t:.0f}s)")
    print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
