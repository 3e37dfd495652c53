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
        out = []
        for request in requests:
            if self.delay_s:
                time.sleep(self.delay_s)
            self.calls += 1
            text = self.reply(request)
            words = text.count(" ") + 1  # a cheap stand-in for a token count
            truncated = words > request.params.max_tokens
            if truncated:
                text = " ".join(text.split()[: request.params.max_tokens])
            out.append(
                Completion(
                    text=text,
                    finish_reason="length" if truncated else "stop",
                    prompt_tokens=sum(c.count(" ") + 1 for _, c in request.messages),
                    completion_tokens=min(words, request.params.max_tokens),
                )
            )
        return out


    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        # One call at a time, like a server: each reply reaches the store before the next starts.
        for index, request in enumerate(requests):
            yield index, self.generate([request])[0]


def echo_math_backend(delay_s: float = 0.0) -> ScriptedBackend:
    """Solves "a + b" / "a - b" / "a * b" questions correctly; the default for `scripted`."""

    def solve(request: Request) -> str:
        prompt = request.messages[-1][1]
        m = re.search(r"(-?\d+)\s*([-+*])\s*(-?\d+)", prompt)
        if not m:
            return "I am not sure. The answer is \\boxed{0}."
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
        return f"We compute {a} {op} {b} = {value}. The answer is \\boxed{{{value}}}."

    return ScriptedBackend(default=solve, name="echo-math", delay_s=delay_s)
