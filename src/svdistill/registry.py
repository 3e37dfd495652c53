"""Every extension point's names, and where each one's builder lives.

A verify stage, a grader, a curation policy or a model engine is one module (or class) plus one
line here.
This module imports nothing else of the package, so the config can check names against it when
a file loads (before any model call is paid for) without importing the heavy modules that
implement them, and no import cycle can start here. Builders are loaded by dotted path on first
use, which also keeps torch, vLLM and the graders out of processes that never use them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any


class UnknownName(ValueError):
    """A name that no entry of the registry has."""


class Registry:
    def __init__(self, kind: str, entries: dict[str, str]):
        self.kind = kind
        self._entries = entries  # name -> "module:attribute"

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def unknown(self, names: list[str]) -> str | None:
        """What is wrong with `names` (None when every one is known)."""
        bad = [n for n in names if n not in self._entries]
        if not bad:
            return None
        known = ", ".join(self._entries)
        return f"unknown {self.kind}(s) {', '.join(map(str, bad))}; known: {known}"

    def expected(self) -> str:
        """The names as a choice, in pydantic's words: 'a', 'b' or 'c'."""
        quoted = [f"'{n}'" for n in self._entries]
        return ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]

    def load(self, name: str) -> Any:
        """The builder registered as `name`, imported on first use."""
        if name not in self._entries:
            raise UnknownName(self.unknown([name]))
        module, _, attribute = self._entries[name].partition(":")
        return getattr(import_module(module), attribute)


# Verify stages: each builder is `build(name, verify_config, templates, judge_requests)`.
STAGES = Registry("stage", {
    "rules": "svdistill.verify.stages:build_rules",
    "cycle": "svdistill.verify.stages:build_cycle",
    "factual": "svdistill.verify.stages:build_prompt_judge",
    "correctness": "svdistill.verify.stages:build_prompt_judge",
    "single": "svdistill.verify.stages:build_prompt_judge",
    # opt-in, for judges too small for the paper's prompts (docs/judge_signal.md)
    "solve": "svdistill.verify.stages:build_solve",
    "claims": "svdistill.verify.stages:build_claims",
    "single_alt": "svdistill.verify.stages:build_alternating",
})

# Curation policies: each is `pick(candidates, accepted) -> list of candidates to train on`.
CURATE_POLICIES = Registry("policy name", {
    "first-valid": "svdistill.curate:first_accepted",
    "all-valid": "svdistill.curate:every_accepted",
    "no-filter": "svdistill.curate:every_candidate",
    "no-filter-first": "svdistill.curate:first_candidate",
    "single-judge": "svdistill.curate:first_accepted",
})

# Graders of benchmark rows, by the row's `grader` field: a class with `messages`,
# `gold_reply` and `grade_many` (svdistill/evaluate/graders.py).
GRADERS = Registry("grader", {
    "math": "svdistill.evaluate.graders:MathGrader",
    "choice": "svdistill.evaluate.graders:ChoiceGrader",
    "code": "svdistill.evaluate.graders:CodeGrader",
    "stdio": "svdistill.evaluate.graders:StdioGrader",
    "gym": "svdistill.evaluate.graders:GymGrader",
})

# Model engines, by the kind before the ':' of a backend string (svdistill.backends.spec): each
# builder is `build(spec, model_config) -> Backend` and imports its engine (torch, vLLM,
# llama-cpp-python, openai) only when called.
BACKENDS = Registry("backend", {
    "embedded": "svdistill.backends.builders:build_embedded",
    "embedded-llamacpp": "svdistill.backends.builders:build_embedded_llamacpp",
    "tiny": "svdistill.backends.builders:build_tiny",
    "scripted": "svdistill.backends.builders:build_scripted",
    "openai": "svdistill.backends.builders:build_openai",
    "llamacpp": "svdistill.backends.builders:build_llamacpp",
    "hf": "svdistill.backends.builders:build_hf",
    "vllm": "svdistill.backends.builders:build_vllm",
})
