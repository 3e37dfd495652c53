"""The settings of self-verification (the judge's cascade) and of curation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..backends.spec import BackendSpec
from ..registry import CURATE_POLICIES
from .base import MAX_COUNT, MAX_SEED, MAX_TOKENS, Section


class VerifyConfig(Section):
    judge_backend: str | None = Field(None, description="Judge model; None = the sampled model.")
    stages: list[str] = Field(
        default_factory=lambda: ["rules", "cycle", "factual", "correctness"],
        description="Stage order, from rules, cycle, factual, correctness, single ('single' is "
        "the one-question judge of the ablation), and the opt-in solve, claims, single_alt "
        "(for tiny judges; docs/judge_signal.md). A candidate failing a stage skips the rest.",
    )
    votes: int = Field(5, ge=1, le=MAX_COUNT,
                       description="Verification budget v: judge samples per stage.")
    decision: Literal["unanimous", "majority"] = Field(
        "unanimous", description="unanimous: all v votes yes; majority: over v/2 (a tie rejects)."
    )
    mode: Literal["eager", "lazy"] = Field(
        "lazy", description="lazy stops a stage at its first deciding vote; same decisions."
    )
    cycle_variant: Literal["2v", "1+v"] = Field(
        "2v", description="2v: v inferred questions, each compared once; 1+v: one inferred "
        "question compared v times."
    )
    cycle_compare: Literal["plain", "uq"] = Field(
        "plain", description="plain: the comparison shows the two questions (the paper's); uq: "
        "it also shows the answer and asks whether the answer addresses the question (UQ's "
        "validator). Template cycle_compare or cycle_compare_uq."
    )
    temperature: float = Field(0.6, ge=0, le=100,
                               description="Sampling temperature of the judge's votes.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling threshold of the votes.")
    top_k: int = Field(50, ge=0, le=MAX_TOKENS, description="Top-k of the votes; 0 disables it.")
    max_tokens: int | None = Field(
        None,
        ge=1,
        le=MAX_TOKENS,
        description="Longest judge reply; None = sample.max_tokens, so a thinking judge gets "
        "the budget its own sampling had. A reply cut off here is counted as truncated, not as "
        "a vote.",
    )
    seed: int = Field(1000, ge=0, le=MAX_SEED,
                      description="Vote i of a stage uses seed + i, in both modes.")
    solve_max_tokens: int | None = Field(
        None,
        ge=1,
        le=MAX_TOKENS,
        description="Token budget of the solve stage's own solution; None = the judge's budget "
        "(verify.max_tokens, else sample.max_tokens). Give it "
        "what sampling had (sample.max_tokens): a cut-off solution has no final answer.",
    )
    claims_max: int = Field(
        8, ge=1, le=MAX_COUNT,
        description="claims stage: at most this many arithmetic statements per answer."
    )
    prompts: dict[str, str] = Field(
        default_factory=dict,
        description="Override prompt templates with files: cycle_infer, cycle_compare, "
        "cycle_compare_uq, factual, correctness, single, solve, claim, single_alt_yes_last, "
        "single_alt_no_last -> path. Placeholders: {question}, {answer}, {inferred}, {claim}.",
    )

    @field_validator("judge_backend")
    @classmethod
    def _known_backend(cls, backend: str | None) -> str | None:
        if backend is not None:
            BackendSpec.parse(backend).check_kind()
        return backend


class CurateConfig(Section):
    policy: str = Field(
        "first-valid",
        description="One of svdistill.registry.CURATE_POLICIES. first-valid: first accepted "
        "candidate per question (paper); all-valid: every accepted one; no-filter: every "
        "candidate, unverified (paper's ablation); "
        "no-filter-first: sample 0 of each question, unverified; single-judge: first-valid "
        "over verdicts of a verify.stages=[rules, single] run.",
    )
    decontaminate: list[str] = Field(
        default_factory=list,
        description="Benchmark JSONL files (a 'question' field) whose questions must not be "
        "trained on.",
    )
    ngram: int = Field(
        13, ge=3, le=1000,
        description="Word n-gram size: a question sharing one with a benchmark is dropped"
    )
    max_examples: int | None = Field(
        None, ge=1, le=MAX_COUNT,
        description="Keep at most N examples: a random subset (fixed seed), the rest dropped as "
        "over_max_examples. For ablations at equal training-set size; None keeps all.",
    )

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, policy: str) -> str:
        if policy not in CURATE_POLICIES:
            raise ValueError(f"Input should be {CURATE_POLICIES.expected()}")
        return policy
