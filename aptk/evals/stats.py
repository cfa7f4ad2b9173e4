"""Deterministic statistics for eval results: bootstrap CIs, paired arm comparisons, aggregation,
multiple-comparison adjustment (Holm, Benjamini-Hochberg).

Every resampling uses a seeded `numpy.random.Generator` (default seed 0, 10k resamples), so the
same inputs always give the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

N_BOOT = 10_000


def _arr(x: Sequence[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"expected a 1-D sequence, got shape {a.shape}")
    return a


def bootstrap_mean_ci(
    x: Sequence[float] | np.ndarray, n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean. Empty input -> (nan, nan); one value -> (v, v)."""
    a = _arr(x)
    if a.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // max(a.size, 1))
    for s in range(0, n_boot, chunk):
        k = min(chunk, n_boot - s)
        means[s : s + k] = a[rng.integers(0, a.size, size=(k, a.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo), float(hi))


def bootstrap_rate_ci(
    flags: Sequence[bool] | np.ndarray, n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of a rate (share of True)."""
    return bootstrap_mean_ci(np.asarray(flags, dtype=float), n_boot, seed, level)


def sem(x: Sequence[float] | np.ndarray) -> float:
    """Standard error of the mean (ddof=1); 0 for a single value, nan when empty."""
    a = _arr(x)
    if a.size == 0:
        return float("nan")
    return float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else 0.0


def sign_test_p(diffs: Sequence[float] | np.ndarray) -> float:
    """Exact two-sided sign test (binomial, p=0.5) on the non-zero differences."""
    d = _arr(diffs)
    pos, neg = int((d > 0).sum()), int((d < 0).sum())
    if pos + neg == 0:
        return 1.0
    return float(sps.binomtest(pos, pos + neg, 0.5, alternative="two-sided").pvalue)


def ttest_p(diffs: Sequence[float] | np.ndarray) -> float:
    """One-sample two-sided t-test of mean(diffs) == 0 (the paired t-test); nan if undefined."""
    d = _arr(diffs)
    if d.size < 2 or np.allclose(d, d[0]):
        return float("nan") if d.size < 2 else (1.0 if d[0] == 0 else 0.0)
    return float(sps.ttest_1samp(d, 0.0).pvalue)


def paired(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict:
    """Compare arm a with arm b over the same items (a[i] and b[i] are the same item).

    Returns mean_diff (a - b), a paired bootstrap 95% CI, the paired t-test p (`p_value`, also
    `p_ttest`: it tests the mean that mean_diff and the CI describe), the exact sign-test p
    (`p_sign`, a robustness check on the direction), and counts of items where a > b / a < b.
    """
    x, y = _arr(a), _arr(b)
    if x.shape != y.shape:
        raise ValueError(f"paired comparison needs equal lengths, got {x.size} and {y.size}")
    d = x - y
    lo, hi = bootstrap_mean_ci(d, n_boot, seed)
    return {
        "n": int(d.size),
        "mean_a": float(x.mean()) if d.size else float("nan"),
        "mean_b": float(y.mean()) if d.size else float("nan"),
        "mean_diff": float(d.mean()) if d.size else float("nan"),
        "ci95": [lo, hi],
        "p_value": ttest_p(d),
        "p_sign": sign_test_p(d),
        "p_ttest": ttest_p(d),
        "n_a_greater": int((d > 0).sum()),
        "n_b_greater": int((d < 0).sum()),
    }


def paired_rate(a: Sequence[bool], b: Sequence[bool], n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Paired difference of two 0/1 outcomes over the same items; `p_value` is the exact
    McNemar test on the discordant pairs (the sign test on a - b), the standard for paired
    binary data."""
    r = paired(np.asarray(a, dtype=float), np.asarray(b, dtype=float), n_boot, seed)
    return {**r, "p_value": r["p_sign"]}


def mean_sem(values: Sequence[float]) -> dict:
    """{"mean", "sem", "n", "ci95"} over seeds/formats; ci95 uses Student t (n-1 df)."""
    a = _arr(values)
    if a.size == 0:
        return {"mean": float("nan"), "sem": float("nan"), "n": 0, "ci95": [float("nan")] * 2}
    m, s = float(a.mean()), sem(a)
    half = float(sps.t.ppf(0.975, a.size - 1) * s) if a.size > 1 else 0.0
    return {"mean": m, "sem": s, "n": int(a.size), "ci95": [m - half, m + half]}


def inverse_variance(means: Sequence[float], ses: Sequence[float]) -> dict:
    """Fixed-effect inverse-variance weighted mean of per-seed estimates with standard errors."""
    m, se = _arr(means), _arr(ses)
    ok = np.isfinite(m) & np.isfinite(se) & (se > 0)
    if not ok.any():
        return {
            "mean": float(np.mean(m)) if m.size else float("nan"),
            "se": float("nan"),
            "ci95": [float("nan")] * 2,
        }
    w = 1.0 / se[ok] ** 2
    mu = float((w * m[ok]).sum() / w.sum())
    s = float(np.sqrt(1.0 / w.sum()))
    return {"mean": mu, "se": s, "ci95": [mu - 1.96 * s, mu + 1.96 * s]}


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """[B, k] resampled indices in [0, n) -> [B, n] how often each index was drawn per row."""
    b = idx.shape[0]
    flat = (np.arange(b)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def resampled_means(m: np.ndarray, seeds: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Grand mean of m[seeds[r]][:, items[r]] for every resample r, without building the
    resampled matrices: with c_s, c_i the draw counts, the mean is c_s @ m @ c_i / (S * I).
    Rows are done in blocks so that memory stays ~16 MB whatever the number of items."""
    s_n, i_n = seeds.shape[1], items.shape[1]
    out = np.empty(seeds.shape[0])
    block = max(1, 2_000_000 // max(m.shape[1], 1))
    for r in range(0, seeds.shape[0], block):
        cs = _counts(seeds[r : r + block], m.shape[0])
        ci = _counts(items[r : r + block], m.shape[1])
        out[r : r + block] = ((cs @ m) * ci).sum(axis=1) / (s_n * i_n)
    return out


def hierarchical_bootstrap_ci(
    m: np.ndarray, n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """CI of the grand mean of a seeds x items matrix, resampling seeds and items (two-stage,
    items resampled jointly across seeds so that item effects stay paired)."""
    a = np.asarray(m, dtype=float)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"expected a non-empty seeds x items matrix, got shape {a.shape}")
    if a.shape[0] == 1:
        return bootstrap_mean_ci(a[0], n_boot, seed, level)
    rng = np.random.default_rng(seed)
    s_n, i_n = a.shape
    seeds, items = rng.integers(0, s_n, (n_boot, s_n)), rng.integers(0, i_n, (n_boot, i_n))
    out = resampled_means(a, seeds, items)
    lo, hi = np.quantile(out, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo), float(hi))


def paired_hierarchical_ci(
    a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """CI of mean(a) - mean(b) for seeds x items matrices over the same items: items are
    resampled jointly (paired), each arm's seeds independently."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or x.shape[1] == 0:
        raise ValueError(
            f"need seeds x items matrices over the same items, got {x.shape} {y.shape}"
        )
    rng = np.random.default_rng(seed)
    n = x.shape[1]
    it = rng.integers(0, n, (n_boot, n))
    sa = rng.integers(0, x.shape[0], (n_boot, x.shape[0]))
    sb = rng.integers(0, y.shape[0], (n_boot, y.shape[0]))
    out = resampled_means(x, sa, it) - resampled_means(y, sb, it)
    lo, hi = np.quantile(out, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo), float(hi))


# --- multiple comparisons -------------------------------------------------------------------


def _finite(pvals: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pvals, dtype=float).reshape(-1)
    ok = np.isfinite(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    return p, ok


def holm(pvals: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values, family-wise error control under any dependence.

    With the m finite p-values sorted p(1) <= ... <= p(m): adj(i) = max_{j<=i} min(1,
    (m - j + 1) p(j)). Reject H(i) at level alpha iff adj(i) <= alpha. nan entries (untestable
    comparisons) stay nan and do not count in m. Ties keep input order (the result is the same).
    """
    p, ok = _finite(pvals)
    out = np.full(p.shape, np.nan)
    x = p[ok]
    m = x.size
    if m:
        order = np.argsort(x, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * x[order]))
        res = np.empty(m)
        res[order] = adj
        out[ok] = res
    return [float(v) for v in out]


def benjamini_hochberg(pvals: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg (1995) step-up adjusted p-values (false discovery rate; valid under
    independence or positive regression dependence). adj(i) = min_{j>=i} min(1, m p(j) / j).
    nan entries stay nan and do not count in m."""
    p, ok = _finite(pvals)
    out = np.full(p.shape, np.nan)
    x = p[ok]
    m = x.size
    if m:
        order = np.argsort(x, kind="stable")
        scaled = x[order] * m / np.arange(1, m + 1)
        adj = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
        res = np.empty(m)
        res[order] = adj
        out[ok] = res
    return [float(v) for v in out]
