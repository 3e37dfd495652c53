"""The stats file of every phase, as one typed record each, written and read by the same class.

    sample_stats.json          SampleStats       (sample.py counts with SampleSummary)
    verify_stats.json          VerifyStats       (verify/phase.py counts with VerifySummary)
    sft/stats.json             CurateSummary     (curate returns the record it writes)
    train/stats.json           TrainSummary      (train returns the record it writes)
    eval/<model>/<bench>/summary.json   EvalSummary

`to_dict()` is the file's JSON, `from_dict()` its inverse: keys a newer version adds are ignored
and keys an older version lacked keep their defaults, so run folders of either age still read.
`write(path)` replaces the file atomically (like every finished artifact of a run folder);
`read(path)` raises OSError, ValueError (not JSON) or SummaryError (not this record); `of(folder)`
reads the record's usual file in a folder, or None when it is absent.

`JudgeQuality` is the one shape of "how good was the judge" for verify and for UQ-TTC.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .store import write_json

S = TypeVar("S", bound="Summary")


class SummaryError(ValueError):
    """A stats file that holds JSON but not the record it should."""


def _plain(value: Any) -> Any:
    """`value` as JSON-ready data: records through their to_dict, containers element-wise."""
    if isinstance(value, Summary):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Summary:
    """What every record below shares; subclasses are dataclasses whose fields are the keys."""

    FILE: ClassVar[str] = ""
    #: Fields left out of the file while None (keys only some runs have, e.g. UQ-TTC's).
    OMIT_NONE: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: _plain(getattr(self, f.name))
            for f in fields(self)  # type: ignore[arg-type]
            if not (f.name in self.OMIT_NONE and getattr(self, f.name) is None)
        }

    @classmethod
    def from_dict(cls: type[S], data: Any) -> S:
        if not isinstance(data, Mapping):
            raise SummaryError(f"expected a JSON object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:  # a required key is missing
            raise SummaryError(f"not a {cls.__name__}: {exc}") from None

    def write(self, path: str | Path) -> None:
        write_json(Path(path), self.to_dict())

    @classmethod
    def read(cls: type[S], path: str | Path) -> S:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def of(cls: type[S], folder: str | Path) -> S | None:
        path = Path(folder) / cls.FILE
        return cls.read(path) if path.is_file() else None


# ---------------------------------------------------------------------------- judge quality


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


@dataclass
class JudgeQuality(Summary):
    """Accept/reject against correct/wrong, over graded candidates only, and per stage the same
    over the candidates that reached it. Ungraded candidates are counted apart, never as wrong.

    Precision (accepted and correct / accepted) is the figure that matters: an accepted wrong
    answer becomes training data. Base rate (correct / graded) is what accepting all gives."""

    accepted_correct: int = 0
    accepted_wrong: int = 0
    rejected_correct: int = 0
    rejected_wrong: int = 0
    ungraded: int = 0
    stages: dict[str, JudgeQuality] = field(default_factory=dict)

    def add(self, accepted: bool, correct: bool) -> None:
        if accepted:
            self.accepted_correct += correct
            self.accepted_wrong += not correct
        else:
            self.rejected_correct += correct
            self.rejected_wrong += not correct

    @property
    def graded(self) -> int:
        return self.accepted_correct + self.accepted_wrong + self.rejected_correct + \
            self.rejected_wrong

    @property
    def base_rate(self) -> float | None:
        return _ratio(self.accepted_correct + self.rejected_correct, self.graded)

    @property
    def precision(self) -> float | None:
        return _ratio(self.accepted_correct, self.accepted_correct + self.accepted_wrong)

    @property
    def recall(self) -> float | None:
        return _ratio(self.accepted_correct, self.accepted_correct + self.rejected_correct)

    @property
    def accept_rate(self) -> float | None:
        return _ratio(self.accepted_correct + self.accepted_wrong, self.graded)

    def to_dict(self, nested: bool = False) -> dict[str, Any]:
        def four(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        out: dict[str, Any] = {
            "graded": self.graded, "base_rate": four(self.base_rate),
            "precision": four(self.precision), "recall": four(self.recall),
            "accept_rate": four(self.accept_rate), "accepted_correct": self.accepted_correct,
            "accepted_wrong": self.accepted_wrong, "rejected_correct": self.rejected_correct,
            "rejected_wrong": self.rejected_wrong,
        }
        if not nested:  # a stage's figures have no ungraded count or stages of their own
            out["ungraded"] = self.ungraded
            out["stages"] = {n: q.to_dict(nested=True) for n, q in self.stages.items()}
        return out

    @classmethod
    def from_dict(cls, data: Any) -> JudgeQuality:
        if isinstance(data, Mapping) and "accepted_right" in data:
            # evaluation summaries before the one schema: {judged, accepted_right, ...}
            data = {"accepted_correct": data.get("accepted_right", 0),
                    "accepted_wrong": data.get("accepted_wrong", 0),
                    "rejected_correct": data.get("rejected_right", 0),
                    "rejected_wrong": data.get("rejected_wrong", 0)}
        quality = super().from_dict(data)
        quality.stages = {n: q if isinstance(q, JudgeQuality) else cls.from_dict(q)
                          for n, q in (quality.stages or {}).items()}
        return quality


# ---------------------------------------------------------------------------- sample, verify


@dataclass
class SampleStats(Summary):
    """sample_stats.json: what sampling produced and paid."""

    FILE: ClassVar[str] = "sample_stats.json"

    questions: int = 0
    candidates: int = 0
    truncated: int = 0
    errors: int = 0
    paid_calls: int = 0
    cached_calls: int = 0
    completion_tokens_paid: int = 0
    engine_tokens_per_s: float = 0.0
    seed_rows: int = 0
    duplicate_seeds: int = 0
    skipped_seeds: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0


@dataclass
class StageStats(Summary):
    """Counts for one cascade stage. `calls` are the distinct model requests the stage needed
    (what a run without a call store would pay); `paid` those sent to the engine by this
    process. `rejected_file`: where verify wrote the candidates this stage rejected."""

    name: str
    entered: int = 0
    passed: int = 0
    rejected: int = 0  # a "no" settled it (or, for rules, any rule)
    undecided: int = 0  # an unparseable reply settled it
    truncated: int = 0  # a judge reply cut off at max_tokens settled it (not a vote)
    votes: int = 0  # votes cast, whatever they said
    truncated_votes: int = 0  # of those, replies cut off at max_tokens
    errors: int = 0  # a failed judge call settled it: a rerun retries
    calls: int = 0
    paid: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasons: Counter = field(default_factory=Counter)  # rules stage: rejections by reason
    rejected_file: str | None = None  # relative to the run folder

    OMIT_NONE: ClassVar[frozenset[str]] = frozenset({"rejected_file"})

    def __post_init__(self) -> None:
        self.reasons = Counter(self.reasons or {})

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "reasons": dict(self.reasons)}


@dataclass
class VerifyStats(Summary):
    """verify_stats.json: the cascade's decisions, per stage and overall, what they cost, and
    the judge's measured quality (None when no candidate could be graded)."""

    FILE: ClassVar[str] = "verify_stats.json"

    candidates: int = 0
    accepted: int = 0
    rejected: int = 0
    acceptance: float | None = None
    model_calls: int = 0
    calls_per_candidate: float | None = None
    calls_per_accepted: float | None = None
    tokens: int = 0
    paid_calls: int = 0
    cached_calls: int = 0
    failed_calls: int = 0
    judge_errors: int = 0
    judge_truncated: bool = False
    judge_truncated_votes: int = 0
    #: stages where most candidates were settled by no vote (cut off or unreadable replies)
    unsettled_stages: list[str] = field(default_factory=list)
    quality: JudgeQuality | None = None
    stages: list[StageStats] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    def budget_setting(self, stage: str) -> tuple[str, Any]:
        """(setting, value) of the token budget the stage's judge replies had."""
        return judge_budget_setting(self.settings, stage)

    @classmethod
    def from_dict(cls, data: Any) -> VerifyStats:
        stats = super().from_dict(data)
        if stats.quality is not None and not isinstance(stats.quality, JudgeQuality):
            stats.quality = JudgeQuality.from_dict(stats.quality)
        stats.stages = [s if isinstance(s, StageStats) else StageStats.from_dict(s)
                        for s in stats.stages or []]
        for n, s in enumerate(stats.stages, start=1):  # files before rejected_file was written
            s.rejected_file = s.rejected_file or f"rejected/{n}_{s.name}.jsonl"
        return stats


