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
from collections.abc import Generator

from ..backends.base import Completion, Request, SamplingParams
from ..config import VerifyConfig
from ..records import Candidate, Question
from ..store import RunError
from ..thinking import split_thinking
from .parse import ERROR, UNDECIDED, parse_verdict
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


def reply_verdict(completion: Completion) -> str:
    return ERROR if not completion.ok else parse_verdict(completion.text)


class Sampler:
    """Builds the request for vote i: one user message, judge sampling, seed `verify.seed + i`."""

    def __init__(self, cfg: VerifyConfig):
        self._params = [self._make(cfg, cfg.seed + i) for i in range(cfg.votes)]

    @staticmethod
    def _make(cfg: VerifyConfig, seed: int) -> SamplingParams:
        return SamplingParams(cfg.temperature, cfg.top_p, cfg.top_k, cfg.max_tokens, seed)

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

    def __init__(self, name: str, template: Template, sampler: Sampler):
        self.name = name
        self.template = template
        self.sampler = sampler

    def vote(self, item: Item, index: int) -> VoteSteps:
        prompt = self.template.render(question=item.question_text, answer=item.answer)
        reply = yield self.sampler.request(prompt, index)
        return reply_verdict(reply)


class CycleStage(Stage):
    """Infer the question from the answer alone, then compare it with the original question.

    `2v`: vote i infers its own question (seed + i) and compares it once (seed + i).
    `1+v`: every vote shares one inferred question (seed + 0, paid once: the call store answers
    the repeats) and compares it with seed + i.
    """

    name = "cycle"

    def __init__(self, infer: Template, compare: Template, sampler: Sampler, variant: str):
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
        text = split_thinking(inferred.text)[1]
        if not text:
            return UNDECIDED  # nothing to compare: no call is spent on it
        # The inferred question was written from untrusted text, so it is untrusted too.
        reply = yield self.sampler.request(
            self.compare.render(question=item.question_text, inferred=neutralize(text)), index
        )
        return reply_verdict(reply)


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


STAGE_NAMES = ("rules", "cycle", "factual", "correctness", "single")


def build_stages(cfg: VerifyConfig) -> list[Stage | RulesStage]:
    """The stages `cfg.stages` names, in that order."""
    unknown = [s for s in cfg.stages if s not in STAGE_NAMES]
    if unknown:
        raise RunError(
            f"verify.stages: unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGE_NAMES)}"
        )
    if len(set(cfg.stages)) != len(cfg.stages):
        raise RunError(f"verify.stages: a stage is listed twice in {cfg.stages}")
    templates = load_templates(cfg.prompts)
    sampler = Sampler(cfg)
    stages: list[Stage | RulesStage] = []
    for name in cfg.stages:
        if name == "rules":
            stages.append(RulesStage())
        elif name == "cycle":
            stages.append(
                CycleStage(
                    templates["cycle_infer"], templates["cycle_compare"], sampler, cfg.cycle_variant
                )
            )
        else:
            stages.append(PromptJudge(name, templates[name], sampler))
    return stages
