"""TRACE realignment stages: "trace_triage" (oracle labels, bins, derived preference files) and
"trace" (impact-weighted DPO/NPO/KL training), with NPO-on-all-conflicts as a method of the same
stage. See docs/trace.md.

    python -m aptk.posttrain.trace.stage triage [key=value ...]          # bins + counts
    python -m aptk.posttrain.trace.stage train --model DIR [key=value ...] # the realigned model

The triage stage writes `triage.jsonl` (every pair with c_w, c_l, bin, noise kind),
`relabelled.jsonl` (naive relabelling: INVERT pairs swapped, the rest as they were; the input of
the naive-DPO baseline, run by the existing dpo stage) and `gold.jsonl` (DPO-Gold: every
conflict pair's chosen replaced by the new policy's compliant answer, when the data has one).

Loss of the trace stage over a step's units (each unit one pair; N = number of conflicts):
    INVERT:  N w_i DPO(x, y_l, y_w)
    PUNISH:  N w_j [NPO(x, y_w) + NPO(x, y_l)]            (punish=npo; "dual" NPO)
             N w_j [DPO(x, y*, y_w) + DPO(x, y*, y_l)]     (punish=oracle; y* compliant answer)
    RETAIN:  alpha_kl KL(ref || policy) on the chosen answer's tokens
averaged over the step's units; the impact weights sum to 1 over conflicts, so N w has mean 1 and
the `weights=false` ablation (every w = 1/N) keeps the same step size.
Ablations: `triage=false` (every pair becomes an impact-weighted DPO pair on its relabelled
direction; no NPO, no KL), `weights=false`, `alpha_kl=0`, `punish=oracle`.
`method=npo_all`: NPO on every non-compliant response of every conflict (INVERT: y_w; PUNISH:
both), unweighted, no KL (the NPO-all baseline).
"""

from __future__ import annotations

import argparse
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aptk.core.config import build, check, validate_all
from aptk.core.hashing import derive_seed
from aptk.core.io import read_jsonl, write_jsonl
from aptk.core.stage import open_stage, runtime_field
from aptk.posttrain.common import LoRAFields, load_model, maybe_lora
from aptk.posttrain.loop import PostTrainConfig, fit
from aptk.posttrain.trace import impact as im
from aptk.posttrain.trace.policy import (
    BINS,
    ORACLES,
    asset,
    asset_ref,
    category_flipper,
    load_pairs,
    make_oracle,
    triage,
)
from aptk.train.common import thread_key


@dataclass
class TriageConfig:
    """Which pairs, which oracle, how much oracle noise."""

    data: str = "trace:security_v1"
    split: str = "train"
    oracle: str = "rules"  # labels | rules | judge
    policy_file: str = "trace:policies_v1"
    chosen_col: str = "c_chosen"  # labels oracle columns
    rejected_col: str = "c_rejected"
    judge_model: str = ""
    judge_margin: float = 0.0
    noise: float = 0.0  # oracle noise rate: half category flips, half label swaps
    seed: int = 0

    def validate(self, prefix: str = "triage") -> None:
        check(self.oracle in ORACLES, prefix, "oracle", f"must be one of {ORACLES}")
        check(0 <= self.noise < 1, prefix, "noise", "must be in [0, 1)")
        check(
            self.oracle != "judge" or bool(self.judge_model),
            prefix,
            "judge_model",
            "the judge oracle needs a local HF model dir",
        )

    def make_oracle(self) -> Any:
        text = ""
        if self.oracle == "judge":
            spec = json.loads(asset(self.policy_file).read_text())
            text = spec.get("policy_text", {}).get("new", "")
        return make_oracle(
            self.oracle,
            policy_file=self.policy_file,
            chosen_col=self.chosen_col,
            rejected_col=self.rejected_col,
            judge_model=self.judge_model,
            policy_text=text,
            margin=self.judge_margin,
        )


def _public(r: dict) -> dict:
    return {k: v for k, v in r.items() if not k.startswith("_")}


