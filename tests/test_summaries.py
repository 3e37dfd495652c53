"""The phase records: each reads back what it wrote, older files still read, one judge-quality
schema (with the older evaluation shape mapped onto it), and bad files fail as SummaryError."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from svdistill.summaries import (
    CurateSummary,
    EvalSummary,
    JudgeQuality,
    SampleStats,
    StageStats,
    SummaryError,
    TrainSummary,
    VerifyStats,
)
from svdistill.versions import NOT_INSTALLED, package_versions


def quality() -> JudgeQuality:
    q = JudgeQuality(ungraded=2, stages={"rules": JudgeQuality(), "cycle": JudgeQuality()})
    for accepted, correct in [(True, True), (True, True), (True, False), (False, True),
                              (False, False), (False, False)]:
        q.add(accepted, correct)
        q.stages["rules"].add(True, correct)
        q.stages["cycle"].add(accepted, correct)
    return q


RECORDS = [
    SampleStats(questions=3, candidates=12, paid_calls=6, cached_calls=6,
                skipped_seeds={"empty question": 1}, wall_s=1.5),
    VerifyStats(candidates=6, accepted=3, acceptance=0.5, quality=quality(),
                stages=[StageStats("rules", entered=6, passed=6, reasons=Counter(empty=1),
                                   rejected_file="rejected/1_rules.jsonl")],
                settings={"votes": 3}),
    CurateSummary(policy="first-valid", questions=3, kept=2, dropped=Counter(duplicate=1),
                  tokens={"mean": 12.5}, warnings=["w"], curate={"policy": "first-valid"}),
    TrainSummary(base_model="/m", method="lora", steps=4, first_loss=2.0, last_loss=1.0,
                 train={"learning_rate": 1e-4}),
    EvalSummary(model="base", method="uq-ttc", benchmark="toy", pass_at_1=0.5, ci=[0.25, 0.75],
                bootstrap={"resamples": 300, "confidence": 0.9}, sampling={"seed": 3},
                stages=[StageStats("cycle", entered=4)], judge_quality=quality()),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_each_record_reads_back_what_it_wrote(record, tmp_path: Path):
    path = tmp_path / "deep" / "stats.json"
    record.write(path)
    assert [p.name for p in path.parent.iterdir()] == ["stats.json"]  # no temporary left
    again = type(record).read(path)
    assert again.to_dict() == record.to_dict() == json.loads(path.read_text())
    assert again == record


def test_a_record_is_found_in_its_run_folder_file(tmp_path: Path):
    assert CurateSummary.of(tmp_path) is None
    RECORDS[2].write(tmp_path / "sft" / "stats.json")
    assert CurateSummary.of(tmp_path).kept == 2


def test_older_files_without_a_key_still_read():
    # sample_stats.json before engine_tokens_per_s; a key from a newer version is ignored
    stats = SampleStats.from_dict({"questions": 2, "candidates": 4, "added_later": True})
    assert (stats.questions, stats.engine_tokens_per_s, stats.skipped_seeds) == (2, 0.0, {})
    # verify_stats.json before each stage named its rejected file: the file verify wrote
    old = VerifyStats.from_dict({"candidates": 2, "stages": [{"name": "rules"}, {"name": "cycle"}]})
    assert [s.rejected_file for s in old.stages] == ["rejected/1_rules.jsonl",
                                                     "rejected/2_cycle.jsonl"]
    assert old.quality is None


def test_one_judge_quality_schema():
    q = quality()
    assert (q.graded, q.ungraded) == (6, 2)
    assert q.base_rate == 0.5
    assert q.precision == pytest.approx(2 / 3) and q.recall == pytest.approx(2 / 3)
    d = q.to_dict()
    assert d["precision"] == 0.6667 and d["accept_rate"] == 0.5
    assert set(d["stages"]) == {"rules", "cycle"}
    assert "stages" not in d["stages"]["rules"] and "ungraded" not in d["stages"]["rules"]
    assert d["stages"]["rules"]["accept_rate"] == 1.0
    assert JudgeQuality().precision is None  # nothing accepted: no precision, not 0


def test_the_older_evaluation_judge_quality_shape_reads_as_the_one_schema():
    old = {"judged": 7, "accepted_right": 2, "accepted_wrong": 0, "rejected_right": 1,
           "rejected_wrong": 4, "precision": 1.0, "recall": 2 / 3}
    q = JudgeQuality.from_dict(old)
    assert (q.accepted_correct, q.accepted_wrong, q.rejected_correct, q.rejected_wrong) == (
        2, 0, 1, 4)
    assert q.graded == 7 and q.precision == 1.0 and q.recall == pytest.approx(2 / 3)
    summary = EvalSummary.from_dict({"benchmark": "toy", "method": "uq-ttc",
                                     "judge_quality": old})
    assert summary.judge_quality == q


def test_uq_ttc_keys_are_left_out_of_a_single_method_summary():
    d = EvalSummary(model="base", benchmark="toy").to_dict()
    assert "judge_quality" not in d and "fallback_rate" not in d and "stages" not in d
    assert d["method"] == "single" and d["pass_at_1"] is None


def test_a_file_that_is_not_the_record_is_a_summary_error(tmp_path: Path):
    with pytest.raises(SummaryError, match="expected a JSON object"):
        VerifyStats.from_dict([1, 2])
    with pytest.raises(SummaryError, match="StageStats"):
        VerifyStats.from_dict({"stages": [{}]})  # a stage without its name
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ValueError):
        SampleStats.read(tmp_path / "x.json")


def test_package_versions_one_list():
    installed = package_versions()
    assert "svdistill" in installed and NOT_INSTALLED not in installed.values()
    everything = package_versions(include_missing=True)
    assert list(everything)[0] == "python" and set(installed) < set(everything)
