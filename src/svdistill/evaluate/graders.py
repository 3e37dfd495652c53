"""The graders a benchmark row can name, one class each, registered in
svdistill.registry.GRADERS. A grader says how its questions are asked, what its gold answer
looks like as a reply (so the gold is graded first: a grader that fails its own gold would
score noise), and grades replies in batches (math answers go to a process pool in one batch)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ..config import Config
from ..records import Grade, Question
from ..sample import sampling_messages
from .benchmarks import BenchItem

CHOICE_INSTRUCTION = (
    "Work through the question, then give the letter of the correct option in the form "
    "\\boxed{LETTER}."
)
STDIO_INSTRUCTION = (
    "Write a complete Python program that solves the problem below. It reads the input from "
    "standard input and prints the answer to standard output. Reply with the whole program in a "
    "single ```python code block."
)
CODE_INSTRUCTION = (
    "Write a complete, working Python implementation of the function below. Reply with the whole "
    "function, including any imports it needs, in a single ```python code block."
)


def _user_prompt(config: Config, user: str) -> list[dict[str, str]]:
    messages = []
    if config.model.system_prompt:
        messages.append({"role": "system", "content": config.model.system_prompt})
    messages.append({"role": "user", "content": user})
    return messages


class MathGrader:
    """Final answers checked for equivalence with math-verify."""

    def messages(self, config: Config, item: BenchItem) -> list[dict[str, str]]:
        # the run's sampling prompt: its user template asks for \boxed{}
        return sampling_messages(config, Question(id=item.id, text=item.question))

    def gold_reply(self, item: BenchItem) -> str:
        return f"\\boxed{{{item.target}}}"

    def grade_many(self, items: Sequence[BenchItem], replies: Sequence[str],
                   code_timeout_s: float, gold: bool) -> list[Grade]:
        from ..grade import grade_math_many

        return grade_math_many([(r, i.target or "") for i, r in zip(items, replies, strict=True)])


class ChoiceGrader:
    """A multiple-choice letter in a box."""

    def messages(self, config: Config, item: BenchItem) -> list[dict[str, str]]:
        return _user_prompt(config, f"{item.question}\n\n{CHOICE_INSTRUCTION}")

    def gold_reply(self, item: BenchItem) -> str:
        return f"The answer is \\boxed{{{item.target}}}."

    def grade_many(self, items: Sequence[BenchItem], replies: Sequence[str],
                   code_timeout_s: float, gold: bool) -> list[Grade]:
        from ..grade import grade_choice

        return [grade_choice(r, i.target or "", len(i.options or []))
                for i, r in zip(items, replies, strict=True)]


class GymGrader(MathGrader):
    """A reasoning-gym task's own scorer."""

    def gold_reply(self, item: BenchItem) -> str:
        return f"<answer>{item.target}</answer>"

    def grade_many(self, items: Sequence[BenchItem], replies: Sequence[str],
                   code_timeout_s: float, gold: bool) -> list[Grade]:
        from ..grade import grade_gym

        return [grade_gym(r, i.meta["entry"], i.meta["task"])
                for i, r in zip(items, replies, strict=True)]


class CodeGrader:
    """A function completed from its prompt, run against the row's tests in the sandbox."""

    def messages(self, config: Config, item: BenchItem) -> list[dict[str, str]]:
        question = item.question.rstrip()
        return _user_prompt(config, f"{CODE_INSTRUCTION}\n\n```python\n{question}\n```")

    def gold_reply(self, item: BenchItem) -> str:
        return item.target or ""

    def grade_many(self, items: Sequence[BenchItem], replies: Sequence[str],
                   code_timeout_s: float, gold: bool) -> list[Grade]:
        from ..grade import run_code_tests

        def run(item: BenchItem, code: str):
            program = (item.meta["prompt"] + code) if gold else code_program(item, code)
            # the prompt runs beside the tests too: their helpers are the benchmark's own
            return run_code_tests(program, item.meta["tests"], item.meta.get("entry_point"),
                                  timeout_s=code_timeout_s, context=item.meta["prompt"])

        return _run_each(items, replies, gold, run)


class StdioGrader:
    """A whole program, run on each of the row's test inputs; stdout is compared with the
    expected output, whitespace-normalised, in the grader. Its gold is the tests themselves: a
    reference program, where a row has one, is checked against them, and a row without one
    (LiveCodeBench ships none) is still scored."""

    gold_optional = True

    def messages(self, config: Config, item: BenchItem) -> list[dict[str, str]]:
        return _user_prompt(config, f"{STDIO_INSTRUCTION}\n\n{item.question.rstrip()}")

    def gold_reply(self, item: BenchItem) -> str:
        return item.target or ""

    def grade_many(self, items: Sequence[BenchItem], replies: Sequence[str],
                   code_timeout_s: float, gold: bool) -> list[Grade]:
        from ..grade.stdio import run_stdio_tests

        return _run_each(items, replies, gold, lambda item, code: run_stdio_tests(
            code, item.meta["cases"], timeout_s=code_timeout_s))


def _run_each(items: Sequence[BenchItem], replies: Sequence[str], gold: bool,
              run: Callable[[BenchItem, str], Any]) -> list[Grade]:
    """Each reply's code (the gold reply as it is, a model's out of its code block) run by
    `run` in the sandbox, as a Grade that records the code."""
    from ..grade.code import extract_code

    grades = []
    for item, reply in zip(items, replies, strict=True):
        code = reply if gold else extract_code(reply)
        grade = run(item, code)
        grades.append(Grade(grade.correct, code, grade.reason))
    return grades


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
