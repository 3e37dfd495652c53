"""The verdict rule against what real judges wrote: replies of the embedded 0.5B model and of
the tiny 135M model to the packaged prompts, recorded by scripts/record_judge_replies.py.

A recording is keyed by its prompt's hash: a changed template makes it stale, and the test
fails instead of reading replies to a prompt that no longer exists (record again).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from svdistill.backends.base import Completion
from svdistill.verify.parse import NO, TRUNCATED, UNDECIDED, YES
from svdistill.verify.prompts import load_templates
from svdistill.verify.stages import reply_verdict

DATA = Path(__file__).parent / "data"


def _load(name: str) -> list[dict]:
    rows = [json.loads(line) for line in (DATA / name).read_text("utf-8").splitlines()]
    templates = load_templates()
    for row in rows:
        prompt = templates[row["template"]].render(**row["values"])
        assert hashlib.sha256(prompt.encode()).hexdigest() == row["prompt_sha256"], (
            f"{name}: prompt {row['template']!r} changed since it was recorded; record again"
        )
    return rows


def _votes(rows: list[dict]) -> Counter:
    return Counter(
        reply_verdict(Completion(r["text"], r["finish_reason"]), r["values"].get("answer", ""))
        for r in rows
    )


def test_embedded_judge_replies_parse_as_the_tags_they_are() -> None:
    rows = _load("judge_replies_embedded.jsonl")
    assert len(rows) == 154
    # The 0.5B judge writes a bare tag in 4 tokens, whatever it is asked (docs/judge_signal.md).
    assert {r["text"] for r in rows} == {"[[Y]]", "[[N]]"}
    assert _votes(rows) == {YES: 77, NO: 77}


def test_tiny_judge_replies_are_undecided_or_truncated() -> None:
    rows = _load("judge_replies_tiny.jsonl")
    assert len(rows) == 154
    # 135M: prose without a verdict line; 19 replies ran into max_tokens.
    assert _votes(rows) == {UNDECIDED: 135, TRUNCATED: 19}


def test_a_restated_format_line_is_not_a_verdict() -> None:
    """The one recorded reply the last-tag rule read as a verdict ("no"): the judge restating
    the instructions as its last line."""
    [row] = [r for r in _load("judge_replies_tiny.jsonl") if r["text"].endswith("it is wrong.")]
    assert row["text"].splitlines()[-1].startswith("[[Y]] if")
    assert reply_verdict(Completion(row["text"], row["finish_reason"])) == UNDECIDED


@pytest.mark.parametrize("name", ["judge_replies_embedded.jsonl", "judge_replies_tiny.jsonl"])
def test_recordings_say_how_they_were_made(name: str) -> None:
    for row in _load(name):
        assert row["params"]["max_tokens"] == 256 and row["params"]["seed"] in (1000, 1001)
        assert row["model"]


def test_a_cut_off_judge_reply_is_truncated_never_yes(tmp_path: Path) -> None:
    from svdistill.backends.scripted import ScriptedBackend
    from svdistill.config import Config, VerifyConfig
    from svdistill.generation import CallRunner
    from svdistill.records import Candidate, Question
    from svdistill.store import CallStore
    from svdistill.verify import Cascade

    # cut off while restating the instructions: its last word is a tag, yet it is no vote
    judge = ScriptedBackend(default="I must end with [[Y]] if the answer is right " * 40)
    q = Question("q", "2 + 2?", reference="4")
    item = (q, Candidate("q", 0, "4", "4", None, "stop", 1, 1, 0.0, "k"))
    cascade = Cascade(VerifyConfig(stages=["factual"], votes=3, mode="eager"),
                      CallRunner(judge, CallStore(tmp_path / "c.jsonl")), max_tokens=6)
    [verdict] = cascade.judge([item])
    assert not verdict.accepted
    assert [v.verdict for v in verdict.stages[0].votes] == [TRUNCATED] * 3
    stats = cascade.stats[0]
    assert (stats.truncated, stats.truncated_votes, stats.votes, stats.undecided) == (1, 3, 3, 0)
    # the budget follows sampling unless verify.max_tokens is set
    assert Config().judge_max_tokens == Config().sample.max_tokens
    assert Config(verify=VerifyConfig(max_tokens=99)).judge_max_tokens == 99
