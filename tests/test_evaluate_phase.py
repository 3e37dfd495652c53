"""The evaluate phase on scripted backends: results, gold reporting, overlap refusal, reruns."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from svdistill.backends.base import Backend, Completion, Request
from svdistill.backends.scripted import ScriptedBackend, echo_math_backend
from svdistill.config import Config, load_config
from svdistill.evaluate import comparison_rows, run_evaluate
from svdistill.runfolder import RunFolder
from svdistill.store import RunError, read_jsonl

QUESTIONS = [
    {"id": "q1", "question": "What is 1 + 1?", "answer": "2"},
    {"id": "q2", "question": "What is 2 + 2?", "answer": "4"},
    {"id": "q3", "question": "What is 3 + 3?", "answer": "6"},
]


def bench_file(tmp_path: Path, rows: list[dict] = QUESTIONS, name: str = "tiny") -> str:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def make_config(bench: str, *extra: str) -> Config:
    return load_config(None, ["model.backend=scripted", f"evaluate.benchmarks=[{bench}]",
                              "evaluate.samples=4", "evaluate.bootstrap_resamples=200", *extra])


def evaluate(config: Config, path: Path, backend: Backend | None = None, **kw) -> dict:
    run = RunFolder(path)
    try:
        return run_evaluate(config, run, progress=False, backend=backend or echo_math_backend(),
                            **kw)
    finally:
        run.close()


def only(result: dict) -> dict:
    (summary,) = result["benchmarks"].values()
    return summary


def test_pass_at_1_is_the_mean_over_samples(tmp_path):
    def half_right(request: Request) -> str:
        # Right on even sample seeds only, so pass@1 is exactly 1/2 and pass@4 is 1.
        a, b = map(int, re.findall(r"(\d+) \+ (\d+)", request.messages[-1][1])[0])
        value = a + b if request.params.seed % 2 == 0 else a + b + 1
        return f"So the answer is \\boxed{{{value}}}."

    config = make_config(bench_file(tmp_path))
    s = only(evaluate(config, tmp_path / "run", ScriptedBackend(default=half_right)))
    assert s["pass_at_1"] == pytest.approx(0.5)
    assert s["pass_at_k"]["4"]["mean"] == 1.0 and set(s["pass_at_k"]) == {"1", "2", "4"}
    lo, hi = s["ci"]
    assert lo <= 0.5 <= hi
    assert (s["samples"], s["correct"], s["wrong"], s["ungraded"]) == (12, 6, 6, 0)
    assert s["calls_per_question"] == 4 and s["paid_calls"] == 12
    assert s["sampling"]["temperature"] == 0.7 and s["engine"] == "scripted:scripted"
    assert "math-verify" in s["versions"]
    rows = list(read_jsonl(tmp_path / "run/eval/base/tiny/samples.jsonl"))
    assert [(r["question_id"], r["sample"]) for r in rows[:4]] == [("q1", i) for i in range(4)]
    assert rows[0]["answer"] == "2" and rows[0]["correct"] is True
    seeds = {r["call_key"] for r in rows}
    assert len(seeds) == 12  # sample i has seed evaluate.seed + i: every call is distinct


def test_repeat_evaluation_is_identical_and_free(tmp_path):
    config = make_config(bench_file(tmp_path))
    first = only(evaluate(config, tmp_path / "run"))
    second = only(evaluate(config, tmp_path / "run"))
    assert first["paid_calls"] == 12 and second["paid_calls"] == 0
    assert second["cached_calls"] == 12
    for key in ("pass_at_1", "ci", "pass_at_k", "correct", "wrong"):
        assert first[key] == second[key]


def test_gold_that_does_not_grade_is_reported_not_scored(tmp_path):
    rows = [*QUESTIONS,
            {"id": "bad-math", "question": "What is 4 + 4?", "answer": "eight-ish ???"},
            {"id": "bad-choice", "question": "Pick one: 5 + 5?", "options": ["10", "11"],
             "target": "E", "grader": "choice"}]
    config = make_config(bench_file(tmp_path, rows))
    s = only(evaluate(config, tmp_path / "run"))
    assert s["questions"] == 5 and s["gold_rejected"] == 2 and s["graded_questions"] == 3
    out = tmp_path / "run/eval/base/tiny"
    rejected = {r["id"]: r for r in read_jsonl(out / "gold_rejected.jsonl")}
    assert set(rejected) == {"bad-math", "bad-choice"}
    assert "gold" in rejected["bad-math"]["reason"] and "line 4" in rejected["bad-math"]["where"]
    assert {r["question_id"] for r in read_jsonl(out / "samples.jsonl")} == {"q1", "q2", "q3"}
    assert s["pass_at_1"] == 1.0


class FlakyBackend(Backend):
    """Fails every call for question q2: a failed call is "could not grade", never wrong."""

    inner = echo_math_backend()

    @property
    def identity(self) -> str:
        return "flaky"

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        return [Completion("", "error", error="server down") if "2 + 2" in r.messages[-1][1]
                else self.inner.generate([r])[0] for r in requests]


def test_could_not_grade_is_counted_apart_from_wrong(tmp_path):
    config = make_config(bench_file(tmp_path))
    s = only(evaluate(config, tmp_path / "run", FlakyBackend()))
    assert (s["ungraded"], s["errors"], s["wrong"]) == (4, 4, 0)
    # the ungraded samples count as not passed: q2 scores 0, so pass@1 is 2/3, not 1.0
    assert s["graded_questions"] == 2 and s["pass_at_1"] == pytest.approx(2 / 3)
    rows = [r for r in read_jsonl(tmp_path / "run/eval/base/tiny/samples.jsonl")
            if r["question_id"] == "q2"]
    assert all(r["correct"] is None and "call failed" in r["reason"] for r in rows)


def write_seeds(run: Path, texts: list[str]) -> None:
    run.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"s{i}", "text": t} for i, t in enumerate(texts)]
    (run / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(
    "seed_text",
    [
        "  what IS 2 +   2? ",  # the same text after case and whitespace
        "Long one: the quick brown fox jumps over the lazy dog and then runs away very fast",
    ],
)
def test_overlap_with_the_runs_seeds_is_refused_unless_allowed(tmp_path, seed_text):
    rows = [*QUESTIONS, {"id": "q4", "answer": "1", "question":
                         "Puzzle: the quick brown fox jumps over the lazy dog and then runs away "
                         "very fast. How many foxes?"}]
    config = make_config(bench_file(tmp_path, rows))
    write_seeds(tmp_path / "run", [seed_text, "an unrelated seed"])
    backend = echo_math_backend()
    with pytest.raises(RunError, match="overlap"):
        evaluate(config, tmp_path / "run", backend)
    assert backend.calls == 0  # refused before any model call
    listed = list(read_jsonl(tmp_path / "run/eval/overlaps/tiny.jsonl"))
    assert len(listed) == 1 and listed[0]["id"] in {"q2", "q4"}
    config.evaluate.allow_overlap = True
    assert only(evaluate(config, tmp_path / "run", backend))["overlapping_questions"] == 1


def test_disjoint_seeds_pass_the_overlap_check(tmp_path):
    config = make_config(bench_file(tmp_path))
    write_seeds(tmp_path / "run", ["What is 9 + 9?", "Name a prime above 10."])
    assert only(evaluate(config, tmp_path / "run"))["overlapping_questions"] == 0


def test_models_and_comparison_rows(tmp_path):
    config = make_config(bench_file(tmp_path))
    evaluate(config, tmp_path / "run")
    evaluate(config, tmp_path / "run", model="scripted:delay=0")
    with pytest.raises(RunError, match="train"):
        evaluate(config, tmp_path / "run", model="trained")
    with pytest.raises(RunError, match="method"):
        evaluate(config, tmp_path / "run", method="best-of-n")
    rows = comparison_rows(RunFolder(tmp_path / "run"))
    assert [(r["model"], r["method"]) for r in rows] == [("base", "single"),
                                                        ("scripted-delay=0", "single")]
    assert rows[0]["pass_at_1"] == 1.0 and rows[0]["calls_per_question"] == 4
