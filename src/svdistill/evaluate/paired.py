"""Paired differences between two models evaluated on the same questions.

Base, trained, no-filter and UQ-TTC answer the same held-out questions with the same sample
seeds, so a question that is hard for one is usually hard for the other. Comparing the two
pass@1 intervals side by side ignores that and calls real differences noise. Here each question
gives one number per model (the mean over its graded samples), the difference is taken per
question, and the bootstrap resamples questions with both models' values kept together.

A difference whose interval contains zero reads "not distinguishable"; otherwise the better
model is named. Questions present in only one model (or ungraded in one of them) cannot be
paired: `paired_difference` refuses them unless told to exclude them, and then lists them.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .passk import bootstrap_ci

__all__ = [
    "PairedDiff",
    "PairingError",
    "paired_difference",
    "question_means",
    "question_means_file",
    "unpaired_difference_ci",
    "verdict",
]

NOT_DISTINGUISHABLE = "not distinguishable"


class PairingError(ValueError):
    """Two evaluations that do not cover the same questions."""


@dataclass(frozen=True)
class PairedDiff:
    """`a` minus `b` on one benchmark: pass@1 of each over the paired questions, their mean
    per-question difference with a paired bootstrap interval, and the verdict in words."""

    benchmark: str
    a: str
    b: str
    questions: int
    a_pass_at_1: float | None
    b_pass_at_1: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str
    confidence: float = 0.95
    resamples: int = 1000
    #: question id -> why it was left out ("only in a", "only in b", "ungraded in a", ...)
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """From `a`'s side, in words: "better", "worse", or "not distinguishable" when the
        interval contains zero (or there was nothing to pair)."""
        if self.verdict == NOT_DISTINGUISHABLE or self.ci_low is None:
            return NOT_DISTINGUISHABLE
        return "better" if self.ci_low > 0 else "worse"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairedDiff:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def verdict(low: float | None, high: float | None, a: str = "A", b: str = "B") -> str:
    """ "not distinguishable" when [low, high] contains zero (touching counts), else which of
    `a` and `b` is better."""
    if low is None or high is None or low <= 0.0 <= high:
        return NOT_DISTINGUISHABLE
    return f"{a} better" if low > 0 else f"{b} better"


def question_means(rows: Iterable[Mapping[str, Any]]) -> dict[str, float | None]:
    """Per question id, the share of its samples graded correct, from eval rows
    (RUN/eval/<model>/<benchmark>/samples.jsonl). An ungraded sample (`correct` None) counts as
    not passed, as in pass@1 (passk.py says why): a program must not make itself ungraded to
    lift a score, in a comparison either."""
    samples: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        samples[str(row["question_id"])].append(row.get("correct") is True)
    return {q: sum(marks) / len(marks) for q, marks in samples.items()}


def question_means_file(path: str | Path) -> dict[str, float | None]:
    """`question_means` of a samples.jsonl file (or of the eval folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "samples.jsonl"
    with open(path, encoding="utf-8") as f:
        return question_means(json.loads(line) for line in f if line.strip())


def paired_difference(
    a_scores: Mapping[str, float | None],
    b_scores: Mapping[str, float | None],
    *,
    a: str = "A",
    b: str = "B",
    benchmark: str = "",
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    exclude_unpaired: bool = False,
) -> PairedDiff:
    """`a` - `b` from per-question scores (question id -> mean correct over samples).

    A question scored in only one of them (absent, or None: no graded sample) raises
    PairingError, unless `exclude_unpaired`; then it is left out and listed in `excluded`."""
    excluded: dict[str, str] = {}
    for qid in a_scores.keys() | b_scores.keys():
        if qid not in b_scores:
            excluded[qid] = f"only in {a}"
        elif qid not in a_scores:
            excluded[qid] = f"only in {b}"
        elif a_scores[qid] is None:
            excluded[qid] = f"ungraded in {a}"
        elif b_scores[qid] is None:
            excluded[qid] = f"ungraded in {b}"
    if excluded and not exclude_unpaired:
        sample = ", ".join(f"{q} ({why})" for q, why in sorted(excluded.items())[:5])
        raise PairingError(f"{benchmark or 'benchmark'}: {len(excluded)} questions cannot be "
                           f"paired between {a} and {b}: {sample}")
    paired = sorted(q for q in a_scores if q not in excluded)
    if not paired:
        return PairedDiff(benchmark, a, b, 0, None, None, None, None, None,
                          NOT_DISTINGUISHABLE, confidence, resamples, excluded)
    diffs = [a_scores[q] - b_scores[q] for q in paired]
    low, high = bootstrap_ci(diffs, resamples, confidence, seed=seed)
    n = len(paired)
    return PairedDiff(
        benchmark, a, b, n,
        sum(a_scores[q] for q in paired) / n, sum(b_scores[q] for q in paired) / n,
        sum(diffs) / n, low, high, verdict(low, high, a, b), confidence, resamples, excluded)


def unpaired_difference_ci(
    a_values: list[float], b_values: list[float], resamples: int = 1000,
    confidence: float = 0.95, seed: int = 0,
) -> tuple[float, float]:
    """The interval of mean(a) - mean(b) when the two sets are resampled independently, as if
    they were different questions. Shown only to measure what pairing buys; do not report it."""
    rng = random.Random(seed)
    na, nb = len(a_values), len(b_values)
    diffs = sorted(
        sum(a_values[rng.randrange(na)] for _ in range(na)) / na
        - sum(b_values[rng.randrange(nb)] for _ in range(nb)) / nb
        for _ in range(resamples))
    tail = (1.0 - confidence) / 2
    return diffs[int(tail * (resamples - 1))], diffs[int(round((1.0 - tail) * (resamples - 1)))]
