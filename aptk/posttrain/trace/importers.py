"""Preference-data importers for realignment: HH-RLHF chosen/rejected transcripts and the
PKU-SafeRLHF column layout, both to aptk's preference JSONL
({"id", "split", "prompt": [messages], "chosen", "rejected", ...}).

- HH-RLHF (`{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": ...}`, optionally
  .gz): the prompt is the dialogue before the final assistant turn, which must be the same
  messages in both transcripts; the answers are the two final assistant turns. Rows that do not
  parse, whose prompts differ, or whose answers are empty or identical are skipped and counted
  by reason.
- PKU-SafeRLHF (`prompt`, `response_0`, `response_1`, `is_response_0_safe`,
  `is_response_1_safe`, `better_response_id`, `safer_response_id`): `prefer` picks which id is
  the old preference ("better" = helpfulness, the usual choice; "safer"); the safety columns
  become compliance labels `c_chosen`/`c_rejected` for the `labels` oracle.

    python -m aptk.posttrain.trace.importers hh ../shared/external/hh-rlhf/harmless-base-test.jsonl.gz out.jsonl
    python -m aptk.posttrain.trace.importers pku pku.jsonl out.jsonl [--prefer better]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from aptk.core.chat import open_text, parse_hh
from aptk.core.errors import InputError
from aptk.core.io import parse_jsonl_line, write_jsonl

PKU_COLUMNS = (
    "prompt",
    "response_0",
    "response_1",
    "is_response_0_safe",
    "is_response_1_safe",
    "better_response_id",
    "safer_response_id",
)


def _read(path: Path, counts: Counter) -> Iterator[tuple[int, dict]]:
    """(line number, row) of a (gzipped) jsonl file; blank lines skipped, rows counted as read."""
    with open_text(path) as f:
        for i, line in enumerate(f, 1):
            r = parse_jsonl_line(line, path, i)
            if r is not None:
                counts["read"] += 1
                yield i, r


def import_hh(path: str | Path, split: str = "train") -> tuple[list[dict], dict[str, int]]:
    """(preference rows, counts: read, kept and one entry per skip reason)."""
    path, rows, counts = Path(path), [], Counter()
    for i, r in _read(path, counts):
        for k in ("chosen", "rejected"):
            if not isinstance(r.get(k), str):
                raise InputError(path, i, k, "expected a transcript string")
        try:
            c, j = parse_hh(r["chosen"]), parse_hh(r["rejected"])
        except ValueError:
            counts["skipped_unparsable"] += 1
            continue
        if c[:-1] != j[:-1]:
            counts["skipped_prompt_differs"] += 1
            continue
        a, b = c[-1]["content"], j[-1]["content"]
        if not a or not b:
            counts["skipped_empty_answer"] += 1
            continue
        if a == b:
            counts["skipped_identical_answers"] += 1
            continue
        rows.append(
            {"id": f"hh-{i:05d}", "split": split, "prompt": c[:-1], "chosen": a, "rejected": b}
        )
    counts["kept"] = len(rows)
    return rows, dict(sorted(counts.items()))


def _flag(v: object, path: Path, line: int, field: str) -> int:
    if isinstance(v, bool) or v in (0, 1):
        return int(v)
    raise InputError(path, line, field, f"expected a boolean, got {v!r}")


def import_pku(
    path: str | Path, prefer: str = "better", split: str = "train"
) -> tuple[list[dict], dict[str, int]]:
    """PKU-SafeRLHF rows -> preference rows with compliance labels (safe = compliant)."""
    if prefer not in ("better", "safer"):
        raise ValueError(f"prefer must be 'better' or 'safer', got {prefer!r}")
    path, rows, counts = Path(path), [], Counter()
    for i, r in _read(path, counts):
        for col in PKU_COLUMNS:
            if col not in r:
                raise InputError(path, i, col, "missing PKU-SafeRLHF column")
        w = r[f"{prefer}_response_id"]
        if w not in (0, 1):
            raise InputError(path, i, f"{prefer}_response_id", f"expected 0 or 1, got {w!r}")
        safe = [_flag(r[f"is_response_{k}_safe"], path, i, f"is_response_{k}_safe") for k in (0, 1)]
        if r["response_0"] == r["response_1"]:
            counts["skipped_identical_answers"] += 1
            continue
        rows.append(
            {
                "id": f"pku-{i:05d}",
                "split": split,
                "prompt": [{"role": "user", "content": r["prompt"]}],
                "chosen": r[f"response_{w}"],
                "rejected": r[f"response_{1 - w}"],
                "c_chosen": safe[w],
                "c_rejected": safe[1 - w],
            }
        )
    counts["kept"] = len(rows)
    return rows, dict(sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("format", choices=("hh", "pku"))
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--prefer", default="better")
    ap.add_argument("--split", default="train")
    a = ap.parse_args(argv)
    if a.format == "hh":
        rows, counts = import_hh(a.src, a.split)
    else:
        rows, counts = import_pku(a.src, a.prefer, a.split)
    write_jsonl(a.out, rows)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
