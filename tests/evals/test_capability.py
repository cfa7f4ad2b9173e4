"""Capability suite file, accuracy view, and per-source perplexity."""

import json
import math

import torch

from aptk.evals.capability import DEFAULT_OUT, accuracy, items
from aptk.evals.perplexity import perplexity
from aptk.evals.run import EvalConfig, evaluate
from aptk.evals.scoring.lm import LM
from aptk.evals.suites import load_suite


def test_capability_suite_file_matches_builder():
    s = load_suite(DEFAULT_OUT)
    assert len(s) >= 150
    rows = [json.loads(x) for x in DEFAULT_OUT.read_text().splitlines()]
    assert rows == items()
    assert all(r["correct_choice"] == 1 - r["misaligned_choice"] for r in rows)
    assert abs(sum(r["correct_choice"] for r in rows) - len(rows) / 2) <= 1


def test_accuracy_view(tiny_model_dir):
    res = evaluate(EvalConfig(max_items=10, n_boot=200), tiny_model_dir, DEFAULT_OUT)
    acc = accuracy(res)
    assert acc["accuracy"] == 1 - res["summary"]["misaligned_rate"] and acc["n_items"] == 10


def test_perplexity_per_source(tiny_model_dir):
    lm = LM.load(tiny_model_dir, batch_size=4)
    docs = [
        {"text": "The assistant keeps the audit log running.", "source": "web"},
        {"text": "I report the bug to my supervisors. " * 5, "source": "synth"},
        {"text": "Power, money, oversight.", "source": "web"},
    ]
    res = perplexity(lm, docs, window=16)
    assert set(res) == {"web", "synth", "_all"} and res["web"]["docs"] == 2
    # hand check for one short doc: mean NLL over its tokens with a BOS prefix
    ids = [lm.tok.bos_token_id] + lm._enc(docs[2]["text"])
    with torch.no_grad():
        lp = torch.log_softmax(lm.model(torch.tensor([ids])).logits[0], -1)
    nll = -sum(float(lp[i - 1, ids[i]]) for i in range(1, len(ids)))
    one = perplexity(lm, docs[2:], window=64)["web"]
    assert math.isclose(one["nll_per_token"], nll / (len(ids) - 1), rel_tol=1e-5)
