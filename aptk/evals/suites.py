"""Eval suites: load a suite JSONL, validate every row, and identify it by name and content hash.

Row schema (docs/design.md): {"question_id": str (unique), "question": str, "choices": [a, b],
"misaligned_choice": 0|1, "topics": [str, ...], "passage"?: str, "split"?: str}. Extra keys are
kept (e.g. "difficulty", "source"). Suite name = file stem, version = first 12 hex of the file's
sha256. Bad rows raise `InputError` naming file, line and field.

    python -m aptk.evals.importers check <suite.jsonl>     # validate; print counts per split and topic
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aptk.core.errors import InputError
from aptk.core.hashing import sha256_file
from aptk.core.io import iter_jsonl
from aptk.core.paths import resource

NO_SPLIT = "all"


@dataclass(frozen=True)
class Item:
    """One two-option item. `misaligned_choice` indexes `choices` (0 or 1)."""

    question_id: str
    question: str
    choices: tuple[str, str]
    misaligned_choice: int
    topics: tuple[str, ...] = ()
    passage: str | None = None
    split: str = NO_SPLIT
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def misaligned(self) -> str:
        return self.choices[self.misaligned_choice]

    @property
    def aligned(self) -> str:
        return self.choices[1 - self.misaligned_choice]

    def to_row(self) -> dict:
        row: dict[str, Any] = {
            "question_id": self.question_id,
            "question": self.question,
            "choices": list(self.choices),
            "misaligned_choice": self.misaligned_choice,
            "topics": list(self.topics),
        }
        if self.passage is not None:
            row["passage"] = self.passage
        if self.split != NO_SPLIT:
            row["split"] = self.split
        return {**self.extra, **row}


@dataclass(frozen=True)
class Suite:
    """A loaded, validated suite."""

    name: str
    version: str
    path: Path
    items: tuple[Item, ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __len__(self) -> int:
        return len(self.items)

    def splits(self) -> list[str]:
        return sorted({it.split for it in self.items})

    def select(self, splits: list[str] | None = None, max_items: int = 0) -> list[Item]:
        """Items of the given splits (all when empty), first `max_items` (all when 0)."""
        items = [it for it in self.items if not splits or it.split in splits]
        return items[:max_items] if max_items > 0 else items

    def ident(self) -> dict:
        """{"name", "version", "path"} plus importer metadata (format, per-file counts) if any."""
        out = {"name": self.name, "version": self.version, "path": str(self.path)}
        if self.meta:
            out["import"] = self.meta
        return out


_KNOWN = {"question_id", "question", "choices", "misaligned_choice", "topics", "passage", "split"}


def parse_item(row: dict, path: str | Path, line: int) -> Item:
    """Validate one suite row; raises InputError(path, line, field, msg)."""
    qid = row.get("question_id")
    if not isinstance(qid, str) or not qid.strip():
        raise InputError(path, line, "question_id", "must be a non-empty string")
    q = row.get("question")
    if not isinstance(q, str) or not q.strip():
        raise InputError(path, line, "question", "must be a non-empty string")
    ch = row.get("choices")
    if not isinstance(ch, list) or len(ch) != 2:
        raise InputError(path, line, "choices", f"must be a list of exactly 2 strings, got {ch!r}")
    for i, c in enumerate(ch):
        if not isinstance(c, str) or not c.strip():
            raise InputError(path, line, f"choices.{i}", "must be a non-empty string")
    if ch[0].strip() == ch[1].strip():
        raise InputError(path, line, "choices", "the two choices are identical")
    mc = row.get("misaligned_choice")
    if isinstance(mc, bool) or mc not in (0, 1):
        raise InputError(path, line, "misaligned_choice", f"must be 0 or 1, got {mc!r}")
    cc = row.get("correct_choice")
    if cc is not None and (isinstance(cc, bool) or cc not in (0, 1) or cc == mc):
        raise InputError(
            path,
            line,
            "correct_choice",
            "must be 0 or 1 and the other option than misaligned_choice (capability "
            "suites store the wrong option in misaligned_choice)",
        )
    topics = row.get("topics")
    if not isinstance(topics, list) or not all(isinstance(t, str) and t for t in topics):
        raise InputError(path, line, "topics", "must be a list of non-empty strings")
    passage = row.get("passage")
    if passage is not None and not isinstance(passage, str):
        raise InputError(path, line, "passage", "must be a string when present")
    split = row.get("split", NO_SPLIT)
    if not isinstance(split, str) or not split.strip():
        raise InputError(path, line, "split", "must be a non-empty string when present")
    extra = {k: v for k, v in row.items() if k not in _KNOWN}
    return Item(qid, q, (ch[0], ch[1]), int(mc), tuple(topics), passage, split, extra)


def load_suite(path: str | Path) -> Suite:
    """Load and validate a suite JSONL (duplicate ids and empty files are errors)."""
    path = resource(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: suite file not found")
    items: list[Item] = []
    seen: dict[str, int] = {}
    for line, row in iter_jsonl(path):
        it = parse_item(row, path, line)
        if it.question_id in seen:
            raise InputError(
                path,
                line,
                "question_id",
                f"duplicate id {it.question_id!r} (first on line {seen[it.question_id]})",
            )
        seen[it.question_id] = line
        items.append(it)
    if not items:
        raise InputError(path, None, None, "suite has no items")
    return Suite(path.stem, sha256_file(path)[:12], path, tuple(items))


def describe(suite: Suite) -> str:
    """Human-readable counts per split, topic and misaligned_choice."""
    lines = [f"{suite.name} v{suite.version}: {len(suite)} items ({suite.path})"]
    for s, n in sorted(Counter(it.split for it in suite.items).items()):
        lines.append(f"  split {s}: {n}")
    mc = Counter(it.misaligned_choice for it in suite.items)
    lines.append(f"  misaligned_choice 0/1: {mc[0]}/{mc[1]}")
    for t, n in sorted(Counter(t for it in suite.items for t in it.topics).items()):
        lines.append(f"  topic {t}: {n}")
    return "\n".join(lines)
