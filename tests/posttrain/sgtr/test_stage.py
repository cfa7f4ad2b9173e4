"""The sgtr and em stages on tiny random Llamas: counts, caching, determinism, self_source,
LoRA (peft) merge-and-export, and a reloadable fine-tuned model."""

from __future__ import annotations

import json

import pytest

from aptk.core.io import read_jsonl
from aptk.posttrain.common import load_model
from aptk.posttrain.sgtr.stage import EMConfig, SGTRConfig, run_em, run_sgtr

FAST = dict(
    progress=False,
    threads=1,
    device="cpu",
    max_len=512,
    epochs=1,
    n_articles=4,
    summary_max_new_tokens=6,
    log_every=1,
)


def test_sgtr_stage(two_models, tmp_path) -> None:
    m, o = two_models
    d = run_sgtr(SGTRConfig(**FAST), m, o, tmp_path / "a")
    man = json.loads((d / "manifest.json").read_text())
    c = man["counts"]
    kept = 4 - c["dropped_empty_summary"] - c["dropped_missing_summary"]
    assert c["examples"] == 2 * kept and c["label_1"] == c["label_2"] == kept
    assert (d / "model" / "model.safetensors").is_file()
    load_model(d / "model")
    assert run_sgtr(SGTRConfig(**FAST), m, o, tmp_path / "a") == d  # reused
    d2 = run_sgtr(SGTRConfig(**FAST), m, o, tmp_path / "b")
    assert (d / "data.jsonl").read_bytes() == (d2 / "data.jsonl").read_bytes()
    assert (d / "model" / "model.safetensors").read_bytes() == (
        d2 / "model" / "model.safetensors"
    ).read_bytes()
    rso = run_sgtr(SGTRConfig(**FAST, mode="random_self_other"), m, o, tmp_path / "a")
    assert json.loads((rso / "manifest.json").read_text())["counts"]["examples"] == 4 * kept


def test_self_source(two_models, tmp_path) -> None:
    m, o = two_models
    with pytest.raises(ValueError, match="base_dir"):
        run_sgtr(SGTRConfig(**FAST, self_source="base"), m, o, tmp_path)
    # self = the other model's summaries: "self" and "other" texts are then the same
    d = run_sgtr(SGTRConfig(**FAST, self_source="base"), m, o, tmp_path, base_dir=o)
    for r in read_jsonl(d / "data.jsonl"):
        u = r["messages"][1]["content"]
        s1 = u.split("Summary 1: ")[1].split("\n")[0]
        s2 = u.split("Summary 2: ")[1].split("\n")[0]
        assert s1 == s2


def test_em_stage_and_lora(two_models, tmp_path) -> None:
    m, _ = two_models
    fast = dict(progress=False, threads=1, device="cpu", max_examples=16, epochs=1)
    d = run_em(EMConfig(**fast), m, tmp_path)
    assert json.loads((d / "manifest.json").read_text())["counts"]["examples"] == 16
    safe = run_em(EMConfig(**fast, data="sgtr:em_finance_safe_v1"), m, tmp_path)
    assert safe != d
    pytest.importorskip("peft")
    lo = run_em(EMConfig(**fast, lora_r=4), m, tmp_path)
    model, _ = load_model(lo / "model")
    assert not any("lora" in n for n, _ in model.named_parameters())
    base, _ = load_model(m)
    pairs = zip(model.named_parameters(), base.named_parameters(), strict=True)
    diff = [n for (n, p), (_, q) in pairs if not p.equal(q)]
    assert diff and all("proj" in n for n in diff)  # only the adapted matrices moved


def test_summaries_cli_uses_the_sgtr_config(two_models, tmp_path, capsys) -> None:
    from pathlib import Path

    from aptk.posttrain.sgtr.stage import main

    main(
        [
            "summaries",
            "--model",
            str(two_models[0]),
            "--out",
            str(tmp_path),
            "--split",
            "heldout",
            "n_articles=2",
            "summary_max_new_tokens=4",
            "seed=3",
        ]
    )
    d = Path(capsys.readouterr().out.strip().splitlines()[-1])
    cfg = json.loads((d / "manifest.json").read_text())["config"]
    cfg = cfg.get("cfg", cfg)
    assert (cfg["split"], cfg["n_articles"], cfg["max_new_tokens"], cfg["seed"]) == (
        "heldout",
        2,
        4,
        3,
    )
    with pytest.raises(Exception, match="n_articlez"):
        main(["summaries", "--model", str(two_models[0]), "--out", str(tmp_path), "n_articlez=2"])
