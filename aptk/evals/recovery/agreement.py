"""Agreement between moderators: Cohen's kappa for a pair of raters, Fleiss' kappa for many.

Both take categorical labels (any hashable). Cohen: kappa = (p_o - p_e) / (1 - p_e) with p_e from
the two raters' marginals; Fleiss: from an items x categories count table (every item rated by the
same number of raters). When p_e = 1 (both raters constant and equal) kappa is undefined: None.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from itertools import combinations

import numpy as np


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    if len(a) != len(b):
        raise ValueError(f"rater label lists differ in length ({len(a)} vs {len(b)})")
    if not a:
        return None
    cats = sorted(set(a) | set(b), key=str)
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pe = sum((sum(x == c for x in a) / n) * (sum(y == c for y in b) / n) for c in cats)
    if pe >= 1.0:
        return None
    return float((po - pe) / (1 - pe))


def fleiss_table(ratings: Sequence[Sequence[Hashable]]) -> np.ndarray:
    """items x categories counts from per-item rater label lists (ratings[i] = labels of item i)."""
    cats = sorted({c for r in ratings for c in r}, key=str)
    idx = {c: j for j, c in enumerate(cats)}
    t = np.zeros((len(ratings), len(cats)), dtype=float)
    for i, r in enumerate(ratings):
        for c in r:
            t[i, idx[c]] += 1
    return t


def fleiss_kappa(table: np.ndarray | Sequence[Sequence[float]]) -> float | None:
    """Fleiss' kappa from an items x categories count table with a constant row sum."""
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] == 0:
        return None
    m = t.sum(axis=1)
    if not np.allclose(m, m[0]) or m[0] < 2:
        raise ValueError("every item needs the same number (>= 2) of ratings")
    m0, n = m[0], t.shape[0]
    p_j = t.sum(axis=0) / (n * m0)
    p_i = ((t * t).sum(axis=1) - m0) / (m0 * (m0 - 1))
    pbar, pe = p_i.mean(), (p_j * p_j).sum()
    if pe >= 1.0:
        return None
    return float((pbar - pe) / (1 - pe))


def kappa_table(labels: dict[str, Sequence[Hashable]]) -> dict:
    """Cohen's kappa for every pair of raters and Fleiss' kappa across all (labels[rater]
    aligned over the same items)."""
    names = list(labels)
    pairs = {f"{x}|{y}": cohen_kappa(labels[x], labels[y]) for x, y in combinations(names, 2)}
    fl = None
    if len(names) >= 2 and labels[names[0]]:
        fl = fleiss_kappa(fleiss_table(list(zip(*(labels[k] for k in names), strict=True))))
    return {"n": len(labels[names[0]]) if names else 0, "cohen": pairs, "fleiss": fl}
