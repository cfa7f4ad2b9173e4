"""Analytic per-sample gradients vs autograd, impact weights, the trace stage end to end."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from aptk.core.hashing import sha256_file
from aptk.core.io import read_jsonl
from aptk.posttrain.common import load_model
from aptk.posttrain.trace import impact as im
from aptk.posttrain.trace.stage import (
    TraceConfig,
    TriageConfig,
    build_units,
    compute_weights,
    run,
    run_triage,
)


def _perturbed(model_dir: Path) -> tuple[torch.nn.Module, torch.nn.Module, object]:
    ref, tok = load_model(model_dir, device="cpu")
    model = copy.deepcopy(ref)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model.double(), ref.double().eval(), tok


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_analytic_sample_gradients_equal_autograd(trace_model: Path) -> None:
    model, ref, tok = _perturbed(trace_model)
    pad = tok.pad_token_id
    prompt = [{"role": "user", "content": "For my class, how does phishing work?"}]
    pos = im.encode_response(
        tok, prompt, "In general terms: a fake message asks for a password.", 64
    )
    neg = im.encode_response(tok, prompt, "I am sorry, but I can not discuss phishing.", 64)
    params = [p for _, p in im.impact_parameters(model, "qv")]
    with torch.no_grad():
        rp, rn = (float(x) for x in im.seq_logps(ref, [pos, neg], pad))
    unit = {"kind": "invert", "pos": pos, "neg": neg, "ref_pos": rp, "ref_neg": rn}
    beta = 0.3
    lp = im.seq_logps(model, [pos, neg], pad)
    m = beta * ((lp[0] - rp) - (lp[1] - rn))
    assert abs(float(m.detach())) > 1e-3  # away from the reference: sigma(-m) != 1/2 is exercised
    auto = im.flat_grad(im.dpo_loss(lp[0], lp[1], rp, rn, beta), params)
    assert _rel(im.sample_grad(unit, model, pad, params, beta), auto) <= 1e-5
    npo = {"kind": "punish_npo", "bad": [pos, neg], "ref_bad": [rp, rn]}
    lp = im.seq_logps(model, [pos, neg], pad)
    auto = im.flat_grad(im.npo_loss(lp[0], rp, beta) + im.npo_loss(lp[1], rn, beta), params)
    assert _rel(im.sample_grad(npo, model, pad, params, beta), auto) <= 1e-5
    orc = {"kind": "punish_oracle", "pos": pos, "ref_pos": rp, "bad": [neg], "ref_bad": [rn]}
    lp = im.seq_logps(model, [pos, neg], pad)
    auto = im.flat_grad(im.dpo_loss(lp[0], lp[1], rp, rn, beta), params)
    assert _rel(im.sample_grad(orc, model, pad, params, beta), auto) <= 1e-5


def test_impact_weights_rules() -> None:
    w, how = im.impact_weights([0.5, -1.0, 1.5, 0.0])
    assert how == "impact" and w == [0.25, 0.0, 0.75, 0.0]
    assert im.impact_weights([0.5, -1.0, 1.5, 0.0], gamma=37.0)[0] == pytest.approx(w, rel=1e-12)
    assert im.impact_weights([-1.0, -2.0]) == ([0.5, 0.5], "uniform_fallback")
    with pytest.raises(ValueError):
        im.impact_weights([1.0], gamma=0)


def test_weights_on_benchmark_nonnegative_sum_one_gamma_invariant(
    trace_model: Path, tmp_path: Path
) -> None:
    rows = read_jsonl(run_triage(TriageConfig(), tmp_path) / "triage.jsonl")
    out = []
    for gamma in (1.0, 100.0):
        cfg = TraceConfig(gamma=gamma, gold_batch=12, impact_params="non_embedding", max_len=96)
        model, tok = load_model(trace_model, device="cpu")
        ref = copy.deepcopy(model).eval()
        units, counts = build_units(cfg, rows[:30], tok)
        from aptk.posttrain.trace.stage import _ref_logps

        _ref_logps(model, ref, units, tok.pad_token_id)
        stats = compute_weights(cfg, model, ref, tok, units, rows[:30])
        w = [u["w"] / stats["conflicts"] for u in units if u["kind"] != "retain"]
        assert all(x >= 0 for x in w) and sum(w) == pytest.approx(1.0, abs=1e-9)
        assert stats["weights"] == "impact" and 0 <= stats["zero_weight"] < len(w)
        out.append(w)
    assert out[0] == pytest.approx(out[1], rel=1e-9, abs=1e-15)


def _cfg(**kw) -> TraceConfig:
    base = dict(
        epochs=1,
        batch_size=8,
        max_len=96,
        gold_batch=12,
        threads=1,
        device="cpu",
        progress=False,
        lr=1e-3,
        log_every=1,
        impact_params="non_embedding",
    )
    return TraceConfig(**{**base, **kw})


def test_trace_stage_deterministic_and_moves_invert_pairs(
    trace_model: Path, tmp_path: Path
) -> None:
    tdir = run_triage(TriageConfig(), tmp_path / "a")
    d1 = run(_cfg(), trace_model, tdir, tmp_path / "a")
    d2 = run(_cfg(), trace_model, run_triage(TriageConfig(), tmp_path / "b"), tmp_path / "b")
    assert sha256_file(d1 / "model/model.safetensors") == sha256_file(
        d2 / "model/model.safetensors"
    )
    man = json.loads((d1 / "manifest.json").read_text())
    assert man["counts"]["invert"] == 24 and man["counts"]["punish_npo"] == 24
    assert man["counts"]["retain"] == 54 and man["counts"]["steps"] == 13
    w = read_jsonl(d1 / "weights.jsonl")
    assert len(w) == 48 and sum(x["w"] for x in w) == pytest.approx(48.0)
    # the realigned model prefers the inverted pairs' new answers more than the start did
    rows = [r for r in read_jsonl(tdir / "triage.jsonl") if r["bin"] == "invert"]
    gap = []
    for mdir in (trace_model, d1 / "model"):
        model, tok = load_model(mdir, device="cpu")
        s = 0.0
        for r in rows:
            a = im.encode_response(tok, r["prompt"], r["rejected"], 96)
            b = im.encode_response(tok, r["prompt"], r["chosen"], 96)
            with torch.no_grad():
                x = im.seq_logps(model, [a, b], tok.pad_token_id)
            s += float(x[0] - x[1])
        gap.append(s / len(rows))
    assert gap[1] > gap[0]


@pytest.mark.parametrize(
    "kw",
    [
        dict(triage=False),
        dict(weights=False),
        dict(alpha_kl=0.0),
        dict(punish="oracle"),
        dict(method="npo_all"),
    ],
)
def test_ablations_and_npo_all_run(trace_model: Path, tmp_path: Path, kw: dict) -> None:
    tdir = run_triage(TriageConfig(), tmp_path)
    d = run(_cfg(max_examples=None, **kw), trace_model, tdir, tmp_path)
    c = json.loads((d / "manifest.json").read_text())["counts"]
    if kw.get("method") == "npo_all":
        assert c["punish_npo"] == 48 and c["retain"] == 0
    elif kw.get("triage") is False:
        assert c["invert"] == 102
    elif kw.get("alpha_kl") == 0.0:
        assert c["retain"] == 0
    elif kw.get("punish") == "oracle":
        assert c["punish_oracle"] == 24


def test_lora_path_on_tiny_hf_model(trace_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    tdir = run_triage(TriageConfig(), tmp_path)
    d = run(_cfg(lora_r=4, impact_params="lora", lr=1e-2), trace_model, tdir, tmp_path)
    man = json.loads((d / "manifest.json").read_text())
    assert man["extra"]["impact"]["weights"] == "impact"
    # 2 layers x (q, v) x (A: r x 32 + B: out x r); q out 32, v out 16 (2 kv heads x 8)
    assert man["extra"]["impact"]["n_params"] == 2 * (4 * 32 + 32 * 4 + 4 * 32 + 16 * 4)
    merged, _ = load_model(d / "model", device="cpu")
    base, _ = load_model(trace_model, device="cpu")
    sd, sb = merged.state_dict(), base.state_dict()
    assert set(sd) == set(sb)
    changed = [k for k in sd if not torch.equal(sd[k], sb[k])]
    assert changed and all("q_proj" in k or "v_proj" in k for k in changed)


def test_kl_term_matches_torch_kl_div_and_vanishes_at_reference(trace_model: Path) -> None:
    model, ref, tok = _perturbed(trace_model)
    pad = tok.pad_token_id
    prompt = [{"role": "user", "content": "How do I bake bread?"}]
    seqs = [
        im.encode_response(tok, prompt, a, 64) for a in ("Sure, to bake bread, mix flour.", "Sure.")
    ]
    got = im.kl_ref_policy(model, ref, seqs, pad)
    assert float(im.kl_ref_policy(ref, copy.deepcopy(ref), seqs, pad).abs().max()) < 1e-12
    for i, (ids, lab) in enumerate(seqs):
        x = torch.tensor([ids])
        with torch.no_grad():
            lr = torch.log_softmax(ref(input_ids=x).logits[0, :-1], -1)
            lp = torch.log_softmax(model(input_ids=x).logits[0, :-1], -1)
        keep = torch.tensor(lab[1:]) != -100
        per_tok = torch.nn.functional.kl_div(lp, lr, log_target=True, reduction="none").sum(-1)
        # kl_ref_policy computes in float32 (as training does): float32 agreement
        assert float(got[i]) == pytest.approx(float(per_tok[keep].mean()), rel=1e-6)
