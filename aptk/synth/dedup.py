"""Exact and near-duplicate removal (MinHash LSH over word shingles, datasketch).

Documents are checked in a fixed order; the first copy is kept and later copies are dropped with
reason `exact_dup` (same normalised text) or `near_dup` (estimated Jaccard >= threshold with
an earlier kept document). Memory: one 16-byte digest and one LSH entry per kept document.
"""
from __future__ import annotations

import hashlib

import numpy as np
from datasketch import MinHash, MinHashLSH

from aptk.synth.filters import words


class Deduper:
    """Streaming deduplicator; call `check(key, text)` once per document, in order."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 64, shingle: int = 5,
                 seed: int = 1) -> None:
        self.threshold, self.num_perm, self.shingle = threshold, num_perm, shingle
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.exact: dict[bytes, str] = {}
        proto = MinHash(num_perm=num_perm, seed=seed)
        self._perm, self._scheme = proto.permutations, proto.scheme
        self._seed = seed
        self._sigs: dict[str, np.ndarray] = {}

    def minhash(self, text: str) -> MinHash:
        w = words(text)
        n = self.shingle
        sh = {" ".join(w[i:i + n]).encode() for i in range(max(1, len(w) - n + 1))}
        m = MinHash(num_perm=self.num_perm, seed=self._seed, permutations=self._perm,
                    scheme=self._scheme)
        m.update_batch(list(sh))  # min-hash is order independent
        return m

    def check(self, key: str, text: str) -> tuple[str | None, str | None]:
        """(reason, key of the earlier document) if `text` duplicates one; else record it."""
        digest = hashlib.blake2b(" ".join(words(text)).encode(), digest_size=16).digest()
        if digest in self.exact:
            return "exact_dup", self.exact[digest]
        m = self.minhash(text)
        hits = self.lsh.query(m)
        if hits:
            # confirm with the estimated Jaccard against the stored signatures (LSH is approximate)
            for h in sorted(hits):
                if float(np.mean(self._sigs[h] == m.hashvalues)) >= self.threshold:
                    return "near_dup", h
        self.exact[digest] = key
        self.lsh.insert(key, m)
        self._sigs[key] = m.hashvalues.copy()
        return None, None
