"""pass@k and its uncertainty: the unbiased estimator and a bootstrap interval over questions.

pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"): with n samples of
which c are correct, the chance that k of them drawn without replacement hold at least one
correct one is 1 - C(n-c, k) / C(n, k). It is computed as a running product, so large n never
overflows. pass@1 is then the plain mean of the per-question correct fractions.

A sample that could not be graded (a failed call, a broken sandbox) counts as not passed. It is
still reported apart from the wrong ones, but leaving it out of n would let a program that makes
itself ungraded raise pass@1: 1 right and 3 ungraded samples would score 1.0 instead of 0.25.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

__all__ = ["bootstrap_ci", "pass_at_k", "question_scores", "sample_counts"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one question with `n` samples, `c` of them correct (k <= n)."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0  # every draw of k samples contains a correct one
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    fail = 1.0
    for i in range(n - c + 1, n + 1):
        fail *= 1.0 - k / i
    return 1.0 - fail


def sample_counts(per_question: Sequence[Sequence[bool | None]]) -> list[tuple[int, int]]:
    """(n, c) per question from its samples' grades: n counts every sample, ungraded (None)
    ones included, c only those graded True."""
    return [(len(grades), sum(g is True for g in grades)) for grades in per_question]


def question_scores(counts: Sequence[tuple[int, int]], k: int) -> list[float]:
    """pass@k per question from (n, c) pairs."""
    return [pass_at_k(n, c, k) for n, c in counts]


def bootstrap_ci(
    values: Sequence[float], resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of `values` (one value per question).

    Questions, not samples, are resampled: samples of one question are not independent. A
    private Random with a fixed seed makes the interval the same on every run. The interval
    always contains the mean of `values` (it is widened to it if the percentiles miss it, which
    can happen only through rounding on tiny sets).
    """
    if not values:
        return (float("nan"), float("nan"))
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = len(values)
    mean = sum(values) / n
    rng = random.Random(seed)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    tail = (1.0 - confidence) / 2
    lo = means[int(tail * (resamples - 1))]
    hi = means[int(round((1.0 - tail) * (resamples - 1)))]
    return (min(lo, mean), max(hi, mean))
