"""Planning a nanotron run from aptk configs: token sources and their data views, the batch split
over data-parallel replicas, and the run length / warmup (used by aptk.train.nanotron).

    python -m aptk.train.nanotron ...     # (build_config calls these)
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from aptk.core.config import check
from aptk.core.errors import ConfigError
from aptk.core.io import atomic_write_text
from aptk.train.config import TrainConfig


@dataclasses.dataclass
class Source:
    """One token-shard dir and its place in the stream (aptk.data.mix.MixSource semantics)."""

    name: str
    path: Path
    share: float = 1.0
    start: float = 0.0
    end: float = 1.0


def parse_source(spec: str) -> Source:
    """'NAME=DIR[:SHARE[:START:END]]' (the mixer's --source syntax)."""
    if "=" not in spec:
        raise ConfigError("source", f"{spec!r}: expected NAME=DIR[:SHARE[:START:END]]")
    name, rest = spec.split("=", 1)
    parts = rest.split(":")
    if len(parts) not in (1, 2, 4):
        raise ConfigError(f"source.{name}", f"{spec!r}: expected NAME=DIR[:SHARE[:START:END]]")
    nums = [float(x) for x in parts[1:]]
    return Source(name, Path(parts[0]), *nums)


def shard_meta(shards_dir: Path) -> tuple[str, int, int]:
    """(tokenizer name, token size in bytes, total tokens) from the shards' .ds.metadata files."""
    metas = sorted(Path(shards_dir).glob("*.ds.metadata"))
    if not metas:
        raise FileNotFoundError(f"{shards_dir}: no *.ds.metadata (not a token shard dir)")
    name, size, total = "", 0, 0
    for m in metas:
        lines = m.read_text(encoding="utf-8").split("\n")
        n, s = lines[0].rsplit("|", 1)
        name, size = name or n, size or int(s)
        total += int(lines[1])
    return name, size, total


def data_view(src: Path, tokenizer_dir: Path, out: Path) -> Path:
    """`out`: the shards of `src` symlinked, with .ds.metadata rewritten to name `tokenizer_dir`
    (nanotron asserts metadata tokenizer == tokenizer_name_or_path; aptk writes its own name)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ds*"):  # a view of an earlier, different shard set
        old.unlink()
    for ds in sorted(src.resolve().glob("*.ds")):
        for suffix in ("", ".index"):
            (out / (ds.name + suffix)).symlink_to(Path(f"{ds}{suffix}"))
        lines = Path(f"{ds}.metadata").read_text(encoding="utf-8").split("\n")
        lines[0] = f"{tokenizer_dir}|{lines[0].rsplit('|', 1)[1]}"
        atomic_write_text(out / f"{ds.name}.metadata", "\n".join(lines))
    return out


def one_pass_tokens(sources: list[Source]) -> int | None:
    """Tokens of one pass over a single source (its default run length); None for several."""
    return shard_meta(sources[0].path)[2] if len(sources) == 1 else None


def split_batch(
    train_cfg: TrainConfig, dp: int, micro_batch_size: int | None = None
) -> tuple[int, int]:
    """(micro_batch_size, batch_accumulation_per_replica) with mbs * accum * dp = batch_size *
    grad_accum; mbs is the largest divisor of the per-replica rows <= the cap (default: aptk's
    per-rank micro-batch batch_size // dp, at least 1)."""
    rows = train_cfg.batch_size * train_cfg.grad_accum
    check(
        rows % dp == 0,
        "train",
        "batch_size",
        f"batch_size*grad_accum = {rows} rows per step is not divisible by dp={dp} data-parallel "
        f"replicas (GPUs / (tp*pp)); set train.batch_size or train.grad_accum so that it is "
        f"(e.g. train.grad_accum={math.lcm(rows, dp) // train_cfg.batch_size})",
    )
    per = rows // dp
    cap = micro_batch_size or max(1, train_cfg.batch_size // dp)
    mbs = max(d for d in range(1, min(cap, per) + 1) if per % d == 0)
    return mbs, per // mbs


def run_length(train_cfg: TrainConfig, tokens: int | None) -> tuple[int, int, str]:
    """(steps, warmup steps, how warmup was chosen); tokens = one pass (single source) or None."""
    available = None if tokens is None else max(0, (tokens - 1) // train_cfg.tokens_per_step)
    if tokens is None and train_cfg.max_steps is None and train_cfg.total_tokens is None:
        raise ConfigError(
            "train.total_tokens",
            "several sources: set the run length (train.total_tokens or train.max_steps)",
        )
    free = dataclasses.replace(train_cfg, warmup_steps=None)
    steps = free.n_steps(None if train_cfg.max_steps or train_cfg.total_tokens else available)
    w = train_cfg.warmup_steps
    if w is not None and w < steps:
        return steps, w, "train.warmup_steps"
    why = "" if w is None else f" (train.warmup_steps={w} >= the run's {steps} steps)"
    return steps, free.warmup(steps), f"ceil(train.warmup_ratio * steps){why}"
