"""Asking and grading benchmark questions with each row's grader (evaluate/graders.py, named
in svdistill.registry.GRADERS), and gold validation.

Every row's gold is graded first, as if it were a model reply; a row whose
gold does not come out correct is set aside with the grader's reason and never scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from ..config import Config
from ..records import Grade
from ..registry import GRADERS
from .benchmarks import BenchItem
from .graders import CHOICE_INSTRUCTION, CODE_INSTRUCTION, code_program

__all__ = ["CHOICE_INSTRUCTION", "CODE_INSTRUCTION", "code_program", "grade_many",
           "messages_for", "validate_golds"]


@cache
def grader(name: str):
    """The grader registered as `name` (one instance per process)."""
    return GRADERS.load(name)()


def messages_for(config: Config, item: BenchItem) -> list[dict[str, str]]:
    """The chat a benchmark question is asked with, as its grader words it."""
    return grader(item.grader).messages(config, item)


def validate_golds(items: Sequence[BenchItem], code_timeout_s: float = 10.0
                   ) -> dict[str, str]:
    """{item id: reason} for every row whose gold does not grade as correct."""
    bad: dict[str, str] = {}
    todo = []
    for item in items:
        if item.target is None:
            if not getattr(grader(item.grader), "gold_optional", False):
                bad[item.id] = "no gold answer"
        else:
            todo.append(item)
    replies = [grader(i.grader).gold_reply(i) for i in todo]
    grades = grade_many(todo, replies, code_timeout_s, gold=True)
    for item, grade in zip(todo, grades, strict=True):
        if grade.correct is not True:
            outcome = "could not grade" if grade.correct is None else "graded wrong"
            bad[item.id] = f"gold {outcome}: {grade.reason}"
    return bad


def grade_many(items: Sequence[BenchItem], replies: Sequence[str], code_timeout_s: float = 10.0,
               gold: bool = False) -> list[Grade]:
    """Grade replies[i] against items[i] with that row's grader, in order; each grader gets
    all of its rows in one batch."""
    grades: list[Grade | None] = [None] * len(items)
    rows: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        rows.setdefault(item.grader, []).append(i)
    for name, indexes in rows.items():
        if name not in GRADERS:
            continue
        batch = grader(name).grade_many([items[i] for i in indexes],
                                        [replies[i] for i in indexes], code_timeout_s, gold)
        for i, grade in zip(indexes, batch, strict=True):
            grades[i] = grade
    return [g if g is not None else Grade(None, None, "no grader") for g in grades]
