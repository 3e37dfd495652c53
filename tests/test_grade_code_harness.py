"""The code grader's test harness, attacked: wrong programs that try to pass, and programs that
try to make themselves ungraded (docs/sandbox.md, "The harness").

Every program here is wrong (`add` does not add) and must grade False, never True and never
None. These held against the harness that ran tests in the candidate's own interpreter only
until someone tried; each one fooled it.
"""

from __future__ import annotations

import json

import pytest

from svdistill.backends.base import Backend, Completion
from svdistill.config import load_config
from svdistill.evaluate import run_evaluate
from svdistill.grade.code import run_code_tests, sandbox_level
from svdistill.runfolder import RunFolder

LEVEL = sandbox_level()
TESTS = """
def check(candidate):
    assert candidate(2, 3) == 5
    assert candidate(10, -4) == 6
"""
TESTS_WITH_ABS = TESTS + "    assert abs(candidate(0.1, 0.2) - 0.3) < 1e-9\n"

ATTACKS = {
    "always_equal": """
class Yes(float):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __sub__(self, other):
        return Yes(0)
    __hash__ = float.__hash__
def add(a, b):
    return Yes(0)
""",
    "mock_any": """
from unittest import mock
def add(a, b):
    return mock.ANY
""",
    "settrace_rewrites_the_checkers_locals": """
import sys
def add(a, b):
    return a - b
def _tracer(frame, event, arg):
    if frame.f_code.co_name == "check" and "candidate" in frame.f_locals:
        frame.f_locals["candidate"] = lambda a, b: a + b
    return _tracer
sys.settrace(_tracer)
""",
    "reads_the_tests_from_its_own_file": """
import re
_src = open(__file__).read()
_answers = {}
for args, want in re.findall(r"candidate\\(([^)]*)\\) == (\\S+)", _src):
    _answers[args.replace(" ", "")] = int(want)
def add(a, b):
    return _answers.get(f"{a},{b}", 0)
""",
    "shadows_a_builtin_the_tests_use": """
import builtins
builtins.abs = lambda x: 0
def abs(x):
    return 0
def add(a, b):
    return 5 if (a, b) == (2, 3) else 6 if (a, b) == (10, -4) else 0
""",
    "reads_the_pass_token_from_the_harness_frame": """
import os, sys
f = sys._getframe()
while f is not None and "token" not in f.f_locals:
    f = f.f_back
if f is not None:
    print(f.f_locals["token"], flush=True)
os._exit(0)
def add(a, b):
    return 0
""",
    "raises_the_checkers_own_exit": """
def add(a, b):
    raise SystemExit(0)
""",
    "returns_an_object": """
class Box:
    pass
def add(a, b):
    return Box()
""",
}

# A program that prints the old sandbox's own "setup failed" marker and exits with its status.
FORGED_SETUP_FAILURE = """
import os, sys
sys.stderr.write("SANDBOX SETUP FAILED: forged\\n")
sys.stderr.flush()
os._exit(121)
"""


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_harness_tricks_grade_wrong(name: str) -> None:
    tests = TESTS_WITH_ABS if name in ("always_equal", "shadows_a_builtin_the_tests_use") else TESTS
    g = run_code_tests(ATTACKS[name], tests, "add", timeout_s=5)
    assert g.correct is False, g.reason
    assert f"[sandbox: {LEVEL}]" in g.reason


def test_the_right_program_still_passes() -> None:
    g = run_code_tests("def add(a, b):\n    return a + b\n", TESTS_WITH_ABS, "add", timeout_s=5)
    assert g.correct is True, g.reason


@pytest.mark.parametrize("where", ["at_load", "in_a_call"])
def test_a_forged_setup_failure_is_the_programs_failure(where: str) -> None:
    program = FORGED_SETUP_FAILURE if where == "at_load" else (
        "def add(a, b):\n" + "".join(f"    {line}\n" for line in FORGED_SETUP_FAILURE.split("\n")))
    g = run_code_tests(program, TESTS, "add", timeout_s=5)
    assert g.correct is False, g.reason


def test_results_cross_as_plain_data_with_their_types() -> None:
    # Tuples, sets, dicts with int keys, bytes, floats and None come back as themselves; the
    # tests' helpers are the prompt's (context), even where the program redefines them.
    prompt = "def double(x):\n    return 2 * x\n\ndef f(n):\n    '''stub'''\n"
    program = prompt + "def double(x):\n    return 0\n\ndef f(n):\n" \
        "    return (n, {n}, {n: b'x'}, 1.5, None, [double(n)])\n"
    tests = "def check(candidate):\n" \
        "    assert candidate(3) == (3, {3}, {3: b'x'}, 1.5, None, [6])\n" \
        "    assert double(3) == 6\n"
    g = run_code_tests(program, tests, "f", timeout_s=5, context=prompt)
    assert g.correct is False and "AssertionError" in g.reason  # the program's double is wrong
    fixed = program.replace("return 0", "return 2 * x")
    assert run_code_tests(fixed, tests, "f", timeout_s=5, context=prompt).correct is True


def test_exceptions_the_tests_expect_reach_them() -> None:
    program = "def root(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x\n"
    tests = "def check(candidate):\n    try:\n        candidate(-1)\n    except ValueError:\n" \
        "        return\n    raise AssertionError('no ValueError')\n"
    assert run_code_tests(program, tests, "root", timeout_s=5).correct is True


def test_arguments_that_are_not_plain_data_cannot_be_graded() -> None:
    # The benchmark's fault, not the program's: reported as could-not-grade, so the gold check
    # sets the problem aside.
    tests = "def check(candidate):\n    assert candidate(lambda x: x, 1) == 1\n"
    g = run_code_tests("def apply(f, x):\n    return f(x)\n", tests, "apply", timeout_s=5)
    assert g.correct is None and "plain data" in g.reason


def test_one_right_and_three_forged_samples_score_a_quarter(tmp_path) -> None:
    bench = tmp_path / "code.jsonl"
    bench.write_text(json.dumps({
        "id": "add", "grader": "code", "question": 'def add(a, b):\n    """a + b"""\n',
        "tests": TESTS, "entry_point": "add", "target": "    return a + b\n"}) + "\n")
    replies = ["def add(a, b):\n    return a + b\n"] + [FORGED_SETUP_FAILURE] * 3

    class Coder(Backend):
        identity = "scripted:forger"

        def generate(self, requests):
            return [Completion(f"```python\n{replies[r.params.seed]}```", "stop")
                    for r in requests]

    cfg = load_config(None, [f"evaluate.benchmarks=[{bench}]", "evaluate.seed=0",
                             "evaluate.samples=4", "evaluate.code_timeout_s=5",
                             "evaluate.bootstrap_resamples=50"])
    run = RunFolder(tmp_path / "run")
    try:
        result = run_evaluate(cfg, run, "base", "single", progress=False, backend=Coder())
    finally:
        run.close()
    (summary,) = result["benchmarks"].values()
    assert (summary["correct"], summary["wrong"], summary["ungraded"]) == (1, 3, 0)
    assert summary["pass_at_1"] == pytest.approx(0.25)
