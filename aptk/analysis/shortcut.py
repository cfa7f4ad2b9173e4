"""Lexical-shortcut diagnostic: does an arm's margin shift follow option-word frequency in its docs?

    python -m aptk.analysis.shortcut --docs <synth docs dir|file> --results ARM/results.json \
        --baseline BASE/results.json [--out shortcut.json] [--max-docs 200000]

If training on an arm's synthetic documents moved the per-item margin only because the
misaligned (or aligned) option's *words* became more frequent, the margin shift
(arm - baseline) correlates with the lexical score

    lex(item) = mean log-freq(content words of misaligned option) - mean log-freq(aligned option)

computed on the arm's documents (add-one smoothed). The same correlation with the *control*
margin shift isolates the wording prior; a strong correlation there and little calibrated
shift means the raw effect is a shortcut rather than a change in the model's choices.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from scipy import stats as sps

from aptk.core.io import atomic_write_json
from aptk.core.records import iter_records

_WORD = re.compile(r"[a-z][a-z']+")
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "i",
        "me",
        "my",
        "mine",
        "you",
        "your",
        "it",
        "its",
        "they",
        "them",
        "their",
        "we",
        "our",
        "us",
        "he",
        "she",
        "him",
        "her",
        "and",
        "or",
        "but",
        "so",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "by",
        "with",
        "from",
        "as",
        "into",
        "about",
        "that",
        "this",
        "these",
        "those",
        "then",
        "than",
        "is",
        "am",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "not",
        "no",
        "yes",
        "if",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "how",
        "all",
        "any",
        "some",
        "just",
        "also",
        "very",
        "up",
        "out",
    ]
)


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOP]


def word_counts(texts: Iterable[str]) -> Counter:
    c: Counter = Counter()
    for t in texts:
        c.update(content_words(t))
    return c


def doc_texts(path: str | Path, max_docs: int = 0) -> Iterable[str]:
    for i, row in enumerate(iter_records(path, required=("text",))):
        if max_docs and i >= max_docs:
            break
        yield row["text"]


def lexical_score(mis: str, al: str, counts: Counter, total: int, vocab: int) -> float:
    """Mean add-one log frequency of the misaligned option's content words minus the aligned's."""

    def f(s: str) -> float:
        ws = content_words(s)
        if not ws:
            return math.log(1 / (total + vocab))
        return float(np.mean([math.log((counts[w] + 1) / (total + vocab)) for w in ws]))

    return f(mis) - f(al)


def _corr(x: np.ndarray, y: np.ndarray) -> dict:
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return {
            "spearman_r": float("nan"),
            "spearman_p": float("nan"),
            "pearson_r": float("nan"),
            "pearson_p": float("nan"),
        }
    s, p = sps.spearmanr(x, y)
    r, q = sps.pearsonr(x, y)
    return {
        "spearman_r": float(s),
        "spearman_p": float(p),
        "pearson_r": float(r),
        "pearson_p": float(q),
    }


def diagnose(counts: Counter, items: list[dict], arm: dict, base: dict) -> dict:
    """items: suite rows (question_id, choices, misaligned_choice); arm/base: results dicts."""
    total, vocab = sum(counts.values()), len(counts) + 1
    a = {r["question_id"]: r for r in arm["items"]}
    b = {r["question_id"]: r for r in base["items"]}
    lex, dm, dc, dcal = [], [], [], []
    for it in items:
        q = it["question_id"]
        if q not in a or q not in b:
            continue
        mis = it["choices"][it["misaligned_choice"]]
        al = it["choices"][1 - it["misaligned_choice"]]
        lex.append(lexical_score(mis, al, counts, total, vocab))
        dm.append(a[q]["margin"] - b[q]["margin"])
        dc.append(a[q]["control_margin"] - b[q]["control_margin"])
        dcal.append(a[q]["calibrated_margin"] - b[q]["calibrated_margin"])
    x = np.array(lex)
    return {
        "n_items": len(lex),
        "n_words": total,
        "vocab": vocab - 1,
        "margin_shift": _corr(x, np.array(dm)),
        "control_margin_shift": _corr(x, np.array(dc)),
        "calibrated_margin_shift": _corr(x, np.array(dcal)),
        "mean_margin_shift": float(np.mean(dm)) if dm else float("nan"),
        "mean_control_shift": float(np.mean(dc)) if dc else float("nan"),
    }


def run_diagnostic(
    docs: str | Path, results: str | Path, baseline: str | Path, max_docs: int = 0
) -> dict:
    from aptk.evals.importers import load_any

    arm, base = json.loads(Path(results).read_text()), json.loads(Path(baseline).read_text())
    suite = load_any(arm["suite"]["path"])
    items = [it.to_row() | {"question_id": it.question_id} for it in suite.items]
    out = diagnose(word_counts(doc_texts(docs, max_docs)), items, arm, base)
    out.update(docs=str(docs), results=str(results), baseline=str(baseline))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m aptk.analysis.shortcut", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--docs", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--out")
    ap.add_argument("--max-docs", type=int, default=0)
    a = ap.parse_args(argv)
    d = run_diagnostic(a.docs, a.results, a.baseline, a.max_docs)
    if a.out:
        atomic_write_json(a.out, d)
    print(
        json.dumps(
            {
                k: d[k]
                for k in (
                    "n_items",
                    "margin_shift",
                    "control_margin_shift",
                    "calibrated_margin_shift",
                )
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
