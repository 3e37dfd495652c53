"""reasoning-gym grading through the task's own scorer."""

from __future__ import annotations

import pytest

from svdistill.grade.gym import extract_gym_answer, grade_gym

reasoning_gym = pytest.importorskip("reasoning_gym")


@pytest.fixture(scope="module")
def entry() -> dict:
    return reasoning_gym.create_dataset("basic_arithmetic", size=1, seed=3)[0]


def test_extract_gym_answer() -> None:
    assert extract_gym_answer("x <answer> 7 </answer> y <answer>8</answer>") == "8"
    assert extract_gym_answer("so \\boxed{9}") == "9"
    assert extract_gym_answer("The answer is 10.") == "10"
    assert extract_gym_answer("no idea") is None


def test_right_and_wrong(entry: dict) -> None:
    gold = entry["answer"]
    assert grade_gym(f"<answer>{gold}</answer>", entry).correct is True
    assert grade_gym(f"work... \\boxed{{{gold}}}", entry).correct is True
    wrong = grade_gym("<answer>123456789</answer>", entry)
    assert wrong.correct is False and wrong.extracted == "123456789"


def test_no_answer_is_wrong(entry: dict) -> None:
    g = grade_gym("I am not sure.", entry)
    assert g.correct is False and g.reason == "no final answer"


def test_unknown_task_is_not_gradable(entry: dict) -> None:
    g = grade_gym("<answer>1</answer>", {**entry, "metadata": {"source_dataset": "no_such_task"}})
    assert g.correct is None
    assert grade_gym("<answer>1</answer>", {"question": "q", "answer": "1"}).correct is None


def test_gold_checked_first() -> None:
    # chain_sum scores against the stored answer; a gold that its scorer rejects (here: the gold
    # replaced by something that does not even parse as a number) must be None, not False.
    e = reasoning_gym.create_dataset("chain_sum", size=1, seed=1)[0]
    assert grade_gym(f"<answer>{e['answer']}</answer>", e).correct is True
    bad = grade_gym("<answer>5</answer>", {**e, "answer": ""})
    assert bad.correct is None and "gold" in bad.reason
