"""The cascade: decision rules, early exit, call counts, and eager == lazy.

The scripted judge reads a plan from the candidate: a final answer containing
`plan cycle=YNY.. factual=YYY.. correctness=...` makes vote i of that stage say the i-th letter
(Y yes, N no, U an unparseable reply). Stages the plan does not name say yes. The cycle stage's
inferred question carries the plan along, since the comparison prompt never shows the answer.
Other test modules import these helpers.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from svdistill.backends.base import Request
from svdistill.backends.scripted import ScriptedBackend
from svdistill.config import VerifyConfig
from svdistill.generation import CallRunner
from svdistill.records import Candidate, Question
from svdistill.store import CallStore, RunError
from svdistill.verify import Cascade, decide
from svdistill.verify.parse import NO, UNDECIDED, YES

BASE_SEED = 1000
_PLAN = re.compile(r"(\w+)=([YNU]+)")
_REPLY = {"Y": "Checked it. [[Y]]", "N": "There is a problem. [[N]]", "U": "Hard to say."}


def stage_of(prompt: str) -> str:
    if "reconstruct that question" in prompt:
        return "infer"
    if "decide whether they ask for the same thing" in prompt:
        return "cycle"
    if "strict reviewer" in prompt:
        return "factual"
    if "grading an answer" in prompt:
        return "correctness"
    return "single"


def planned_reply(request: Request) -> str:
    prompt = request.messages[-1][1]
    stage = stage_of(prompt)
    plan = dict(_PLAN.findall(prompt))
    if stage == "infer":
        return "Inferred question: " + " ".join(f"{k}={v}" for k, v in plan.items())
    letters = plan.get(stage, "")
    index = request.params.seed - BASE_SEED
    return _REPLY[letters[index] if index < len(letters) else "Y"]


def plan_judge(name: str = "plan-judge") -> ScriptedBackend:
    return ScriptedBackend(default=planned_reply, name=name)


def make_items(
    plans: list[str], question: str = "What is 2 + 2?"
) -> list[tuple[Question, Candidate]]:
    """One question, one candidate per plan (distinct texts, so no two share a judge call)."""
    q = Question(id="q1", text=question, domain="math", reference="4")
    items = []
    for i, plan in enumerate(plans):
        text = f"2 + 2 = 4, candidate {i}. The answer is \\boxed{{4}}. plan {plan}"
        items.append((q, Candidate("q1", i, text, text, None, "stop", 10, 10, 0.0, f"k{i}")))
    return items


def make_cascade(
    tmp_path: Path, backend: ScriptedBackend | None = None, store: str = "calls", **overrides
) -> Cascade:
    cfg = VerifyConfig(seed=BASE_SEED, **overrides)
    generator = CallRunner(backend or plan_judge(), CallStore(tmp_path / f"{store}.jsonl"))
    return Cascade(cfg, generator)


def test_decide_matches_full_count_for_every_vote_sequence() -> None:
    """The prefix rule lazy mode stops on gives the decision of counting all v votes."""
    for v in range(1, 6):
        for need in {v, v // 2 + 1}:
            for seq in itertools.product([YES, NO, UNDECIDED], repeat=v):
                passed, at = decide(list(seq), v, need)
                assert passed == (sum(s == YES for s in seq) >= need)
                # and it is settled by the same prefix, so it never needs the later votes
                assert decide(list(seq[: at + 1]) + [None] * (v - at - 1), v, need) == (passed, at)


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_unanimity_rejects_on_any_non_yes(tmp_path: Path, mode: str) -> None:
    items = make_items(["", "factual=YYYYN", "correctness=YUYYY", "cycle=NYYYY"])
    verdicts = make_cascade(tmp_path, mode=mode).judge(items)
    assert [v.accepted for v in verdicts] == [True, False, False, False]
    assert [v.rejected_by for v in verdicts] == [None, "factual", "correctness", "cycle"]
    assert verdicts[1].stages[-1].reason == "vote 4 said no"
    assert verdicts[2].stages[-1].outcome == UNDECIDED
    assert verdicts[3].stages[-1].outcome == NO


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_majority(tmp_path: Path, mode: str) -> None:
    items = make_items(["factual=YYNNY", "factual=NNYYY", "factual=NNNYY", "factual=UUYYN"])
    verdicts = make_cascade(tmp_path, mode=mode, decision="majority").judge(items)
    assert [v.accepted for v in verdicts] == [True, True, False, False]


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_early_exit_skips_later_stages(tmp_path: Path, mode: str) -> None:
    cascade = make_cascade(tmp_path, mode=mode)
    verdicts = cascade.judge(make_items(["cycle=NNNNN", "factual=NNNNN"]))
    assert [s.stage for s in verdicts[0].stages] == ["rules", "cycle"]
    assert [s.stage for s in verdicts[1].stages] == ["rules", "cycle", "factual"]
    entered = {s.name: s.entered for s in cascade.stats}
    assert entered == {"rules": 2, "cycle": 2, "factual": 1, "correctness": 0}


@pytest.mark.parametrize(
    "variant, mode, calls",
    [("2v", "eager", 10), ("1+v", "eager", 6), ("2v", "lazy", 10), ("1+v", "lazy", 6)],
)
def test_cycle_call_counts(tmp_path: Path, variant: str, mode: str, calls: int) -> None:
    backend = plan_judge()
    cascade = make_cascade(tmp_path, backend, stages=["cycle"], cycle_variant=variant, mode=mode)
    [verdict] = cascade.judge(make_items([""]))
    assert verdict.accepted
    assert backend.calls == calls == cascade.stats[0].calls == cascade.stats[0].paid
    votes = verdict.stages[0].votes
    assert len(votes) == 5 and all(len(v.prior_calls) == 1 for v in votes)
    inferred = {v.prior_calls[0] for v in votes}
    assert len(inferred) == (1 if variant == "1+v" else 5)


def test_cycle_lazy_stops_after_first_no(tmp_path: Path) -> None:
    backend = plan_judge()
    cascade = make_cascade(tmp_path, backend, stages=["cycle"], mode="lazy")
    [verdict] = cascade.judge(make_items(["cycle=YNYYY"]))
    assert not verdict.accepted and backend.calls == 4  # votes 0 and 1, two calls each


def test_eager_and_lazy_same_decisions_fewer_lazy_calls(tmp_path: Path) -> None:
    plans = [
        "".join(p)
        for p in itertools.product(
            ["", "cycle=YYNYY", "cycle=NYYYY"],
            ["", "factual=YYYYU", "factual=NYYYY"],
            ["", "correctness=YYYNY"],
        )
    ]
    items = make_items(plans)
    for decision in ("unanimous", "majority"):
        for variant in ("2v", "1+v"):
            eager_backend, lazy_backend = plan_judge(), plan_judge()
            kw = {"decision": decision, "cycle_variant": variant}
            eager = make_cascade(
                tmp_path, eager_backend, f"e-{decision}-{variant}", mode="eager", **kw
            )
            lazy = make_cascade(
                tmp_path, lazy_backend, f"l-{decision}-{variant}", mode="lazy", **kw
            )
            ev, lv = eager.judge(items), lazy.judge(items)
            assert [(v.accepted, v.rejected_by, v.reason) for v in ev] == [
                (v.accepted, v.rejected_by, v.reason) for v in lv
            ]
            assert lazy_backend.calls < eager_backend.calls
            # vote i is the same call in both modes: lazy's votes are a prefix of eager's
            for e, lz in zip(ev, lv, strict=True):
                for se, sl in zip(e.stages, lz.stages, strict=True):
                    assert se.votes[: len(sl.votes)] == sl.votes


def test_lazy_and_eager_share_calls_in_one_store(tmp_path: Path) -> None:
    items = make_items(["", "factual=YNYYY", "cycle=YYYYN"])
    backend = plan_judge()
    lazy = make_cascade(tmp_path, backend, "shared", mode="lazy")
    lazy.judge(items)
    paid_by_lazy = backend.calls
    eager = make_cascade(tmp_path, backend, "shared", mode="eager")
    eager.judge(items)
    # eager pays only the votes lazy never needed; every lazy call is reused
    assert eager.runner.stats.cached == paid_by_lazy
    assert backend.calls - paid_by_lazy == eager.runner.stats.paid


def test_window_does_not_change_decisions(tmp_path: Path) -> None:
    items = make_items(["", "factual=YNYYY", "cycle=YYYYN", "correctness=U"] * 3)
    full = make_cascade(tmp_path, store="a").judge(items)
    cascade = make_cascade(tmp_path, store="b")
    cascade.window = 2
    assert cascade.judge(items) == full


def test_single_stage_and_stage_order(tmp_path: Path) -> None:
    items = make_items(["single=YYYYY", "single=YYNYY"])
    verdicts = make_cascade(tmp_path, stages=["single"]).judge(items)
    assert [v.accepted for v in verdicts] == [True, False]
    cascade = make_cascade(tmp_path, store="o", stages=["correctness", "rules", "factual"])
    [v] = cascade.judge(make_items(["factual=N"]))
    assert [s.stage for s in v.stages] == ["correctness", "rules", "factual"]


def test_bad_stage_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="unknown stage"):
        make_cascade(tmp_path, stages=["rules", "cycel"])
    with pytest.raises(RunError, match="twice"):
        make_cascade(tmp_path, stages=["rules", "rules"])


def test_failed_judge_call_rejects_as_error_and_is_retried(tmp_path: Path) -> None:
    class Flaky(ScriptedBackend):
        def generate(self, requests):
            out = super().generate(requests)
            for c in out:
                if self.fail:
                    c.finish_reason, c.error = "error", "boom"
            return out

    backend = Flaky(default=planned_reply, name="flaky")
    backend.fail = True
    cascade = make_cascade(tmp_path, backend, stages=["factual"])
    [v] = cascade.judge(make_items([""]))
    assert not v.accepted and v.stages[0].outcome == "error"
    assert cascade.stats[0].errors == 1
    backend.fail = False  # the failure was not stored: a rerun asks again and passes
    again = make_cascade(tmp_path, backend, stages=["factual"])
    assert again.judge(make_items([""]))[0].accepted


def test_thinking_judge_is_read_after_think_only(tmp_path: Path) -> None:
    seen: list[str] = []

    def thinking(request: Request) -> str:
        prompt = request.messages[-1][1]
        if stage_of(prompt) == "infer":
            return "<think>maybe it asks [[N]] something</think>What is 2 + 2?"
        if stage_of(prompt) == "cycle":
            seen.append(prompt)
        return "<think>Is it wrong? [[N]] no, it is fine.</think>\nAll good. [[Y]]"

    backend = ScriptedBackend(default=thinking, name="thinker")
    [verdict] = make_cascade(tmp_path, backend).judge(make_items([""]))
    assert verdict.accepted
    # the comparison sees the inferred question without the judge's reasoning
    assert all("<think>" not in p and "What is 2 + 2?" in p for p in seen)

