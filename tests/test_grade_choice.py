"""Multiple-choice grading: strict letter extraction and deterministic shuffling."""

from __future__ import annotations

import random

import pytest

from svdistill.grade.choice import extract_choice, grade_choice, shuffle_options

EXTRACT = [
    ("Thus \\boxed{B}.", "B"),
    ("\\boxed{\\text{C}}", "C"),
    ("\\boxed{(d)}", "D"),
    ("The answer is (B).", "B"),
    ("the correct answer is C because ...", "C"),
    ("Answer: A", "A"),
    ("**Final Answer:** D", "D"),
    ("Reasoning...\n\nB\n", "B"),
    ("Reasoning...\n(C)\n", "C"),
    ("The answer is (B). On reflection, Answer: C", "C"),  # last explicit answer wins
    ("\\boxed{A} ... actually the answer is D.", "D"),
    ("Option A seems plausible but B is also possible.", None),  # discussion, no commitment
    ("The answer is a prime number.", None),  # lower-case prose is not a letter
    ("Answer: Absolutely", None),  # a word starting with a letter is not a letter
    ("The answer is E", None),  # out of range for 4 options
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACT)
def test_extract_choice(text: str, expected: str | None) -> None:
    assert extract_choice(text, n_options=4) == expected


GRADE = [
    ("The answer is (B).", "B", True, "match"),
    ("The answer is (B).", "b", True, "match"),
    ("The answer is (C).", "B", False, "different letter"),
    ("I cannot decide.", "B", False, "no final answer"),
    ("The answer is (B).", "F", None, "gold not gradable"),  # F is not among 4 options
    ("The answer is (B).", "", None, "gold not gradable"),
]


@pytest.mark.parametrize(("resp", "gold", "want", "why"), GRADE)
def test_grade_choice(resp: str, gold: str, want: bool | None, why: str) -> None:
    g = grade_choice(resp, gold, n_options=4)
    assert g.correct is want and why in g.reason


def test_shuffle_is_deterministic_and_tracks_the_answer() -> None:
    opts = ["w", "x", "y", "z"]
    a = shuffle_options(opts, 2, seed=7)
    assert a == shuffle_options(opts, 2, seed=7)
    shuffled, letter = a
    assert sorted(shuffled) == opts
    assert shuffled["ABCD".index(letter)] == "y"
    state = random.getstate()
    shuffle_options(opts, 0, seed=1)
    assert random.getstate() == state  # the global RNG is untouched


def test_shuffle_varies_with_seed() -> None:
    orders = {tuple(shuffle_options(list("abcde"), 0, seed=s)[0]) for s in range(20)}
    assert len(orders) > 1


def test_shuffle_rejects_bad_index() -> None:
    with pytest.raises(ValueError):
        shuffle_options(["a", "b"], 2, seed=0)
