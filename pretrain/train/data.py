"""Sequential token stream over datatrove-layout shards, sliced into training batches.

    python -m pretrain.train.data SHARDS_DIR      # print n_tokens and the first 32 tokens

The corpus order is the training schedule (the mixer places midtraining data late), so batches
are read strictly in order: optimizer step `s` consumes tokens
[s * T, (s + 1) * T + 1) with T = batch_size * grad_accum * seq_len. Row `j` of the stream is the
window [j * seq_len, j * seq_len + seq_len + 1) (inputs = window[:-1], targets = window[1:]), so
consecutive rows overlap by the one target token and no token is dropped.

Reader: `pretrain.shards.TokenShards` when that module provides it; otherwise the minimal
memmap reader below over the same format: sorted `NNNNN.ds` files (little-endian uint16 tokens
when vocab < 65536 else uint32), `NNNNN.ds.index` (uint64 cumulative document ends, in tokens),
`NNNNN.ds.metadata`.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from synth.core.errors import InputError


class TokenSource(Protocol):
    n_tokens: int

    def read(self, start: int, length: int) -> np.ndarray: ...


class MemmapShards:
    """Concatenation of the `*.ds` files of a directory (sorted by name), memory-mapped."""

    def __init__(self, root: str | Path, vocab_size: int | None = None) -> None:
        self.root = Path(root)
        files = sorted(p for p in self.root.rglob("*.ds") if not p.name.startswith("."))
        if not files:
            raise FileNotFoundError(f"{self.root}: no *.ds token shards")
        self.files, self.arrays = files, []
        for f in files:
            dtype = self._dtype(f, vocab_size)
            self.arrays.append(np.memmap(f, dtype=dtype, mode="r") if f.stat().st_size else
                               np.zeros(0, dtype=dtype))
        self.offsets = np.cumsum([0] + [len(a) for a in self.arrays])
        self.n_tokens = int(self.offsets[-1])

    @staticmethod
    def _dtype(f: Path, vocab_size: int | None) -> np.dtype:
        size = f.stat().st_size
        idx = f.with_name(f.name + ".index")
        if idx.is_file() and idx.stat().st_size >= 8:
            ends = np.fromfile(idx, dtype="<u8")
            n = int(ends[-1])
            if n and size % n == 0 and size // n in (2, 4):
                return np.dtype("<u2" if size // n == 2 else "<u4")
            raise InputError(idx, None, None, f"last document end {n} does not match {f.name} "
                                              f"size {size} bytes (2 or 4 bytes per token)")
        if vocab_size is not None:
            return np.dtype("<u2" if vocab_size < 65536 else "<u4")
        raise InputError(f, None, None, "no .ds.index next to the shard and no vocab_size given: "
                                        "cannot tell the token width")

    def read(self, start: int, length: int) -> np.ndarray:
        if start < 0 or start + length > self.n_tokens:
            raise IndexError(f"tokens [{start}, {start + length}) outside [0, {self.n_tokens})")
        out, pos, end = [], start, start + length
        i = int(np.searchsorted(self.offsets, start, side="right")) - 1
        while pos < end:
            lo = pos - int(self.offsets[i])
            hi = min(end, int(self.offsets[i + 1])) - int(self.offsets[i])
            out.append(np.asarray(self.arrays[i][lo:hi]))
            pos += hi - lo
            i += 1
        return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)


def open_tokens(root: str | Path, vocab_size: int | None = None) -> TokenSource:
    """`pretrain.shards.TokenShards(root)` if available, else `MemmapShards(root)`."""
    try:
        from pretrain.shards import TokenShards  # type: ignore[attr-defined]
    except ImportError:
        return MemmapShards(root, vocab_size)
    return TokenShards(root)


class BatchStream:
    """Batches for (step, micro, rank) from a sequential token source; stateless (seekable)."""

    def __init__(self, source: TokenSource, seq_len: int, batch_size: int, grad_accum: int = 1,
                 rank: int = 0, world_size: int = 1) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} not divisible by world size {world_size}")
        self.src, self.seq_len, self.batch_size, self.grad_accum = source, seq_len, batch_size, grad_accum
        self.rank, self.world = rank, world_size
        self.rows_per_rank = batch_size // world_size

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.grad_accum * self.seq_len

    def max_steps(self) -> int:
        """How many full steps the data holds (each needs one extra target token at its end)."""
        return max(0, (int(self.src.n_tokens) - 1) // self.tokens_per_step)

    def get(self, step: int, micro: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) int64 tensors of shape [rows_per_rank, seq_len]."""
        row0 = (step * self.grad_accum + micro) * self.batch_size + self.rank * self.rows_per_rank
        n, L = self.rows_per_rank, self.seq_len
        flat = self.src.read(row0 * L, n * L + 1).astype(np.int64, copy=False)
        idx = np.arange(n)[:, None] * L + np.arange(L + 1)[None, :]
        win = torch.from_numpy(flat[idx])
        return win[:, :-1].contiguous(), win[:, 1:].contiguous()


if __name__ == "__main__":
    src = open_tokens(sys.argv[1])
    print(f"n_tokens={src.n_tokens}")
    print(src.read(0, min(32, src.n_tokens)).tolist())
