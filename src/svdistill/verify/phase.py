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
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from ..backends.base import Backend
from ..config import Config
from ..generation import CallRunner, CallStats
from ..progress import PhaseProgress
from ..records import Candidate, Question, Verdict, from_dict, to_dict
from ..runfolder import RunFolder
from ..store import RunError, atomic_writer, dumps, read_jsonl
from ..summaries import JudgeQuality, StageStats, VerifyStats, judge_budget_setting
from .cascade import Cascade
from .quality import QualityTally, grade_candidates
from .stages import Item


@dataclass
class VerifySummary:
    candidates: int = 0
    accepted: int = 0
    stages: list[StageStats] = field(default_factory=list)
    calls: CallStats = field(default_factory=CallStats)
    quality: JudgeQuality | None = None
    settings: dict = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def truncated_votes(self) -> int:
        """Judge replies cut off at the token budget, over all stages: none of them was a vote."""
        return sum(s.truncated_votes for s in self.stages)

    @property
    def unsettled_stages(self) -> list[str]:
        """Stages where most candidates were settled by no vote at all: a judge reply cut off
        at the token budget or one with no readable verdict. Such a stage measures the
        judge's format, not the candidates."""
        return [s.name for s in self.stages
                if s.entered and (s.truncated + s.undecided) * 2 > s.entered]

    def judge_warnings(self) -> list[str]:
        """What to tell the user about judge replies that were no votes (empty if none)."""
        warnings = []
        for stage in (s for s in self.stages if s.truncated_votes):
            setting, budget = judge_budget_setting(self.settings, stage.name)
            warnings.append(
                f"WARNING: stage {stage.name}: {stage.truncated_votes} of {stage.votes} judge "
                f"replies were cut off at {setting}={budget} and counted as truncated, not as "
                f"votes; candidates they settled were rejected. Raise {setting} (a thinking "
                "judge needs what sampling had) and rerun verify: paid calls are kept.")
        for stage in (s for s in self.stages if s.name in self.unsettled_stages):
            setting, budget = judge_budget_setting(self.settings, stage.name)
            warnings.append(
                f"WARNING: stage {stage.name}: {stage.truncated + stage.undecided} of "
                f"{stage.entered} candidates were settled by no vote ({stage.truncated} cut off "
                f"at {setting}={budget}, {stage.undecided} with no readable verdict): its "
                f"rejections say little about the candidates. Raise {setting} if replies "
                "were cut off; otherwise check the judge's replies against verify.prompts.")
        return warnings

    @property
    def errors(self) -> int:
        """Candidates rejected because a judge call failed: a rerun retries just those calls."""
        return sum(s.errors for s in self.stages)

    def stats(self) -> VerifyStats:
        """The record written to verify_stats.json."""
        calls = sum(s.calls for s in self.stages)
        return VerifyStats(
            candidates=self.candidates,
            accepted=self.accepted,
            rejected=self.candidates - self.accepted,
            acceptance=round(self.accepted / self.candidates, 4) if self.candidates else None,
            model_calls=calls,
            calls_per_candidate=round(calls / self.candidates, 3) if self.candidates else None,
            calls_per_accepted=round(calls / self.accepted, 3) if self.accepted else None,
            tokens=sum(s.prompt_tokens + s.completion_tokens for s in self.stages),
            paid_calls=self.calls.paid,
            cached_calls=self.calls.cached,
            failed_calls=self.calls.errors,
            judge_errors=self.errors,
            judge_truncated=self.truncated_votes > 0,
            judge_truncated_votes=self.truncated_votes,
            unsettled_stages=self.unsettled_stages,
            quality=self.quality,
            stages=self.stages,
            settings=self.settings,
            wall_s=round(self.wall_s, 2),
        )


def iter_items(run: RunFolder) -> Iterator[tuple[Question, Candidate]]:
    """The (question, candidate) pairs of a sampled run, in candidate order, streamed.

    `sample` writes each question's candidates together, in question order, so the two files
    are read side by side and nothing is held but the question being judged: a run of any size
    is judged in bounded memory. A candidates file in another order (hand-made, filtered) still
    works: once the side-by-side reading misses, every question is indexed in memory.
    """
    questions_path, candidates_path = run.file("questions.jsonl"), run.file("candidates.jsonl")
    for path in (questions_path, candidates_path):
        if not path.exists():
            raise RunError(f"{path} not found: run `svdistill sample` into {run.path} first")

    def read_questions() -> Iterator[Question]:
        return (from_dict(Question, r) for r in read_jsonl(questions_path))

    ahead, index = read_questions(), None
    skipped: dict[str, Question] = {}  # read past while looking for a later candidate's question
    current: Question | None = None
    for row in read_jsonl(candidates_path):
        candidate = from_dict(Candidate, row)
        wanted = candidate.question_id
        if current is None or current.id != wanted:
            if index is not None:
                current = index.get(wanted)
            else:
                current = skipped.pop(wanted, None)
                while current is None:
                    nxt = next(ahead, None)
                    if nxt is None:
                        index = {q.id: q for q in read_questions()}
                        current = index.get(wanted)
                        break
                    if nxt.id == wanted:
                        current = nxt
                    else:
                        skipped[nxt.id] = nxt
            if current is None:
                raise RunError(
                    f"{candidates_path}: candidate of unknown question {wanted!r} "
                    "(not in questions.jsonl)"
                )
        yield current, candidate


