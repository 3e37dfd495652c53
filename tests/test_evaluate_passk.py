"""pass@k estimator values and the bootstrap interval."""

from __future__ import annotations

import math

import pytest

from svdistill.evaluate import bootstrap_ci, pass_at_k


def reference(n: int, c: int, k: int) -> float:
    """The estimator as Chen et al. (2021) write it, with exact binomials."""
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 0, 1, 0.0),
        (5, 5, 1, 1.0),
        (10, 3, 1, 0.3),  # pass@1 is the fraction correct
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (10, 2, 5, 1 - 56 / 252),  # 1 - C(8,5)/C(10,5)
        (3, 1, 3, 1.0),  # k = n: any correct sample is drawn
        (8, 0, 8, 0.0),
    ],
)
def test_pass_at_k_known_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_matches_exact_formula_on_a_grid():
    for n in range(1, 21):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(reference(n, c, k), abs=1e-12)


def test_pass_at_k_large_n_does_not_overflow():
    assert 0.0 < pass_at_k(2000, 3, 100) < 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_bootstrap_contains_the_mean_and_is_deterministic():
    values = [1.0, 0.0, 0.5, 1.0, 0.0, 0.0, 1.0, 0.25, 0.75, 1.0, 0.0, 1.0]
    mean = sum(values) / len(values)
    lo, hi = bootstrap_ci(values, resamples=1000, seed=3)
    assert lo <= mean <= hi
    assert 0.0 <= lo < hi <= 1.0
    assert bootstrap_ci(values, resamples=1000, seed=3) == (lo, hi)
    wider = bootstrap_ci(values, resamples=1000, confidence=0.99, seed=3)
    assert wider[0] <= lo and wider[1] >= hi


def test_bootstrap_edge_cases():
    assert bootstrap_ci([1.0] * 7) == (1.0, 1.0)
    assert bootstrap_ci([0.4]) == (0.4, 0.4)
    lo, hi = bootstrap_ci([])
    assert math.isnan(lo) and math.isnan(hi)
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 0.0], confidence=1.5)


def test_bootstrap_narrows_with_more_questions():
    small = bootstrap_ci([1.0, 0.0] * 5)
    large = bootstrap_ci([1.0, 0.0] * 200)
    assert (large[1] - large[0]) < (small[1] - small[0])
