"""The small record types every phase exchanges, and their JSON form.

Records are plain dataclasses so the core imports without any heavy dependency. Each row written
to a run folder is `asdict(record)`; reading back goes through `from_dict`, which ignores keys a
newer version may add.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


def text_id(text: str) -> str:
    """A stable id for a question: the first 16 hex digits of the sha256 of its stripped text."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


@dataclass
class Question:
    """One seed or benchmark question. `reference` is never shown to the method itself."""

    id: str
    text: str
    domain: str = "general"
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidate:
    """One sampled solution to a question, with what it cost."""

    question_id: str
    sample_index: int
    text: str
    final_answer: str
    reasoning: str | None
    finish_reason: str  # "stop", "length" (truncated) or "error"
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    call_key: str
    error: str | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass
class Vote:
    """One judge sample: the parsed verdict ("yes", "no", "undecided", "truncated": the reply
    hit max_tokens and was not read, "error": the call failed) and the stored call."""

    verdict: str
    call_key: str
    prior_calls: list[str] = field(default_factory=list)  # earlier calls of this vote (cycle)


@dataclass
class StageResult:
    stage: str
    passed: bool
    votes: list[Vote] = field(default_factory=list)
    reason: str = ""
    outcome: str = ""  # "yes" (passed), "no", "undecided", "truncated", "error" or "rule"


@dataclass
class Verdict:
    """The cascade's decision on one candidate."""

    question_id: str
    sample_index: int
    accepted: bool
    rejected_by: str | None = None
    reason: str = ""
    stages: list[StageResult] = field(default_factory=list)


@dataclass
class Grade:
    """A grader's decision. `correct` is None when the answer could not be graded."""

    correct: bool | None
    extracted: str | None = None
    reason: str = ""


def to_dict(record: Any) -> dict[str, Any]:
    return asdict(record)


def from_dict(cls: type[T], row: dict[str, Any]) -> T:
    """Build `cls` from a row, ignoring unknown keys (forward compatible) and nesting known ones."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: v for k, v in row.items() if k in names}
    if cls is Verdict and "stages" in kwargs:
        kwargs["stages"] = [
            s if isinstance(s, StageResult) else from_dict(StageResult, s) for s in kwargs["stages"]
        ]
    if cls is StageResult and "votes" in kwargs:
        kwargs["votes"] = [v if isinstance(v, Vote) else Vote(**v) for v in kwargs["votes"]]
    return cls(**kwargs)
