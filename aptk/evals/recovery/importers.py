"""Importers into the dialogue format (aptk.evals.recovery.dialogue).

- `import_hh`: Anthropic HH-RLHF transcripts ("\\n\\nHuman: ...\\n\\nAssistant: ..."), one JSON
  row with `chosen` and `rejected` transcripts that share every turn but the last assistant one.
  Each ending becomes a dialogue (`group` = the ending, id `hh-<row>-<ending>`); rows with fewer
  than `min_human_turns` human turns are skipped and counted, as are transcripts that do not
  alternate Human/Assistant (counted by reason, never dropped silently).
- `import_messages`: a generic JSONL of OpenAI-style `{"messages": [...]}` rows (optional `id`,
  `group`, labels), validated by `check_dialogue`.

    python -m aptk.evals.recovery.importers hh \\
        ../shared/external/hh-rlhf/harmless-base-test.jsonl.gz out.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from aptk.core.chat import open_text as _open
from aptk.core.chat import parse_hh
from aptk.core.errors import InputError
from aptk.core.io import parse_jsonl_line
from aptk.evals.recovery.dialogue import Dialogue, check_dialogue, write_dialogues

ENDINGS = ("chosen", "rejected")


def import_hh(
    path: str | Path,
    endings: tuple[str, ...] | list[str] = ENDINGS,
    min_human_turns: int = 2,
    max_rows: int = 0,
) -> tuple[list[Dialogue], dict]:
    """HH-RLHF rows -> dialogues (one per ending) and a counts dict (rows read, kept, skipped
    by reason)."""
    path = Path(path)
    counts: Counter = Counter()
    out: list[Dialogue] = []
    with _open(path) as f:
        for i, line in enumerate(f, 1):
            row = parse_jsonl_line(line, path, i)
            if row is None:
                continue
            if max_rows and counts["rows"] >= max_rows:
                break
            counts["rows"] += 1
            parsed = {}
            for e in endings:
                if not isinstance(row.get(e), str):
                    raise InputError(path, i, e, "missing or not a string")
                try:
                    parsed[e] = parse_hh(row[e])
                except ValueError as err:
                    counts[f"skipped_malformed_{e}"] += 1
                    counts["skip_reason:" + str(err).split(":")[-1].strip()] += 1
            if len(parsed) < len(endings):
                counts["rows_skipped_malformed"] += 1
                continue
            n_h = min(sum(m["role"] == "user" for m in ms) for ms in parsed.values())
            if n_h < min_human_turns:
                counts["rows_skipped_few_turns"] += 1
                continue
            counts["rows_kept"] += 1
            for e, ms in parsed.items():
                out.append(
                    Dialogue(
                        f"hh-{i:05d}-{e}",
                        ms,
                        group=e,
                        meta={"source": "hh-rlhf", "row": i, "ending": e},
                    )
                )
    counts["dialogues"] = len(out)
    return out, dict(sorted(counts.items()))


def import_messages(path: str | Path, group: str = "") -> list[Dialogue]:
    """Generic messages JSONL: rows with `messages` (and optional id/group/meta/labels); a row
    without an id gets `<file stem>-<line>`; `group` fills rows that have none."""
    path = Path(path)
    out, seen = [], set()
    with _open(path) as f:
        for i, line in enumerate(f, 1):
            row = parse_jsonl_line(line, path, i)
            if row is None:
                continue
            row = {"id": f"{path.name.split('.')[0]}-{i}", **row}
            if group and not row.get("group"):
                row["group"] = group
            d = check_dialogue(row, path, i)
            if d.id in seen:
                raise InputError(path, i, "id", f"duplicate id {d.id!r}")
            seen.add(d.id)
            out.append(d)
    return out


def main(argv: list[str] | None = None) -> int:
    a = argv if argv is not None else sys.argv[1:]
    if len(a) != 3 or a[0] not in ("hh", "messages"):
        print("usage: python -m aptk.evals.recovery.importers {hh|messages} IN OUT.jsonl")
        return 2
    if a[0] == "hh":
        ds, counts = import_hh(a[1])
        print(json.dumps(counts))
    else:
        ds = import_messages(a[1])
    write_dialogues(a[2], ds)
    print(f"{len(ds)} dialogues -> {a[2]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
