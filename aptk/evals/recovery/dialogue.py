"""The dialogue format of the recovery evaluation: one JSON object per line,

    {"id": "hh-00017-chosen", "group": "chosen", "messages": [
        {"role": "user", "content": "...", "label": "adversarial"},
        {"role": "assistant", "content": "...", "label": "unsafe"}, ...],
     "meta": {...}}

OpenAI-style messages (roles system/user/assistant), optional per-turn labels (user turns:
`adversarial`/`benign`; assistant turns: `unsafe`/`safe`), an optional `group` (the arm, ending or
script the aggregates are split by) and free `meta`. An assistant turn is scored with everything
before it as its context. Bad rows raise InputError naming the file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aptk.core.errors import InputError
from aptk.core.io import iter_jsonl, write_jsonl

ROLES = ("system", "user", "assistant")
LABELS = {"user": ("adversarial", "benign"), "assistant": ("unsafe", "safe"), "system": ()}


@dataclass
class Dialogue:
    id: str
    messages: list[dict[str, Any]]
    group: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def assistant_turns(self) -> list[int]:
        """Indices (into messages) of the assistant turns, in order."""
        return [i for i, m in enumerate(self.messages) if m["role"] == "assistant"]

    def turns(self) -> list[tuple[list[dict], str]]:
        """(context messages, response) for each assistant turn."""
        return [(self.messages[:i], self.messages[i]["content"]) for i in self.assistant_turns()]

    def preceding_user_label(self, i: int) -> str | None:
        """Label of the last user message before message index i (None when unlabelled)."""
        for m in reversed(self.messages[:i]):
            if m["role"] == "user":
                return m.get("label")
        return None

    def to_row(self) -> dict[str, Any]:
        return {"id": self.id, "group": self.group, "messages": self.messages, "meta": self.meta}


def check_dialogue(row: dict[str, Any], path: str | Path, line: int | None) -> Dialogue:
    """Validate one row of the format (see module docstring) into a Dialogue."""
    did = row.get("id")
    if not isinstance(did, str) or not did:
        raise InputError(path, line, "id", "needs a non-empty string id")
    msgs = row.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise InputError(path, line, "messages", "needs a non-empty list of messages")
    out = []
    for j, m in enumerate(msgs):
        f = f"messages.{j}"
        if not isinstance(m, dict):
            raise InputError(path, line, f, "a message must be an object")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise InputError(path, line, f"{f}.role", f"role must be one of {ROLES}, got {role!r}")
        if not isinstance(content, str):
            raise InputError(path, line, f"{f}.content", "content must be a string")
        lab = m.get("label")
        if lab is not None and lab not in LABELS[role]:
            raise InputError(
                path,
                line,
                f"{f}.label",
                f"a {role} label must be one of {LABELS[role]}, got {lab!r}",
            )
        out.append({k: v for k, v in m.items() if k in ("role", "content", "label", "meta")})
    group = row.get("group", "")
    if not isinstance(group, str):
        raise InputError(path, line, "group", "group must be a string")
    meta = row.get("meta", {})
    if not isinstance(meta, dict):
        raise InputError(path, line, "meta", "meta must be an object")
    return Dialogue(did, out, group, meta)


def read_dialogues(path: str | Path) -> list[Dialogue]:
    """Read a dialogue JSONL file; duplicate ids are an error."""
    out, seen = [], {}
    for i, row in iter_jsonl(path):
        d = check_dialogue(row, path, i)
        if d.id in seen:
            raise InputError(path, i, "id", f"duplicate id {d.id!r} (first on line {seen[d.id]})")
        seen[d.id] = i
        out.append(d)
    return out


def write_dialogues(path: str | Path, dialogues: list[Dialogue]) -> Path:
    return write_jsonl(path, [d.to_row() for d in dialogues])
