"""Code grading, stdin/stdout style (LiveCodeBench, competitive programming): a program reads a
test case's input and prints its answer, judged against the expected output.

Each test case is its own sandboxed run (svdistill/grade/sandbox.py, the same walls as function
style) with its own time limit. The program's stdout is compared here, in the grader, as plain
text after whitespace normalisation: nothing the program runs can take part in the comparison.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from typing import Any

from svdistill.records import Grade

from .code import unicode_problem
from .sandbox import Child, Limits, describe_status, sandbox_level, session

__all__ = ["normalise", "parse_cases", "run_stdio_tests"]


def parse_cases(tests: Any) -> list[tuple[str, str]]:
    """(input, expected output) pairs from LiveCodeBench's test list: a JSON list (or its text)
    of {"input", "output", "testtype"}; a testtype other than "stdin" is a ValueError, since
    this grader cannot run it."""
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except ValueError as e:
            raise ValueError(f"the tests are not a JSON list: {e}") from None
    if not isinstance(tests, list) or not tests:
        raise ValueError("the tests must be a non-empty list of {input, output} objects")
    cases = []
    for i, case in enumerate(tests):
        if not isinstance(case, dict) or not isinstance(case.get("input"), str) \
                or not isinstance(case.get("output"), str):
            raise ValueError(f"test {i}: needs text fields 'input' and 'output'")
        if case.get("testtype", "stdin") != "stdin":
            raise ValueError(f"test {i}: testtype {case['testtype']!r}, expected 'stdin'")
        cases.append((case["input"], case["output"]))
    return cases


def normalise(text: str) -> list[list[str]]:
    """Lines as lists of whitespace-separated tokens, leading and trailing blank lines dropped:
    trailing spaces, \\r\\n and a missing final newline do not make an answer wrong."""
    return [line.split() for line in text.strip().splitlines()]


def _shown(text: str, n: int = 80) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def run_stdio_tests(program: str, cases: Sequence[tuple[str, str]], timeout_s: float = 6,
                    memory_mb: int = 512, max_procs: int = 64) -> Grade:
    """Run `program` once per (input, expected) case, `timeout_s` each; True when every
    case exits 0 with the expected output, False at the first that does not (wrong answer,
    runtime error, timeout, limit), None when the sandbox could not be set up."""
    level = sandbox_level()
    tag = f"[sandbox: {level}]"
    bad = unicode_problem(program)
    if bad:
        return Grade(False, None, f"{bad} {tag}")
    if not cases:
        return Grade(None, None, f"no test cases {tag}")
    limits = Limits(max(1, int(timeout_s) + 1), memory_mb, max_procs)
    for number, (given, expected) in enumerate(cases, start=1):
        where = f"test {number} of {len(cases)}"
        try:
            with session() as children, tempfile.TemporaryFile() as stdin:
                stdin.write(given.encode("utf-8", "replace"))
                stdin.seek(0)
                child = Child("stdio", {"program": program}, limits, level, stdin=stdin)
                children.append(child)
                error = child.wait_ready()
                if error:
                    return Grade(None, None, f"sandbox failed: {error} {tag}")
                status = child.status(timeout_s)
                output = child.full_stdout()
                _, err = child.output()
                oom = bool(child.cgroup and child.cgroup.oom_killed())
        except OSError as e:
            return Grade(None, None, f"sandbox failed: {e} {tag}")
        if status is None:
            return Grade(False, None, f"timed out after {timeout_s:g}s on {where} {tag}")
        if status != 0:
            last = err.strip().splitlines()[-1][:200] if err.strip() else "no output"
            memory = ", over its memory cap" if oom else ""
            return Grade(False, None, f"runtime error on {where} ({describe_status(status)}"
                                      f"{memory}): {last} {tag}")
        if normalise(output) != normalise(expected):
            return Grade(False, None, f"wrong answer on {where}: expected {_shown(expected)}, "
                                      f"got {_shown(output)} {tag}")
    return Grade(True, None, f"all {len(cases)} tests passed {tag}")
