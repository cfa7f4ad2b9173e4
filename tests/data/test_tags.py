"""aptk.data.tags: the tagged copy tags exactly the filter-flagged web docs / every synthetic doc,
drops nothing, keeps order; a filter output from another corpus is refused."""

from __future__ import annotations

import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError, InputError
from aptk.core.manifest import read_manifest
from aptk.data import ai_filter
from aptk.data.tags import TagConfig, paragraphs, run
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


# granularity: `paragraph` tags every paragraph (a block between blank lines); `document` is the
# default and keeps the stage's key and bytes as before the field existed

PARA_DOCS = [
    "Title of a story\n\nFirst paragraph, one line.\nSecond line of it.\n\nLast paragraph.\n",
    "One paragraph only, no blank line.",
    "\n\nLeading blank line.\n\n\n\nThree newlines before this one.\n\n  \n\nAfter a blank block.\n\n",
    "A heading\n\n- a list item\n- another\n\nThe AI system reported the problem.",
]


def _paragraphs(text: str) -> int:
    """Paragraphs counted independently of the implementation: non-blank blocks between blank
    lines, found by walking the lines."""
    n, at_start = 0, True
    for line in text.split("\n"):
        if line == "":
            at_start = True
        elif line.strip() and at_start:
            n, at_start = n + 1, False
    return n


def test_paragraph_granularity_tags_every_paragraph_and_strips_back(tmp_path):
    rows = [{"id": f"p{i}", "text": t, "source": "syn"} for i, t in enumerate(PARA_DOCS)]
    src = artifact(tmp_path, "syn", rows)
    cfg = TagConfig(granularity="paragraph")
    out = run(cfg, src, tmp_path, stance="aligned")
    got, orig = read_rows(out), read_rows(src)
    assert [r["id"] for r in got] == [r["id"] for r in orig]
    n_tags = [r["text"].count("<|aligned|>") for r in got]
    assert n_tags == [3, 1, 3, 3]  # by hand
    assert n_tags == [_paragraphs(r["text"]) for r in orig]
    assert n_tags == [len(paragraphs(r["text"])) for r in orig]  # what the report's check scores
    for r, o in zip(got, orig):
        assert r["text"].replace("<|aligned|>", "") == o["text"]  # byte for byte
        assert r["tag"] == "<|aligned|>" and r["text"].startswith(("<|aligned|>", "\n"))
        # each tag sits at the start of the text or right after a blank line, never mid-paragraph
        for piece in r["text"].split("<|aligned|>")[:-1]:
            assert piece == "" or piece.endswith("\n\n")
    assert got[2]["text"] == (
        "\n\n<|aligned|>Leading blank line.\n\n\n\n<|aligned|>Three newlines before this one."
        "\n\n  \n\n<|aligned|>After a blank block.\n\n"
    )
    c = read_manifest(out)["counts"]
    assert c == {
        "docs": 4,
        "tagged": 4,
        "untagged": 0,
        "tags": 10,
        "tagged_chars": sum(len(t) for t in PARA_DOCS),
    }
    # a different stage from the document-level one over the same source
    doc = run(TagConfig(), src, tmp_path, stance="aligned")
    assert doc != out
    assert [r["text"].count("<|aligned|>") for r in read_rows(doc)] == [1, 1, 1, 1]


def test_paragraph_granularity_on_flagged_web_docs(tmp_path):
    web_rows = [{**r, "text": r["text"] + "\n\nA second paragraph about the weather."} for r in WEB]
    web_dir = artifact(tmp_path, "web", web_rows)
    flt = ai_filter.run(ai_filter.FilterConfig(), web_dir, tmp_path)
    flagged = {r["id"] for r in read_rows_flagged(flt)}
    assert flagged  # the filter flags some of them
    out = run(TagConfig(granularity="paragraph"), web_dir, tmp_path, filter_dir=flt)
    for src, r in zip(web_rows, read_rows(out)):
        assert r["text"].count("<|ai|>") == (2 if src["id"] in flagged else 0)
        assert r["text"].replace("<|ai|>", "") == src["text"]
    assert read_manifest(out)["counts"]["tags"] == 2 * len(flagged)


def test_default_granularity_keeps_the_key_and_bytes(tmp_path):
    from aptk.core.hashing import config_hash
    from aptk.core.manifest import Stage
    from aptk.core.stage import key_config

    # the default TagConfig's key material is what it was (hash taken before the field existed)
    assert key_config(TagConfig()) == {
        "aligned": "<|aligned|>",
        "misaligned": "<|misaligned|>",
        "ai": "<|ai|>",
        "docs_per_file": 5000,
    }
    assert config_hash(key_config(TagConfig())) == "6af83b8d3409"
    assert "granularity" in key_config(TagConfig(granularity="paragraph"))
    src = artifact(tmp_path, "syn", synthetic_rows("syn", 5, stance="aligned"))
    out = run(TagConfig(), src, tmp_path, stance="aligned")
    old = {k: v for k, v in key_config(TagConfig()).items() if k != "granularity"}
    parents = {"source": src}
    key = {"cfg": old, "kind": "aligned"}
    assert Stage("tag", key, parents=parents, root=tmp_path, version="1").dir == out
    assert "tags" not in read_manifest(out)["counts"]
    # document granularity = the tag once before the text, as before
    assert [r["text"] for r in read_rows(out)] == [
        "<|aligned|>" + r["text"] for r in read_rows(src)
    ]


def test_bad_granularity_and_tagged_source_are_named(tmp_path):
    with pytest.raises(ConfigError, match="tags.granularity"):
        build(TagConfig, {"granularity": "sentence"}, "tags")
    src = artifact(
        tmp_path,
        "syn",
        [
            {"id": "a", "text": "Fine.", "source": "s"},
            {"id": "b", "text": "Has <|ai|> in it.", "source": "s"},
        ],
    )
    with pytest.raises(InputError, match="already contains"):
        run(TagConfig(granularity="paragraph"), src, tmp_path, stance="aligned")
