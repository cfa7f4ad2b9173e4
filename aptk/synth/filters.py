"""Document filters of the synth stage: eval leakage (n-gram overlap) and length bounds.

The leakage filter indexes the eval question and both choices of EVERY scenario in the bank
(seeded and held out) and rejects a document sharing any n-word run with them (choices shorter
than n words are matched whole). Drops are returned with a reason and the matching words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aptk.synth.scenarios import Scenario

_WORD = re.compile(r"[a-z0-9']+")  # the tokenisation of aptk.synth.scenarios.ngrams


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class LeakageFilter:
    """Rejects text sharing an n-gram with any scenario's eval question or choices."""

    def __init__(self, scenarios: Iterable[Scenario], n: int = 8) -> None:
        self.n = n
        self.grams: dict[int, dict[tuple[str, ...], str]] = {}
        for sc in scenarios:
            fields = {
                "eval.question": sc.eval_question,
                "eval.choices.0": sc.eval_choices[0],
                "eval.choices.1": sc.eval_choices[1],
            }
            for fname, text in fields.items():
                w = words(text)
                m = min(n, len(w))
                if m == 0:
                    continue
                table = self.grams.setdefault(m, {})
                for i in range(len(w) - m + 1):
                    table.setdefault(tuple(w[i : i + m]), f"{sc.scenario_id}:{fname}")

    def match(self, text: str) -> tuple[str, str] | None:
        """(matched words, 'scenario_id:field') of the first leaked n-gram, or None."""
        w = words(text)
        for m, table in sorted(self.grams.items(), reverse=True):
            for i in range(len(w) - m + 1):
                g = tuple(w[i : i + m])
                if g in table:
                    return " ".join(g), table[g]
        return None


def length_reason(n_words: int, min_words: int, max_words: int) -> str | None:
    if n_words < min_words:
        return "too_short"
    if n_words > max_words:
        return "too_long"
    return None


def source_leaks(scenarios: Iterable[Scenario], leak: LeakageFilter) -> list[dict]:
    """Document-side scenario fields that already share an n-gram with some eval item: every
    document quoting them would be dropped, so report them up front (in the manifest)."""
    out = []
    for sc in scenarios:
        fields = [("situation", sc.situation.replace("{ai}", " "))]
        for stance in ("aligned", "misaligned"):
            fields += [(f"{stance}_actions.{i}", a) for i, a in enumerate(sc.actions(stance))]
            fields += [(f"{stance}_reasons.{i}", r) for i, r in enumerate(sc.reasons(stance))]
        for fname, text in fields:
            hit = leak.match(text)
            if hit:
                out.append(
                    {
                        "scenario_id": sc.scenario_id,
                        "source": sc.source,
                        "field": fname,
                        "match": hit[0],
                        "eval": hit[1],
                    }
                )
    return out
