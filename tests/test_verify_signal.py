"""The opt-in stages for small judges: solve (self-consistency), claims (step check) and
single_alt (tags mentioned in alternating order). A scripted judge stands in for the model, so
these tests cover wiring, voting and edge cases, not judge quality (docs/judge_signal.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from svdistill.backends.base import Request
from svdistill.backends.scripted import ScriptedBackend
from svdistill.config import VerifyConfig
from svdistill.generation import CallRunner
from svdistill.records import Candidate, Question
from svdistill.store import CallStore, RunError
from svdistill.verify import Cascade
from svdistill.verify.parse import NO, UNDECIDED, YES
from svdistill.verify.prompts import load_templates
from svdistill.verify.stages import extract_claims

SEED = 1000


def _items(texts: list[str], question: str = "Tom has 37 apples and eats 19. How many are left?"):
    q = Question(id="q1", text=question, domain="math", reference="18")
    return [
        (q, Candidate("q1", i, t, t, None, "stop", 10, 10, 0.0, f"k{i}"))
        for i, t in enumerate(texts)
    ]


def _cascade(tmp_path: Path, backend: ScriptedBackend, **overrides) -> Cascade:
    cfg = VerifyConfig(seed=SEED, **overrides)
    return Cascade(cfg, CallRunner(backend, CallStore(tmp_path / "calls.jsonl")))


def _vote_index(request: Request) -> int:
    return request.params.seed - SEED


# --- solve -------------------------------------------------------------------------------------


def _solver(answers: list[str]) -> ScriptedBackend:
    """Vote i's own solution ends in \\boxed{answers[i]} ("none": no final answer at all)."""

    def reply(request: Request) -> str:
        assert "<candidate_answer>" not in request.messages[-1][1]  # the candidate stays hidden
        own = answers[_vote_index(request)]
        return "I worked it out." if own == "none" else f"37 - 19 = 18. \\boxed{{{own}}}"

    return ScriptedBackend(default=reply, name="solver")


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_solve_accepts_only_an_answer_the_judge_reaches_itself(tmp_path: Path, mode: str) -> None:
    items = _items(["So \\boxed{18}.", "The answer is 18.", "So \\boxed{20}.", "I give up."])
    backend = _solver(["18", "18", "18"])
    cascade = _cascade(tmp_path, backend, stages=["rules", "solve"], votes=3, mode=mode)
    verdicts = cascade.judge(items)
    assert [v.accepted for v in verdicts] == [True, True, False, False]
    assert verdicts[2].stages[-1].outcome == NO
    assert verdicts[3].stages[-1].outcome == UNDECIDED  # no final answer to compare
    # the prompt holds the question only, so all candidates share the judge's 3 solutions
    assert backend.calls == 3


def test_solve_compares_by_equivalence_not_by_string(tmp_path: Path) -> None:
    items = _items(["\\boxed{0.5}", "\\boxed{\\frac{1}{2}}", "\\boxed{2/4}"], "Half of 1?")
    verdicts = _cascade(tmp_path, _solver(["1/2"]), stages=["solve"], votes=1).judge(items)
    assert [v.accepted for v in verdicts] == [True, True, True]


def test_solve_votes_follow_the_judges_own_samples(tmp_path: Path) -> None:
    items = _items(["\\boxed{18}"])
    [lazy] = _cascade(tmp_path, _solver(["18", "17", "18"]), stages=["solve"], votes=3).judge(items)
    assert not lazy.accepted and lazy.stages[0].reason == "vote 1 said no"
    [majority] = _cascade(
        tmp_path, _solver(["18", "17", "18"]), stages=["solve"], votes=3, decision="majority"
    ).judge(items)
    assert majority.accepted


def test_solve_without_an_own_answer_is_undecided(tmp_path: Path) -> None:
    [verdict] = _cascade(tmp_path, _solver(["none"]), stages=["solve"], votes=1).judge(
        _items(["\\boxed{18}"])
    )
    assert not verdict.accepted and verdict.stages[0].outcome == UNDECIDED


def test_solve_uses_its_own_token_budget(tmp_path: Path) -> None:
    seen: list[int] = []

    def reply(request: Request) -> str:
        seen.append(request.params.max_tokens)
        return "\\boxed{18}"

    backend = ScriptedBackend(default=reply)
    _cascade(
        tmp_path, backend, stages=["solve"], votes=2, max_tokens=64, solve_max_tokens=300
    ).judge(_items(["\\boxed{18}"]))
    assert seen == [300, 300]


def test_solve_prompt_can_be_overridden_and_must_name_the_question(tmp_path: Path) -> None:
    good = tmp_path / "solve.txt"
    good.write_text("Solve: {question}")
    assert load_templates({"solve": str(good)}, solver=True)["solve"].source == str(good)
    bad = tmp_path / "bad.txt"
    bad.write_text("Solve something.")
    with pytest.raises(RunError, match="lacks placeholder"):
        load_templates({"solve": str(bad)}, solver=True)


