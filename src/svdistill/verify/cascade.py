"""The cascade: stages in order, v votes each, early exit, batched across candidates.

Every candidate is a small state machine (`_Track`). Each round the cascade collects the request
every open vote is waiting for, across all candidates in the window, sends them to the CallRunner
as one batch (the call store answers the ones already paid for), and feeds the replies back.

Two modes, one decision:
- eager opens all v votes of a stage at once (one big batch per stage, good for batch engines);
- lazy opens vote i+1 only while the stage is still undecided after votes 0..i, so under
  unanimity the first "no" ends the stage and the remaining votes are never paid for.
Both decide from the same rule applied to votes in index order (`decide`), and vote i is the same
request in both, so their decisions are identical; eager merely pays for votes it did not need.
(Identical, that is, as far as the engine answers a request the same whatever batch it lands in;
benchmarks/cascade_calls.py counts the replies where a batched engine did not.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from ..backends.base import Completion, Request
from ..config import VerifyConfig
from ..generation import CallRunner
from ..progress import PhaseProgress
from ..records import Candidate, Question, StageResult, Verdict, Vote
from ..summaries import StageStats
from .parse import ERROR, TRUNCATED, UNDECIDED, YES
from .stages import Item, RulesStage, Stage, VoteSteps, build_stages, judge_budget


def decide(verdicts: Sequence[str | None], votes: int, need: int) -> tuple[bool, int] | None:
    """(passed, index of the vote that settled it) from the votes so far, read in index order,
    or None while unsettled. A stage passes when `need` votes say yes (need = votes under
    unanimity, a strict majority otherwise); it fails once that can no longer happen."""
    yes = 0
    for k, verdict in enumerate(verdicts):
        if verdict is None:
            return None
        if verdict == YES:
            yes += 1
            if yes >= need:
                return True, k
        elif yes + votes - k - 1 < need:
            return False, k
    return None


class _Vote:
    __slots__ = ("index", "steps", "request", "key", "keys", "fresh")

    def __init__(self, index: int, steps: VoteSteps):
        self.index = index
        self.steps = steps
        self.request: Request | None = None
        self.key = ""
        self.keys: list[str] = []
        self.fresh = False  # first time this candidate's stage asks this request


class _Track:
    __slots__ = (
        "pos",
        "item",
        "stage",
        "verdicts",
        "votes",
        "open",
        "opened",
        "seen",
        "results",
        "verdict",
    )

    def __init__(self, pos: int, item: Item):
        self.pos = pos
        self.item = item
        self.stage = 0
        self.verdicts: list[str | None] | None = None  # None: the stage is not entered yet
        self.votes: list[Vote | None] = []
        self.open: list[_Vote] = []
        self.opened = 0
        self.seen: set[str] = set()
        self.results: list[StageResult] = []
        self.verdict: Verdict | None = None


class Cascade:
    """Judge (question, candidate) pairs with the configured stages; reusable in memory.

    `judge` returns one Verdict per item, in order. Stats accumulate in `self.stats` (one
    StageStats per stage, in order) across calls. `window` bounds how many candidates are in
    flight at once (memory and batch size); decisions do not depend on it.
    """

    def __init__(
        self,
        cfg: VerifyConfig,
        runner: CallRunner,
        window: int = 2048,
        max_tokens: int | None = None,
    ):
        self.cfg = cfg
        self.runner = runner
        self.stages = build_stages(cfg, max_tokens)
        self.max_tokens = judge_budget(cfg, max_tokens)
        self.stats = [StageStats(s.name) for s in self.stages]
        self.votes = cfg.votes
        self.need = cfg.votes if cfg.decision == "unanimous" else cfg.votes // 2 + 1
        self.eager = cfg.mode == "eager"
        self.window = max(1, window)

    # -- driving ------------------------------------------------------------------------------

    def judge(
        self, items: Iterable[tuple[Question, Candidate]], progress: PhaseProgress | None = None
    ) -> list[Verdict]:
        """One Verdict per item, in order."""
        return [verdict for _, verdict in self.judge_iter(items, progress)]

    def judge_iter(
        self, items: Iterable[tuple[Question, Candidate]], progress: PhaseProgress | None = None
    ) -> Iterator[tuple[Item, Verdict]]:
        """(item, verdict) per item, in input order, as soon as each is settled: with `items`
        a stream, only the window and the verdicts waiting for an earlier one are in memory."""
        yield from self._judge(items, progress)

    def _judge(
        self, items: Iterable[tuple[Question, Candidate]], progress: PhaseProgress | None
    ) -> Iterator[tuple[Item, Verdict]]:
        queue = iter(enumerate(items))
        settled: dict[int, _Track] = {}  # finished, waiting for an earlier candidate
        next_pos = 0
        active: list[_Track] = []
        exhausted = False
        while True:
            while not exhausted and len(active) < self.window:
                nxt = next(queue, None)
                if nxt is None:
                    exhausted = True
                    break
                track = _Track(nxt[0], Item(*nxt[1]))
                self._pump(track)
                active.append(track)
            finished = [t for t in active if t.verdict is not None]
            if finished:
                active = [t for t in active if t.verdict is None]
                settled.update((t.pos, t) for t in finished)
                if progress is not None:
                    progress.advance(len(finished))
                while next_pos in settled:
                    track = settled.pop(next_pos)
                    yield track.item, track.verdict  # type: ignore[misc]
                    next_pos += 1
            if not active:
                if exhausted:
                    break
                continue
            self._round(active, progress)

    def _round(self, active: list[_Track], progress: PhaseProgress | None) -> None:
        """One batch: every request an open vote waits for, paid or read back, then fed back."""
        waiting = [(t, v) for t in active for v in t.open]
        store = self.runner.store
        new: set[str] = set()
        for track, vote in waiting:
            if vote.key not in store and vote.key not in new:
                new.add(vote.key)
                self.stats[track.stage].paid += 1
        tokens_before = self.runner.stats.completion_tokens
        # the keys were computed as each request was made: a prompt is hashed once per round
        replies = self.runner.run(
            [v.request for _, v in waiting],  # type: ignore[misc]
            keys=[v.key for _, v in waiting],
        )
        if progress is not None:
            progress.advance(0, self.runner.stats.completion_tokens - tokens_before)
        touched: dict[int, _Track] = {}
        for (track, vote), reply in zip(waiting, replies, strict=True):
            if vote.fresh:
                stats = self.stats[track.stage]
                stats.calls += 1
                stats.prompt_tokens += reply.prompt_tokens
                stats.completion_tokens += reply.completion_tokens
            if self._step(track, vote, reply):
                track.open.remove(vote)
            touched[id(track)] = track
        for track in touched.values():
            self._pump(track)

    def _step(self, track: _Track, vote: _Vote, reply: Completion | None) -> bool:
        """Send `reply` into the vote; True when the vote has finished (its verdict recorded)."""
        try:
            request = vote.steps.send(reply)  # type: ignore[arg-type]
        except StopIteration as stop:
            verdict = stop.value
            track.verdicts[vote.index] = verdict  # type: ignore[index]
            stats = self.stats[track.stage]
            stats.votes += 1
            stats.truncated_votes += verdict == TRUNCATED
            keys = vote.keys
            track.votes[vote.index] = Vote(verdict, keys[-1] if keys else "", keys[:-1])
            return True
        vote.request = request
        vote.key = key = self.runner.key(request)
        vote.keys.append(key)
        vote.fresh = key not in track.seen
        track.seen.add(key)
        return False

    def _open(self, track: _Track) -> None:
        stage: Stage = self.stages[track.stage]  # type: ignore[assignment]
        vote = _Vote(track.opened, stage.vote(track.item, track.opened))
        track.opened += 1
        if not self._step(track, vote, None):
            track.open.append(vote)

    def _pump(self, track: _Track) -> None:
        """Move a candidate forward until it waits for a model reply or has its verdict."""
        while track.verdict is None:
            if track.stage == len(self.stages):
                self._finish(track, None, "")
                return
            stage = self.stages[track.stage]
            stats = self.stats[track.stage]
            if track.verdicts is None:  # entering the stage
                stats.entered += 1
                if isinstance(stage, RulesStage):
                    reason = stage.check(track.item)
                    track.results.append(
                        StageResult(
                            stage.name, reason is None, [], reason or "", "rule" if reason else YES
                        )
                    )
                    if reason:
                        stats.rejected += 1
                        stats.reasons[reason] += 1
                        self._finish(track, stage.name, reason)
                        return
                    stats.passed += 1
                    track.stage += 1
                    continue
                track.verdicts = [None] * self.votes
                track.votes = [None] * self.votes
                track.opened = 0
                track.seen = set()
                for _ in range(self.votes if self.eager else 1):
                    self._open(track)
            if self.eager and (track.open or None in track.verdicts):
                return  # eager decides once every vote is in
            settled = decide(track.verdicts, self.votes, self.need)
            if settled is None:
                if not track.open and track.opened < self.votes:
                    self._open(track)
                    continue
                return
            self._close_stage(track, stage.name, stats, *settled)

    def _close_stage(
        self, track: _Track, name: str, stats: StageStats, passed: bool, at: int
    ) -> None:
        votes = [v for v in track.votes if v is not None]
        verdicts = track.verdicts or []
        if passed:
            stats.passed += 1
            track.results.append(StageResult(name, True, votes, "", YES))
            track.stage += 1
            track.verdicts = None
            return
        outcome = verdicts[at] or ERROR
        if outcome == ERROR:
            stats.errors += 1
        elif outcome == YES or outcome == "no":
            stats.rejected += 1  # under majority a "yes" can be the last vote of a lost stage
        elif outcome == TRUNCATED:
            stats.truncated += 1
        else:
            stats.undecided += 1
        if self.need == self.votes:
            reason = {
                "no": f"vote {at} said no",
                ERROR: f"vote {at}: judge call failed",
                TRUNCATED: f"vote {at}: judge reply cut off at verify.max_tokens",
            }.get(outcome, f"vote {at} {UNDECIDED}")
        else:
            yes = sum(v == YES for v in verdicts[: at + 1])
            reason = f"no majority: {yes} yes of the first {at + 1} votes, {self.need} needed"
        track.results.append(StageResult(name, False, votes, reason, outcome))
        self._finish(track, name, reason)

    def _finish(self, track: _Track, rejected_by: str | None, reason: str) -> None:
        c = track.item.candidate
        track.verdict = Verdict(
            c.question_id,
            c.sample_index,
            rejected_by is None,
            rejected_by,
            f"{rejected_by}: {reason}" if rejected_by else "",
            track.results,
        )
