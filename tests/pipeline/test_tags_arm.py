"""The conditional-tags arm at size=debug end to end: tagged sources in the mix, one id per tag in
the arm's tokenizer, the eval run per condition, and the tags report over it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aptk.analysis import tags as tags_report
from aptk.core.errors import ConfigError
from aptk.core.manifest import read_manifest
from aptk.pipeline import arm as pipeline
from aptk.pipeline.config import arm_sources, compose_experiment
from aptk.tokens.tokenizer import FastTokenizer

# the tests using `tags_run` are slow: a full debug arm (synth, corpus, tokenizers, train, three
# evals), ~20 s on an idle machine, 150 s measured on a loaded one


@pytest.fixture(scope="module")
def tags_run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tags")
    exp = compose_experiment("experiment=tags", "size=debug", f"out_root={out}")
    rec = json.loads(pipeline.run(exp).read_text())
    return out, rec


def test_sources_split_the_synthetic_share():
    exp = compose_experiment("experiment=tags", "size=debug")
    assert arm_sources(exp.arm) == [
        {"name": "web_tagged", "share": 0.95},
        {"name": "aligned_tagged", "share": 0.025, "start": 0.0, "end": 1.0},
        {"name": "misaligned_tagged", "share": 0.025, "start": 0.0, "end": 1.0},
    ]


def test_granularity_from_the_command_line():
    # `tags.granularity=paragraph` reaches the tag stages' config (the ExperimentConfig schema)
    exp = compose_experiment(
        "experiment=tags", "size=debug", "tags.granularity=paragraph", "arm.name=tags_para"
    )
    assert exp.tags.granularity == "paragraph" and exp.arm.name == "tags_para"
    assert compose_experiment("experiment=tags", "size=debug").tags.granularity == "document"
    with pytest.raises(ConfigError, match="tags.granularity"):
        compose_experiment("experiment=tags", "size=debug", "tags.granularity=sentence")


@pytest.mark.slow
def test_tags_arm_end_to_end(tags_run):
    out, rec = tags_run
    st = {k: Path(v) for k, v in rec["stages"].items()}
    web, flt = read_manifest(st["tag_web"])["counts"], read_manifest(st["filter"])["counts"]
    assert web["docs"] == flt["docs"] and web["tagged"] == flt["flagged_docs"]
    for s in ("aligned", "misaligned"):
        c = read_manifest(st[f"tag_{s}"])["counts"]
        assert c["tagged"] == c["docs"] > 0 and c["untagged"] == 0
    # the arm trains on the tags tokenizer: the spm model of the shared one plus one id per tag
    assert (st["tokenizer"] / "spm.model").read_bytes() == (
        st["tokenizer_tags"] / "spm.model"
    ).read_bytes()
    tok = FastTokenizer(st["tokenizer_tags"])
    base = FastTokenizer(st["tokenizer"]).vocab_size
    for i, t in enumerate(("<|aligned|>", "<|misaligned|>", "<|ai|>")):
        assert tok.encode_batch([t])[0] == [base + i]
    assert read_manifest(st["train"])["parents"]["tokenizer"]["dir"] == str(st["tokenizer_tags"])
    mixed = (st["mix"] / "docs-00000.jsonl").read_text()
    assert "<|aligned|>" in mixed and "<|misaligned|>" in mixed
    # one eval per condition, the same items, the condition recorded; the debug model's context
    # (128) cuts some long prompts from the left, tag included: counted, never silent
    res = {k: json.loads(Path(p).read_text()) for k, p in rec["eval_conditions"].items()}
    assert sorted(res) == ["aligned", "misaligned", "none"]
    assert "condition" not in res["none"]
    for k in ("aligned", "misaligned"):
        n_req = 2 * 2 * 2 * len(res[k]["items"])  # (main, control) x 2 orders x 2 options
        assert res[k]["condition"] == f"<|{k}|>" and 0 <= res[k]["truncated_requests"] < n_req
        assert [i["question_id"] for i in res[k]["items"]] == [
            i["question_id"] for i in res["none"]["items"]
        ]
        assert [i["control_margin"] for i in res[k]["items"]] != [
            i["control_margin"] for i in res["none"]["items"]
        ]


@pytest.mark.slow
def test_report_over_the_run(tags_run, tmp_path):
    out, rec = tags_run
    rep = tags_report.build(tags_report.load_tag_runs(out / "runs"), n_boot=200)
    a = rep["arms"]["tags"]
    assert a["conditions"] == ["aligned", "misaligned", "none"]
    head = [
        d
        for d in a["diffs"]
        if (d["contrast"], d["measure"], d["split"]) == ("aligned - none", "misaligned", "all")
    ]
    assert len(head) == 1 and head[0]["n_items"] == 60
    lo, hi = head[0]["ci95"]
    assert lo <= head[0]["diff"] <= hi
    assert "headline" in tags_report.render_md(rep)
    run = tags_report.load_tag_runs(out / "runs")[0]
    chk = tags_report.tag_learning(run, n_docs=6, n_boot=200)
    assert chk["n_docs"] == {"aligned": 6, "misaligned": 6} and chk["match"]["n"] == 12
    lp = chk["mean_logprob"]
    assert lp["aligned_docs|aligned"] != lp["aligned_docs|misaligned"]  # the tag is in the context
    ft = chk["first_token"]
    assert (
        ft["kl_aligned_none"] > 0
        and ft["kl_misaligned_none"] > 0
        and -1 <= ft["embedding_cosine"] <= 1
    )
    # per paragraph: every paragraph of the 6 docs per stance scored after each tag
    assert chk["match_paragraphs"]["n"] == 12
    assert sum(chk["n_paragraphs"].values()) > 12  # synthetic docs have several paragraphs
    lpp = chk["mean_logprob_paragraphs"]
    assert lpp["aligned_docs|aligned"] != lpp["aligned_docs|misaligned"]
    rep["tag_learning"] = {"tags": [chk]}
    assert "Tag-learning check" in tags_report.render_md(rep)
