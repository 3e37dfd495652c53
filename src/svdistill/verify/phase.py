"""Phase 2: accept or reject every sampled candidate with the self-verification cascade.

Reads `questions.jsonl` and `candidates.jsonl`; writes, each whole or not at all:
- `verdicts.jsonl`: one row per candidate, in candidate order: the decision, the stage that
  rejected it and why, and every vote (parsed verdict + call-store key of the raw reply);
- `rejected/<n>_<stage>.jsonl`: the rejected candidates, one file per stage (n = position);
- `verify_grades.jsonl`: the grader's view of each candidate, for analysis only (the method never
  reads it; curate reads verdicts.jsonl);
- `verify_stats.json`: per-stage counts, calls and tokens, and the judge's measured quality.

Every judge call goes through the call store, so a run killed at any point and started again
pays no vote twice and reaches the same verdicts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..backends.base import Backend
from ..config import Config
from ..generation import CallStats, Generator
from ..progress import PhaseProgress
from ..records import Candidate, Question, Verdict, from_dict, to_dict
from ..runfolder import RunFolder
from ..store import RunError, read_jsonl, write_json, write_jsonl
from .cascade import Cascade, StageStats
from .quality import grade_candidates, judge_quality


@dataclass
class VerifySummary:
    candidates: int = 0
    accepted: int = 0
    stages: list[StageStats] = field(default_factory=list)
    calls: CallStats = field(default_factory=CallStats)
    quality: dict | None = None
    settings: dict = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def errors(self) -> int:
        """Candidates rejected because a judge call failed: a rerun retries just those calls."""
        return sum(s.errors for s in self.stages)

    def as_dict(self) -> dict:
        calls = sum(s.calls for s in self.stages)
        return {
            "candidates": self.candidates,
            "accepted": self.accepted,
            "rejected": self.candidates - self.accepted,
            "acceptance": round(self.accepted / self.candidates, 4) if self.candidates else None,
            "model_calls": calls,
            "calls_per_candidate": round(calls / self.candidates, 3) if self.candidates else None,
            "calls_per_accepted": round(calls / self.accepted, 3) if self.accepted else None,
            "tokens": sum(s.prompt_tokens + s.completion_tokens for s in self.stages),
            "paid_calls": self.calls.paid,
            "cached_calls": self.calls.cached,
            "failed_calls": self.calls.errors,
            "judge_errors": self.errors,
            "quality": self.quality,
            "stages": [s.as_dict() for s in self.stages],
            "settings": self.settings,
            "wall_s": round(self.wall_s, 2),
        }


def load_items(run: RunFolder) -> list[tuple[Question, Candidate]]:
    """The (question, candidate) pairs of a sampled run, in candidate order."""
    questions_path, candidates_path = run.file("questions.jsonl"), run.file("candidates.jsonl")
    for path in (questions_path, candidates_path):
        if not path.exists():
            raise RunError(f"{path} not found: run `svdistill sample` into {run.path} first")
    questions = {q.id: q for q in (from_dict(Question, r) for r in read_jsonl(questions_path))}
    items = []
    for row in read_jsonl(candidates_path):
        candidate = from_dict(Candidate, row)
        question = questions.get(candidate.question_id)
        if question is None:
            raise RunError(
                f"{candidates_path}: candidate of unknown question "
                f"{candidate.question_id!r} (not in questions.jsonl)"
            )
        items.append((question, candidate))
    return items


def write_outputs(
    run: RunFolder,
    items: list[tuple[Question, Candidate]],
    verdicts: list[Verdict],
    stage_names: list[str],
) -> None:
    """verdicts.jsonl, then one rejected/<n>_<stage>.jsonl per stage (empty ones too, so the
    files always add up), removing files left by an earlier run with other stages."""
    write_jsonl(run.file("verdicts.jsonl"), (to_dict(v) for v in verdicts))
    rejected: dict[str, list[dict]] = {name: [] for name in stage_names}
    for (_, candidate), verdict in zip(items, verdicts, strict=True):
        if verdict.rejected_by is not None:
            row = to_dict(candidate)
            row["rejected_by"], row["reason"] = verdict.rejected_by, verdict.reason
            rejected[verdict.rejected_by].append(row)
    folder = run.file("rejected")
    names = {f"{n}_{stage}.jsonl" for n, stage in enumerate(stage_names, start=1)}
    for n, stage in enumerate(stage_names, start=1):
        write_jsonl(folder / f"{n}_{stage}.jsonl", rejected[stage])
    for stale in folder.glob("*.jsonl"):
        if stale.name not in names:
            stale.unlink()


def run_verify(
    config: Config, run: RunFolder, backend: Backend, progress: bool = True
) -> VerifySummary:
    """Judge every candidate of `run` with `backend` as the judge; see the module docstring."""
    started = time.perf_counter()
    items = load_items(run)
    generator = Generator(backend, run.calls)
    cascade = Cascade(config.verify, generator)
    with PhaseProgress("verifying", len(items), enabled=progress) as bar:
        verdicts = cascade.judge(items, progress=bar)
    names = [s.name for s in cascade.stages]
    write_outputs(run, items, verdicts, names)
    grades = grade_candidates(items)
    write_jsonl(
        run.file("verify_grades.jsonl"),
        (
            {"question_id": c.question_id, "sample_index": c.sample_index, **to_dict(g)}
            for (_, c), g in zip(items, grades, strict=True)
        ),
    )
    v = config.verify
    summary = VerifySummary(
        candidates=len(items),
        accepted=sum(x.accepted for x in verdicts),
        stages=cascade.stats,
        calls=generator.stats,
        quality=judge_quality(verdicts, grades, names),
        settings={
            "judge": backend.identity,
            "stages": names,
            "votes": v.votes,
            "decision": v.decision,
            "mode": v.mode,
            "cycle_variant": v.cycle_variant,
            "seed": v.seed,
        },
        wall_s=time.perf_counter() - started,
    )
    write_json(run.file("verify_stats.json"), summary.as_dict())
    return summary
