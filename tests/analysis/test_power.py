"""aptk.analysis.power: the variance decomposition recovers known noise levels; power grows with seeds."""

from __future__ import annotations

import numpy as np
import pytest

from aptk.analysis.power import decompose, power_table


def _arms(sd_train: float, sd_item: float, effect: float, seeds: int, n: int, rng) -> tuple:
    base = rng.normal(0, 0.5, n)  # item difficulty, shared by both arms
    item_effect = effect + rng.normal(0, sd_item, n)  # how much more arm a leans, per item
    a = base + item_effect + rng.normal(0, sd_train, (seeds, n))
    b = base + rng.normal(0, sd_train, (seeds, n))
    return a, b


def test_decompose_recovers_noise_levels() -> None:
    a, b = _arms(0.09, 0.05, 0.03, seeds=4, n=4000, rng=np.random.default_rng(0))
    d = decompose(a, b)
    assert d["sd_train"] == pytest.approx(0.09, rel=0.05)
    assert d["sd_item"] == pytest.approx(0.05, rel=0.15)
    assert d["mean_diff"] == pytest.approx(0.03, abs=0.005)
    assert len(d["single_seed_diffs"]) == 16


def test_power_grows_with_seeds_and_needs_two_seeds() -> None:
    a, b = _arms(0.09, 0.05, 0.03, seeds=2, n=156, rng=np.random.default_rng(1))
    table = power_table(decompose(a, b), alpha=0.001, max_seeds=5)
    se = [r["se"] for r in table]
    power = [r["power"] for r in table]
    assert se == sorted(se, reverse=True) and power == sorted(power)
    assert 0 <= power[0] < power[-1] <= 1
    with pytest.raises(ValueError, match="2 seeds"):
        decompose(a[:1], b)
