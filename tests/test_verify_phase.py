"""The verify phase on a run folder: output files, resume after a kill, judge quality, CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from test_verify_cascade import BASE_SEED, plan_judge, planned_reply
from typer.testing import CliRunner

from svdistill.backends.base import Backend
from svdistill.config import Config, load_config
from svdistill.records import Candidate, Question, to_dict
from svdistill.runfolder import RunFolder
from svdistill.store import CallStore, read_jsonl, write_jsonl
from svdistill.verify import run_verify

PLANS = ["", "cycle=YYN", "factual=N", "correctness=YU", "", "cycle=U", "factual=YYYYN", ""]


def make_run(path: Path, plans: list[str] = PLANS) -> RunFolder:
    """A sampled run: 4 questions x 2 candidates, plus one truncated and one empty candidate.
    Odd candidates give a wrong answer, so the grader has something to disagree with."""
    questions, candidates = [], []
    for qi in range(4):
        a, b = 10 + qi, 3 + qi
        q = Question(f"q{qi}", f"What is {a} + {b}?", "math", str(a + b))
        questions.append(to_dict(q))
        for si in range(2):
            plan = plans[(qi * 2 + si) % len(plans)]
            value = a + b + si
            text = f"{a} + {b} = {value}. The answer is \\boxed{{{value}}}. plan {plan}"
            candidates.append(
                to_dict(Candidate(q.id, si, text, text, None, "stop", 5, 5, 0.0, f"c{qi}{si}"))
            )
    truncated = Candidate("q0", 2, "10 + 3 = ", "10 + 3 = ", None, "length", 5, 5, 0.0, "t")
    empty = Candidate("q1", 2, "<think>hmm</think>", "", "hmm", "stop", 5, 5, 0.0, "e")
    candidates += [to_dict(truncated), to_dict(empty)]
    run = RunFolder(path)
    write_jsonl(run.file("questions.jsonl"), questions)
    write_jsonl(run.file("candidates.jsonl"), candidates)
    return run


def verify_config(*overrides: str) -> Config:
    return load_config(None, [f"verify.seed={BASE_SEED}", *overrides])


def outputs(run: RunFolder) -> tuple[list[dict], dict[str, list[dict]]]:
    verdicts = list(read_jsonl(run.file("verdicts.jsonl")))
    rejected = {p.name: list(read_jsonl(p)) for p in sorted(run.file("rejected").glob("*.jsonl"))}
    return verdicts, rejected


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_output_files_add_up(tmp_path: Path, mode: str) -> None:
    run = make_run(tmp_path / "run")
    summary = run_verify(verify_config(f"verify.mode={mode}"), run, plan_judge(), progress=False)
    run.close()
    verdicts, rejected = outputs(run)
    candidates = list(read_jsonl(run.file("candidates.jsonl")))
    keys = [(v["question_id"], v["sample_index"]) for v in verdicts]
    assert keys == [
        (c["question_id"], c["sample_index"]) for c in candidates
    ]  # each once, in order
    assert list(rejected) == [
        "1_rules.jsonl",
        "2_cycle.jsonl",
        "3_factual.jsonl",
        "4_correctness.jsonl",
    ]
    accepted = sum(v["accepted"] for v in verdicts)
    assert accepted + sum(len(rows) for rows in rejected.values()) == len(candidates)
    for name, rows in rejected.items():
        assert all(r["rejected_by"] == name[:-6].split("_", 1)[1] for r in rows)
    assert {r["reason"] for r in rejected["1_rules.jsonl"]} == {
        "rules: truncated",
        "rules: empty final answer",
    }
    stats = json.loads(run.file("verify_stats.json").read_text())
    assert stats["candidates"] == len(candidates) and stats["accepted"] == accepted
    assert stats["accepted"] == summary.accepted == 3
    by_stage = {s["name"]: s for s in stats["stages"]}
    assert by_stage["cycle"]["undecided"] == 1 and by_stage["cycle"]["rejected"] == 1
    for s in stats["stages"]:
        assert s["entered"] == s["passed"] + s["rejected"] + s["undecided"] + s["errors"]
    # every vote names the stored reply it was parsed from
    store = CallStore(run.file("calls.jsonl"))
    for v in verdicts:
        for stage in v["stages"]:
            for vote in stage["votes"]:
                assert vote["call_key"] in store
                assert all(k in store for k in vote["prior_calls"])
    store.close()


def test_judge_quality_against_the_grader(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", plans=[""])  # the judge accepts every well-formed candidate
    summary = run_verify(verify_config(), run, plan_judge(), progress=False)
    run.close()
    q = summary.quality
    assert q is not None
    # 8 well-formed candidates, half right; the truncated and empty ones are graded wrong
    assert q.graded == 10 and q.ungraded == 0
    assert q.base_rate == 0.4
    assert q.precision == 0.5 and q.recall == 1.0 and q.accepted_wrong == 4
    assert q.stages["rules"].accept_rate == 0.8
    stats = json.loads(run.file("verify_stats.json").read_text())
    assert stats["quality"]["precision"] == 0.5
    grades = list(read_jsonl(run.file("verify_grades.jsonl")))
    assert Counter(g["correct"] for g in grades) == {True: 4, False: 6}


class KilledError(RuntimeError):
    pass


class DiesAfter(Backend):
    """The scripted judge, killed after `limit` completed calls (like kill -9 mid-batch)."""

    batch_size = 4

    def __init__(self, limit: int):
        self.inner = plan_judge()
        self.limit = limit
        self.calls = 0

    @property
    def identity(self) -> str:
        return self.inner.identity  # the same model: the rerun must reuse its calls

    def generate(self, requests):
        return self.inner.generate(requests)

    def stream(self, requests):
        for index, request in enumerate(requests):
            if self.calls >= self.limit:
                raise KilledError
            self.calls += 1
            yield index, self.inner.generate([request])[0]


@pytest.mark.parametrize("mode, kill_after", [("lazy", 7), ("lazy", 23), ("eager", 31)])
def test_resume_after_kill_pays_no_vote_twice(tmp_path: Path, mode: str, kill_after: int) -> None:
    cfg = verify_config(f"verify.mode={mode}")
    reference = make_run(tmp_path / "reference")
    full = run_verify(cfg, reference, plan_judge(), progress=False)
    reference.close()
    total_paid = full.calls.paid

    run = make_run(tmp_path / "killed")
    with pytest.raises(KilledError):
        run_verify(cfg, run, DiesAfter(kill_after), progress=False)
    run.close()  # the process is gone: only what reached calls.jsonl survives
    assert not run.file("verdicts.jsonl").exists()

    run = RunFolder(tmp_path / "killed")
    again = run_verify(cfg, run, plan_judge(), progress=False)
    run.close()
    assert again.calls.paid == total_paid - kill_after
    assert again.calls.cached >= kill_after
    store = CallStore(run.file("calls.jsonl"))
    assert store.duplicates == 0 and len(store) == total_paid
    store.close()
    keys = [json.loads(line)["key"] for line in open(run.file("calls.jsonl"))]
    assert len(keys) == len(set(keys))
    assert outputs(run) == outputs(reference)
    # and a third run pays nothing at all
    run = RunFolder(tmp_path / "killed")
    third = run_verify(cfg, run, plan_judge(), progress=False)
    run.close()
    assert third.calls.paid == 0 and outputs(run) == outputs(reference)


def test_stale_rejected_files_are_removed(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    run_verify(verify_config(), run, plan_judge(), progress=False)
    run_verify(verify_config("verify.stages=[single]"), run, plan_judge(), progress=False)
    run.close()
    _, rejected = outputs(run)
    assert list(rejected) == ["1_single.jsonl"]


def test_cli_verify(tmp_path: Path, monkeypatch) -> None:
    from svdistill import cli

    run = make_run(tmp_path / "run")
    run.close()
    monkeypatch.setattr("svdistill.backends.make_backend", lambda spec, options: plan_judge())
    config = tmp_path / "c.yaml"
    config.write_text(f"verify:\n  seed: {BASE_SEED}\n  votes: 3\n")
    result = CliRunner().invoke(
        cli.app, ["verify", str(config), "--out", str(run.path), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "judge precision" in result.output and "factual" in result.output
    assert run.file("verdicts.jsonl").exists()
    missing = CliRunner().invoke(cli.app, ["verify", str(config), "--out", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "svdistill sample" in missing.output


def test_plan_judge_reads_vote_seeds() -> None:
    # guard for the helpers the tests above rely on
    from svdistill.backends.base import Request, SamplingParams

    req = Request(
        (("user", "strict reviewer plan factual=YN"),), SamplingParams(seed=BASE_SEED + 1)
    )
    assert "[[N]]" in planned_reply(req)
