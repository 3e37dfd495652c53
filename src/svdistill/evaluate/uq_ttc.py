"""The UQ-TTC baseline: N candidates per question, the cascade in sampling order, first accepted.

The paper's rule: sample N candidates, judge them in order, answer with the first one the
cascade accepts, else with candidate 0. Judging candidate 1 of a question is wasted once
candidate 0 is accepted, so this runs in rounds: round i samples and judges candidate i of only
the questions still open. The chosen candidate is exactly the one the judge-everything order
picks (candidate i is the same request with the same seed either way, and the cascade judges
each candidate on its own), at a fraction of the calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..backends.base import Request
from ..generation import CallRunner
from ..progress import PhaseProgress
from ..records import Candidate, Question, Verdict
from ..sample import to_candidate


@dataclass
class TTCOutcome:
    """Per question: the chosen candidate, whether it was accepted (else the fallback), and every
    candidate sampled and verdict given on the way."""

    chosen: list[Candidate] = field(default_factory=list)
    accepted: list[bool] = field(default_factory=list)
    tried: list[list[tuple[Candidate, Verdict]]] = field(default_factory=list)
    sampling_calls: int = 0  # sampling requests made (stored or paid)

    @property
    def fallbacks(self) -> int:
        return sum(not a for a in self.accepted)


def first_accepted(
    questions: Sequence[Question],
    request_for: Callable[[int, int], Request],
    n: int,
    runner: CallRunner,
    judge: Callable[[list[tuple[Question, Candidate]]], list[Verdict]],
    progress: PhaseProgress | None = None,
) -> TTCOutcome:
    """Run UQ-TTC over `questions`. `request_for(q, i)` is the sampling request of candidate i
    of question q; `judge` is `Cascade.judge` (or a stand-in with the same contract)."""
    tried: list[list[tuple[Candidate, Verdict]]] = [[] for _ in questions]
    chosen_index: dict[int, int] = {}
    outcome = TTCOutcome()
    open_questions = list(range(len(questions)))
    for i in range(n):
        if not open_questions:
            break
        requests = [request_for(q, i) for q in open_questions]
        completions = runner.run(requests)
        outcome.sampling_calls += len(requests)
        candidates = [
            to_candidate(questions[q], i, completion, runner.key(request))
            for q, request, completion in zip(open_questions, requests, completions, strict=True)
        ]
        pairs = [(questions[q], c) for q, c in zip(open_questions, candidates, strict=True)]
        verdicts = judge(pairs)
        still_open = []
        for q, candidate, verdict in zip(open_questions, candidates, verdicts, strict=True):
            tried[q].append((candidate, verdict))
            if verdict.accepted:
                chosen_index[q] = i
            else:
                still_open.append(q)
        if progress is not None:
            progress.advance(len(open_questions) - len(still_open))
        open_questions = still_open
    if progress is not None:
        progress.advance(len(open_questions))
    for q in range(len(questions)):
        index = chosen_index.get(q)
        outcome.accepted.append(index is not None)
        outcome.chosen.append(tried[q][index or 0][0])  # candidate 0 when none was accepted
    outcome.tried = tried
    return outcome