def load_items(run: RunFolder) -> list[tuple[Question, Candidate]]:
    """All of `iter_items` as a list, for callers that judge a few candidates in memory."""
    return list(iter_items(run))


def _count_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


#: Candidates graded per call of the grader's worker pool while verdicts stream out.
GRADE_CHUNK = 2048


class _Outputs:
    """The phase's files, written as verdicts stream in; each appears whole, or not at all,
    when the phase ends: verdicts.jsonl, verify_grades.jsonl and one rejected/<n>_<stage>.jsonl
    per stage (empty ones too, so the files always add up). Files an earlier run with other
    stages left in rejected/ are removed."""

    def __init__(self, run: RunFolder, stage_names: list[str], files: ExitStack):
        self.folder = run.file("rejected")
        self.names = [f"{n}_{stage}.jsonl" for n, stage in enumerate(stage_names, start=1)]
        self.verdicts = files.enter_context(atomic_writer(run.file("verdicts.jsonl")))
        self.grades = files.enter_context(atomic_writer(run.file("verify_grades.jsonl")))
        self.rejected = {
            stage: files.enter_context(atomic_writer(self.folder / name))
            for stage, name in zip(stage_names, self.names, strict=True)
        }
        self.quality = QualityTally(stage_names)
        self.candidates = self.accepted = 0
        self._ungraded: list[tuple[Item, Verdict]] = []

    def add(self, item: Item, verdict: Verdict) -> None:
        self.candidates += 1
        self.accepted += verdict.accepted
        self.verdicts.write(dumps(to_dict(verdict)) + "\n")
        if verdict.rejected_by is not None:
            row = to_dict(item.candidate)
            row["rejected_by"], row["reason"] = verdict.rejected_by, verdict.reason
            self.rejected[verdict.rejected_by].write(dumps(row) + "\n")
        self._ungraded.append((item, verdict))
        if len(self._ungraded) >= GRADE_CHUNK:
            self.grade()

    def grade(self) -> None:
        """Grade the candidates added since the last call, in one batch of the grader."""
        chunk, self._ungraded = self._ungraded, []
        grades = grade_candidates([(item.question, item.candidate) for item, _ in chunk])
        for (item, verdict), grade in zip(chunk, grades, strict=True):
            c = item.candidate
            row = {"question_id": c.question_id, "sample_index": c.sample_index, **to_dict(grade)}
            self.grades.write(dumps(row) + "\n")
            self.quality.add(verdict, grade)

    def remove_stale(self) -> None:
        for stale in self.folder.glob("*.jsonl"):
            if stale.name not in self.names:
                stale.unlink()


def run_verify(
    config: Config, run: RunFolder, backend: Backend, progress: bool = True
) -> VerifySummary:
    """Judge every candidate of `run` with `backend` as the judge; see the module docstring.
    Candidates stream from disk and verdicts to disk: memory does not grow with the run."""
    started = time.perf_counter()
    items = iter_items(run)
    total = _count_rows(run.file("candidates.jsonl"))
    runner = CallRunner(backend, run.calls)
    cascade = Cascade(config.verify, runner, max_tokens=config.judge_max_tokens)
    names = [s.name for s in cascade.stages]
    with ExitStack() as files, PhaseProgress("verifying", total, enabled=progress) as bar:
        out = _Outputs(run, names, files)
        for item, verdict in cascade.judge_iter(items, progress=bar):
            out.add(item, verdict)
        out.grade()
    out.remove_stale()
    for stage, name in zip(cascade.stats, out.names, strict=True):
        stage.rejected_file = f"rejected/{name}"  # the report finds each stage's file here
    v = config.verify
    summary = VerifySummary(
        candidates=out.candidates,
        accepted=out.accepted,
        stages=cascade.stats,
        calls=runner.stats,
        quality=out.quality.result(),
        settings={
            "judge": backend.identity,
            "stages": names,
            "votes": v.votes,
            "decision": v.decision,
            "mode": v.mode,
            "cycle_variant": v.cycle_variant,
            "seed": v.seed,
            "max_tokens": cascade.max_tokens,
            "solve_max_tokens": v.solve_max_tokens,
        },
        wall_s=time.perf_counter() - started,
    )
    summary.stats().write(run.file(VerifyStats.FILE))
    if warnings := summary.judge_warnings():
        from rich.console import Console

        for warning in warnings:
            Console(stderr=True).print(f"[bold red]{warning}[/]", highlight=False)
    return summary
