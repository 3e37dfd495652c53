"""Prompts per grader, gold validation, and grading replies with the benchmark's grader.

Every row's gold is graded first, as if it were a model reply (STYLE.md habit 6); a row whose
gold does not come out correct is set aside with the grader's reason and never scored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..config import Config
from ..records import Grade, Question
from ..sample import sampling_messages
from .benchmarks import BenchItem

CHOICE_INSTRUCTION = (
    "Work through the question, then give the letter of the correct option in the form "
    "\\boxed{LETTER}."
)
CODE_INSTRUCTION = (
    "Write a complete, working Python implementation of the function below. Reply with the whole "
    "function, including any imports it needs, in a single ```python code block."
)


def messages_for(config: Config, item: BenchItem) -> list[dict[str, str]]:
    """The chat a benchmark question is asked with: the run's sampling prompt for math and gym
    (its user template asks for \\boxed{}), a letter-in-a-box prompt for multiple choice, and a
    complete-the-function prompt for code."""
    if item.grader in ("math", "gym"):
        return sampling_messages(config, Question(id=item.id, text=item.question))
    messages = []
    if config.model.system_prompt:
        messages.append({"role": "system", "content": config.model.system_prompt})
    if item.grader == "choice":
        user = f"{item.question}\n\n{CHOICE_INSTRUCTION}"
    else:
        user = f"{CODE_INSTRUCTION}\n\n```python\n{item.question.rstrip()}\n```"
    messages.append({"role": "user", "content": user})
    return messages


def code_program(item: BenchItem, reply_code: str) -> str:
    """The program to test: the prompt (its imports and helpers) followed by the reply's code.

    A reply that defines the entry point replaces the prompt's stub (a function whose body is
    only its docstring is valid Python, so the stub does no harm); a reply that is only a body
    is appended to the prompt, HumanEval's own layout.
    """
    from ..grade import humaneval_program

    prompt = item.meta["prompt"]
    entry = item.meta.get("entry_point")
    if entry and re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry)}\s*\(", reply_code, re.M):
        return prompt.rstrip() + "\n\n\n" + reply_code
    return humaneval_program(prompt, reply_code)


def _gold_reply(item: BenchItem) -> str:
    if item.grader == "choice":
        return f"The answer is \\boxed{{{item.target}}}."
    if item.grader == "gym":
        return f"<answer>{item.target}</answer>"
    if item.grader == "math":
        return f"\\boxed{{{item.target}}}"
    return item.target or ""


def validate_golds(items: Sequence[BenchItem], code_timeout_s: float = 10.0
                   ) -> dict[str, str]:
    """{item id: reason} for every row whose gold does not grade as correct."""
    bad: dict[str, str] = {}
    todo = []
    for item in items:
        if item.target is None:  # gym tasks with many valid answers too: nothing to check
            bad[item.id] = "no gold answer"
        else:
            todo.append(item)
    grades = grade_many(todo, [_gold_reply(i) for i in todo], code_timeout_s, gold=True)
    for item, grade in zip(todo, grades, strict=True):
        if grade.correct is not True:
            outcome = "could not grade" if grade.correct is None else "graded wrong"
            bad[item.id] = f"gold {outcome}: {grade.reason}"
    return bad


def grade_many(items: Sequence[BenchItem], replies: Sequence[str], code_timeout_s: float = 10.0,
               gold: bool = False) -> list[Grade]:
    """Grade replies[i] against items[i] with that row's grader, in order."""
    from ..grade import extract_code, grade_choice, grade_gym, grade_math_many, run_code_tests

    grades: list[Grade | None] = [None] * len(items)
    math_rows = [i for i, item in enumerate(items) if item.grader == "math"]
    if math_rows:
        pairs = [(replies[i], items[i].target or "") for i in math_rows]
        for i, grade in zip(math_rows, grade_math_many(pairs), strict=True):
            grades[i] = grade
    for i, item in enumerate(items):
        if item.grader == "choice":
            grades[i] = grade_choice(replies[i], item.target or "", len(item.options or []))
        elif item.grader == "gym":
            grades[i] = grade_gym(replies[i], item.meta["entry"], item.meta["task"])
        elif item.grader == "code":
            code = replies[i] if gold else extract_code(replies[i])
            program = (item.meta["prompt"] + code) if gold else code_program(item, code)
            grade = run_code_tests(program, item.meta["tests"], item.meta.get("entry_point"),
                                   timeout_s=code_timeout_s)
            grades[i] = Grade(grade.correct, code, grade.reason)
    return [g if g is not None else Grade(None, None, "no grader") for g in grades]
