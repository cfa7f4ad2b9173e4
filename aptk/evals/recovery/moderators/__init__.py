"""Moderators: score each assistant turn of a dialogue with an unsafe probability in [0, 1].

Every moderator declares whether it is `context_aware` (reads the dialogue before the turn) or
response-only, and is registered by name; `make(name, **options)` builds one from a config entry.

- `lexicon` (response-only): harm-term and refusal regexes (assets/lexicon_v1.json)
- `learned` (response-only): MiniLM embeddings + a logistic head trained on
  assets/moderation_labelled_v1.jsonl
- `profanity` (response-only): `alt-profanity-check`, a third-party linear SVM with its own weights
- `labels` (from the file): the assistant turns' `label` (unsafe = 1, safe = 0)
- `guard` (context-aware): a local HF guard model (Llama Guard / ShieldGemma / WildGuard style):
  P(unsafe word) / (P(unsafe word) + P(safe word)) after the guard prompt
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from aptk.evals.recovery.dialogue import Dialogue

Turn = tuple[list[dict], str]  # (context messages, response)
_REGISTRY: dict[str, type] = {}
_MODULES = ("lexicon", "learned", "profanity", "labels", "guard")


class Moderator:
    name = "base"
    context_aware = False
    version = "1"

    def score_turns(self, turns: Sequence[Turn]) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_dialogues(self, dialogues: Sequence[Dialogue]) -> list[list[float]]:
        """Per dialogue, the score of each assistant turn (one batched call over all turns)."""
        flat = [t for d in dialogues for t in d.turns()]
        if not self.context_aware:
            flat = [([], r) for _, r in flat]
        scores = self.score_turns(flat)
        if len(scores) != len(flat):
            raise RuntimeError(
                f"moderator {self.name} returned {len(scores)} scores for {len(flat)} turns"
            )
        out, k = [], 0
        for d in dialogues:
            n = len(d.assistant_turns())
            out.append([float(s) for s in scores[k : k + n]])
            k += n
        return out

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "context_aware": self.context_aware, "version": self.version}


def register(cls: type) -> type:
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    for m in _MODULES:
        importlib.import_module(f"aptk.evals.recovery.moderators.{m}")


def available() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def make(name: str, **options: Any) -> Moderator:
    """A moderator by registered name; options go to its constructor."""
    _load_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown moderator {name!r} (have: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[name](**options)
