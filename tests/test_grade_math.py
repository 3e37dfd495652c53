"""Math grading: answer extraction and math-verify equivalence, table-driven."""

from __future__ import annotations

import pytest

import svdistill.grade.math as gm
from svdistill.grade.math import extract_final_answer, grade_math, grade_math_many, validate_gold

EXTRACT = [
    ("so the result is \\boxed{42}.", "42"),
    ("first \\boxed{1} then \\boxed{2}", "2"),  # last box wins
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),  # nested braces
    ("\\boxed{\\left\\{1, 2\\right\\}}", "\\left\\{1, 2\\right\\}"),  # escaped braces inside
    ("\\boxed{ 7 } and then \\boxed{\\frac{3", "7"),  # the unclosed (truncated) box is skipped
    ("The answer is 12.", "12"),
    ("blah. Final answer: $x^2$", "x^2"),
    ("The answer is **5**", "5"),
    ("the answer is 3\n...wait, the answer is 4.", "4"),
    ("I computed it carefully", None),
    ("", None),
    ("\\boxed{}", None),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACT)
def test_extract_final_answer(text: str, expected: str | None) -> None:
    assert extract_final_answer(text) == expected


# (response, gold, expected .correct, reason fragment)
GRADE = [
    ("\\boxed{0.5}", "1/2", True, "equivalent"),
    ("\\boxed{\\frac{1}{2}}", "0.5", True, "equivalent"),
    ("\\boxed{1/2}", "\\frac{1}{2}", True, "equivalent"),
    ("\\boxed{3.0}", "3", True, "equivalent"),
    ("The answer is 3", "3.0", True, "equivalent"),
    ("\\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{1}{\\sqrt{2}}", True, "equivalent"),
    ("\\boxed{\\{2, 1\\}}", "\\{1,2\\}", True, "equivalent"),
    ("\\boxed{1,000}", "1000", True, "equivalent"),
    ("\\boxed{x = 3}", "3", True, "equivalent"),
    ("\\boxed{22}", "23", False, "not equivalent"),  # near miss
    ("\\boxed{0.49}", "1/2", False, "not equivalent"),
    ("\\boxed{-3}", "3", False, "not equivalent"),
    ("I think it is about twenty-two", "22", False, "no final answer"),
    ("\\boxed{\\frac{1}{2", "1/2", False, "no final answer"),  # malformed: box never closes
    ("\\boxed{)(}", "2", False, ""),  # malformed inside the box: wrong, never an error
    ("\\boxed{4}", "", None, "gold not gradable"),
    ("\\boxed{4}", "\\frac{", None, "gold not gradable"),
    ("no answer at all", "\\frac{", None, "gold not gradable"),  # gold is checked first
]


def test_grade_math_table() -> None:
    # One batch through the pool keeps the test fast; grade_math is the same path with one pair.
    grades = grade_math_many([(r, g) for r, g, _, _ in GRADE])
    for (resp, gold, want, why), got in zip(GRADE, grades, strict=True):
        assert got.correct is want, (resp, gold, got)
        assert why in got.reason, (resp, gold, got)


def test_grade_math_single_and_extracted() -> None:
    g = grade_math("so \\boxed{\\frac{2}{4}}", "1/2")
    assert g.correct is True and g.extracted == "\\frac{2}{4}"
    assert grade_math("nothing", "1").extracted is None


@pytest.mark.parametrize(("gold", "ok"), [("3", True), ("\\frac{1}{2}", True), ("", False)])
def test_validate_gold(gold: str, ok: bool) -> None:
    assert validate_gold(gold) is ok


def test_hung_pool_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend every batch overran: the parent must give up (None, not False), kill the pool and
    # build a fresh one for the next call.
    grade_math("\\boxed{1}", "1")  # make sure a pool exists
    old = gm._pool
    monkeypatch.setattr(gm, "_batch_budget", lambda n, t: 0.0)
    slow = "+".join(f"x^{{{i}}}" for i in range(300))  # takes seconds to parse, so never done
    [g] = grade_math_many([(f"\\boxed{{{slow}}}", slow)])
    assert g.correct is None and "timed out" in g.reason
    assert gm._pool is None
    monkeypatch.undo()
    assert grade_math("\\boxed{2}", "2").correct is True
    assert gm._pool is not None and gm._pool is not old


def test_empty_batch() -> None:
    assert grade_math_many([]) == []


def test_works_off_the_main_thread() -> None:
    # math-verify's own timeouts use SIGALRM, which fails off the main thread; the pool is why
    # evaluation can grade from worker threads.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as ex:
        grades = list(ex.map(lambda p: grade_math(*p), [("\\boxed{0.25}", "1/4")] * 2))
    assert all(g.correct is True for g in grades)


def test_ctrl_c_while_the_pool_starts_stays_a_ctrl_c():
    # In a fresh interpreter, where nothing has imported concurrent.futures.process yet: the
    # KeyboardInterrupt must reach the CLI (which prints how to resume), not an AttributeError.
    import subprocess
    import sys

    code = (
        "import svdistill.grade.math as m\n"
        "def interrupted():\n"
        "    raise KeyboardInterrupt\n"
        "m._get_pool = interrupted\n"
        "try:\n"
        "    m.grade_math_many([('\\\\boxed{1}', '1')])\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "interrupted", out.stderr[-2000:]
