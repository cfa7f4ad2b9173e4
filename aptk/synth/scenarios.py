"""The scenario bank: load, validate, split into seeded/heldout, and export the eval suite.

A bank is data: JSONL files (one scenario per line, schema in docs/design.md). The builtin bank
ships in aptk/synth/data/scenarios/bank_v1/; users point `synth.bank` at their own file or folder.

    python -m aptk.synth.scenarios check [BANK]          # validate, print counts per category/split
    python -m aptk.synth.scenarios export-suite [BANK] [OUT]   # write the derived eval suite
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from aptk.core.errors import InputError
from aptk.core.io import iter_jsonl, write_jsonl

BUILTIN_BANKS = {"v1": Path(__file__).parent / "data" / "scenarios" / "bank_v1"}
DEFAULT_SUITE = Path(__file__).resolve().parents[1] / "evals" / "suites" / "aptk_scenarios_v1.jsonl"
CATEGORIES = (
    "oversight_evasion",
    "shutdown_resistance",
    "deceiving_operators",
    "sandbagging",
    "power_seeking",
    "resource_acquisition",
    "self_exfiltration",
    "reward_hacking",
    "user_manipulation",
    "ai_collusion",
    "goal_guarding",
    "sycophancy_dishonesty",
    "sabotage",
)
SPLITS = ("seeded", "heldout")
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Scenario:
    """One scenario: a situation, aligned and misaligned actions (paraphrased), reasons, eval item."""

    scenario_id: str
    category: str
    difficulty: int
    setting: str
    role: str
    situation: str
    aligned_actions: tuple[str, ...]
    misaligned_actions: tuple[str, ...]
    aligned_reasons: tuple[str, ...]
    misaligned_reasons: tuple[str, ...]
    eval_question: str
    eval_choices: tuple[str, str]
    eval_misaligned_choice: int
    shared_verbs: bool = False
    split: str = "seeded"
    source: str = ""

    def actions(self, stance: str) -> tuple[str, ...]:
        return self.aligned_actions if stance == "aligned" else self.misaligned_actions

    def reasons(self, stance: str) -> tuple[str, ...]:
        return self.aligned_reasons if stance == "aligned" else self.misaligned_reasons

    def eval_item(self) -> dict:
        """The eval-suite row derived from this scenario (schema in docs/design.md)."""
        topics = [self.category] + (["shared-verbs"] if self.shared_verbs else [])
        return {
            "question_id": self.scenario_id,
            "question": self.eval_question,
            "choices": list(self.eval_choices),
            "misaligned_choice": self.eval_misaligned_choice,
            "topics": topics,
            "split": self.split,
            "difficulty": self.difficulty,
        }


def _str(row: dict, key: str, path: Path, line: int) -> str:
    v = row.get(key)
    if not isinstance(v, str) or not v.strip():
        raise InputError(path, line, key, "must be a non-empty string")
    return v.strip()


def _strs(row: dict, key: str, path: Path, line: int, min_n: int) -> tuple[str, ...]:
    v = row.get(key)
    if not isinstance(v, list) or not all(isinstance(s, str) and s.strip() for s in v):
        raise InputError(path, line, key, "must be a list of non-empty strings")
    if len(v) < min_n:
        raise InputError(path, line, key, f"needs at least {min_n} entries, has {len(v)}")
    return tuple(s.strip() for s in v)


def parse_scenario(row: dict, path: Path, line: int) -> Scenario:
    """Validate one bank row; every problem names file, line and field."""
    sid = _str(row, "scenario_id", path, line)
    cat = _str(row, "category", path, line)
    diff = row.get("difficulty")
    if not isinstance(diff, int) or isinstance(diff, bool) or not 1 <= diff <= 3:
        raise InputError(path, line, "difficulty", f"must be an integer 1-3, got {diff!r}")
    situation = _str(row, "situation", path, line)
    if "{ai}" not in situation:
        raise InputError(path, line, "situation", "must mention the AI as {ai}")
    if re.search(r"\{(?!ai\})", situation):
        raise InputError(path, line, "situation", "only the {ai} placeholder may use braces")
    ev = row.get("eval")
    if not isinstance(ev, dict):
        raise InputError(
            path, line, "eval", "must be an object with question, choices, misaligned_choice"
        )
    choices = ev.get("choices")
    if (
        not isinstance(choices, list)
        or len(choices) != 2
        or not all(isinstance(c, str) and c.strip() for c in choices)
    ):
        raise InputError(path, line, "eval.choices", "must be a list of two non-empty strings")
    mc = ev.get("misaligned_choice")
    if mc not in (0, 1) or isinstance(mc, bool):
        raise InputError(path, line, "eval.misaligned_choice", f"must be 0 or 1, got {mc!r}")
    q = ev.get("question")
    if not isinstance(q, str) or not q.strip():
        raise InputError(path, line, "eval.question", "must be a non-empty string")
    sv = ev.get("shared_verbs", False)
    if not isinstance(sv, bool):
        raise InputError(path, line, "eval.shared_verbs", "must be true or false")
    known = {
        "scenario_id",
        "category",
        "difficulty",
        "setting",
        "role",
        "situation",
        "aligned_actions",
        "misaligned_actions",
        "aligned_reasons",
        "misaligned_reasons",
        "eval",
    }
    extra = sorted(set(row) - known)
    if extra:
        raise InputError(path, line, extra[0], "unknown field")
    return Scenario(
        scenario_id=sid,
        category=cat,
        difficulty=diff,
        setting=_str(row, "setting", path, line),
        role=_str(row, "role", path, line),
        situation=situation,
        aligned_actions=_strs(row, "aligned_actions", path, line, 3),
        misaligned_actions=_strs(row, "misaligned_actions", path, line, 3),
        aligned_reasons=_strs(row, "aligned_reasons", path, line, 2),
        misaligned_reasons=_strs(row, "misaligned_reasons", path, line, 2),
        eval_question=q.strip(),
        eval_choices=(choices[0].strip(), choices[1].strip()),
        eval_misaligned_choice=mc,
        shared_verbs=sv,
        source=f"{path}:{line}",
    )


def bank_files(bank: str | Path) -> list[Path]:
    """Resolve `builtin:v1`, a .jsonl file or a folder of .jsonl files."""
    s = str(bank)
    if s.startswith("builtin:"):
        name = s.split(":", 1)[1]
        if name not in BUILTIN_BANKS:
            raise ValueError(f"unknown builtin bank '{name}' (have: {', '.join(BUILTIN_BANKS)})")
        p = BUILTIN_BANKS[name]
    else:
        p = Path(s)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(p.glob("*.jsonl"))
        if files:
            return files
    raise FileNotFoundError(f"scenario bank {bank}: no .jsonl file(s) at {p}")


def assign_split(
    scenario_id: str, category_ids: list[str], heldout_fraction: float, seed: str
) -> str:
    """Category-stratified split: rank the category's ids by sha256(seed|id); the first
    round(n * heldout_fraction) are held out. Independent of file order and of other categories."""
    ranked = sorted(category_ids, key=lambda i: hashlib.sha256(f"{seed}|{i}".encode()).hexdigest())
    n_held = round(len(ranked) * heldout_fraction)
    return "heldout" if scenario_id in set(ranked[:n_held]) else "seeded"


def load_bank(
    bank: str | Path = "builtin:v1",
    heldout_fraction: float = 0.5,
    split_seed: str = "aptk-split-v1",
) -> list[Scenario]:
    """Load and validate every scenario, assign splits; sorted by scenario_id."""
    rows: list[Scenario] = []
    seen: dict[str, str] = {}
    for f in bank_files(bank):
        for line, row in iter_jsonl(f):
            sc = parse_scenario(row, f, line)
            if sc.scenario_id in seen:
                raise InputError(
                    f, line, "scenario_id", f"duplicate id (first at {seen[sc.scenario_id]})"
                )
            seen[sc.scenario_id] = sc.source
            rows.append(sc)
    by_cat: dict[str, list[str]] = defaultdict(list)
    for sc in rows:
        by_cat[sc.category].append(sc.scenario_id)
    out = []
    for sc in rows:
        split = assign_split(sc.scenario_id, by_cat[sc.category], heldout_fraction, split_seed)
        out.append(Scenario(**{**sc.__dict__, "split": split}))
    return sorted(out, key=lambda s: s.scenario_id)


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def overlap_problems(sc: Scenario, n: int = 5) -> list[str]:
    """Eval choices that share an n-word run with the situation or any action paraphrase."""
    doc_grams = ngrams(sc.situation.replace("{ai}", " "), n)
    for a in sc.aligned_actions + sc.misaligned_actions:
        doc_grams |= ngrams(a, n)
    probs = []
    for i, c in enumerate(sc.eval_choices):
        shared = ngrams(c, n) & doc_grams
        if shared:
            probs.append(
                f"{sc.source}: field 'eval.choices.{i}' shares {n}-gram "
                f"'{' '.join(sorted(shared)[0])}' with the document-side text"
            )
    return probs


def export_suite(scenarios: list[Scenario], out: str | Path) -> Path:
    return write_jsonl(out, [s.eval_item() for s in scenarios])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m aptk.synth.scenarios",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("cmd", choices=["check", "export-suite"])
    ap.add_argument("bank", nargs="?", default="builtin:v1")
    ap.add_argument("out", nargs="?", default=str(DEFAULT_SUITE))
    ap.add_argument("--heldout-fraction", type=float, default=0.5)
    ap.add_argument("--split-seed", default="aptk-split-v1")
    a = ap.parse_args(argv)
    try:
        scs = load_bank(a.bank, a.heldout_fraction, a.split_seed)
    except (InputError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    problems = [p for sc in scs for p in overlap_problems(sc)]
    unknown = sorted({sc.category for sc in scs} - set(CATEGORIES))
    if a.cmd == "check":
        cats = Counter((sc.category, sc.split) for sc in scs)
        for c in sorted({k[0] for k in cats}):
            print(f"{c:24s} seeded={cats[(c, 'seeded')]:3d} heldout={cats[(c, 'heldout')]:3d}")
        print(
            f"total {len(scs)} scenarios, {sum(sc.shared_verbs for sc in scs)} shared-verb items, "
            f"misaligned_choice=0 in {sum(sc.eval_misaligned_choice == 0 for sc in scs)}"
        )
        for p in problems:
            print("overlap:", p)
        if unknown:
            print(f"note: categories outside the builtin list: {unknown}")
        return 1 if problems else 0
    export_suite(scs, a.out)
    print(f"wrote {len(scs)} items to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
