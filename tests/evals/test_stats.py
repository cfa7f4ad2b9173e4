"""Statistics on known data; determinism."""

import numpy as np
import pytest

from aptk.evals import stats


def test_sign_test_10_of_10():
    assert stats.sign_test_p(np.ones(10)) == pytest.approx(0.001953125)
    assert stats.sign_test_p([1, -1, 0]) == pytest.approx(1.0)


def test_bootstrap_deterministic_and_sane():
    x = np.r_[np.ones(30), np.zeros(70)]
    a, b = stats.bootstrap_rate_ci(x, seed=1), stats.bootstrap_rate_ci(x, seed=1)
    assert a == b and a[0] < 0.3 < a[1] and 0.19 < a[0] and a[1] < 0.41
    assert stats.bootstrap_mean_ci([2.0]) == (2.0, 2.0)


def test_paired():
    a = np.arange(10, dtype=float) + 1.0
    b = np.arange(10, dtype=float)
    r = stats.paired(a, b)
    assert r["mean_diff"] == pytest.approx(1.0) and r["ci95"] == [1.0, 1.0]
    assert r["p_sign"] == pytest.approx(0.001953125) and r["n_a_greater"] == 10
    assert r["p_value"] == r["p_ttest"] == 0.0  # a constant non-zero difference
    assert stats.paired_rate([True] * 10, [False] * 10)["p_value"] == pytest.approx(0.001953125)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    r = stats.paired(x, y)
    from scipy.stats import ttest_rel

    assert r["p_value"] == r["p_ttest"] == pytest.approx(ttest_rel(x, y).pvalue)
    assert r["ci95"][0] < r["mean_diff"] < r["ci95"][1]
    with pytest.raises(ValueError):
        stats.paired([1.0], [1.0, 2.0])


def test_mean_sem_and_ivw():
    ms = stats.mean_sem([1.0, 2.0, 3.0])
    assert ms["mean"] == 2.0 and ms["sem"] == pytest.approx(1 / np.sqrt(3))
    iv = stats.inverse_variance([1.0, 3.0], [1.0, 1.0])
    assert iv["mean"] == pytest.approx(2.0) and iv["se"] == pytest.approx(np.sqrt(0.5))


def test_hierarchical():
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 0.1, size=(3, 40))
    b = rng.normal(0.0, 0.1, size=(2, 40))
    lo, hi = stats.paired_hierarchical_ci(a, b, n_boot=500)
    assert lo < a.mean() - b.mean() < hi and lo > 0.8
    lo1, hi1 = stats.hierarchical_bootstrap_ci(a, n_boot=500)
    assert lo1 < a.mean() < hi1
    assert stats.hierarchical_bootstrap_ci(a[:1], n_boot=500) == stats.bootstrap_mean_ci(
        a[0], n_boot=500
    )


def test_resampled_means_match_indexing():
    """The count-vector formula equals building every resampled matrix and taking its mean."""
    rng = np.random.default_rng(3)
    m = rng.normal(size=(3, 17))
    seeds, items = rng.integers(0, 3, (50, 3)), rng.integers(0, 17, (50, 17))
    naive = [m[s][:, i].mean() for s, i in zip(seeds, items)]
    assert np.allclose(stats.resampled_means(m, seeds, items), naive, rtol=0, atol=1e-12)
