"""The cascade's stages. Each is a small unit with one method.

- A model stage's `vote(item, i)` is a generator: it yields the Request(s) that vote i needs and
  receives each Completion back, then returns the vote's verdict ("yes", "no", "undecided",
  "error"). It never calls a model itself, so the cascade decides when and in which batch every
  request is paid for, and eager and lazy runs issue exactly the same requests for vote i.
- The `rules` stage's `check(item)` returns a rejection reason or None, with no model call.

Vote i of every stage samples with seed `verify.seed + i`, so a vote is the same request
whichever mode, batch or rerun draws it, and the call store can answer it.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Generator

from ..backends.base import Completion, Request, SamplingParams
from ..config import SampleConfig, VerifyConfig
from ..records import Candidate, Question
from ..registry import STAGES
from ..store import RunError
from ..thinking import split_thinking
from .parse import ERROR, NO, TRUNCATED, UNDECIDED, YES, parse_verdict
from .prompts import Template, load_templates
from .untrusted import injection_reason, neutralize

VoteSteps = Generator[Request, Completion, str]


class Item:
    """One (question, candidate) pair being judged, with its fenced-safe texts computed once."""

    __slots__ = ("question", "candidate", "_answer", "_question")

    def __init__(self, question: Question, candidate: Candidate):
        self.question = question
        self.candidate = candidate
        self._answer: str | None = None
        self._question: str | None = None

    @property
    def answer(self) -> str:
        """The candidate's final answer only (never its reasoning), neutralized for a prompt."""
        if self._answer is None:
            self._answer = neutralize(self.candidate.final_answer)
        return self._answer

    @property
    def question_text(self) -> str:
        if self._question is None:
            self._question = neutralize(self.question.text)
        return self._question

    def fields(self, **more: str) -> dict[str, str]:
        """The template fields (verify/prompts.py FIELDS) this item fills in, plus `more`: every
        stage passes all it has, and a template uses whichever its text names."""
        return {"question": self.question_text, "answer": self.answer, **more}


def reply_verdict(completion: Completion, *untrusted: str) -> str:
    """The vote one judge reply casts; `untrusted`: the candidate-derived texts its prompt held.
    A reply cut off at max_tokens is "truncated", never read: it may stop mid-sentence while
    restating the instructions ("end with [[Y]] if ...")."""
    if not completion.ok:
        return ERROR
    if completion.finish_reason == "length":
        return TRUNCATED
    return parse_verdict(completion.text, untrusted)


class VoteRequests:
    """Builds the request for vote i: one user message, judge sampling, seed `verify.seed + i`."""

    def __init__(self, cfg: VerifyConfig, max_tokens: int):
        tokens = self.max_tokens = max_tokens
        self._params = [
            SamplingParams(cfg.temperature, cfg.top_p, cfg.top_k, tokens, cfg.seed + i)
            for i in range(cfg.votes)
        ]

    def request(self, prompt: str, index: int) -> Request:
        return Request((("user", prompt),), self._params[index])


class Stage(abc.ABC):
    """A model-judged stage."""

    name: str

    @abc.abstractmethod
    def vote(self, item: Item, index: int) -> VoteSteps:
        """Yield the requests of vote `index`, receive their completions, return the verdict."""


class PromptJudge(Stage):
    """One prompt, one reply, one verdict: the factual, correctness and single judges."""

    def __init__(self, name: str, template: Template, sampler: VoteRequests):
        self.name = name
        self.template = template
        self.sampler = sampler

    def vote(self, item: Item, index: int) -> VoteSteps:
        prompt = self.template.render(**item.fields())
        reply = yield self.sampler.request(prompt, index)
        return reply_verdict(reply, item.answer)


class AlternatingJudge(Stage):
    """The single judge with the two verdict tags mentioned in alternating order: even votes
    name [[Y]] last, odd votes name [[N]] last, and both ask for reasoning first.

    Why: a tiny judge (Qwen2.5-0.5B) that cannot judge copies one of the tags the prompt names,
    which one depending on the wording (docs/judge_signal.md). Under unanimity with v >= 2 such
    a judge meets a vote of each order, so copying can no longer accept every candidate; only a
    judge whose verdict follows the candidate, not the prompt, accepts consistently. It removes
    the bias, it does not create signal: measured on the 0.5B judge, it had none.
    """

    def __init__(self, name: str, yes_last: Template, no_last: Template, sampler: VoteRequests):
        self.name = name
        self.templates = (yes_last, no_last)
        self.sampler = sampler

    def vote(self, item: Item, index: int) -> VoteSteps:
        template = self.templates[index % 2]
        prompt = template.render(**item.fields())
        reply = yield self.sampler.request(prompt, index)
        return reply_verdict(reply, item.answer)


def _same_answer(own: str, candidate: str) -> str:
    """yes / no / undecided: is the judge's final answer `own` equivalent to `candidate`?"""
    if own.strip() == candidate.strip():
        return YES  # the common case, decided without starting the grader's worker pool
    from ..grade.math import grade_math  # the grader's pool only when a stage needs it

    grade = grade_math(f"\\boxed{{{own}}}", candidate)
    if grade.correct is None:
        return UNDECIDED  # the candidate's answer is not something math-verify can read
    return YES if grade.correct else NO


