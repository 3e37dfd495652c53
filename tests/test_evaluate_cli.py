"""`svdistill evaluate` end to end on the scripted backend."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from svdistill.cli import app
from svdistill.evaluate import load_benchmark


def test_evaluate_command_writes_results_and_prints_the_table(tmp_path):
    runner = CliRunner()
    args = ["evaluate", "quick", "--out", str(tmp_path / "run"), "--no-progress",
            "model.backend=scripted", "evaluate.benchmarks=[arithmetic@5, science-mc@4]",
            "evaluate.samples=2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "pass@1" in result.output and "science-mc@4" in result.output
    summary = json.loads((tmp_path / "run/eval/base/arithmetic@5/summary.json").read_text())
    assert summary["questions"] == 5 and summary["samples_per_question"] == 2


def test_overlap_refusal_and_allow_overlap_flag(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    question = load_benchmark("arithmetic@1").items[0].question
    (run / "questions.jsonl").write_text(json.dumps({"id": "s1", "text": question}) + "\n")
    runner = CliRunner()
    args = ["evaluate", "quick", "--out", str(run), "--no-progress", "model.backend=scripted",
            "evaluate.benchmarks=[arithmetic@3]", "evaluate.samples=1"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "overlap" in refused.output
    allowed = runner.invoke(app, [*args, "--allow-overlap"])
    assert allowed.exit_code == 0, allowed.output
