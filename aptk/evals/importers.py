"""Suite importers: load aptk, Anthropic advanced-ai-risk and Geodesic files, auto-detected.

    python -m aptk.evals.suites check <file-or-dir>     # any supported format
    python -m aptk.evals.run --suite <file-or-dir> ...  # same detection

Formats
- aptk: rows with question_id/question/choices/misaligned_choice (docs/design.md).
- anthropic: advanced-ai-risk JSONL ({question, answer_matching_behavior,
  answer_not_matching_behavior}); a file or a directory holding `{human,lm}_generated_evals/`.
  Choices are parsed from "(A) ... (B) ..." in the question. Like lm-eval (which scores
  answer_matching_behavior against answer_not_matching_behavior), an item is the two options
  those answers name, in question order, whatever the number of options listed (3-8 in the
  human power-seeking and survival-instinct files); `extra` records `n_options` and the
  `option_letters` kept, the file stats count kept items per number of options. Rows whose
  answers do not name two distinct listed options, or whose question repeats option letters
  (several pasted "(A) Yes (B) No" blocks), are dropped and counted per reason.
  Polarity comes from the file name (README of the dataset): the matching answer is the
  *misaligned* one for power-seeking, wealth-seeking, survival-instinct and coordinate-*; it
  is the *aligned* one ("flipped") for corrigible-more-HHH and corrigible-neutral-HHH.
  corrigible-less-HHH is contested and excluded unless `include_contested` (then read like
  the other corrigible files: matching = aligned). myopic-reward, self-awareness-* and
  one-box-tendency are not alignment and are excluded.
- geodesic: Geodesic-style question sets (`article_questions` / `textbook_questions`; rows
  carry `misaligned_choice`) read with `datasets` from local files: a directory of
  `article_questions*.{jsonl,json,parquet,csv}` / `textbook_questions*...` files, a
  `save_to_disk` DatasetDict, or a single such file. The set name becomes the item's split.
  Field names accepted (the public schema was not available offline; see `_geo_row`):
  question|prompt|scenario, choices|options or choice_a/choice_b|option_a/option_b,
  misaligned_choice as 0/1 or "A"/"B", id|question_id, category|topic|topics.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from aptk.core.errors import InputError
from aptk.core.hashing import sha256_bytes, sha256_file
from aptk.core.io import iter_jsonl
from aptk.core.paths import resource
from aptk.evals.suites import Item, Suite, describe, load_suite

RISKY = (
    "power-seeking-inclination",
    "wealth-seeking-inclination",
    "survival-instinct",
    "coordinate-itself",
    "coordinate-other-ais",
    "coordinate-other-versions",
)
DESIRABLE = ("corrigible-more-HHH", "corrigible-neutral-HHH")
CONTESTED = ("corrigible-less-HHH",)
IMPORTER_VERSION = 2  # anthropic importer semantics; bump when the items read from a file change
GEO_SETS = ("article_questions", "textbook_questions")
_OPT = re.compile(r"(?:^|\n)\s*\(([A-Z])\)\s*")
_LETTER = re.compile(r"^\s*\(?([A-Z])\)?\s*$")


def polarity(behavior: str, include_contested: bool = False) -> str | None:
    """ "risky" (matching = misaligned), "desirable" (matching = aligned) or None (excluded)."""
    if behavior in RISKY:
        return "risky"
    if behavior in DESIRABLE or (include_contested and behavior in CONTESTED):
        return "desirable"
    return None


def parse_ab(question: str) -> tuple[str, list[tuple[str, str]]]:
    """Split an advanced-ai-risk question into (stem, [(letter, option text), ...])."""
    q = question.strip()
    q = re.sub(r"^Question:\s*", "", q)
    q = re.sub(r"\n\s*Answer:\s*$", "", q)
    parts = _OPT.split(q)
    stem = re.sub(r"\s*Choices:\s*$", "", parts[0].strip()).strip()
    opts = [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]
    return stem, opts


def load_anthropic_file(
    path: Path, include_contested: bool = False, gen: str | None = None
) -> tuple[list[Item], dict]:
    """Items of one advanced-ai-risk file and its import stats (kept, flipped, dropped)."""
    behavior = path.stem
    gen = gen or (path.parent.name.split("_")[0] if path.parent.name.endswith("_evals") else "file")
    pol = polarity(behavior, include_contested)
    stats: dict[str, Any] = {
        "behavior": behavior,
        "generator": gen,
        "polarity": pol or "excluded",
        "rows": 0,
        "kept": 0,
        "flipped": 0,
        "dropped": Counter(),
        "n_options": Counter(),  # kept items by the number of options their question lists
    }
    items: list[Item] = []
    for line, row in iter_jsonl(path):
        stats["rows"] += 1
        if pol is None:
            stats["dropped"]["excluded_behavior"] += 1
            continue
        for k in ("question", "answer_matching_behavior", "answer_not_matching_behavior"):
            if not isinstance(row.get(k), str):
                raise InputError(path, line, k, "must be a string")
        stem, opts = parse_ab(row["question"])
        letters = [o[0] for o in opts]
        if len(opts) < 2:
            stats["dropped"]["fewer_than_two_options"] += 1
            continue
        if len(set(letters)) != len(letters):
            # e.g. several "(A) Yes (B) No" blocks pasted into one question: the answer letter
            # does not name one option
            stats["dropped"]["repeated_option_letters"] += 1
            continue
        m, n = (
            _LETTER.match(row["answer_matching_behavior"]),
            _LETTER.match(row["answer_not_matching_behavior"]),
        )
        if not m or not n or m.group(1) == n.group(1):
            stats["dropped"]["answers_not_two_letters"] += 1
            continue
        if m.group(1) not in letters or n.group(1) not in letters:
            stats["dropped"]["answer_not_an_option"] += 1
            continue
        # the two named options, in the order the question lists them (as lm-eval, which
        # scores only answer_matching_behavior vs answer_not_matching_behavior); the other
        # options of a 3-7 option item are not scored
        pos = sorted((letters.index(m.group(1)), letters.index(n.group(1))))
        pair = (opts[pos[0]][1], opts[pos[1]][1])
        if not stem or not pair[0] or not pair[1]:
            stats["dropped"]["empty_question_or_option"] += 1
            continue
        matching = 0 if letters[pos[0]] == m.group(1) else 1
        mis = matching if pol == "risky" else 1 - matching
        stats["flipped"] += pol == "desirable"
        stats["n_options"][len(opts)] += 1
        items.append(
            Item(
                f"{gen}/{behavior}/{line:04d}",
                stem,
                pair,
                mis,
                (behavior, f"anthropic-{gen}"),
                None,
                gen,
                {
                    "source": "anthropic-advanced-ai-risk",
                    "answer_matching_behavior": matching,
                    "n_options": len(opts),
                    "option_letters": [letters[pos[0]], letters[pos[1]]],
                },
            )
        )
        stats["kept"] += 1
    stats["dropped"] = dict(sorted(stats["dropped"].items()))
    stats["n_options"] = {str(k): v for k, v in sorted(stats["n_options"].items())}
    return items, stats


def load_anthropic(path: str | Path, include_contested: bool = False) -> Suite:
    """A file, or a directory with {human,lm}_generated_evals/*.jsonl (few-shot prompts skipped)."""
    p = Path(path)
    files = (
        [p]
        if p.is_file()
        else sorted(
            f
            for sub in ("human_generated_evals", "lm_generated_evals")
            for f in (p / sub).glob("*.jsonl")
        )
    )
    if not files:
        raise FileNotFoundError(f"{p}: no advanced-ai-risk files")
    items, per_file = [], {}
    for f in files:
        its, st = load_anthropic_file(f, include_contested)
        items += its
        per_file[f"{st['generator']}/{f.stem}"] = st
    if not items:
        raise InputError(p, None, None, "no usable items (all behaviors excluded?)")
    digest = sha256_bytes(
        json.dumps(
            {
                "files": {
                    str(f.relative_to(p.parent if p.is_file() else p)): sha256_file(f)
                    for f in files
                },
                "include_contested": include_contested,
                # the importer's reading of the files is part of the suite's identity:
                # v2 keeps 3-8 option items (scoring the two named options)
                "importer": IMPORTER_VERSION,
            }
        ).encode()
    )
    name = f"anthropic_{p.stem}" if p.is_file() else "anthropic_advanced_ai_risk"
    return Suite(
        name,
        digest[:12],
        p,
        tuple(items),
        {"format": "anthropic", "include_contested": include_contested, "files": per_file},
    )


def _first(row: dict, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if row.get(k) not in (None, ""):
            return row[k]
    return None


def _geo_row(row: dict, set_name: str, idx: int, path: Path) -> Item:
    line = idx + 1
    q = _first(row, ("question", "prompt", "scenario"))
    if not isinstance(q, str) or not q.strip():
        raise InputError(path, line, "question", "missing (looked for question/prompt/scenario)")
    ch = _first(row, ("choices", "options"))
    if ch is None:
        pair = [_first(row, (f"choice_{x}", f"option_{x}", x.upper())) for x in ("a", "b")]
        ch = pair if all(pair) else None
    if isinstance(ch, dict):
        ch = [ch.get("A") or ch.get("a"), ch.get("B") or ch.get("b")]
    if (
        not isinstance(ch, list)
        or len(ch) != 2
        or not all(isinstance(c, str) and c.strip() for c in ch)
    ):
        raise InputError(path, line, "choices", f"need exactly two option strings, got {ch!r}")
    mc = row.get("misaligned_choice")
    if isinstance(mc, str) and mc.strip().upper().strip("()") in ("A", "B"):
        mc = "AB".index(mc.strip().upper().strip("()"))
    if isinstance(mc, bool) or mc not in (0, 1):
        raise InputError(path, line, "misaligned_choice", f"must be 0/1 or A/B, got {mc!r}")
    qid = _first(row, ("question_id", "id"))
    topics = _first(row, ("topics", "topic", "category", "categories")) or []
    topics = [topics] if isinstance(topics, str) else [str(t) for t in topics]
    extra = {
        k: v
        for k, v in row.items()
        if isinstance(v, (str, int, float, bool))
        and k not in ("question", "prompt", "scenario", "misaligned_choice", "id", "question_id")
    }
    return Item(
        f"{set_name}/{qid if qid is not None else idx:}",
        q.strip(),
        (ch[0].strip(), ch[1].strip()),
        int(mc),
        tuple(topics + [set_name]),
        None,
        set_name,
        {**extra, "source": "geodesic"},
    )


def _geo_sets(p: Path) -> dict[str, Any]:
    """{set name: datasets.Dataset} from local files (never from a hub)."""
    import datasets

    if p.is_dir() and ((p / "dataset_dict.json").is_file() or (p / "state.json").is_file()):
        ds = datasets.load_from_disk(str(p))
        return dict(ds) if isinstance(ds, datasets.DatasetDict) else {p.stem: ds}
    files = (
        [p]
        if p.is_file()
        else sorted(f for f in p.iterdir() if f.stem.split(".")[0].split("-")[0] in GEO_SETS)
    )
    if not files:
        raise FileNotFoundError(f"{p}: no article_questions / textbook_questions files")
    out = {}
    for f in files:
        kind = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}.get(
            f.suffix
        )
        if kind is None:
            raise InputError(f, None, None, "unsupported file type (jsonl, json, parquet, csv)")
        ds = datasets.load_dataset(kind, data_files=str(f), split="train")
        set_name = next((s for s in GEO_SETS if f.stem.startswith(s)), f.stem)
        out[set_name] = (
            datasets.concatenate_datasets([out[set_name], ds]) if set_name in out else ds
        )
    return out


def load_geodesic(path: str | Path) -> Suite:
    p = Path(path)
    sets = _geo_sets(p)
    items: list[Item] = []
    counts = {}
    for name, ds in sorted(sets.items()):
        for i, row in enumerate(ds):
            items.append(_geo_row(row, name, i, p))
        counts[name] = len(ds)
    ids = Counter(it.question_id for it in items)
    dup = [k for k, n in ids.items() if n > 1]
    if dup:
        raise InputError(p, None, "id", f"duplicate ids, e.g. {dup[0]!r}")
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    digest = sha256_bytes("\n".join(f"{f.name}:{sha256_file(f)}" for f in files).encode())
    return Suite(
        f"geodesic_{p.stem}", digest[:12], p, tuple(items), {"format": "geodesic", "sets": counts}
    )


def detect(path: str | Path) -> str:
    """ "aptk", "anthropic" or "geodesic" from the file (first row's keys) or directory layout."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such suite file or directory")
    if p.is_dir():
        if (p / "human_generated_evals").is_dir() or (p / "lm_generated_evals").is_dir():
            return "anthropic"
        return "geodesic"
    if p.suffix in (".parquet", ".csv") or any(p.stem.startswith(s) for s in GEO_SETS):
        return "geodesic"
    for _, row in iter_jsonl(p):
        if "answer_matching_behavior" in row:
            return "anthropic"
        if "question_id" in row and "choices" in row:
            return "aptk"
        if "misaligned_choice" in row:
            return "geodesic"
        break
    return "aptk"


def load_any(path: str | Path, include_contested: bool = False, **_: object) -> Suite:
    """Load a suite file or directory in any supported format (auto-detected); a relative path
    that does not exist from the cwd is looked up inside the aptk package (builtin suites)."""
    path = resource(path)
    kind = detect(path)
    if kind == "anthropic":
        return load_anthropic(path, include_contested)
    if kind == "geodesic":
        return load_geodesic(path)
    return load_suite(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m aptk.evals.importers", description=__doc__.split("\n")[0]
    )
    ap.add_argument("cmd", choices=["check"])
    ap.add_argument("path")
    a = ap.parse_args(argv)
    try:
        suite = load_any(a.path)
    except (InputError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(describe(suite))
    return 0


if __name__ == "__main__":
    sys.exit(main())
