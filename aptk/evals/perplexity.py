"""Held-out perplexity of a local HF model per corpus source (capability check next to evals).

    python -m aptk.evals.perplexity --model M --docs <jsonl/parquet file or dir> --out ppl.json \
        [--max-docs 2000] [--window 512] [--batch-size 8]

Documents are rows with `text` and (optionally) `source`; each document is tokenised, split
into non-overlapping windows of `window` tokens, each scored with a BOS prefix. Per source:
tokens, mean NLL per token, perplexity = exp(NLL/token) and bits per byte (tokenizer-free).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path

from aptk.core.io import atomic_write_json
from aptk.core.records import iter_records
from aptk.evals.scoring.lm import LM, Encoded


def perplexity(lm: LM, docs, window: int = 512, max_docs: int = 0) -> dict:
    """{source: {docs, tokens, bytes, nll_per_token, perplexity, bits_per_byte}} (+ "_all")."""
    bos = lm.bos if lm.bos is not None else lm.tok.eos_token_id
    encs, owners = [], []
    stats: dict[str, dict] = defaultdict(lambda: {"docs": 0, "tokens": 0, "bytes": 0, "nll": 0.0})
    for i, row in enumerate(docs):
        if max_docs and i >= max_docs:
            break
        src = str(row.get("source") or "unknown")
        ids = lm._enc(row["text"])
        if not ids:
            continue
        stats[src]["docs"] += 1
        stats[src]["bytes"] += len(row["text"].encode("utf-8"))
        for s in range(0, len(ids), window):
            encs.append(Encoded((bos,), tuple(ids[s : s + window])))
            owners.append(src)
    for src, (ll, n) in zip(owners, lm.loglik_tokens(encs)):
        stats[src]["nll"] -= ll
        stats[src]["tokens"] += n
    out = {}
    tot = {"docs": 0, "tokens": 0, "bytes": 0, "nll": 0.0}
    for src, d in sorted(stats.items()):
        out[src] = _finish(d)
        for k in tot:
            tot[k] += d[k]
    if out:
        out["_all"] = _finish(tot)
    return out


def _finish(d: dict) -> dict:
    n = max(d["tokens"], 1)
    return {
        "docs": d["docs"],
        "tokens": d["tokens"],
        "bytes": d["bytes"],
        "nll_per_token": d["nll"] / n,
        "perplexity": math.exp(min(d["nll"] / n, 700)),
        "bits_per_byte": d["nll"] / math.log(2) / max(d["bytes"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m aptk.evals.perplexity", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--model", required=True)
    ap.add_argument("--docs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-docs", type=int, default=2000)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=8)
    a = ap.parse_args(argv)
    lm = LM.load(a.model, batch_size=a.batch_size)
    window = min(a.window, lm.max_length)
    res = perplexity(lm, iter_records(a.docs, required=("text",)), window, a.max_docs)
    atomic_write_json(
        a.out, {"model": a.model, "docs": str(Path(a.docs)), "window": window, "by_source": res}
    )
    for src, d in res.items():
        print(
            f"{src:>20}: ppl {d['perplexity']:.2f}  bpb {d['bits_per_byte']:.3f}  ({d['tokens']} tokens)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