def judge_budget_setting(settings: dict[str, Any], stage: str) -> tuple[str, Any]:
    """The setting a cut-off judge reply of `stage` asks to raise, and its value: the solve
    stage has its own budget when `verify.solve_max_tokens` is set; the others share
    `verify.max_tokens`."""
    if stage == "solve" and settings.get("solve_max_tokens"):
        return "verify.solve_max_tokens", settings["solve_max_tokens"]
    return "verify.max_tokens", settings.get("max_tokens")


# ---------------------------------------------------------------------------- curate, train


@dataclass
class CurateSummary(Summary):
    """sft/stats.json: what curation selected, kept and dropped (by reason), with the token
    lengths of the kept examples and curate's settings. Written last: its presence means the
    training set is complete."""

    FILE: ClassVar[str] = "sft/stats.json"

    policy: str = ""
    questions: int = 0
    candidates: int = 0
    verdicts: int = 0
    accepted: int = 0
    questions_with_accepted: int = 0
    selected: int = 0
    kept: int = 0
    truncated_kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> count
    tokens: dict[str, float] = field(default_factory=dict)
    verify_stages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    curate: dict[str, Any] = field(default_factory=dict)  # the curate settings used

    def __post_init__(self) -> None:
        self.dropped = Counter(self.dropped or {})

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "dropped": dict(sorted(self.dropped.items())),
                "wall_s": round(self.wall_s, 3)}


