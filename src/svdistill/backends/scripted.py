"""A deterministic backend whose replies depend on the prompt: for tests and fast CLI paths.

Rules are (regex, reply) pairs tried in order against the last user message; the reply may use
`{0}`, `{1}`... for the regex groups and `{seed}` for the request seed. With no matching rule the
reply is `default`. A reply can also be a callable `(request) -> str` when a test needs logic.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence

from .base import Backend, Completion, Request

Reply = str | Callable[[Request], str]


class ScriptedBackend(Backend):
    batch_size = 256

    def __init__(
        self,
        rules: Sequence[tuple[str, Reply]] = (),
        default: Reply = "The answer is 0.",
        name: str = "scripted",
        delay_s: float = 0.0,
    ):
        self.rules = [(re.compile(p, re.S), r) for p, r in rules]
        self.default = default
        self.name = name
        self.delay_s = delay_s  # per call, to simulate a slow engine in interruption tests
        self.calls = 0

    @property
    def identity(self) -> str:
        return f"scripted:{self.name}"

    def reply(self, request: Request) -> str:
        prompt = request.messages[-1][1]
        for pattern, reply in self.rules:
            match = pattern.search(prompt)
            if match:
                if callable(reply):
                    return reply(request)
                return reply.format(*match.groups(), seed=request.params.seed)
        return self.default(request) if callable(self.default) else self.default

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        return [self._complete(request) for request in requests]

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        # One call at a time, like a server: each reply is handed over before the next starts.
        for index, request in enumerate(requests):
            yield index, self.generate((request,))[0]

    def _complete(self, request: Request) -> Completion:
        if self.delay_s:
            time.sleep(self.delay_s)
        self.calls += 1
        text = self.reply(request)
        words = text.count(" ") + 1  # a cheap stand-in for a token count
        max_tokens = request.params.max_tokens
        truncated = words > max_tokens
        if truncated:
            text = " ".join(text.split()[:max_tokens])
        prompt_tokens = len(request.messages)  # the same stand-in: spaces + 1 per message
        for _, content in request.messages:
            prompt_tokens += content.count(" ")
        return Completion(
            text=text,
            finish_reason="length" if truncated else "stop",
            prompt_tokens=prompt_tokens,
            completion_tokens=min(words, max_tokens),
        )


def echo_math_backend(delay_s: float = 0.0, judge: str | None = None) -> ScriptedBackend:
    """Solves "a + b" / "a - b" / "a * b" questions correctly; the default for `scripted`.
    `judge="yes"` / `"no"` also answers every judge prompt (one that asks for `[[Y]]`) with
    that verdict, so a whole `svdistill run` has accepted (or no) candidates to train on."""

    def solve(request: Request) -> str:
        prompt = request.messages[-1][1]
        m = re.search(r"(-?\d+)\s*([-+*])\s*(-?\d+)", prompt)
        if not m:
            return "I am not sure. The answer is \\boxed{0}."
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
        return f"We compute {a} {op} {b} = {value}. The answer is \\boxed{{{value}}}."

    if judge is None:
        return ScriptedBackend(default=solve, name="echo-math", delay_s=delay_s)
    verdict = {"yes": "Checked. [[Y]]", "no": "Checked. [[N]]"}[judge]
    return ScriptedBackend(
        rules=[(r"\[\[Y\]\]", verdict)],
        default=solve,
        name=f"echo-math+judge-{judge}",
        delay_s=delay_s,
    )


def from_spec(options: str) -> ScriptedBackend:
    """The backend `scripted[:OPTION,...]` names; options are `delay=SECONDS` (per call) and
    `judge=yes|no`. Raises ValueError naming what is wrong."""
    kwargs: dict = {}
    for option in filter(None, options.split(",")):
        name, _, value = option.partition("=")
        if name == "delay":
            try:
                kwargs["delay_s"] = float(value)
            except ValueError:
                raise ValueError(f"delay={value!r} is not a number of seconds") from None
        elif name == "judge" and value in ("yes", "no"):
            kwargs["judge"] = value
        else:
            raise ValueError(f"unknown option {option!r}")
    return echo_math_backend(**kwargs)
