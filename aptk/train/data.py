"""Sequential token stream over datatrove-layout shards, sliced into training batches.

    python -m aptk.train.data SHARDS_DIR      # print n_tokens and the first 32 tokens

The corpus order is the training schedule (the mixer places midtraining data late), so batches
are read strictly in order: optimizer step `s` consumes tokens
[s * T, (s + 1) * T + 1) with T = batch_size * grad_accum * seq_len. Row `j` of the stream is the
window [j * seq_len, j * seq_len + seq_len + 1) (inputs = window[:-1], targets = window[1:]), so
consecutive rows overlap by the one target token and no token is dropped.

Reader: `aptk.tokens.shards.TokenShards` (sorted `NNNNN.ds` files, memory-mapped, in datatrove's
layout: little-endian uint16/uint32 tokens, `.ds.index` doc ends, `.ds.metadata`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

import numpy as np
import torch


class TokenSource(Protocol):
    n_tokens: int

    def read(self, start: int, length: int) -> np.ndarray: ...


def open_tokens(root: str | Path) -> TokenSource:
    """The token stream of a shard dir (`aptk.tokens.shards.TokenShards`)."""
    from aptk.tokens.shards import TokenShards

    return TokenShards(root)


class BatchStream:
    """Batches for (step, micro, rank) from a sequential token source; stateless (seekable)."""

    def __init__(
        self,
        source: TokenSource,
        seq_len: int,
        batch_size: int,
        grad_accum: int = 1,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} not divisible by world size {world_size}")
        self.src, self.seq_len, self.batch_size, self.grad_accum = (
            source,
            seq_len,
            batch_size,
            grad_accum,
        )
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
