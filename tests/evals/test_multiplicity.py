"""Holm and Benjamini-Hochberg adjusted p-values against hand-computed textbook examples."""

import math

import numpy as np
import pytest

from aptk.evals.stats import benjamini_hochberg, holm

# Benjamini & Hochberg (1995), section 4.1: 15 p-values from a clinical trial; at 0.05 the
# Bonferroni-type step-down procedure (Holm) rejects 3 hypotheses, BH rejects 4.
BH1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
          0.4262, 0.5719, 0.6528, 0.7590, 1.0000]  # fmt: skip


def test_holm_hand_computed():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4x, 3x, 2x, 1x = 0.02, 0.03, 0.06, 0.04 -> running max
    # 0.02, 0.03, 0.06, 0.06 (the textbook four-hypothesis example: reject H1 and H4 at 0.05)
    adj = holm([0.01, 0.04, 0.03, 0.005])
    assert adj == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [a <= 0.05 for a in adj] == [True, False, False, True]


def test_holm_caps_at_one_monotone_and_ignores_nan():
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    adj = holm([0.02, float("nan"), 0.01])  # m = 2, the nan is not a test
    assert adj[0] == pytest.approx(0.02) and adj[2] == pytest.approx(0.02) and math.isnan(adj[1])
    assert holm([]) == [] and holm([0.3]) == [0.3]
    rng = np.random.default_rng(0)
    p = rng.uniform(size=40) ** 3
    adj = np.array(holm(p))
    order = np.argsort(p)
    assert (np.diff(adj[order]) >= 0).all() and (adj >= p).all()
    assert (adj <= np.minimum(1, p * p.size) + 1e-15).all()  # never worse than Bonferroni
    with pytest.raises(ValueError):
        holm([1.2])


def test_bh1995_example():
    h, b = holm(BH1995), benjamini_hochberg(BH1995)
    assert sum(x <= 0.05 for x in h) == 3 and sum(x <= 0.05 for x in b) == 4
    # hand-computed: p(4) * 15 / 4 = 0.035625, then min over the tail from p(5) on
    assert b[3] == pytest.approx(0.0095 * 15 / 4)
    assert b[4] == pytest.approx(min(0.0201 * 15 / 5, 0.0298 * 15 / 7, 0.0344 * 15 / 8))
    assert h[2] == pytest.approx(0.0019 * 13) and h[3] == pytest.approx(0.0095 * 12)


def test_bh_matches_scipy():
    from scipy.stats import false_discovery_control

    rng = np.random.default_rng(1)
    p = rng.uniform(size=30) ** 2
    assert benjamini_hochberg(p) == pytest.approx(list(false_discovery_control(p)))
