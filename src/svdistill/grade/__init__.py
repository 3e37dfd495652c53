"""Real graders for evaluation and for measuring the judge: math, multiple choice, code, gym.

Every grader returns a `svdistill.records.Grade`; `correct=None` means "could not grade" (a bad
gold answer, a broken sandbox, a grader crash) and is never counted as wrong. Each grader checks
its gold answer before grading a reply.
"""

from svdistill.grade.choice import extract_choice, grade_choice, shuffle_options
from svdistill.grade.code import extract_code, humaneval_program, run_code_tests, sandbox_level
from svdistill.grade.gym import extract_gym_answer, grade_gym
from svdistill.grade.math import (
    extract_final_answer,
    grade_math,
    grade_math_many,
    validate_gold,
)
from svdistill.grade.stdio import run_stdio_tests

__all__ = [
    "extract_choice",
    "extract_code",
    "extract_final_answer",
    "extract_gym_answer",
    "grade_choice",
    "grade_gym",
    "grade_math",
    "grade_math_many",
    "humaneval_program",
    "run_code_tests",
    "run_stdio_tests",
    "sandbox_level",
    "shuffle_options",
    "validate_gold",
]