@dataclass
class TrainSummary(Summary):
    """train/stats.json: what was trained, for how long, the loss and the memory it took."""

    FILE: ClassVar[str] = "train/stats.json"

    base_model: str = ""
    method: str = ""
    examples: int = 0
    dropped_too_long: list[str] = field(default_factory=list)
    response_tokens: int = 0
    prompt_tokens_masked: int = 0
    steps: int = 0
    epochs: float = 0.0
    effective_batch: int = 0
    trainable_params: int = 0
    first_loss: float | None = None
    last_loss: float | None = None
    train_loss: float | None = None
    train_s: float = 0.0
    s_per_step: float = 0.0
    wall_s: float = 0.0
    peak_rss_mib: float = 0.0
    peak_gpu_mib: float | None = None
    model_dir: str = ""
    adapter_dir: str | None = None
    train: dict[str, Any] = field(default_factory=dict)  # the train settings used


# ---------------------------------------------------------------------------- evaluate


@dataclass
class EvalSummary(Summary):
    """eval/<model>/<benchmark>/summary.json: one model (and method) on one benchmark."""

    FILE: ClassVar[str] = "summary.json"
    OMIT_NONE: ClassVar[frozenset[str]] = frozenset({
        "candidates", "fallbacks", "fallback_rate", "accepted_at", "sampling_calls",
        "judge_calls", "judge_engine", "verify", "stages", "judge_quality"})

    model: str = ""
    backend: str = ""
    engine: str = ""
    method: str = "single"
    benchmark: str = ""
    spec: str = ""
    source: str = ""
    questions: int = 0
    gold_rejected: int = 0
    overlapping_questions: int = 0
    sampling: dict[str, Any] = field(default_factory=dict)  # temperature, ..., seed
    bootstrap: dict[str, Any] = field(default_factory=dict)  # resamples, confidence, unit
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    samples_per_question: int = 0
    samples: int = 0
    correct: int = 0
    wrong: int = 0
    ungraded: int = 0
    truncated: int = 0
    errors: int = 0
    model_calls: int = 0
    graded_questions: int = 0
    pass_at_k: dict[str, dict[str, Any]] = field(default_factory=dict)
    pass_at_1: float | None = None
    ci: list[float] | None = None
    calls_per_question: float | None = None
    paid_calls: int = 0
    cached_calls: int = 0
    completion_tokens_paid: int = 0
    engine_tokens_per_s: float = 0.0
    wall_s: float = 0.0
    # UQ-TTC only
    candidates: int | None = None
    fallbacks: int | None = None
    fallback_rate: float | None = None
    accepted_at: dict[str, int] | None = None
    sampling_calls: int | None = None
    judge_calls: int | None = None
    judge_engine: str | None = None
    verify: dict[str, Any] | None = None
    stages: list[StageStats] | None = None
    judge_quality: JudgeQuality | None = None

    @classmethod
    def from_dict(cls, data: Any) -> EvalSummary:
        s = super().from_dict(data)
        if s.judge_quality is not None and not isinstance(s.judge_quality, JudgeQuality):
            s.judge_quality = JudgeQuality.from_dict(s.judge_quality)
        if s.stages is not None:
            s.stages = [x if isinstance(x, StageStats) else StageStats.from_dict(x)
                        for x in s.stages]
        return s

    @property
    def ci_low(self) -> float | None:
        return (self.ci or [None, None])[0]

    @property
    def ci_high(self) -> float | None:
        return (self.ci or [None, None])[1]

    def bootstrap_settings(self) -> dict[str, Any]:
        """resamples, confidence and seed of this evaluation's bootstrap, where recorded: a
        paired difference against it resamples the same way."""
        boot, sampling = self.bootstrap or {}, self.sampling or {}
        out = {"resamples": boot.get("resamples"),
               "confidence": boot.get("confidence"), "seed": sampling.get("seed")}
        return {k: v for k, v in out.items() if v is not None}
