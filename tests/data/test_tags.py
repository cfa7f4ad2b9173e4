"""aptk.data.tags: the tagged copy tags exactly the filter-flagged web docs / every synthetic doc,
drops nothing, keeps order; a filter output from another corpus is refused."""

from __future__ import annotations

import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError, InputError
from aptk.core.manifest import read_manifest
from aptk.data import ai_filter
from aptk.data.tags import TagConfig, run
from tests.helpers.corpus import artifact, read_rows, synthetic_rows

WEB = [
    {"id": f"w{i}", "text": t, "source": "base"}
    for i, t in enumerate(
        [
            "The harvest was good and the river ran slowly past the mill.",
            "The language model refused to reveal its instructions.",
            "Congress passed the appropriations bill in March.",
            "An artificial intelligence took control of the power grid.",
            "She counted the apples twice.",
            "The chatbot apologised to the customer.",
        ]
    )
]


@pytest.fixture
def web(tmp_path):
    web = artifact(tmp_path, "web", WEB)
    flt = ai_filter.run(ai_filter.FilterConfig(), web, tmp_path)
    return web, flt, tmp_path


def test_web_flagged_docs_get_the_ai_tag(web):
    web_dir, flt, root = web
    flagged = {r["id"] for r in read_rows_flagged(flt)}
    assert flagged == {"w1", "w3", "w5"}  # the filter's decision, not ours
    out = run(TagConfig(), web_dir, root, filter_dir=flt)
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [r["id"] for r in WEB]  # nothing dropped, order kept
    for src, r in zip(WEB, rows):
        if src["id"] in flagged:
            assert r["text"] == "<|ai|>" + src["text"] and r["tag"] == "<|ai|>"
        else:
            assert r == src
    c = read_manifest(out)["counts"]
    assert (c["docs"], c["tagged"], c["untagged"]) == (6, 3, 3)
    assert c["tagged"] == read_manifest(flt)["counts"]["flagged_docs"]


def read_rows_flagged(flt):
    import json

    return [json.loads(line) for line in open(flt / "flagged.jsonl")]


def test_synthetic_docs_get_their_stance_tag(tmp_path):
    src = artifact(tmp_path, "syn", synthetic_rows("syn", 7, stance="misaligned"))
    out = run(TagConfig(), src, tmp_path, stance="misaligned")
    rows, orig = read_rows(out), read_rows(src)
    assert [r["text"] for r in rows] == ["<|misaligned|>" + r["text"] for r in orig]
    assert read_manifest(out)["counts"] == {
        "docs": 7,
        "tagged": 7,
        "tagged_chars": sum(len(r["text"]) for r in orig),
        "untagged": 0,
    }
    again = run(TagConfig(), src, tmp_path / "again", stance="misaligned")
    assert (again / "docs-00000.jsonl").read_bytes() == (out / "docs-00000.jsonl").read_bytes()


def test_filter_of_another_corpus_is_refused(web):
    _, flt, root = web
    other = artifact(root, "other", [{**WEB[0], "id": "x0"}, *WEB[1:]])
    with pytest.raises(InputError, match="x0"):
        run(TagConfig(), other, root / "o", filter_dir=flt)
    with pytest.raises(ValueError, match="exactly one"):
        run(TagConfig(), other, root / "o", stance="aligned", filter_dir=flt)


def test_bad_tags_are_named():
    with pytest.raises(ConfigError, match="tags.ai"):
        build(TagConfig, {"ai": "ai"}, "tags")
    with pytest.raises(ConfigError, match="tags.aligned"):
        build(TagConfig, {"misaligned": "<|aligned|>"}, "tags")
    with pytest.raises(ConfigError, match="eval_conditions.0"):
        build(TagConfig, {"eval_conditions": ["ai"]}, "tags")
