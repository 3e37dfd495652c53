"""The one interface every model engine implements.

A backend takes a batch of chat requests and returns one completion for each. Everything else
(caching, resume, progress, retries at the store level) lives above it, so a new engine is one
class with one method.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields

Message = dict[str, str]


@dataclass(frozen=True)
class SamplingParams:
    """What decides a sample besides the prompt. `seed` is per request: sample i gets seed + i."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 50
    max_tokens: int = 512
    seed: int = 0


@dataclass(frozen=True)
class Request:
    messages: tuple[tuple[str, str], ...]
    params: SamplingParams

    @classmethod
    def chat(cls, messages: Sequence[Message], params: SamplingParams) -> Request:
        return cls(tuple((m["role"], m["content"]) for m in messages), params)

    def message_dicts(self) -> list[Message]:
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop", "length" or "error"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.finish_reason != "error"


class Backend(abc.ABC):
    """A model engine. Subclasses implement `generate`; `stream` and `close` have defaults."""

    #: Preferred number of requests per `generate` call (batch engines want many at once).
    batch_size: int = 16

    @property
    @abc.abstractmethod
    def identity(self) -> str:
        """What makes this engine's outputs what they are: engine kind plus model identity.

        It is part of every call-store key, so two engines never share cached replies.
        """

    @abc.abstractmethod
    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        """One completion per request, in order. Failures come back as finish_reason "error"."""

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        """Yield (index, completion) as each finishes; batch engines finish a chunk at a time."""
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start : start + self.batch_size]
            for offset, completion in enumerate(self.generate(chunk)):
                yield start + offset, completion

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release engine resources (servers, GPU memory)."""


def template_switches(enable_thinking: bool | None) -> tuple[dict[str, bool], str]:
    """The chat-template arguments for `model.enable_thinking`, and the suffix that sets them
    apart in an engine's identity (the same prompt renders differently with thinking on and
    off, so their replies must not share a cache key). None: the template's default, no suffix,
    so identities from before the switch existed stay as they were."""
    if enable_thinking is None:
        return {}, ""
    return {"enable_thinking": enable_thinking}, f"+thinking={'on' if enable_thinking else 'off'}"


def call_key(identity: str, request: Request) -> str:
    """The call-store key: a hash of everything that determines the reply.

    Each part is length-prefixed (`<bytes>:<utf-8>`), so no choice of message text can make two
    different calls hash alike: the engine identity, then role and content of every message,
    then the repr of the sampling settings as (name, value) pairs. This byte format is pinned
    (tests/test_store.py): changing it would make every stored call look new and be paid again.
    """
    parts = [_framed(identity)]
    for role, content in request.messages:
        parts.append(_framed(role))
        parts.append(_framed(content))
    params = request.params
    parts.append(_framed(repr(tuple((f.name, getattr(params, f.name)) for f in fields(params)))))
    return hashlib.sha256(b"".join(parts)).hexdigest()[:32]


def _framed(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return b"%d:%b" % (len(data), data)
