"""Curate on small hand-made run folders: every policy's exact rows, dedup, decontamination."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svdistill.config import Config, load_config
from svdistill.curate import Decontaminator, run_curate
from svdistill.records import Candidate, Question, StageResult, Verdict, Vote, to_dict
from svdistill.runfolder import RunFolder
from svdistill.sample import sampling_messages
from svdistill.store import RunError, read_jsonl, write_jsonl

QUESTIONS = [
    Question("q1", "Tom has 3 apples and buys 4 more. How many apples does Tom have?"),
    Question("q2", "What is 7 times 8?"),
    Question("q3", "A train travels 60 km in 1 hour. How far does it go in 3 hours?"),
    Question("q4", "What is 100 minus 37?"),
]
# (question, sample) -> (text, finish_reason, accepted)
CANDIDATES = {
    ("q1", 0): ("3 + 4 = 8. \\boxed{8}", "stop", False),
    ("q1", 1): ("<think>3 and 4 more is 7.</think>Tom has \\boxed{7} apples.", "stop", True),
    ("q1", 2): ("3 + 4 = 7, so \\boxed{7}.", "stop", True),
    ("q2", 0): ("7 x 8 = 54. \\boxed{54}", "stop", False),
    ("q2", 1): ("\\boxed{56", "length", False),
    ("q2", 2): ("It is \\boxed{15}.", "stop", False),
    ("q3", 0): ("60 x 3 = 180 km. \\boxed{180}", "stop", True),
    ("q3", 1): ("60 x 3 = 180 km. \\boxed{180}  ", "stop", True),  # a duplicate of sample 0
    ("q3", 2): ("\\boxed{20}", "stop", False),
    ("q4", 0): ("", "error", False),
    ("q4", 1): ("100 - 37 = 63. \\boxed{63}", "stop", True),
    ("q4", 2): ("\\boxed{73}", "stop", False),
}


def verdict(qid: str, index: int, accepted: bool, stages: list[str]) -> dict:
    results = [StageResult(s, True, [Vote("yes", "k")]) for s in stages]
    if not accepted:
        results[-1] = StageResult(stages[-1], False, [Vote("no", "k")], "a no vote")
    return to_dict(Verdict(qid, index, accepted, None if accepted else stages[-1], "", results))


def make_run(
    path: Path,
    config: Config,
    stages=("rules", "cycle", "factual", "correctness"),
    with_verdicts: bool = True,
) -> RunFolder:
    run = RunFolder(path)
    run.save_config(config)
    write_jsonl(path / "questions.jsonl", [to_dict(q) for q in QUESTIONS])
    candidates, verdicts = [], []
    # written out of order on purpose: curate must use sampling order, not file order
    for (qid, index), (text, finish, accepted) in reversed(CANDIDATES.items()):
        error = "boom" if finish == "error" else None
        candidate = Candidate(qid, index, text, text, None, finish, 20, 10, 0.1, "key", error)
        candidates.append(to_dict(candidate))
        verdicts.append(verdict(qid, index, accepted, list(stages)))
    write_jsonl(path / "candidates.jsonl", candidates)
    if with_verdicts:
        write_jsonl(path / "verdicts.jsonl", verdicts)
    return run


@pytest.fixture
def cfg() -> Config:
    return load_config(None, ["model.backend=scripted"])


def kept_ids(run: RunFolder) -> list[str]:
    return [row["id"] for row in read_jsonl(run.file("sft") / "train.jsonl")]


def dropped(run: RunFolder) -> list[tuple[str, int | None, str]]:
    return [
        (r["question_id"], r["sample_index"], r["reason"])
        for r in read_jsonl(run.file("sft") / "dropped.jsonl")
    ]


def test_first_valid_takes_the_first_accepted_in_sampling_order(cfg, tmp_path):
    run = make_run(tmp_path, cfg)
    summary = run_curate(cfg, run, progress=False)
    assert kept_ids(run) == ["q1#1", "q3#0", "q4#1"]
    assert dropped(run) == [("q2", None, "no_accepted_candidate")]
    assert (summary.questions, summary.candidates, summary.accepted) == (4, 12, 5)
    assert (summary.questions_with_accepted, summary.selected, summary.kept) == (3, 3, 3)
    assert summary.dropped == {"no_accepted_candidate": 1}


def test_all_valid_keeps_every_accepted_and_removes_exact_duplicates(cfg, tmp_path):
    cfg.curate.policy = "all-valid"
    run = make_run(tmp_path, cfg)
    run_curate(cfg, run, progress=False)
    assert kept_ids(run) == ["q1#1", "q1#2", "q3#0", "q4#1"]
    assert dropped(run) == [("q2", None, "no_accepted_candidate"), ("q3", 1, "duplicate")]
    duplicate = list(read_jsonl(run.file("sft") / "dropped.jsonl"))[1]
    assert duplicate["detail"] == "q3#0"


def test_no_filter_trains_on_every_candidate_without_verdicts(cfg, tmp_path):
    cfg.curate.policy = "no-filter"
    run = make_run(tmp_path, cfg, with_verdicts=False)
    summary = run_curate(cfg, run, progress=False)
    assert kept_ids(run) == [
        "q1#0",
        "q1#1",
        "q1#2",
        "q2#0",
        "q2#1",
        "q2#2",
        "q3#0",
        "q3#2",
        "q4#1",
        "q4#2",
    ]
    assert dropped(run) == [("q3", 1, "duplicate"), ("q4", 0, "empty_response")]
    assert summary.truncated_kept == 1  # q2#1 was cut off, and no-filter keeps it


def test_no_filter_first_takes_sample_zero(cfg, tmp_path):
    cfg.curate.policy = "no-filter-first"
    run = make_run(tmp_path, cfg)
    run_curate(cfg, run, progress=False)
    assert kept_ids(run) == ["q1#0", "q2#0", "q3#0"]
    assert dropped(run) == [("q4", 0, "empty_response")]


def test_max_examples_keeps_a_fixed_random_subset_in_order(cfg, tmp_path):
    cfg.curate.policy = "no-filter"
    cfg.curate.max_examples = 4
    run = make_run(tmp_path, cfg, with_verdicts=False)
    summary = run_curate(cfg, run, progress=False)
    kept = kept_ids(run)
    everything = ["q1#0", "q1#1", "q1#2", "q2#0", "q2#1", "q2#2", "q3#0", "q3#2", "q4#1", "q4#2"]
    assert summary.kept == len(kept) == 4 and set(kept) <= set(everything)
    assert kept == [e for e in everything if e in kept]  # sampling order kept
    over = [f"{q}#{i}" for q, i, why in dropped(run) if why == "over_max_examples"]
    assert sorted(over + kept) == sorted(everything)
    assert summary.dropped["over_max_examples"] == 6

    again = make_run(tmp_path / "again", cfg, with_verdicts=False)
    run_curate(cfg, again, progress=False)
    assert kept_ids(again) == kept  # the same subset every time


def test_single_judge_reads_single_judge_verdicts(cfg, tmp_path):
    cfg.curate.policy = "single-judge"
    run = make_run(tmp_path, cfg, stages=("rules", "single"))
    summary = run_curate(cfg, run, progress=False)
    assert kept_ids(run) == ["q1#1", "q3#0", "q4#1"]
    assert summary.verify_stages == ["rules", "single"]


def test_single_judge_refuses_cascade_verdicts(cfg, tmp_path):
    cfg.curate.policy = "single-judge"
    run = make_run(tmp_path / "a", cfg)
    with pytest.raises(RunError, match="single"):
        run_curate(cfg, run, progress=False)


def test_verified_policy_needs_verdicts(cfg, tmp_path):
    run = make_run(tmp_path, cfg, with_verdicts=False)
    with pytest.raises(RunError, match="svdistill verify"):
        run_curate(cfg, run, progress=False)


def test_example_is_the_sampling_chat_plus_the_full_response(cfg, tmp_path):
    run = make_run(tmp_path, cfg)
    run_curate(cfg, run, progress=False)
    first = next(read_jsonl(run.file("sft") / "train.jsonl"))
    assert first["messages"] == sampling_messages(cfg, QUESTIONS[0]) + [
        {"role": "assistant", "content": CANDIDATES[("q1", 1)][0]}  # reasoning kept
    ]
    import datasets

    saved = datasets.load_from_disk(str(run.file("sft") / "dataset"))
    assert saved["id"] == kept_ids(run) and saved[0]["messages"] == first["messages"]
    stats = json.loads((run.file("sft") / "stats.json").read_text())
    assert stats["kept"] == 3 and stats["tokens"]["mean"] == 30.0


def test_prompts_come_from_the_run_config(cfg, tmp_path):
    run = make_run(tmp_path, cfg)
    other = load_config(None, ["model.backend=scripted", "model.system_prompt=Be terse."])
    summary = run_curate(other, run, progress=False)
    first = next(read_jsonl(run.file("sft") / "train.jsonl"))
    assert first["messages"][0]["content"] == cfg.model.system_prompt
    assert any("prompts differ" in w for w in summary.warnings)


def test_decontamination_removes_a_planted_overlap(cfg, tmp_path):
    bench = tmp_path / "bench.jsonl"
    write_jsonl(
        bench,
        [
            {"question": "Unrelated: name the capital of France."},
            # q3 planted with different case and punctuation, inside a longer question
            {
                "question": "Context first. a TRAIN travels 60 km in 1 hour; how far "
                "does it go in 3 hours? Explain."
            },
            {"question": "What is 7 times 8?"},  # shorter than n words: matched whole
        ],
    )
    cfg.curate.policy = "no-filter-first"
    cfg.curate.decontaminate = [str(bench)]
    cfg.curate.ngram = 8
    run = make_run(tmp_path / "run", cfg)
    summary = run_curate(cfg, run, progress=False)
    assert kept_ids(run) == ["q1#0"]
    assert dropped(run) == [
        ("q2", 0, "contaminated"),
        ("q3", 0, "contaminated"),
        ("q4", 0, "empty_response"),
    ]
    rows = list(read_jsonl(run.file("sft") / "dropped.jsonl"))
    assert rows[1]["detail"].startswith("bench.jsonl:2:")
    assert summary.dropped == {"contaminated": 2, "empty_response": 1}


def test_short_shared_phrases_are_not_contamination(tmp_path):
    bench = tmp_path / "bench.jsonl"
    write_jsonl(bench, [{"question": "Tom has 3 pears and sells 2 of them to a friend today."}])
    decon = Decontaminator([str(bench)], 5)
    assert decon.match(QUESTIONS[0].text) is None  # shares "tom has 3" only
    assert decon.match("Why? Tom has 3 PEARS and sells 2, then...") is not None
    with pytest.raises(RunError, match="no benchmark file"):
        Decontaminator([str(tmp_path / "missing.jsonl")], 5)


def test_curate_command_prints_the_table(cfg, tmp_path):
    from typer.testing import CliRunner

    from svdistill.cli import app

    make_run(tmp_path, cfg)
    result = CliRunner().invoke(
        app, ["curate", "quick", "--out", str(tmp_path), "model.backend=scripted", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "dropped: no_accepted_candidate" in result.output
    assert (tmp_path / "sft" / "stats.json").exists()
