"""Kappa against textbook examples (and scikit-learn's Cohen's kappa)."""

from __future__ import annotations

import numpy as np
import pytest

from aptk.evals.recovery.agreement import cohen_kappa, fleiss_kappa, fleiss_table, kappa_table


def test_cohen_textbook() -> None:
    # 50 proposals, two readers: yes/yes 20, yes/no 5, no/yes 10, no/no 15
    # -> p_o .7, p_e .5, kappa .4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_matches_sklearn() -> None:
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, 200).tolist()
    b = [x if rng.random() < 0.6 else int(rng.integers(0, 3)) for x in a]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_cohen_perfect_and_undefined() -> None:
    assert cohen_kappa([1, 0, 1], [1, 0, 1]) == pytest.approx(1.0)
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # p_e = 1: undefined, not 0 or 1
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 0])


FLEISS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_textbook() -> None:
    # Fleiss (1971) worked example as on Wikipedia: 10 subjects, 14 raters, 5 categories
    # P-bar = 0.378, P-e = 0.213, kappa = 0.210
    assert fleiss_kappa(FLEISS) == pytest.approx(0.20993, abs=5e-5)


def test_fleiss_two_raters_from_labels_and_unequal_rows() -> None:
    t = fleiss_table([("a", "a"), ("b", "b"), ("a", "b")])
    assert t.tolist() == [[2, 0], [0, 2], [1, 1]]
    assert fleiss_kappa(t) == pytest.approx(1 / 3)  # Scott's pi of the two raters
    with pytest.raises(ValueError):
        fleiss_kappa([[2, 0], [1, 0]])


def test_kappa_table_pairs() -> None:
    k = kappa_table({"x": [1, 0, 1, 0], "y": [1, 0, 1, 0], "z": [0, 1, 0, 1]})
    assert k["cohen"]["x|y"] == pytest.approx(1.0) and k["cohen"]["x|z"] == pytest.approx(-1.0)
    assert k["n"] == 4 and k["fleiss"] is not None
