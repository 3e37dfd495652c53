"""Run many model calls through the call store: pay only for what is not stored yet."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .backends.base import Backend, Completion, Request, call_key
from .progress import PhaseProgress
from .store import CallStore

# A str holds surrogate code points only unpaired: what a server's JSON `\\ud800` escape decodes to.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class CallStats:
    paid: int = 0  # calls sent to the engine and stored in this process
    cached: int = 0  # calls answered from the store
    errors: int = 0  # calls that failed after the backend's retries (not stored)
    prompt_tokens: int = 0
    completion_tokens: int = 0  # of paid calls only
    engine_seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.engine_seconds if self.engine_seconds else 0.0


class CallRunner:
    """A backend behind a call store. Phases call `run`; the store makes reruns free."""

    def __init__(self, backend: Backend, store: CallStore):
        self.backend = backend
        self.store = store
        self.stats = CallStats()

    def key(self, request: Request) -> str:
        return call_key(self.backend.identity, request)

    def run(
        self,
        requests: Sequence[Request],
        progress: PhaseProgress | None = None,
        keys: Sequence[str] | None = None,
    ) -> list[Completion]:
        """One completion per request, in order. Stored calls are reused, identical requests in
        one batch are paid once, and each new call is stored as soon as it completes (see
        `_pay`). `progress` advances by one per distinct new call. `keys`: the requests' keys
        (`self.key(request)`) when the caller has them already, so no prompt is hashed twice."""
        if keys is None:
            keys = [self.key(r) for r in requests]
        results: dict[str, Completion] = {}
        todo: dict[str, Request] = {}
        for key, request in zip(keys, requests, strict=True):
            if key in results or key in todo:
                continue
            stored = self.store.get(key)
            if stored is not None:
                results[key] = stored
                self.stats.cached += 1
            else:
                todo[key] = request
        if todo:
            self._pay(list(todo.items()), results, progress)
        return [results[k] for k in keys]

    def _pay(self, todo: list[tuple[str, Request]], results: dict[str, Completion],
             progress: PhaseProgress | None) -> None:
        """Send `todo` to the engine; each call is stored the moment it finishes, so a kill
        loses at most the calls still running and a resume never pays a stored call again."""
        started = time.perf_counter()
        engine = self.backend.identity
        try:
            for index, completion in self.backend.stream([r for _, r in todo]):
                key = todo[index][0]
                completion = _valid_unicode(completion)
                results[key] = completion
                if completion.ok:
                    self.store.put_many([(key, completion)], engine)
                    self.stats.paid += 1
                else:
                    self.stats.errors += 1
                self.stats.prompt_tokens += completion.prompt_tokens
                self.stats.completion_tokens += completion.completion_tokens
                if progress is not None:
                    progress.advance(1, completion.completion_tokens)
        finally:
            self.stats.engine_seconds += time.perf_counter() - started
            self.store.sync()


def _valid_unicode(completion: Completion) -> Completion:
    """The completion with each lone surrogate replaced by U+FFFD. Such a reply has no UTF-8
    form, so no run file could hold it; replaced where replies enter, every phase sees text it
    can write, and curate drops the candidate as invalid_unicode (U+FFFD is its mark)."""
    text = completion.text
    if text.isascii() or not _LONE_SURROGATE.search(text):
        return completion
    return replace(completion, text=_LONE_SURROGATE.sub("\ufffd", text))
