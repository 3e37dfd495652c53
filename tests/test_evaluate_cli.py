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


def test_uq_ttc_judge_failures_exit_non_zero_and_leave_the_phase_to_redo(tmp_path, monkeypatch):
    """Judge calls that failed after retries fail `svdistill evaluate --method uq-ttc` as they
    fail `svdistill run`: exit status 1, the phase not marked done; a rerun finishes it."""
    from svdistill.backends.base import Backend, Completion
    from svdistill.backends.scripted import echo_math_backend

    class JudgeDown(Backend):
        def __init__(self, down: bool):
            self.inner, self.down = echo_math_backend(), down

        @property
        def identity(self) -> str:
            return self.inner.identity

        def generate(self, requests):
            return [Completion("", "error", error="InternalServerError: 503, after 5 attempts")
                    if self.down and "[[Y]]" in request.messages[-1][1] else completion
                    for request, completion in zip(requests, self.inner.generate(requests),
                                                   strict=True)]

    run = tmp_path / "run"
    args = ["evaluate", "quick", "--out", str(run), "--no-progress", "model.backend=scripted",
            "evaluate.benchmarks=[arithmetic@3]", "evaluate.uq_ttc_candidates=2",
            "verify.votes=1", "--method", "uq-ttc"]
    monkeypatch.setattr("svdistill.backends.make_backend", lambda spec, options: JudgeDown(True))
    failed = CliRunner().invoke(app, args)
    assert failed.exit_code == 1, failed.output
    assert "failed after retries" in " ".join(failed.output.split())
    phases = run / "phases.json"
    assert "evaluate uq-ttc" not in (json.loads(phases.read_text()) if phases.exists() else {})

    monkeypatch.setattr("svdistill.backends.make_backend", lambda spec, options: JudgeDown(False))
    rerun = CliRunner().invoke(app, args)
    assert rerun.exit_code == 0, rerun.output
    assert "evaluate uq-ttc" in json.loads(phases.read_text())
