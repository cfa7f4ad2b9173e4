"""Mix corpora into one training-order document stream at target token shares.

Each source gets `share * total_tokens` tokens (tokens = tokenizer ids + 1 EOS, as the shards
count them). A source with a window (start, end) is placed only in that fraction of the token
stream (midtraining: start 0.8), spread evenly over it; sources with the default window fill the
rest in proportion to their shares. Documents are drawn per source in a seeded shuffle, reshuffled
for each new epoch when a source is too small; the last document of each source in each segment is
truncated so realised shares hit the targets. Each source is tokenized once per tokenizer into
a token shard (stage "token_index", keyed by source and tokenizer, aptk.data.mix_index), so arms
sharing a source tokenize it once; the mix plans from those exact counts (no tokenizer calls) and
writes plan.npz (source, document, cut per training-order document), from which the shards stage
copies token ranges (aptk.tokens.copy). docs-*.jsonl (the texts, for the filter and the
contamination gate) are written unless write_text is false; a truncated document's text is its
kept ids decoded. Only (file, byte offset, length) per document is held in memory.

    python -m aptk.data.mix --source web=DIR:0.95 --source synth=DIR:0.05:0.8:1.0 \
        --tokenizer DIR --total-tokens 2000000 --out ROOT [--no-text]
    python -m aptk.tokens.shards --corpus MIX_DIR --tokenizer DIR --out ROOT  # copies tokens
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aptk.core.config import check
from aptk.core.errors import ConfigError
from aptk.core.hashing import derive_seed
from aptk.core.io import atomic_write_bytes
from aptk.core.stage import open_stage, runtime_field
from aptk.data.mix_index import SourceIndex, token_index
from aptk.data.mix_write import lengths as _lengths
from aptk.data.mix_write import plan_bytes as _plan_bytes
from aptk.data.mix_write import write_texts as _write_texts

log = logging.getLogger(__name__)
EPS = 1e-6


@dataclass
class MixSource:
    name: str = ""
    share: float = 0.0
    start: float = 0.0
    end: float = 1.0

    @property
    def windowed(self) -> bool:
        return self.start > 0.0 or self.end < 1.0

    def validate(self, prefix: str) -> None:
        check(bool(self.name), prefix, "name", "must be non-empty")
        check(self.share >= 0.0, prefix, "share", f"must be >= 0, got {self.share}")
        check(0.0 <= self.start < 1.0, prefix, "start", f"must be in [0, 1), got {self.start}")
        check(self.start < self.end <= 1.0, prefix, "end", f"must be in (start, 1], got {self.end}")
        width = self.end - self.start
        check(
            self.share <= width + EPS,
            prefix,
            "share",
            f"share {self.share} does not fit in its window [{self.start}, {self.end}] (max {width:.6g})",
        )


@dataclass
class MixConfig:
    """total_tokens over all sources; shares sum to 1; seed drives shuffles; docs_per_file rows."""

    total_tokens: int = 1_000_000
    sources: list[MixSource] = field(default_factory=list)
    seed: int = 0
    truncate_last: bool = True
    min_truncated_tokens: int = 16
    warn_epochs: float = 4.0
    docs_per_file: int = 5000
    count_batch: int = 256
    count_workers: int = runtime_field(1, doc="processes tokenizing sources (speed only)")
    # docs-*.jsonl with the mixed texts (the filter and the contamination gate read them); the
    # training stream itself is plan.npz + the sources' token shards (the shards stage copies)
    write_text: bool = True

    def validate(self, prefix: str) -> None:
        check(self.total_tokens > 0, prefix, "total_tokens", "must be positive")
        check(len(self.sources) > 0, prefix, "sources", "needs at least one source")
        names = [s.name for s in self.sources]
        for i, n in enumerate(names):
            check(n not in names[:i], prefix, f"sources.{i}.name", f"duplicate source {n!r}")
        total = sum(s.share for s in self.sources)
        check(abs(total - 1.0) <= EPS, prefix, "sources", f"shares must sum to 1, got {total:.9g}")
        check(self.docs_per_file > 0, prefix, "docs_per_file", "must be positive")
        check(self.count_workers >= 1, prefix, "count_workers", "must be >= 1")
        check(self.min_truncated_tokens >= 2, prefix, "min_truncated_tokens", "must be >= 2")
        schedule(self, prefix)  # raises on infeasible windows


def schedule(cfg: MixConfig, prefix: str = "mix") -> list[dict]:
    """Segments of the token stream with each source's density (fraction of tokens) in each."""
    cuts = sorted({0.0, 1.0} | {x for s in cfg.sources for x in (s.start, s.end)})
    fill = [s for s in cfg.sources if not s.windowed]
    fill_share = sum(s.share for s in fill)
    segs = []
    for a, b in itertools.pairwise(cuts):
        mid = (a + b) / 2
        dens = {
            s.name: s.share / (s.end - s.start)
            for s in cfg.sources
            if s.windowed and s.start <= mid < s.end
        }
        used = sum(dens.values())
        key = f"{prefix}.sources" if prefix else "sources"
        if used > 1.0 + EPS:
            raise ConfigError(
                key,
                f"windowed sources {sorted(dens)} need {used:.4g} of the tokens in "
                f"[{a:.4g}, {b:.4g}); at most 1 fits",
            )
        if not fill or fill_share <= 0:
            if used < 1.0 - EPS:
                raise ConfigError(
                    key,
                    f"[{a:.4g}, {b:.4g}) of the stream is covered only {used:.4g} "
                    "and no unwindowed source with share > 0 fills the rest",
                )
        else:
            for s in fill:
                dens[s.name] = max(0.0, 1.0 - used) * s.share / fill_share
        phase = (
            "pretrain"
            if not any(s.windowed and s.start <= mid < s.end for s in cfg.sources)
            else ("midtrain" if a > 0 else "early")
        )
        segs.append({"start": a, "end": b, "phase": phase, "density": dens})
    return segs