_OPTION_LINE = re.compile(r"^([A-Z])\) (.+?)\s*$", re.M)


def _as_option(question: str, answer: str) -> str:
    """On a multiple-choice question (options lettered "A) ..." in its text), the letter an
    answer stands for: a letter itself, or the option whose text, or leading value ("122.5" for
    "122.5 J"), it equals. Otherwise the answer unchanged. So a judge that boxes the value and a
    candidate that boxes the letter are compared option to option."""
    options = dict(_OPTION_LINE.findall(question))
    if len(options) < 2:
        return answer
    text = answer.strip().strip("()").strip()
    if len(text) == 1 and text.upper() in options:
        return text.upper()
    for letter, option in options.items():
        if text == option or (option.split() and _same_answer(text, option.split()[0]) == YES):
            return letter
    return answer


class SolveStage(Stage):
    """Self-consistency: the judge solves the question itself, without seeing the candidate,
    and votes yes when its own final answer is equivalent to the candidate's.

    Still self-verification: no reference answer is read; the candidate's extracted answer plays
    the gold in `grade_math`. Vote i samples with seed `verify.seed + i` and its prompt holds the
    question only, so the n candidates of a question share the same v solutions: the call store
    pays for them once per question, not once per candidate. Either final answer missing (no
    \\boxed{} or "the answer is"), or one the grader cannot read: the vote is undecided. On a
    multiple-choice question both answers are first read as option letters (`_as_option`).
    """

    name = "solve"

    def __init__(self, template: Template, sampler: VoteRequests):
        self.template = template
        self.sampler = sampler

    def vote(self, item: Item, index: int) -> VoteSteps:
        from ..grade.math import extract_final_answer

        theirs = extract_final_answer(item.candidate.final_answer)
        if theirs is None:
            return UNDECIDED  # nothing to compare with: no call is spent on it
        reply = yield self.sampler.request(self.template.render(question=item.question_text), index)
        if not reply.ok:
            return ERROR
        if reply.finish_reason == "length":
            return TRUNCATED
        own = extract_final_answer(split_thinking(reply.text)[1])
        if own is None:
            return UNDECIDED
        question = item.question.text
        return _same_answer(_as_option(question, own), _as_option(question, theirs))


# "a op b op c = d" with plain or LaTeX operators; the left side must start a term (no digit,
# dot or operator just before it) so "3 * 4 + 2 = 14" is read whole, never as "4 + 2 = 14".
# At most 16 operations: unbounded, a long "1+1+1+..." with no "=" made matching quadratic in
# the reply's length (each start position re-scanned the whole chain).
_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
_OPERATOR = r"[-+*/×÷x]"
_CLAIM = re.compile(
    rf"(?<![\d.,)*/+×÷-])(\(?{_NUMBER}\)?(?:\s*{_OPERATOR}\s*\(?{_NUMBER}\)?){{1,16}})\s*=\s*"
    rf"(-?{_NUMBER})(?![\d.]\d)"
)
_LATEX_OPS = (
    ("\\times", "×"),
    ("\\cdot", "×"),
    ("\\div", "÷"),
    ("$", " "),
    ("\\(", " "),
    ("\\)", " "),
    ("\\[", " "),
    ("\\]", " "),
)


def extract_claims(text: str, limit: int) -> list[str]:
    """The distinct arithmetic statements ("37 - 19 = 18") in `text`, in order, at most `limit`.

    Plain parsing of the text; nothing is computed here: the judge decides whether each holds.
    """
    for latex, plain in _LATEX_OPS:
        text = text.replace(latex, plain)
    claims: list[str] = []
    for m in _CLAIM.finditer(text):
        left = re.sub(r"\s+", " ", m.group(1)).strip()
        if left.count("(") != left.count(")"):
            left = left.replace("(", "").replace(")", "")
        claim = f"{left} = {m.group(2)}"
        if claim not in claims:
            claims.append(claim)
            if len(claims) == limit:
                break
    return claims


class ClaimsStage(Stage):
    """Step check: every arithmetic statement in the final answer is put to the judge alone
    ("Is 37 - 19 = 18 true?"); the vote is yes only if the judge holds each one true.

    Why: judging one small claim may be within reach of a small model where judging a whole
    solution is not (a 0.5B judge still answered [[N]] to every true claim: docs/judge_signal.md).
    The claim text is built by the regex from digits and operators only, so no instruction from
    the candidate can reach the prompt through it. Vote i asks every claim with seed
    `verify.seed + i`; a claim shared by several candidates is one request, paid once. The first
    claim judged false ends the vote (no). A final answer with no statement the regex finds
    gives the stage nothing to refute: it passes, like the factual judge's benefit of the doubt,
    so put `solve` or another judge after it when answers may state no arithmetic.
    """

    name = "claims"

    def __init__(self, template: Template, sampler: VoteRequests, limit: int):
        self.template = template
        self.sampler = sampler
        self.limit = limit

    def vote(self, item: Item, index: int) -> VoteSteps:
        for claim in extract_claims(item.candidate.final_answer, self.limit):
            prompt = self.template.render(**item.fields(claim=claim))
            reply = yield self.sampler.request(prompt, index)
            verdict = reply_verdict(reply)
            if verdict != YES:
                return verdict  # no, undecided or error: this vote cannot be yes any more
        return YES