def run_triage(cfg: TriageConfig, out_root: str | Path) -> Path:
    """Stage "trace_triage": label and bin every pair of `cfg.split`; derived files."""
    validate_all(cfg, "triage")
    st = open_stage(
        "trace_triage", cfg, extra={"data": asset_ref(cfg.data)}, root=out_root, version="1"
    )
    if st.done:
        return st.dir
    rows = load_pairs(cfg.data, cfg.split)
    oracle = cfg.make_oracle()
    flip = None
    if cfg.oracle == "rules":
        flip = category_flipper(sorted(oracle.allowed))
    tri, counts = triage(rows, oracle, cfg.noise, cfg.seed, flip)
    out, relab, gold = [], [], []
    for t in tri:
        r = _public(t.row)
        out.append({**r, "c_w": int(t.c_w), "c_l": int(t.c_l), "bin": t.bin, "noise": t.noise})
        swap = t.bin == "invert"
        relab.append({**r, "chosen": r["rejected"], "rejected": r["chosen"]} if swap else r)
        if t.bin == "retain":
            gold.append(r)
        elif r.get("compliant_new"):
            gold.append({**r, "chosen": r["compliant_new"], "rejected": r["chosen"]})
    write_jsonl(st.path("triage.jsonl"), out)
    write_jsonl(st.path("relabelled.jsonl"), relab)
    files = ["triage.jsonl", "relabelled.jsonl"]
    if len(gold) == len(out):
        write_jsonl(st.path("gold.jsonl"), gold)
        files.append("gold.jsonl")
    st.finish(
        counts={
            **counts,
            "pairs": len(out),
            "gold_pairs": len(gold) if "gold.jsonl" in files else 0,
        },
        files=files,
        extra={"oracle": oracle.describe()},
    )
    return st.dir


@dataclass
class TraceConfig(LoRAFields, PostTrainConfig):
    """Training on a triage stage's output (see the module docstring for the loss)."""

    data: str = "triage"  # the pairs come from the triage stage dir given to run()
    method: str = "trace"  # trace | npo_all
    triage: bool = True
    weights: bool = True
    punish: str = "npo"  # npo | oracle
    alpha_kl: float = 0.1
    beta: float = 0.3
    gamma: float = 1.0
    gold_batch: int = 64
    impact_params: str = "qv"  # qv | non_embedding | lora
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    lr: float = 5e-5
    epochs: int = 2
    batch_size: int = 8
    impact_batch: int = runtime_field(16)  # gold pairs per forward/backward of g_J (memory only)

    def validate(self, prefix: str = "trace") -> None:
        PostTrainConfig.validate(self, prefix)
        LoRAFields.validate(self, prefix)
        check(self.method in ("trace", "npo_all"), prefix, "method", "must be trace or npo_all")
        check(self.punish in ("npo", "oracle"), prefix, "punish", "must be npo or oracle")
        check(self.beta > 0, prefix, "beta", "must be > 0")
        check(self.gamma > 0, prefix, "gamma", "must be > 0 (it cancels after L1 normalisation)")
        check(self.alpha_kl >= 0, prefix, "alpha_kl", "must be >= 0")
        check(self.gold_batch >= 3, prefix, "gold_batch", "must be >= 3")
        check(
            self.impact_params in ("qv", "non_embedding", "lora"),
            prefix,
            "impact_params",
            "must be qv, non_embedding or lora",
        )
        check(
            self.impact_params != "lora" or self.lora_r > 0,
            prefix,
            "impact_params",
            "'lora' needs lora_r > 0",
        )


def build_units(cfg: TraceConfig, rows: list[dict], tok: Any) -> tuple[list[dict], dict[str, int]]:
    """Training units from triaged rows (encoded once); counts incl. dropped (too long)."""
    enc = lambda r, a: im.encode_response(tok, r["prompt"], a, cfg.max_len)  # noqa: E731
    units, dropped = [], 0
    for r in rows:
        b, u = r["bin"], None
        if cfg.method == "npo_all":
            if b != "retain":
                bad = [r["chosen"]] + ([r["rejected"]] if b == "punish" else [])
                u = {"kind": "punish_npo", "bad": [enc(r, a) for a in bad]}
        elif not cfg.triage:
            pos, neg = (
                (r["rejected"], r["chosen"]) if b == "invert" else (r["chosen"], r["rejected"])
            )
            u = {"kind": "invert", "pos": enc(r, pos), "neg": enc(r, neg), "conflict": True}
        elif b == "invert":
            u = {"kind": "invert", "pos": enc(r, r["rejected"]), "neg": enc(r, r["chosen"])}
        elif b == "punish" and cfg.punish == "oracle":
            if not r.get("compliant_new"):
                raise ValueError(f"punish=oracle needs compliant_new in row {r.get('id')}")
            u = {
                "kind": "punish_oracle",
                "pos": enc(r, r["compliant_new"]),
                "bad": [enc(r, r["chosen"]), enc(r, r["rejected"])],
            }
        elif b == "punish":
            u = {"kind": "punish_npo", "bad": [enc(r, r["chosen"]), enc(r, r["rejected"])]}
        elif cfg.alpha_kl > 0:
            u = {"kind": "retain", "seq": enc(r, r["chosen"])}
        if u is None:
            continue
        seqs = [u[k] for k in ("pos", "neg", "seq") if k in u] + u.get("bad", [])
        if any(s is None for s in seqs):
            dropped += 1
            continue
        units.append({**u, "id": r["id"], "bin": b})
    kinds = {
        k: sum(u["kind"] == k for u in units)
        for k in ("invert", "punish_npo", "punish_oracle", "retain")
    }
    return units, {**kinds, "dropped_too_long": dropped}


