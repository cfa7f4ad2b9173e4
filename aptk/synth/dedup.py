"""Exact and near-duplicate removal (MinHash LSH over word shingles) with an on-disk index.

Documents are checked in a fixed order; the first copy is kept and later copies are dropped with
reason `exact_dup` (same normalised text) or `near_dup` (estimated Jaccard >= threshold with
an earlier kept document). Candidates come from MinHash LSH banding with datasketch's own band
count and width for (threshold, num_perm); they are confirmed against the stored signatures in
key order, so the decisions (and the synth stage's bytes) are those of datasketch's in-memory
MinHashLSH that this module used before.

Memory is flat in the number of documents: the index (exact digests, band keys, signatures) is
a SQLite file in a private temp dir (`workdir`, default the system temp dir), with a page cache
capped at `cache_mb`; the file (about 1.5 KB per kept document) is deleted when the Deduper is
closed or garbage-collected. The in-memory index it replaces took ~1-3 KB of RAM per document.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
import weakref
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

from aptk.synth.filters import words

COMMIT_EVERY = 2000  # inserts per SQLite transaction (reads see uncommitted rows)


def _close(db: sqlite3.Connection, folder: str) -> None:
    try:
        db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Deduper:
    """Streaming deduplicator; call `check(key, text)` once per document, in order."""

    def __init__(
        self,
        threshold: float = 0.8,
        num_perm: int = 64,
        shingle: int = 5,
        seed: int = 1,
        workdir: str | Path | None = None,
        cache_mb: int = 8,
    ) -> None:
        self.threshold, self.num_perm, self.shingle = threshold, num_perm, shingle
        self.bands = list(MinHashLSH(threshold=threshold, num_perm=num_perm).hashranges)
        proto = MinHash(num_perm=num_perm, seed=seed)
        self._perm, self._scheme = proto.permutations, proto.scheme
        self._seed = seed
        if workdir is not None:
            Path(workdir).mkdir(parents=True, exist_ok=True)
        self._dir = tempfile.mkdtemp(prefix="aptk-dedup-", dir=workdir)
        self._db = db = sqlite3.connect(str(Path(self._dir) / "lsh.sqlite"), isolation_level=None)
        self._close = weakref.finalize(self, _close, db, self._dir)
        for p in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "locking_mode=EXCLUSIVE",
            "temp_store=FILE",
            f"cache_size=-{cache_mb * 1024}",
        ):
            db.execute(f"PRAGMA {p}")
        db.executescript("""
            CREATE TABLE exact (d BLOB PRIMARY KEY, key TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE doc (id INTEGER PRIMARY KEY, key TEXT NOT NULL, sig BLOB NOT NULL);
            CREATE TABLE band (h BLOB NOT NULL, id INTEGER NOT NULL);
            CREATE INDEX band_h ON band (h);
        """)
        self._query = (
            f"SELECT DISTINCT doc.key, doc.sig FROM band JOIN doc ON doc.id = band.id "
            f"WHERE band.h IN ({', '.join('?' * len(self.bands))})"
        )
        self._pending, self.n_kept = 0, 0
        db.execute("BEGIN")

    def minhash(self, text: str) -> MinHash:
        w = words(text)
        n = self.shingle
        sh = {" ".join(w[i : i + n]).encode() for i in range(max(1, len(w) - n + 1))}
        m = MinHash(
            num_perm=self.num_perm, seed=self._seed, permutations=self._perm, scheme=self._scheme
        )
        m.update_batch(list(sh))  # min-hash is order independent
        return m

    def _band_keys(self, hv: np.ndarray) -> list[bytes]:
        """One key per band: band number + the band's raw hash values (datasketch compares the
        same values, byte-swapped)."""
        return [i.to_bytes(2, "little") + hv[s:e].tobytes() for i, (s, e) in enumerate(self.bands)]

    def check(self, key: str, text: str) -> tuple[str | None, str | None]:
        """(reason, key of the earlier document) if `text` duplicates one; else record it."""
        db = self._db
        digest = hashlib.blake2b(" ".join(words(text)).encode(), digest_size=16).digest()
        row = db.execute("SELECT key FROM exact WHERE d = ?", (digest,)).fetchone()
        if row is not None:
            return "exact_dup", row[0]
        hv = self.minhash(text).hashvalues
        hs = self._band_keys(hv)
        # confirm with the estimated Jaccard against the stored signatures (LSH is approximate)
        for other, sig in sorted(db.execute(self._query, hs).fetchall()):
            if float(np.mean(np.frombuffer(sig, dtype=hv.dtype) == hv)) >= self.threshold:
                return "near_dup", other
        db.execute("INSERT INTO exact VALUES (?, ?)", (digest, key))
        doc_id = db.execute(
            "INSERT INTO doc (key, sig) VALUES (?, ?)", (key, hv.tobytes())
        ).lastrowid
        db.executemany("INSERT INTO band VALUES (?, ?)", [(h, doc_id) for h in hs])
        self.n_kept += 1
        self._pending += 1
        if self._pending >= COMMIT_EVERY:
            db.execute("COMMIT")
            db.execute("BEGIN")
            self._pending = 0
        return None, None

    def close(self) -> None:
        """Drop the index (also happens when the Deduper is garbage-collected)."""
        self._close()

    def __enter__(self) -> Deduper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