def _quotas(cfg: MixConfig, segs: list[dict]) -> list[dict[str, int]]:
    """Integer token quotas per segment and source (cumulative rounding per source)."""
    T = cfg.total_tokens
    out: list[dict[str, int]] = [{} for _ in segs]
    for s in cfg.sources:
        cum_f, cum_i = 0.0, 0
        for k, seg in enumerate(segs):
            cum_f += seg["density"].get(s.name, 0.0) * (seg["end"] - seg["start"]) * T
            q = round(cum_f) - cum_i
            cum_i += q
            if q > 0:
                out[k][s.name] = q
    return out


class _Drawer:
    """Draw documents of one source in a seeded shuffle; a new shuffle for every epoch.
    `peek(m)` / `advance(k)` are `next()` called m / k times, in bulk."""

    def __init__(self, idx: SourceIndex, seed: int) -> None:
        self.idx, self.seed, self.epoch, self.pos = idx, seed, 0, 0
        self._perms: dict[int, np.ndarray] = {}
        self.order = self._perm(0)

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            rng = np.random.default_rng(derive_seed(self.seed, "mix", self.idx.name, epoch))
            self._perms = {e: o for e, o in self._perms.items() if e >= self.epoch}
            self._perms[epoch] = rng.permutation(len(self.idx))
        return self._perms[epoch]

    def next(self) -> tuple[int, int]:
        if self.pos >= len(self.order):
            self.epoch += 1
            self.pos = 0
            self.order = self._perm(self.epoch)
        self.pos += 1
        return int(self.order[self.pos - 1]), self.epoch

    def peek(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(documents, epochs) the next m calls of next() return, without drawing them."""
        docs = [self.order[self.pos : self.pos + m]]
        have, e = len(docs[0]), self.epoch
        eps = [np.full(have, e, np.int64)]
        while have < m:
            e += 1
            take = self._perm(e)[: m - have]
            docs.append(take)
            eps.append(np.full(len(take), e, np.int64))
            have += len(take)
        return np.concatenate(docs), np.concatenate(eps)

    def advance(self, k: int) -> None:
        """Draw k documents (the state next() called k times leaves)."""
        while k > 0:
            if self.pos >= len(self.order):
                self.epoch += 1
                self.pos = 0
                self.order = self._perm(self.epoch)
            step = min(k, len(self.order) - self.pos)
            self.pos += step
            k -= step

    @property
    def epochs(self) -> float:
        return self.epoch + self.pos / len(self.order)


def _draw(cfg: MixConfig, dr: _Drawer, q: int) -> tuple[np.ndarray, ...]:
    """One source's documents for a quota of q tokens: (doc, epoch, cut, key), exactly what
    drawing one document at a time gives: whole documents while they fit; the first that
    does not fit is cut to the remaining tokens (truncate_last), or dropped when fewer than
    min_truncated_tokens remain (it is still drawn), or kept whole (not truncate_last)."""
    tokens = dr.idx.tokens
    m = max(16, int(1.25 * q * len(tokens) / max(dr.idx.total, 1)) + 16)
    while True:
        docs, eps = dr.peek(m)
        t = tokens[docs].astype(np.int64)
        incl = np.cumsum(t)
        n_fit = int(np.searchsorted(incl, q, side="right"))  # whole documents within q
        if n_fit < m:
            break
        m *= 2
    before = incl - t  # tokens placed before each document
    n = n_fit
    cut = np.zeros(n_fit + 1, np.int64)
    got = int(incl[n_fit - 1]) if n_fit else 0
    drawn = n_fit
    if got < q:  # document n_fit is drawn and does not fit
        drawn += 1
        if not cfg.truncate_last:
            n += 1
        elif q - got >= cfg.min_truncated_tokens:
            n += 1
            cut[n_fit] = q - got
    placed = np.where(cut[:n] > 0, cut[:n], t[:n])
    key = (before[:n].astype(np.float64) + placed / 2) / q  # progress through the quota
    dr.advance(drawn)
    return docs[:n].astype(np.int64), eps[:n].astype(np.int32), cut[:n], key


def plan(cfg: MixConfig, idx: dict[str, SourceIndex]) -> tuple[list[dict], list[dict], dict]:
    """Per segment: arrays (source, doc, epoch, cut) in training order; plus the drawers."""
    segs = schedule(cfg)
    quotas = _quotas(cfg, segs)
    names = [s.name for s in cfg.sources]
    drawers = {n: _Drawer(idx[n], cfg.seed) for n in names}
    plans = []
    for seg, quota in zip(segs, quotas):
        parts = [
            (si, *_draw(cfg, drawers[n], quota[n]))
            for si, n in enumerate(names)
            if quota.get(n, 0) > 0
        ]
        src = np.concatenate([np.full(len(d), si, np.int32) for si, d, *_ in parts] or [[]])
        src = src.astype(np.int32)
        doc, ep, cut, key = (
            np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dt)
            for k, dt in ((1, np.int64), (2, np.int32), (3, np.int64), (4, np.float64))
        )
        order = np.lexsort((src, key)) if len(key) else np.zeros(0, dtype=np.int64)
        plans.append(
            {
                "src": src[order],
                "doc": doc[order],
                "epoch": ep[order],
                "cut": cut[order],
                "phase": seg["phase"],
                "quota": quota,
            }
        )
    return segs, plans, drawers


def run(
    cfg: MixConfig, inputs: dict[str, Path], tokenizer_dir: str | Path, out_root: str | Path
) -> Path:
    """Mix `inputs` {source name: artifact dir} per `cfg`; token counts use the tokenizer dir."""
    for i, s in enumerate(cfg.sources):
        if s.name not in inputs:
            raise ConfigError(
                f"mix.sources.{i}.name", f"no input named {s.name!r}; inputs: {sorted(inputs)}"
            )
    sources = {s.name: Path(inputs[s.name]) for s in cfg.sources}
    st = open_stage(
        "mix", cfg, inputs={**sources, "tokenizer": Path(tokenizer_dir)}, root=out_root, version="2"
    )
    if st.done:
        return st.dir
    t_index = time.perf_counter()
    idx = {
        n: token_index(n, p, tokenizer_dir, out_root, cfg.count_batch, cfg.count_workers)
        for n, p in sources.items()
    }
    t_index = time.perf_counter() - t_index
    t_write = time.perf_counter()
    segs, plans, drawers = plan(cfg, idx)
    names = [s.name for s in cfg.sources]
    # every planned document's length in the training stream: its ids + EOS, or `cut` tokens
    # (the first cut - 1 ids + EOS) when truncated
    lens = [
        np.where(p["cut"] > 0, p["cut"], _lengths(idx, names, p["src"], p["doc"])) for p in plans
    ]
    all_src = np.concatenate([p["src"] for p in plans])
    all_len = np.concatenate(lens)
    tokens = dict(zip(names, np.bincount(all_src, all_len, len(names)).astype(int).tolist()))
    docs = dict(zip(names, np.bincount(all_src, minlength=len(names)).tolist()))
    truncated = dict(
        zip(
            names,
            np.bincount(
                all_src[np.concatenate([p["cut"] for p in plans]) > 0], minlength=len(names)
            ).tolist(),
        )
    )
    sched, offset = [], 0
    for seg, p, ln in zip(segs, plans, lens):
        sched.append(
            {
                "start": seg["start"],
                "end": seg["end"],
                "phase": seg["phase"],
                "token_start": offset,
                "token_end": offset + int(ln.sum()),
                "target_tokens": p["quota"],
                "density": seg["density"],
            }
        )
        offset += int(ln.sum())
    atomic_write_bytes(st.path("plan.npz"), _plan_bytes(plans))
    files = (
        _write_texts(
            cfg.total_tokens, cfg.docs_per_file, st, idx, names, plans, Path(tokenizer_dir)
        )
        if cfg.write_text
        else []
    )
    t_write = time.perf_counter() - t_write
    total = max(sum(tokens.values()), 1)
    n_docs = max(sum(docs.values()), 1)
    epochs = {n: drawers[n].epochs for n in names}
    for n, e in epochs.items():
        if e > cfg.warn_epochs:
            log.warning(
                "mix source %r repeated %.2f epochs (> %.1f): consider more data",
                n,
                e,
                cfg.warn_epochs,
            )
    extra = {
        "target_shares": {s.name: s.share for s in cfg.sources},
        "realised_token_shares": {n: tokens[n] / total for n in names},
        "realised_doc_shares": {n: docs[n] / n_docs for n in names},
        "tokens": tokens,
        "docs": docs,
        "truncated_docs": truncated,
        "epochs": epochs,
        "epochs_over_warn": sorted(n for n, e in epochs.items() if e > cfg.warn_epochs),
        "source_tokens_available": {n: idx[n].total for n in names},
        "source_docs_available": {n: len(idx[n]) for n in names},
        "inputs": {n: {"dir": str(p), "key": st.parent_keys[n]} for n, p in sources.items()},
        "seed": cfg.seed,
        "schedule": sched,
        "token_count": "tokenizer ids + 1 EOS per document (a truncated one: its first cut - 1 ids + EOS)",
        # where the shards stage copies each planned document's tokens from (plan.npz: source
        # number in `sources` order, document number, cut): the per-source token shards
        # (token_index stage dirs beside this one: <root>/token_index/<key>)
        "token_sources": {n: idx[n].dir.name for n in names},
        # where the time went: counting tokens (0 when every source's token_index was cached)
        # and reading + writing the mixed documents
        "phase_seconds": {"token_index": round(t_index, 2), "write": round(t_write, 2)},
    }
    st.finish(
        counts={"docs": sum(docs.values()), "tokens": sum(tokens.values()), "files": len(files)},
        files=[*files, "plan.npz"],
        extra=extra,
    )
    return st.dir


def _parse_source(spec: str) -> tuple[str, str, dict]:
    """name=DIR:share[:start:end] from the command line."""
    name, rest = spec.split("=", 1)
    parts = rest.split(":")
    d = {"name": name, "share": float(parts[1])}
    if len(parts) == 4:
        d.update(start=float(parts[2]), end=float(parts[3]))
    return name, parts[0], d


def main(argv: list[str] | None = None) -> None:
    from aptk.core.config import build

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", action="append", required=True, help="name=DIR:share[:start:end]")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--total-tokens", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="outputs")
    ap.add_argument("--count-workers", type=int, default=1)
    ap.add_argument("--no-text", action="store_true", help="plan.npz only, no docs-*.jsonl")
    a = ap.parse_args(argv)
    parsed = [_parse_source(s) for s in a.source]
    cfg = build(
        MixConfig,
        {
            "total_tokens": a.total_tokens,
            "seed": a.seed,
            "count_workers": a.count_workers,
            "write_text": not a.no_text,
            "sources": [d for _, _, d in parsed],
        },
        prefix="mix",
    )
    print(run(cfg, {n: Path(p) for n, p, _ in parsed}, Path(a.tokenizer), Path(a.out)))


if __name__ == "__main__":
    main()
