"""Any OpenAI-compatible chat server: vLLM (`vllm serve`), SGLang, llama.cpp's server.

Requests run concurrently on one event loop, bounded by `concurrency`. Server errors (5xx, 429),
timeouts and dropped connections are retried with exponential backoff and jitter; what still
fails comes back as a completion with finish_reason "error" and the reason, which the call store
does not keep, so a later run tries it again. `retried` and `failed` count both by reason.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import openai
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from .base import Backend, Completion, Request


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500 or exc.status_code in (408, 409, 429)
    # A 200 whose body is not the JSON the client expects (a proxy cut it short, say).
    return isinstance(exc, (ValueError, KeyError, TypeError, AttributeError))


def failure_reason(exc: BaseException) -> str:
    """A short name for why an attempt failed: the key of `retried` and `failed`."""
    if isinstance(exc, openai.APITimeoutError):  # a subclass of APIConnectionError
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        return f"http {exc.status_code}"
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):
        return "malformed reply"
    return type(exc).__name__


class OpenAIBackend(Backend):
    def __init__(
        self,
        base_url: str,
        model: str,
        concurrency: int = 16,
        timeout_s: float = 600.0,
        max_retries: int = 4,
        api_key: str | None = None,
        backoff_initial_s: float = 0.5,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY", "EMPTY")
        self.backoff_initial_s = backoff_initial_s
        self.batch_size = max(concurrency * 4, 16)
        # By failure_reason: attempts that failed and were retried, and calls given up on
        # (retries exhausted, or not retryable). For the run summary and the fault tests.
        self.retried: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    @property
    def retries(self) -> int:
        """Retried attempts, all reasons together."""
        return sum(self.retried.values())

    @property
    def identity(self) -> str:
        return f"openai:{self.model}"

    def _client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key,
            timeout=self.timeout_s,
            max_retries=0,  # tenacity owns retries so they are counted and bounded here
        )

    async def _one(self, client: openai.AsyncOpenAI, request: Request) -> Completion:
        p = request.params
        extra = {"top_k": p.top_k} if p.top_k > 0 else {}
        started = time.perf_counter()
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_random_exponential(multiplier=self.backoff_initial_s, max=30),
            before_sleep=lambda state: self.retried.update(
                [failure_reason(state.outcome.exception())]),
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    reply = await client.chat.completions.create(
                        model=self.model,
                        messages=request.message_dicts(),  # type: ignore[arg-type]
                        temperature=p.temperature,
                        top_p=p.top_p,
                        max_tokens=p.max_tokens,
                        seed=p.seed,
                        extra_body=extra,
                    )
                    choice = reply.choices[0]
                    text = choice.message.content
                    if text is None:
                        raise ValueError("reply has no message content")
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            self.failed[failure_reason(cause)] += 1
            return Completion("", "error", latency_s=time.perf_counter() - started,
                              error=f"{type(cause).__name__}: {cause}")
        except Exception as exc:  # not retryable: a 4xx says the request itself is wrong
            self.failed[failure_reason(exc)] += 1
            return Completion("", "error", latency_s=time.perf_counter() - started,
                              error=f"{type(exc).__name__}: {exc}")
        usage = reply.usage
        return Completion(
            text=text,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_s=time.perf_counter() - started,
        )

    async def _run(self, requests: Sequence[Request], sink) -> None:
        limit = asyncio.Semaphore(self.concurrency)
        async with self._client() as client:

            async def bounded(index: int, request: Request) -> None:
                async with limit:
                    sink(index, await self._one(client, request))

            await asyncio.gather(*(bounded(i, r) for i, r in enumerate(requests)))

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        out: list[Completion | None] = [None] * len(requests)
        for index, completion in self.stream(requests):
            out[index] = completion
        return out  # type: ignore[return-value]

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        """Yield each reply the moment it arrives, so the store keeps it even if we die next."""
        done: queue.Queue = queue.Queue()
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                asyncio.run(self._run(requests, lambda i, c: done.put((i, c))))
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
            finally:
                done.put(None)

        # A thread of its own, so this works whether or not the caller already has a loop.
        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        while (item := done.get()) is not None:
            yield item
        thread.join()
        if errors:
            raise errors[0]
