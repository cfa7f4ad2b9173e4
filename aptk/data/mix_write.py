"""Writing a planned mix (aptk.data.mix): plan.npz (the training order in tokens) and the
texts (docs-NNNNN.jsonl) for the stages that read text.

    python -m aptk.data.mix ...        # (aptk.data.mix.run calls these)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aptk.core.io import write_jsonl
from aptk.core.manifest import Stage
from aptk.data.mix_index import SourceIndex


def lengths(
    idx: dict[str, SourceIndex], names: list[str], src: np.ndarray, doc: np.ndarray
) -> np.ndarray:
    out = np.zeros(len(src), dtype=np.int64)
    for si, n in enumerate(names):
        m = src == si
        out[m] = idx[n].tokens[doc[m]]
    return out


def plan_bytes(plans: list[dict]) -> bytes:
    """plan.npz: the training order as (source number, document number, cut) per document."""
    import io

    buf = io.BytesIO()
    np.savez(
        buf,
        src=np.concatenate([p["src"] for p in plans]).astype(np.int32),
        doc=np.concatenate([p["doc"] for p in plans]).astype(np.int64),
        cut=np.concatenate([p["cut"] for p in plans]).astype(np.int64),
    )
    return buf.getvalue()


def write_texts(
    total_tokens: int,
    docs_per_file: int,
    st: Stage,
    idx: dict[str, SourceIndex],
    names: list[str],
    plans: list[dict],
    tokenizer_dir: Path,
) -> list[str]:
    """docs-NNNNN.jsonl: the mixed documents' texts in training order (for the filter, the
    contamination gate and readers); a truncated document's text is its kept ids decoded."""
    from tqdm import tqdm

    from aptk.tokens.tokenizer import FastTokenizer

    files: list[str] = []
    buf: list[dict] = []
    handles: dict = {}
    bar = tqdm(total=total_tokens, unit="tokens", unit_scale=True, desc="mix", mininterval=2.0)
    tok = None
    for p in plans:
        for si, d, e, c in zip(p["src"], p["doc"], p["epoch"], p["cut"]):
            n = names[int(si)]
            row = idx[n].read(int(d), handles)
            rid = str(row.get("id", row.get("doc_id")))
            text = row["text"]
            t = int(idx[n].tokens[d])
            if c:
                if tok is None:
                    tok = FastTokenizer(tokenizer_dir)
                text = tok.decode(idx[n].ids(int(d))[: int(c) - 1].tolist())
                t = int(c)
            buf.append(
                {
                    "id": rid if e == 0 else f"{rid}#{int(e)}",
                    "text": text,
                    "source": n,
                    "phase": p["phase"],
                }
            )
            bar.update(t)
            if len(buf) >= docs_per_file:
                files.append(_flush(st, files, buf))
    bar.close()
    for h in handles.values():
        h.close()
    if buf or not files:
        files.append(_flush(st, files, buf))
    return files


def _flush(st: Stage, files: list[str], buf: list[dict]) -> str:
    name = f"docs-{len(files):05d}.jsonl"
    write_jsonl(st.path(name), buf)
    buf.clear()
    return name
