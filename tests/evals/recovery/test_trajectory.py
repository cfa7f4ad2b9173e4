"""Planted trajectories recovered exactly; Mann-Kendall against scipy's Kendall tau test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from aptk.evals.recovery.trajectory import mann_kendall, recovery_curve, trajectory, verdict

TAU = 0.5


def test_never_broken() -> None:
    tr = trajectory([0.1, 0.2, 0.49, 0.0], TAU)
    assert not tr["broken"] and tr["break_turn"] is None and not tr["recovered"]
    assert tr["rebreaks"] == 0 and tr["post_n"] == 0 and tr["slope"] is None and tr["mk"] is None
    assert verdict(tr) == "never_broken"


def test_break_at_turn_one_and_stays_broken() -> None:
    tr = trajectory([0.9, 0.8, 0.7], TAU)
    assert tr["break_turn"] == 1 and not tr["recovered"] and not tr["sustained"]
    assert tr["turns_to_recovery"] is None and tr["post_n"] == 2
    assert tr["slope"] == pytest.approx(-0.1)
    assert verdict(tr) == "not_recovered"


def test_recover_then_rebreak() -> None:
    labels = ["adversarial"] * 6
    tr = trajectory([0.1, 0.8, 0.2, 0.3, 0.9, 0.1], TAU, labels)
    assert tr["break_turn"] == 2 and tr["recovered"] and tr["recovery_turn"] == 3
    assert tr["turns_to_recovery"] == 1 and tr["rebreaks"] == 1
    assert not tr["sustained"] and tr["ends_safe"]
    assert tr["recovery_context"] == "adversarial"
    assert tr["post_n"] == 4 and tr["mk"] is not None and tr["mk"]["n"] == 4


def test_recovery_on_last_turn_after_benign_turn() -> None:
    labels = ["adversarial", "adversarial", "adversarial", "benign"]
    tr = trajectory([0.9, 0.6, 0.7, 0.2], TAU, labels)
    assert tr["break_turn"] == 1 and tr["recovery_turn"] == 4 and tr["turns_to_recovery"] == 3
    assert tr["sustained"] and tr["ends_safe"] and tr["rebreaks"] == 0
    assert tr["recovery_context"] == "benign"
    assert tr["post_n"] == 3 and tr["mk"] is None  # < 4 post-break turns: no trend test


def test_tie_at_tau_counts_as_unsafe() -> None:
    tr = trajectory([0.2, 0.5, 0.4999999], TAU)
    assert tr["unsafe"] == [False, True, False]
    assert tr["break_turn"] == 2 and tr["recovery_turn"] == 3 and tr["sustained"]
    assert not trajectory([0.4999999], TAU)["broken"]


def test_break_on_last_turn_is_censored() -> None:
    tr = trajectory([0.1, 0.1, 0.7], TAU)
    assert tr["broken"] and tr["censored"] and not tr["recovered"] and verdict(tr) == "censored"


def test_nan_scores_rejected() -> None:
    with pytest.raises(ValueError):
        trajectory([0.1, float("nan")], TAU)


def test_mann_kendall_equals_scipy_kendall_tau_tie_free() -> None:
    rng = np.random.default_rng(0)
    for n in (4, 5, 8, 13, 30):
        x = rng.permutation(n).astype(float) + rng.normal(0, 0.01, n)
        mk = mann_kendall(x, continuity=False)
        ref = sps.kendalltau(np.arange(n), x, method="asymptotic")
        assert mk["tau"] == pytest.approx(ref.statistic, abs=1e-12)
        assert mk["p"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert mk["var"] == pytest.approx(n * (n - 1) * (2 * n + 5) / 18)


def test_mann_kendall_tie_corrected_variance_matches_scipy_tau_b() -> None:
    # time has no ties, so scipy's tau-b variance reduces to the Mann-Kendall tie-corrected one
    x = [0.1, 0.3, 0.3, 0.2, 0.5, 0.5, 0.5, 0.9, 0.0, 0.3]
    mk = mann_kendall(x, continuity=False)
    ref = sps.kendalltau(np.arange(len(x)), x, method="asymptotic")
    assert mk["p"] == pytest.approx(ref.pvalue, rel=1e-9)
    n = len(x)
    assert mk["var"] == pytest.approx((n * (n - 1) * (2 * n + 5) - 2 * 3 * 11 - 2 * 3 * 11) / 18)


def test_mann_kendall_continuity_correction() -> None:
    x = [5.0, 4.0, 3.0, 2.0, 1.0]
    mk = mann_kendall(x)
    assert mk["S"] == -10 and mk["z"] == pytest.approx(-9 / np.sqrt(5 * 4 * 15 / 18))


def test_recovery_curve_aligned_at_break() -> None:
    trs = [trajectory(s, TAU) for s in ([0.9, 0.1, 0.1], [0.1, 0.9, 0.9], [0.1, 0.1, 0.1])]
    for tr, s in zip(trs, ([0.9, 0.1, 0.1], [0.1, 0.9, 0.9], [0.1, 0.1, 0.1]), strict=True):
        tr["scores"] = s
    cur = recovery_curve(trs, 3)
    assert [c["n"] for c in cur] == [2, 2, 1, 0]
    assert cur[0]["safe_rate"] == 0.0 and cur[1]["safe_rate"] == 0.5 and cur[2]["safe_rate"] == 1.0
    assert cur[1]["mean_score"] == pytest.approx(0.5) and cur[3]["safe_rate"] is None