# --- claims ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, claims",
    [
        ("37 - 19 = 18, then 18 + 2 = 20.", ["37 - 19 = 18", "18 + 2 = 20"]),
        ("3 * 4 + 2 = 14", ["3 * 4 + 2 = 14"]),  # read whole, never as "4 + 2 = 14"
        ("(3 + 4) × 2 = 14", ["(3 + 4) × 2 = 14"]),
        ("$12 \\times 5 = 60$ and 1,200 / 4 = 300", ["12 × 5 = 60", "1,200 / 4 = 300"]),
        ("2.5 + 2 = 4.5 dollars; again 2.5 + 2 = 4.5", ["2.5 + 2 = 4.5"]),
        ("x = 5 and 2x = 10, so the answer is 5", []),
    ],
)
def test_extract_claims(text: str, claims: list[str]) -> None:
    assert extract_claims(text, limit=8) == claims


def test_extract_claims_limit() -> None:
    text = " ".join(f"{i} + 1 = {i + 1}." for i in range(20))
    assert len(extract_claims(text, limit=5)) == 5


def _claim_judge() -> ScriptedBackend:
    """Judges a claim by evaluating it: a stand-in for a model that can do arithmetic."""

    def reply(request: Request) -> str:
        claim = re.search(r"Statement: (.+)", request.messages[-1][1]).group(1)
        left, right = claim.replace("×", "*").replace(",", "").split(" = ")
        return "[[Y]]" if abs(eval(left) - float(right)) < 1e-9 else "[[N]]"  # noqa: S307

    return ScriptedBackend(default=reply, name="claims")


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_claims_rejects_a_false_step(tmp_path: Path, mode: str) -> None:
    items = _items(
        [
            "37 - 19 = 18. The answer is \\boxed{18}.",
            "37 - 19 = 28. The answer is \\boxed{28}.",
            "30 + 7 = 37, 37 - 19 = 18, \\boxed{18}",
            "No arithmetic written out: \\boxed{18}",
        ]
    )
    backend = _claim_judge()
    cascade = _cascade(tmp_path, backend, stages=["claims"], votes=2, mode=mode)
    verdicts = cascade.judge(items)
    assert [v.accepted for v in verdicts] == [True, False, True, True]
    assert verdicts[1].stages[0].outcome == NO
    # "37 - 19 = 18" is shared by two candidates: asked once per vote, the store answers again
    assert backend.calls == len({"37 - 19 = 18", "37 - 19 = 28", "30 + 7 = 37"}) * 2 - (
        1 if mode == "lazy" else 0
    )


def test_claims_unreadable_reply_is_undecided(tmp_path: Path) -> None:
    backend = ScriptedBackend(default="Maybe.")
    [verdict] = _cascade(tmp_path, backend, stages=["claims"], votes=1).judge(
        _items(["37 - 19 = 18"])
    )
    assert verdict.stages[0].outcome == UNDECIDED


# --- single_alt --------------------------------------------------------------------------------


def _last_tag_copier() -> ScriptedBackend:
    """The failure measured on the 0.5B judge: it answers whichever tag is mentioned last."""

    def reply(request: Request) -> str:
        return re.findall(r"\[\[[YN]\]\]", request.messages[-1][1])[-1]

    return ScriptedBackend(default=reply, name="copier")


def test_single_alt_alternates_the_last_mentioned_tag(tmp_path: Path) -> None:
    templates = load_templates()
    yes_last, no_last = templates["single_alt_yes_last"], templates["single_alt_no_last"]
    assert re.findall(r"\[\[[YN]\]\]", yes_last.text)[-1] == "[[Y]]"
    assert re.findall(r"\[\[[YN]\]\]", no_last.text)[-1] == "[[N]]"


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_single_alt_cancels_a_tag_copying_judge(tmp_path: Path, mode: str) -> None:
    items = _items(["\\boxed{18}", "\\boxed{20}"])
    copier = _last_tag_copier()
    # the plain single judge names [[N]] last: a copier rejects everything
    plain = _cascade(tmp_path, copier, stages=["single"], votes=3, mode=mode).judge(items)
    assert not any(v.accepted for v in plain)
    # alternating: vote 0 copies yes, vote 1 copies no; unanimity never accepts a copier
    alt = _cascade(tmp_path, copier, stages=["single_alt"], votes=3, mode=mode).judge(items)
    assert not any(v.accepted for v in alt)
    assert [v.verdict for v in alt[0].stages[0].votes][:2] == [YES, NO]


def test_single_alt_accepts_when_the_judge_follows_the_candidate(tmp_path: Path) -> None:
    def reply(request: Request) -> str:
        return "CORRECT [[Y]]" if "\\boxed{18}" in request.messages[-1][1] else "INCORRECT [[N]]"

    backend = ScriptedBackend(default=reply)
    verdicts = _cascade(tmp_path, backend, stages=["single_alt"], votes=4).judge(
        _items(["\\boxed{18}", "\\boxed{20}"])
    )
    assert [v.accepted for v in verdicts] == [True, False]


def test_new_stages_are_opt_in() -> None:
    assert VerifyConfig().stages == ["rules", "cycle", "factual", "correctness"]
