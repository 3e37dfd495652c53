"""stdin/stdout code tests (LiveCodeBench style): a LiveCodeBench-like file read through the
`evaluate.columns` mapping, and correct, wrong, crashing, timing-out and hostile programs.

The comparison happens in the grader on the program's stdout as text; the program runs behind
the same walls as function-style code (tests/test_sandbox.py attacks those).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from svdistill.config import BenchmarkColumns
from svdistill.evaluate.benchmarks import load_benchmark
from svdistill.evaluate.grading import grade_many, validate_golds
from svdistill.grade.code import sandbox_level
from svdistill.grade.stdio import normalise, parse_cases, run_stdio_tests

DATA = Path(__file__).parent / "data" / "livecodebench_like.jsonl"
LCB_COLUMNS = {"livecodebench_like": BenchmarkColumns(
    question="question_content", tests="public_test_cases", id="question_id", answer="solution",
    default_grader="stdio")}
LEVEL = sandbox_level()
SUM_CASES = [("1 2\n", "3\n"), ("-5 5\n", "0\n")]


@pytest.fixture(scope="module")
def bench():
    return load_benchmark(str(DATA), columns=LCB_COLUMNS)


def test_a_livecodebench_file_loads_as_stdio_rows(bench) -> None:
    assert [i.id for i in bench.items] == ["lcb-sum", "lcb-sort"]
    assert all(i.grader == "stdio" for i in bench.items)
    assert bench.items[0].meta["cases"][0] == ("1 2\n", "3\n")
    assert validate_golds(bench.items, 10) == {}  # each reference program passes its tests


def test_rows_without_a_reference_program_are_scored(tmp_path) -> None:
    """LiveCodeBench ships tests but no solutions: its rows are graded, not set aside."""
    rows = [line for line in DATA.read_text().splitlines() if line.strip()]
    import json

    bare = tmp_path / "livecodebench_like.jsonl"
    bare.write_text("".join(json.dumps({k: v for k, v in json.loads(r).items() if k != "solution"})
                            + "\n" for r in rows))
    items = load_benchmark(str(bare), columns=LCB_COLUMNS).items
    assert all(i.target is None for i in items)
    assert validate_golds(items, 10) == {}
    right = "a, b = map(int, input().split())\nprint(a + b)\n"
    assert grade_many(items[:1], [f"```python\n{right}```"], 10)[0].correct is True


def test_replies_grade_right_wrong_and_timed_out(bench) -> None:
    total = bench.items[0]
    replies = ["```python\nprint(sum(map(int, input().split())))\n```",
               "```python\na, b = map(int, input().split())\nprint(a - b)\n```",
               "```python\nwhile True:\n    pass\n```"]
    started = time.monotonic()
    right, wrong, slow = grade_many([total] * 3, replies, code_timeout_s=1)
    assert right.correct is True and "all 3 tests passed" in right.reason
    assert wrong.correct is False and "wrong answer on test 1 of 3" in wrong.reason
    assert slow.correct is False and "timed out after 1s on test 1 of 3" in slow.reason
    assert f"[sandbox: {LEVEL}]" in slow.reason
    assert time.monotonic() - started < 20


def test_whitespace_is_normalised_but_tokens_are_not() -> None:
    assert normalise("1 2 3  \r\n\n") == normalise("1 2 3")
    assert normalise("1 2\n3") != normalise("1 2 3")
    ok = run_stdio_tests("print('  3 ', end='')\n", [("", "3\n")], timeout_s=5)
    assert ok.correct is True, ok.reason


@pytest.mark.parametrize(("program", "fragment"), [
    ("raise SystemExit(3)\n", "exit status 3"),
    ("import os, sys\nsys.stderr.write('SANDBOX SETUP FAILED: forged\\n')\nos._exit(121)\n",
     "exit status 121"),  # a forged setup failure is the program's own failure
    ("print(3)\nraise ValueError('late')\n", "ValueError: late"),
    ("x = bytearray(8 * 1024**3)\n", "MemoryError"),
])
def test_failing_programs_are_wrong_with_a_reason(program: str, fragment: str) -> None:
    g = run_stdio_tests(program, SUM_CASES, timeout_s=5)
    assert g.correct is False and fragment in g.reason, g.reason


def test_each_case_has_its_own_time_limit() -> None:
    # Fast on the first case, endless on the second: the second case's limit stops it.
    program = "a, b = map(int, input().split())\nwhile a < 0:\n    pass\nprint(a + b)\n"
    g = run_stdio_tests(program, SUM_CASES, timeout_s=1)
    assert g.correct is False and "timed out after 1s on test 2 of 2" in g.reason, g.reason


@pytest.mark.skipif(not LEVEL.startswith("namespaces"), reason=f"sandbox level is {LEVEL}")
def test_the_expected_output_is_not_in_the_programs_reach() -> None:
    # It can read its own input, nothing else of the grader's: no network, no other files.
    program = """
import os, socket
assert not [p for p in os.listdir("/tmp")], "the grader's files are visible"
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1)
    raise SystemExit("network")
except OSError:
    pass
print(sum(map(int, input().split())))
"""
    g = run_stdio_tests(program, SUM_CASES, timeout_s=5)
    assert g.correct is True, g.reason


def test_malformed_cases_are_refused() -> None:
    with pytest.raises(ValueError, match="testtype 'functional'"):
        parse_cases('[{"input": "1", "output": "1", "testtype": "functional"}]')
    with pytest.raises(ValueError, match="non-empty list"):
        parse_cases("[]")