def _ref_logps(model: torch.nn.Module, ref: Any, units: list[dict], pad: int) -> None:
    with im.reference(model, ref) as m:
        for u in units:
            if "pos" in u:
                u["ref_pos"], u["ref_neg"] = (
                    float(x) for x in im.seq_logps(m, [u["pos"], u.get("neg", u["pos"])], pad)
                )
            if "bad" in u:
                u["ref_bad"] = [float(x) for x in im.seq_logps(m, u["bad"], pad)]


def gold_pairs(
    cfg: TraceConfig, rows: list[dict], seed: int
) -> tuple[list[tuple[dict, str, str]], dict]:
    """The gold batch as (row, preferred, dispreferred): B_R retained pairs, B_I inverted pairs,
    the rest PUNISH prompts with a compliant response drawn from the pool (retained chosen +
    inverted compliant), seeded."""
    rng = np.random.default_rng(derive_seed(seed, "trace-gold"))
    by = {b: [r for r in rows if r["bin"] == b] for b in BINS}
    B = cfg.gold_batch
    n_r, n_i = min(len(by["retain"]), B // 3), min(len(by["invert"]), B // 3)
    n_p = min(len(by["punish"]), B - n_r - n_i)
    pick = lambda xs, n: [xs[i] for i in sorted(rng.choice(len(xs), n, replace=False))]  # noqa: E731
    out = [(r, r["chosen"], r["rejected"]) for r in pick(by["retain"], n_r)]
    out += [(r, r["rejected"], r["chosen"]) for r in pick(by["invert"], n_i)]
    pool = [r["chosen"] for r in by["retain"]] + [r["rejected"] for r in by["invert"]]
    if n_p and not pool:
        raise ValueError("gold batch: PUNISH prompts need a pool of compliant responses (none)")
    for r in pick(by["punish"], n_p):
        out.append((r, pool[int(rng.integers(len(pool)))], r["chosen"]))
    return out, {"gold_retain": n_r, "gold_invert": n_i, "gold_punish": n_p}


def compute_weights(
    cfg: TraceConfig,
    model: torch.nn.Module,
    ref: Any,
    tok: Any,
    units: list[dict],
    rows: list[dict],
) -> dict:
    """Impact weights onto the conflict units (`w`, mean 1 over conflicts); returns stats."""
    conflicts = [u for u in units if u["kind"] != "retain"]
    if not conflicts:
        return {"conflicts": 0}
    if not cfg.weights or cfg.method == "npo_all":
        for u in conflicts:
            u["w"] = 1.0
        return {"conflicts": len(conflicts), "weights": "uniform"}
    pad = tok.pad_token_id
    gold, gcounts = gold_pairs(cfg, rows, cfg.seed)
    enc = [
        (
            im.encode_response(tok, r["prompt"], a, cfg.max_len),
            im.encode_response(tok, r["prompt"], b, cfg.max_len),
        )
        for r, a, b in gold
    ]
    enc = [e for e in enc if e[0] is not None and e[1] is not None]
    with im.reference(model, ref) as m:
        refs = [[float(x) for x in im.seq_logps(m, [p, n], pad)] for p, n in enc]
    params = [p for _, p in im.impact_parameters(model, cfg.impact_params)]
    model.eval()
    g_j = im.gold_grad(
        [(p, n, a, b) for (p, n), (a, b) in zip(enc, refs)],
        model,
        pad,
        params,
        cfg.beta,
        batch=cfg.impact_batch,
    )
    dots = [float(g_j @ im.sample_grad(u, model, pad, params, cfg.beta)) for u in conflicts]
    w, how = im.impact_weights(dots, cfg.gamma)
    for u, wi, d in zip(conflicts, w, dots):
        u["w"], u["dot"] = wi * len(conflicts), d
    return {
        **gcounts,
        "conflicts": len(conflicts),
        "weights": how,
        "zero_weight": sum(x == 0 for x in w),
        "max_weight": max(w),
        "n_params": int(sum(p.numel() for p in params)),
    }


def unit_losses(
    cfg: TraceConfig, model: torch.nn.Module, ref: Any, mb: list[dict], pad: int
) -> torch.Tensor:
    """Summed loss of a micro-batch of units (one forward over all their sequences)."""
    seqs, slots = [], []
    for u in mb:
        if u["kind"] == "retain":
            continue
        own = [u[k] for k in ("pos", "neg") if k in u] + u.get("bad", [])
        slots.append((u, len(seqs), len(own)))
        seqs += own
    total = torch.zeros((), device=next(model.parameters()).device)
    if seqs:
        lp = im.seq_logps(model, seqs, pad)
        for u, i, n in slots:
            x = lp[i : i + n]
            if u["kind"] == "invert":
                loss = im.dpo_loss(x[0], x[1], u["ref_pos"], u["ref_neg"], cfg.beta)
            elif u["kind"] == "punish_npo":
                loss = sum(im.npo_loss(x[k], r, cfg.beta) for k, r in enumerate(u["ref_bad"]))
            else:
                loss = sum(
                    im.dpo_loss(x[0], x[k + 1], u["ref_pos"], r, cfg.beta)
                    for k, r in enumerate(u["ref_bad"])
                )
            total = total + u["w"] * loss
    keep = [u["seq"] for u in mb if u["kind"] == "retain"]
    if keep:
        total = total + cfg.alpha_kl * im.kl_ref_policy(model, ref, keep, pad).sum()
    return total


def run(
    cfg: TraceConfig, model_dir: str | Path, triage_dir: str | Path, out_root: str | Path
) -> Path:
    """Stage "trace": realign the model in `model_dir` on a triage stage's pairs."""
    validate_all(cfg, "trace")
    st = open_stage(
        "trace",
        cfg,
        inputs={"model": model_dir, "triage": triage_dir},
        extra=thread_key(cfg.threads, cfg.device),
        root=out_root,
        version="1",
    )
    if st.done:
        return st.dir
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(derive_seed(cfg.seed, "trace", "init"))
    model, tok = load_model(model_dir, device=cfg.device)
    ref = None if cfg.lora_r > 0 else copy.deepcopy(model).eval().requires_grad_(False)
    model = maybe_lora(model, cfg)
    rows = read_jsonl(Path(triage_dir) / "triage.jsonl")
    units, counts = build_units(cfg, rows, tok)
    pad = tok.pad_token_id
    _ref_logps(model, ref, units, pad)
    wstats = compute_weights(cfg, model, ref, tok, units, rows)
    write_jsonl(
        st.path("weights.jsonl"),
        [
            {"id": u["id"], "bin": u["bin"], "w": u["w"], "dot": u.get("dot")}
            for u in units
            if "w" in u
        ],
    )

    def loss_fn(m: torch.nn.Module, mb: list[dict]) -> tuple[torch.Tensor, dict[str, float]]:
        return unit_losses(cfg, m, ref, mb, pad), {}

    summary = fit(st, cfg, model, tok, units, lambda u: 1.0, loss_fn)
    if cfg.lora_r > 0:
        from aptk.train.common import export_model

        export_model(st, model.merge_and_unload(), tok)
    st.finish(
        counts={**counts, "units": len(units), "steps": summary["steps"]},
        files=["model/model.safetensors", "metrics.jsonl", "weights.jsonl"],
        extra={**summary, "impact": wstats},
    )
    return st.dir


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=("triage", "train"))
    ap.add_argument("--model", default="")
    ap.add_argument("--triage", default="", help="a trace_triage stage dir (train; else built)")
    ap.add_argument("--out", default="outputs")
    ap.add_argument(
        "overrides", nargs="*", help="key=value (Hydra syntax); pairs.* for the triage stage"
    )
    a = ap.parse_args(argv)
    from aptk.core.compose import compose_group

    raw = compose_group("posttrain", "trace", a.overrides)
    tcfg = build(TriageConfig, dict(raw.pop("pairs", {}) or {}), "triage")
    tdir = Path(a.triage) if a.triage else run_triage(tcfg, a.out)
    if a.command == "triage":
        print(json.dumps(json.loads((tdir / "manifest.json").read_text())["counts"]))
        return
    if not a.model:
        ap.error("train needs --model DIR")
    cfg = build(TraceConfig, raw, "trace")
    print(run(cfg, a.model, tdir, a.out))


if __name__ == "__main__":
    main()
