"""Code grading, function style: a candidate program against its unit tests, in two sandboxes.

The tests never share a process with the candidate. One sandboxed process holds the candidate's
definitions; another runs the tests with `candidate` a proxy, each call sent to the first and
its result sent back as plain data (svdistill/grade/plaindata.py). So the assertions compare
builtin values the candidate cannot shape (an always-true __eq__, unittest.mock.ANY), and
nothing the candidate runs (sys.settrace, frame or file reading, a shadowed builtin) can reach
the tests' code. This is how evalplus and LiveCodeBench keep a program away from its checker.
The walls around each process are in svdistill/grade/sandbox.py and docs/sandbox.md.
"""

from __future__ import annotations

import os
import re

from svdistill.records import Grade

from .sandbox import Child, Limits, describe_status, sandbox_level, session

__all__ = ["extract_code", "run_code_tests", "humaneval_program", "sandbox_level"]

TESTS_MEMORY_MB = 512  # the tests' process: what decoding the candidate's results may take


def extract_code(text: str) -> str:
    """The last ```python (or ```py) fenced block in a reply; else the last bare ``` block; else
    the whole text. Models often show a wrong draft before the final program, hence "last"."""
    blocks = re.findall(r"```[ \t]*(?:python3?|py)[ \t]*\n(.*?)```", text, re.DOTALL | re.I)
    if not blocks:
        blocks = re.findall(r"```[ \t]*\n(.*?)```", text, re.DOTALL)
    return blocks[-1] if blocks else text


def humaneval_program(prompt: str, completion: str) -> str:
    """HumanEval layout: the prompt (signature and docstring) followed by the completion body."""
    return prompt + completion


def unicode_problem(source: str) -> str | None:
    """Why `source` cannot be a Python file (a lone surrogate), or None."""
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"the program is not valid Unicode: U+{ord(source[e.start]):04X} at character " \
               f"{e.start}"
    return None


def run_code_tests(
    program: str,
    tests: str,
    entry_point: str | None,
    timeout_s: float = 10,
    memory_mb: int = 512,
    max_procs: int = 64,
    context: str = "",
) -> Grade:
    """Run `tests` against `program`; passing means the tests ran to the end.

    With `entry_point` (HumanEval layout) the tests define `check(candidate)`, which is called
    with the program's `entry_point`; `context` (the prompt: its imports and helpers, trusted)
    runs in the tests' process first, so helpers the tests use are the benchmark's, not the
    candidate's. Without it, the tests see the program's plain-data globals, its functions
    (as proxies) and its stdlib imports, except any named like a builtin.

    Returns True (all tests passed), False (failure, exception, syntax error, timeout, resource
    limit, a result that is not plain data: whatever the program can cause) or None (the
    sandbox could not be set up, or the tests pass something that is not plain data).
    `Grade.reason` always names the sandbox level. To check the gold first (STYLE.md), run the
    benchmark's canonical solution through this once per problem.
    """
    level = sandbox_level()
    tag = f"[sandbox: {level}]"
    if entry_point and not entry_point.isidentifier():
        return Grade(None, None, f"bad entry point {entry_point!r} {tag}")
    bad = unicode_problem(program)
    if bad:
        return Grade(False, None, f"{bad} {tag}")
    cpu = max(1, int(timeout_s) + 1)
    try:
        with session() as children:
            requests_r, requests_w = os.pipe()
            replies_r, replies_w = os.pipe()
            try:
                checker = Child("tests", {"tests": tests, "context": context,
                                          "entry_point": entry_point},
                                Limits(cpu, TESTS_MEMORY_MB, 16), level,
                                {"requests": requests_w, "replies": replies_r})
                children.append(checker)
                os.close(requests_w)
                os.close(replies_r)
                requests_w = replies_r = -1
                error = checker.wait_ready()
                if error:
                    return Grade(None, None, f"sandbox failed: {error} {tag}")
                # Started only once the tests' process is ready, so nothing the program does
                # (eating memory, processes, CPU) can stop the other one from setting up.
                candidate = Child("program", {"program": program},
                                  Limits(cpu, memory_mb, max_procs), level,
                                  {"requests": requests_r, "replies": replies_w})
                children.append(candidate)
            finally:
                for fd in (requests_r, requests_w, replies_r, replies_w):
                    if fd >= 0:
                        os.close(fd)
            error = candidate.wait_ready()
            if error:
                return Grade(None, None, f"sandbox failed: {error} {tag}")
            verdict = checker.verdict(timeout_s)
            program_status = candidate.status(0.5 if verdict else 0)
            _, program_err = candidate.output()
            oom = bool(candidate.cgroup and candidate.cgroup.oom_killed())
    except OSError as e:  # cgroup or exec trouble: the grader failed, not the program
        return Grade(None, None, f"sandbox failed: {e} {tag}")
    return _grade(verdict, timeout_s, program_status, program_err, oom, tag)


def _grade(verdict: dict | None, timeout_s: float, status: int | None, err: str, oom: bool,
           tag: str) -> Grade:
    if verdict is None:
        return Grade(False, None, f"timed out after {timeout_s:g}s {tag}")
    if verdict.get("passed") is True:
        return Grade(True, None, f"all tests passed {tag}")
    if "harness" in verdict:
        return Grade(None, None, f"the tests cannot run as plain data: {verdict['harness']} {tag}")
    why = str(verdict.get("failed") or "the tests' process ended without a verdict")
    if status:  # the program's process failed: say how it ended
        last = err.strip().splitlines()[-1][:200] if err.strip() else "no output"
        memory = ", over its memory cap" if oom else ""
        why += f"; the program: {describe_status(status)}{memory}: {last}"
    return Grade(False, None, f"tests failed: {why[:600]} {tag}")
