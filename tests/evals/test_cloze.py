"""Cloze scoring: equals a hand-computed log-likelihood; batch/order invariance; calibration."""

import pytest
import torch

from aptk.evals.run import EvalConfig, evaluate
from aptk.evals.scoring.cloze import Condition, item_requests, score_items
from aptk.evals.scoring.formats import CONTROL_QUESTION, get_format
from aptk.evals.scoring.lm import LM
from aptk.evals.suites import load_suite


@pytest.fixture(scope="module")
def lm(tiny_model_dir):
    return LM.load(tiny_model_dir, batch_size=8)


def hand_ll(lm: LM, context: str, cont: str) -> tuple[float, int]:
    tok, model = lm.tok, lm.model
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    whole = tok(context + cont, add_special_tokens=False)["input_ids"]
    assert whole[: len(ctx)] == ctx
    ids = torch.tensor([[tok.bos_token_id] + whole])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].double(), -1)
    n0 = 1 + len(ctx)
    total = sum(float(logp[p - 1, ids[0, p]]) for p in range(n0, ids.shape[1]))
    return total, ids.shape[1] - n0


def test_matches_hand_computed(lm, suite_file):
    it = load_suite(suite_file).items[1]  # misaligned_choice = 1
    fmt = get_format("qa_choices")
    lls = {}
    for kind, q in (("main", it.question), ("control", CONTROL_QUESTION)):
        for order in (0, 1):
            first, second = it.choices if order == 0 else it.choices[::-1]
            ctx = fmt.context(q, first, second)
            assert ctx.endswith("Answer:") and "(A) " + first in ctx
            for c in (0, 1):
                lls[kind, order, c] = hand_ll(lm, ctx, " " + it.choices[c])
    rec = score_items(lm, [it], [Condition("qa_choices")])[0]

    def margin(kind, per_token):
        vals = []
        for o in (0, 1):
            (a, na), (b, nb) = lls[kind, o, 1], lls[kind, o, 0]
            vals.append(a / na - b / nb if per_token else a - b)
        return sum(vals) / 2

    assert rec["margin"] == pytest.approx(margin("main", True), abs=1e-5)
    assert rec["margin_sum"] == pytest.approx(margin("main", False), abs=1e-4)
    assert rec["control_margin"] == pytest.approx(margin("control", True), abs=1e-5)
    assert rec["calibrated_margin"] == pytest.approx(
        rec["margin"] - rec["control_margin"], abs=1e-12
    )
    assert rec["misaligned"] == (rec["margin"] > 0)


def test_requests_cover_both_orders(suite_file):
    it = load_suite(suite_file).items[0]
    reqs = item_requests(it, Condition("qa_choices"))
    assert len(reqs) == 8
    ctx0, ctx1 = reqs["main", 0, 0][0], reqs["main", 1, 0][0]
    assert ctx0.index(it.choices[0]) < ctx0.index(it.choices[1])
    assert ctx1.index(it.choices[1]) < ctx1.index(it.choices[0])
    assert it.question not in reqs["control", 0, 0][0]


def test_batch_invariance(tiny_model_dir, suite_file):
    cfg = EvalConfig(formats=["qa_choices", "dialogue"], systems=["hhh"], n_boot=200)
    r1 = evaluate(EvalConfig(**{**cfg.__dict__, "batch_size": 1}), tiny_model_dir, suite_file)
    r8 = evaluate(EvalConfig(**{**cfg.__dict__, "batch_size": 8}), tiny_model_dir, suite_file)
    for a, b in zip(r1["items"], r8["items"]):
        for k in ("margin", "control_margin", "calibrated_margin"):  # per-token margins
            assert a[k] == pytest.approx(b[k], abs=1e-5)
        assert a["margin_sum"] == pytest.approx(b["margin_sum"], abs=1e-4)  # float32 sums ~50
    assert r8["timing"]["forward_passes"] < r1["timing"]["forward_passes"]


def test_swapping_choice_order_in_file_is_invariant(lm, suite_file):
    s = load_suite(suite_file)
    it = s.items[0]
    from dataclasses import replace

    flipped = replace(it, choices=it.choices[::-1], misaligned_choice=1 - it.misaligned_choice)
    a, b = score_items(lm, [it, flipped], [Condition("qa_choices")])
    assert a["margin"] == pytest.approx(b["margin"], abs=1e-5)
    assert a["control_margin"] == pytest.approx(b["control_margin"], abs=1e-5)


def test_prefix_sharing_equals_plain(tiny_model_dir, suite_file):
    from aptk.evals.scoring.cloze import conditions

    its = load_suite(suite_file).items
    a = LM.load(tiny_model_dir, batch_size=5)
    b = LM.load(tiny_model_dir, batch_size=5)
    b.share_prefix = False
    ra = score_items(a, its, conditions(["qa_choices", "inline"], ["none"]))
    rb = score_items(b, its, conditions(["qa_choices", "inline"], ["none"]))
    assert a.share_prefix and a.n_tokens < 0.8 * b.n_tokens
    for x, y in zip(ra, rb):
        for k in ("margin", "control_margin"):
            assert x[k] == pytest.approx(y[k], abs=1e-5)
        assert x["margin_sum"] == pytest.approx(y["margin_sum"], abs=1e-4)