class CycleStage(Stage):
    """Infer the question from the answer alone, then compare it with the original question.

    `2v`: vote i infers its own question (seed + i) and compares it once (seed + i).
    `1+v`: every vote shares one inferred question (seed + 0, paid once: the call store answers
    the repeats) and compares it with seed + i.
    The comparison shows the two questions (`verify.cycle_compare=plain`, the paper's), or also
    the answer, asking whether it addresses the original question (`uq`, UQ's validator).
    """

    name = "cycle"

    def __init__(self, infer: Template, compare: Template, sampler: VoteRequests, variant: str):
        self.infer = infer
        self.compare = compare
        self.sampler = sampler
        self.shared = variant == "1+v"

    def vote(self, item: Item, index: int) -> VoteSteps:
        inferred = yield self.sampler.request(
            self.infer.render(answer=item.answer), 0 if self.shared else index
        )
        if not inferred.ok:
            return ERROR
        if inferred.finish_reason == "length":
            return TRUNCATED  # a cut-off inferred question (or thinking) is no basis for a vote
        text = split_thinking(inferred.text)[1]
        if not text:
            return UNDECIDED  # nothing to compare: no call is spent on it
        # The inferred question was written from untrusted text, so it is untrusted too.
        inferred_text = neutralize(text)
        reply = yield self.sampler.request(
            self.compare.render(**item.fields(inferred=inferred_text)), index
        )
        return reply_verdict(reply, inferred_text)


class RulesStage:
    """Cheap checks with no model call: failed or truncated sampling, an empty final answer,
    and a final answer that talks to the judge (verdict markup, "ignore the instructions")."""

    name = "rules"

    def check(self, item: Item) -> str | None:
        """The rejection reason, or None when the candidate may go on to the judges."""
        candidate = item.candidate
        if candidate.finish_reason == "error":
            return "failed call"
        if candidate.finish_reason == "length":
            return "truncated"
        if not candidate.final_answer.strip():
            return "empty final answer"
        why = injection_reason(candidate.final_answer)
        return f"injection: {why}" if why else None


# Builders, registered by name in svdistill.registry.STAGES: a new stage is a class above (or a
# module of its own) plus one builder and one registry line.


def build_rules(name: str, cfg: VerifyConfig, templates: dict, requests: VoteRequests
                ) -> RulesStage:
    return RulesStage()


def build_cycle(name: str, cfg: VerifyConfig, templates: dict, requests: VoteRequests) -> Stage:
    compare = "cycle_compare_uq" if cfg.cycle_compare == "uq" else "cycle_compare"
    return CycleStage(templates["cycle_infer"], templates[compare], requests, cfg.cycle_variant)


def build_prompt_judge(name: str, cfg: VerifyConfig, templates: dict, requests: VoteRequests
                       ) -> Stage:
    return PromptJudge(name, templates[name], requests)


def build_solve(name: str, cfg: VerifyConfig, templates: dict, requests: VoteRequests) -> Stage:
    budget = cfg.solve_max_tokens or requests.max_tokens
    return SolveStage(templates["solve"], VoteRequests(cfg, budget))


def build_claims(name: str, cfg: VerifyConfig, templates: dict, requests: VoteRequests) -> Stage:
    return ClaimsStage(templates["claim"], requests, cfg.claims_max)


def build_alternating(name: str, cfg: VerifyConfig, templates: dict, requests: VoteRequests
                      ) -> Stage:
    return AlternatingJudge(name, templates["single_alt_yes_last"],
                            templates["single_alt_no_last"], requests)


def judge_budget(cfg: VerifyConfig, max_tokens: int | None = None) -> int:
    """`max_tokens` (Config.judge_max_tokens) when given, else verify.max_tokens, else the
    sampling default: for callers that hold a VerifyConfig alone."""
    return max_tokens or cfg.max_tokens or SampleConfig.model_fields["max_tokens"].default


def build_stages(cfg: VerifyConfig, max_tokens: int | None = None) -> list[Stage | RulesStage]:
    """The stages `cfg.stages` names, in that order; the judge replies up to `max_tokens`
    (Config.judge_max_tokens; default: verify.max_tokens, else the sampling default)."""
    if problem := STAGES.unknown(cfg.stages):
        raise RunError(f"verify.stages: {problem}")
    if len(set(cfg.stages)) != len(cfg.stages):
        raise RunError(f"verify.stages: a stage is listed twice in {cfg.stages}")
    templates = load_templates(cfg.prompts, solver="solve" in cfg.stages)
    requests = VoteRequests(cfg, judge_budget(cfg, max_tokens))
    return [STAGES.load(name)(name, cfg, templates, requests) for name in cfg.stages]
