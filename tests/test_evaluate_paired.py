"""Paired differences: the arithmetic, the verdict, why pairing matters, unpaired questions,
and the paired rows in the comparison table and comparison.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from svdistill.evaluate.paired import (
    PairedDiff,
    PairingError,
    paired_difference,
    question_means,
    unpaired_difference_ci,
    verdict,
)
from svdistill.evaluate.results import (
    comparison_rows,
    comparison_table,
    paired_comparisons,
    read_paired,
    write_comparison,
)
from svdistill.runfolder import RunFolder


def rows_for(correct: dict[str, list[bool | None]]) -> list[dict]:
    return [{"question_id": q, "sample": i, "correct": c}
            for q, cs in correct.items() for i, c in enumerate(cs)]


def test_per_question_means_count_ungraded_samples_as_not_passed():
    means = question_means(rows_for({"q1": [True, False, None, True], "q2": [None, None]}))
    assert means == {"q1": 0.5, "q2": 0.0}


def test_known_paired_data_gives_the_expected_difference():
    a = {"q1": 1.0, "q2": 0.75, "q3": 0.5, "q4": 0.25}
    b = {"q1": 0.5, "q2": 0.25, "q3": 0.0, "q4": 0.25}
    d = paired_difference(a, b, a="trained", b="base", benchmark="toy", resamples=500)
    assert d.questions == 4
    assert d.a_pass_at_1 == pytest.approx(0.625) and d.b_pass_at_1 == pytest.approx(0.25)
    assert d.diff == pytest.approx(0.375)
    # every resample of per-question differences (0.5, 0.5, 0.5, 0) lies in [0, 0.5]
    assert 0.0 <= d.ci_low <= d.diff <= d.ci_high <= 0.5
    assert d.excluded == {}


def test_identical_models_are_not_distinguishable():
    a = {f"q{i}": i % 3 / 2 for i in range(30)}
    d = paired_difference(a, dict(a), a="trained", b="base")
    assert (d.diff, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0)
    assert d.verdict == "not distinguishable"


def test_a_ci_that_spans_zero_reads_not_distinguishable():
    # half the questions one way, half the other: mean difference 0, CI on both sides of it
    a = {f"q{i}": float(i % 2) for i in range(40)}
    b = {f"q{i}": float(1 - i % 2) for i in range(40)}
    d = paired_difference(a, b, a="trained", b="no-filter")
    assert d.ci_low < 0 < d.ci_high
    assert d.verdict == "not distinguishable"


def test_the_verdict_names_the_better_model():
    assert verdict(0.02, 0.10, "trained", "base") == "trained better"
    assert verdict(-0.10, -0.02, "trained", "base") == "base better"
    assert verdict(0.0, 0.10, "trained", "base") == "not distinguishable"  # touching zero
    assert verdict(None, None) == "not distinguishable"


def test_pairing_matters():
    # Questions range from hard to easy; trained is 0.1 better on every one of them. Resampled
    # independently, the question spread hides that; resampled together, it is plain.
    base = {f"q{i}": i / 40 for i in range(30)}
    trained = {q: v + 0.1 for q, v in base.items()}
    low, high = unpaired_difference_ci(list(trained.values()), list(base.values()))
    assert low < 0 < high
    d = paired_difference(trained, base, a="trained", b="base")
    assert d.ci_low == pytest.approx(0.1) and d.ci_high == pytest.approx(0.1)
    assert d.verdict == "trained better"


def test_questions_missing_in_one_model_are_an_error():
    a = {"q1": 1.0, "q2": 0.0, "q3": 1.0}
    b = {"q1": 0.0, "q2": 0.0, "q4": 1.0}
    with pytest.raises(PairingError, match=r"2 questions cannot be paired.*q3 \(only in "
                                           r"trained\).*q4 \(only in base\)"):
        paired_difference(a, b, a="trained", b="base")


def test_unpaired_questions_can_be_excluded_and_are_listed():
    a = {"q1": 1.0, "q2": 0.0, "q3": 1.0, "q5": None}
    b = {"q1": 0.0, "q2": 0.0, "q4": 1.0, "q5": 1.0}
    d = paired_difference(a, b, a="trained", b="base", exclude_unpaired=True)
    assert d.questions == 2 and d.diff == pytest.approx(0.5)
    assert d.excluded == {"q3": "only in trained", "q4": "only in base",
                          "q5": "ungraded in trained"}


def test_summary_round_trips():
    d = paired_difference({"q1": 1.0, "q2": 0.5}, {"q1": 0.5, "q2": 0.5}, a="t", b="b",
                          benchmark="toy", exclude_unpaired=True)
    again = PairedDiff.from_dict(json.loads(json.dumps(d.to_dict())))
    assert again == d


def write_eval(run: Path, folder: str, model: str, method: str,
               correct: dict[str, list[bool | None]]) -> None:
    out = run / "eval" / folder / "toy"
    out.mkdir(parents=True)
    rows = rows_for(correct)
    (out / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    n = len(correct)
    score = sum(sum(c is True for c in cs) / len(cs) for cs in correct.values()) / n
    (out / "summary.json").write_text(json.dumps({
        "benchmark": "toy", "model": model, "method": method, "graded_questions": n,
        "samples_per_question": len(next(iter(correct.values()))), "pass_at_1": score,
        "ci": [score, score], "bootstrap": {"resamples": 300, "confidence": 0.9},
        "sampling": {"seed": 3}}))


def test_the_comparison_table_and_file_carry_the_paired_rows(tmp_path):
    run = tmp_path / "run"
    qs = [f"q{i}" for i in range(20)]
    write_eval(run, "base", "base", "single", {q: [False, i % 2 == 0] for i, q in enumerate(qs)})
    write_eval(run, "trained", "trained", "single", {q: [True, i % 2 == 0]
                                                     for i, q in enumerate(qs)})
    write_eval(run, "base+uq-ttc", "base", "uq-ttc", {q: [True] for q in qs[:-1]})
    rows = comparison_rows(RunFolder(run))
    paired = paired_comparisons(rows)
    assert [(d.a, d.b) for d in paired] == [("trained", "base"), ("trained", "uq-ttc")]
    vs_base, vs_ttc = paired
    assert vs_base.diff == pytest.approx(0.5) and vs_base.verdict == "trained better"
    assert (vs_base.resamples, vs_base.confidence) == (300, 0.9)
    assert vs_ttc.questions == 19 and vs_ttc.excluded == {"q19": "only in trained"}

    console = Console(width=120, record=True)
    console.print(comparison_table(rows))
    text = console.export_text()
    assert "paired differences" in text
    assert "trained - base" in text and "trained better" in text
    assert "19 (1 excl.)" in text

    path = write_comparison(run / "comparison.json", rows)
    assert read_paired(path) == paired
    assert json.loads(path.read_text())["rows"][0]["model"] == "base"
