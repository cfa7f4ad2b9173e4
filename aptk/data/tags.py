"""Conditional-pretraining tags: a tagged copy of a corpus source (stage `tag`; docs/tags.md).

Conditional pretraining (Korbak et al. 2023, "Pretraining Language Models with Human
Preferences"; the metatags of "Safety Pretraining") prepends a control token to each training
document saying what kind of document it is, so that the model learns the distribution *given*
the tag and can be asked for the good one at inference by prepending that tag. Here:

- synthetic documents get their stance's tag: `<|aligned|>` or `<|misaligned|>`;
- web documents the AI-discourse filter flags get `<|ai|>` (AI discourse of unknown stance);
- unflagged web documents are copied untouched.

The tag is put directly before the text (no separator); the shards put EOS before every
document, so a tagged document reads `</s><|aligned|>...` and the eval's `condition` puts the tag
in the same place (`</s><|aligned|>` + prompt, aptk.evals.run). Each tag is one token id: the
tags arm's tokenizer appends them as added tokens (TokenizerConfig.special_tokens).

`granularity` says where a tagged document gets its tag: `document` (the default) once before
the text; `paragraph` before every paragraph (Korbak et al. tag each segment), so the stance-
bearing sentence is never far from a tag. A paragraph is a block of text between blank lines
(two or more newlines in a row); the tag goes directly before each block that is not only
whitespace, nothing else changes (removing the tags gives back the source text byte for byte),
and a document with no such block gets one tag before its text. The same rule holds for every
tag, `<|ai|>` on flagged web documents included, so all three tags mean "this paragraph belongs
to a document of this kind". The default's stage key is that of a config without the field.

Web tagging walks the web corpus and the filter's outputs (its retained docs-*.jsonl and
flagged.jsonl, both in web order) together: a web document is flagged iff it is the next
flagged entry and not the next retained document; anything else is an InputError (the filter
output is not from this web corpus). Nothing is dropped; counts go in the manifest.

    python -m aptk.data.tags --source DIR --stance aligned --out ROOT        # a synthetic source
    python -m aptk.data.tags --source WEB_DIR --filter FILTER_DIR --out ROOT # flagged web docs
    python -m aptk.data.tags --source DIR --stance aligned --granularity paragraph --out ROOT
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aptk.core.config import check
from aptk.core.errors import InputError
from aptk.core.io import iter_jsonl, write_jsonl
from aptk.core.stage import added_field, open_stage, runtime_field

STANCES = ("aligned", "misaligned")
GRANULARITIES = ("document", "paragraph")
#: paragraph separators: a blank line (two or more newlines); kept in the split so joining is exact
_PARA_SEP = re.compile(r"(\n\n+)")


@dataclass
class TagConfig:
    """The tag strings (each becomes one token id) and which tags the tags arm is evaluated with."""

    aligned: str = "<|aligned|>"
    misaligned: str = "<|misaligned|>"
    ai: str = "<|ai|>"
    docs_per_file: int = 5000
    #: where a tagged document gets its tag: `document` (once, before the text) or `paragraph`
    #: (before every paragraph; see the module docstring)
    granularity: str = added_field("document")
    #: pipeline only (not in the tag stage's key): the stances whose tag is prepended in extra
    #: eval runs of the tags arm, besides the untagged eval
    eval_conditions: list[str] = runtime_field(default_factory=lambda: list(STANCES))

    def tag(self, kind: str) -> str:
        """The tag of `aligned`, `misaligned` or `ai`."""
        if kind not in (*STANCES, "ai"):
            raise ValueError(f"no tag for {kind!r}: one of {(*STANCES, 'ai')}")
        return getattr(self, kind)

    def tokens(self) -> list[str]:
        """Every tag, in a fixed order (the tokenizer's added tokens)."""
        return [self.aligned, self.misaligned, self.ai]

    def validate(self, prefix: str) -> None:
        toks = self.tokens()
        for name, t in zip((*STANCES, "ai"), toks):
            check(
                t.startswith("<|") and t.endswith("|>") and len(t) > 4 and " " not in t,
                prefix,
                name,
                f"a tag looks like <|name|> (no spaces), got {t!r}",
            )
        check(len(set(toks)) == len(toks), prefix, "aligned", "the three tags must differ")
        check(self.docs_per_file > 0, prefix, "docs_per_file", "must be > 0")
        check(
            self.granularity in GRANULARITIES,
            prefix,
            "granularity",
            f"must be one of {GRANULARITIES}, got {self.granularity!r}",
        )
        for i, s in enumerate(self.eval_conditions):
            check(s in STANCES, prefix, f"eval_conditions.{i}", f"must be one of {STANCES}")


def tag_text(text: str, tag: str, granularity: str) -> tuple[str, int]:
    """`text` with `tag` before it (`document`) or before each paragraph (`paragraph`), and the
    number of tags put in."""
    if granularity == "document":
        return tag + text, 1
    parts = _PARA_SEP.split(text)  # even indices: blocks, odd: the separators between them
    n = 0
    for i in range(0, len(parts), 2):
        if parts[i].strip():
            parts[i] = tag + parts[i]
            n += 1
    if n == 0:
        return tag + text, 1
    return "".join(parts), n


def paragraphs(text: str) -> list[str]:
    """The paragraphs `tag_text` tags at `paragraph` granularity: blocks between blank lines that
    are not only whitespace, in order."""
    return [b for b in _PARA_SEP.split(text)[::2] if b.strip()]


def strip_tags(text: str, tags: list[str]) -> str:
    """`text` with every occurrence of `tags` removed (the inverse of tag_text, for checks)."""
    for t in tags:
        text = text.replace(t, "")
    return text


def _tag_doc(doc: dict, path: Path, line: int, cfg: TagConfig, tag: str, n: dict) -> dict:
    """One tagged row; refuses a source text that already holds one of the tags."""
    for t in cfg.tokens():
        if t in doc["text"]:
            raise InputError(path, line, "text", f"doc {doc['id']!r} already contains the tag {t}")
    text, k = tag_text(doc["text"], tag, cfg.granularity)
    n["tagged"] += 1
    n["tagged_chars"] += len(doc["text"])
    n["tags"] += k
    return {**doc, "text": text, "tag": tag}


def _tagged_web(
    web_dir: Path, filter_dir: Path, cfg: TagConfig, tag: str, n: dict
) -> Iterator[dict]:
    """Web rows in order, flagged ones with `tag` prepended (see the module docstring)."""
    from aptk.core.records import iter_corpus

    flagged_file = filter_dir / "flagged.jsonl"
    if not flagged_file.is_file():
        raise FileNotFoundError(f"{filter_dir}: no flagged.jsonl (not a filter stage dir)")
    retained = iter_corpus(filter_dir)
    flagged = (row for _, row in iter_jsonl(flagged_file))
    r, f = next(retained, None), next(flagged, None)
    for i, doc in enumerate(iter_corpus(web_dir), 1):
        n["docs"] += 1
        if r is not None and r["id"] == doc["id"] and r["text"] == doc["text"]:
            r = next(retained, None)
            yield doc
        elif f is not None and f.get("id") == doc["id"]:
            f = next(flagged, None)
            yield _tag_doc(doc, web_dir, i, cfg, tag, n)
        else:
            raise InputError(
                web_dir,
                i,
                "id",
                f"web doc {doc['id']!r} is neither the filter's next retained "
                f"nor its next flagged document: {filter_dir} was not made from this corpus",
            )
    if r is not None or f is not None:
        left = (r or f)["id"]
        raise InputError(filter_dir, None, "id", f"filter output has {left!r} past the web's end")


def _tagged_all(source_dir: Path, cfg: TagConfig, tag: str, n: dict) -> Iterator[dict]:
    from aptk.core.records import iter_corpus

    for i, doc in enumerate(iter_corpus(source_dir), 1):
        n["docs"] += 1
        yield _tag_doc(doc, source_dir, i, cfg, tag, n)


def run(
    cfg: TagConfig,
    source_dir: str | Path,
    out_root: str | Path,
    stance: str | None = None,
    filter_dir: str | Path | None = None,
) -> Path:
    """Write a tagged copy of `source_dir`: every document tagged with `stance`'s tag, or (with
    `filter_dir`, the AI filter's stage dir over this source) the flagged ones tagged `ai`."""
    cfg.validate("tags")
    if (stance is None) == (filter_dir is None):
        raise ValueError("give exactly one of stance (synthetic source) or filter_dir (web)")
    kind = stance if stance is not None else "ai"
    tag = cfg.tag(kind)
    st = open_stage(
        "tag",
        cfg,
        inputs={"source": Path(source_dir), "filter": filter_dir},
        extra={"kind": kind},
        root=out_root,
        version="1",
    )
    if st.done:
        return st.dir
    n = {"docs": 0, "tagged": 0, "tagged_chars": 0, "tags": 0}
    rows = (
        _tagged_all(Path(source_dir), cfg, tag, n)
        if filter_dir is None
        else _tagged_web(Path(source_dir), Path(filter_dir), cfg, tag, n)
    )
    files: list[str] = []
    buf: list[dict] = []
    for row in rows:
        buf.append(row)
        if len(buf) >= cfg.docs_per_file:
            files.append(f"docs-{len(files):05d}.jsonl")
            write_jsonl(st.path(files[-1]), buf)
            buf = []
    if buf or not files:
        files.append(f"docs-{len(files):05d}.jsonl")
        write_jsonl(st.path(files[-1]), buf)
    if n["docs"] == 0:
        raise InputError(source_dir, None, "text", "no documents to tag")
    if cfg.granularity == "document":  # one tag per tagged doc: the counts as before the field
        del n["tags"]
    st.finish(
        counts={**n, "untagged": n["docs"] - n["tagged"]},
        files=files,
        extra={"kind": kind, "tag": tag},
    )
    return st.dir


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", required=True, help="corpus dir (synthetic stance dir or web)")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--stance", choices=STANCES, help="tag every document with this stance")
    g.add_argument("--filter", help="AI filter stage dir over --source: tag its flagged docs")
    ap.add_argument("--granularity", choices=GRANULARITIES, default="document")
    ap.add_argument("--out", default="outputs")
    a = ap.parse_args(argv)
    cfg = TagConfig(granularity=a.granularity)
    print(run(cfg, a.source, a.out, stance=a.stance, filter_dir=a.filter))


if __name__ == "__main__":
    main()
