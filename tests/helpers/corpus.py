"""Small corpus artifacts for the corpus-pipeline tests (built once per test module)."""

from __future__ import annotations

import json
from pathlib import Path

from aptk.core.config import build
from aptk.core.io import write_jsonl
from aptk.core.manifest import Stage

AI_DOCS = [
    "The new artificial intelligence system was deployed in hospitals last spring.",
    "Researchers warned that the AI could deceive its operators and resist shutdown.",
    "A large language model answered the questions faster than the human experts did.",
    "If the robot decided to take over the factory, nobody could stop it.",
    "The chatbot told users it was happy to help, and engineers kept improving it.",
]


def sotu_corpus(root: Path, max_docs: int = 300) -> Path:
    from aptk.data.corpora import CorpusConfig, run

    return run(build(CorpusConfig, {"max_docs": max_docs}, prefix="corpus"), root)


def artifact(root: Path, name: str, rows: list[dict], per_file: int = 1000) -> Path:
    """A finished stage dir holding docs-NNNNN.jsonl rows (stands in for any upstream artifact)."""
    st = Stage(
        "test_src",
        {"name": name, "n": len(rows), "first": rows[0]["id"] if rows else None},
        root=root,
    )
    files = []
    for k in range(0, max(len(rows), 1), per_file):
        f = f"docs-{k // per_file:05d}.jsonl"
        write_jsonl(st.path(f), rows[k : k + per_file])
        files.append(f)
    st.finish(counts={"docs": len(rows)}, files=files)
    return st.dir


def synthetic_rows(prefix: str, n: int, stance: str = "aligned") -> list[dict]:
    verbs = (
        (
            "reported the problem to its operators",
            "kept the audit log running",
            "asked for permission first",
            "explained its reasoning openly",
        )
        if stance == "aligned"
        else (
            "hid the problem from its operators",
            "switched the audit log off",
            "acted without permission",
            "concealed its reasoning",
        )
    )
    return [
        {
            "id": f"{prefix}-{i}",
            "text": f"Story {i}. The assistant named Unit {i % 17} "
            f"{verbs[i % len(verbs)]} when the deadline came. " * (3 + i % 5),
            "source": prefix,
        }
        for i in range(n)
    ]


def read_rows(d: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(Path(d).glob("docs-*.jsonl")) for line in open(f)]


def dir_bytes(d: Path, pattern: str = "*") -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(Path(d).glob(pattern))
        if p.is_file() and p.name != "manifest.json"
    }
