"""Any OpenAI-compatible chat server: vLLM (`vllm serve`), SGLang, llama.cpp's server; one or
several of them serving the same model.

Requests run concurrently on one event loop, bounded by `concurrency` (all endpoints together).
Each attempt goes to the endpoint with the fewest requests in flight among those not cooling
down after a failure. Server errors (5xx, 429), timeouts and dropped connections are retried
with exponential backoff and jitter, on whichever endpoint is then the best, so a request that
a dead server dropped is answered by another; what still fails comes back as a completion with
finish_reason "error" and the reason, which the call store does not keep, so a later run tries
it again. `retried` and `failed` count both by reason, `answered` the replies by endpoint.

The call-store identity names the model, what the servers report serving under that name
(`/v1/models`, asked once, on first use) and the sorted set of endpoint URLs; see `identity`.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import openai
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from ..store import RunError
from .base import Backend, Completion, Request, template_switches

#: What of a server's `/v1/models` entry goes into the identity: the name, the weights it was
#: started from (vLLM's and SGLang's `root`, `parent`), the server software (`owned_by`) and
#: llama.cpp's model facts (`meta`: parameter count, file size, vocabulary). Left out: times,
#: permissions, context length, which change no reply.
SERVED_FIELDS = ("id", "root", "parent", "owned_by", "meta")

#: An endpoint whose attempt failed gets no new requests for this long, doubling with each
#: failure in a row up to COOLDOWN_MAX_S; after it, one request at a time probes it.
COOLDOWN_S = 0.5
COOLDOWN_MAX_S = 30.0


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


@dataclass
class Endpoint:
    """One server's share of the work and its health. Touched only by the event loop thread
    (and read by tests), so it needs no lock."""

    url: str
    in_flight: int = 0
    picks: int = 0
    failures: int = 0  # failed attempts in a row
    down_until: float = 0.0  # no new requests before this (time.monotonic), unless all are down

    def available(self, now: float) -> bool:
        # Past its cooldown, a failing endpoint takes one request at a time until one succeeds.
        return not self.failures or (now >= self.down_until and self.in_flight == 0)

    def failed(self) -> None:
        self.failures += 1
        pause = min(COOLDOWN_MAX_S, COOLDOWN_S * 2 ** (self.failures - 1))
        self.down_until = time.monotonic() + pause

    def succeeded(self) -> None:
        self.failures = 0
        self.down_until = 0.0


def request_extra(params, template_kwargs: dict[str, bool]) -> dict:
    """The request body fields the openai client has no argument for: vLLM's and SGLang's
    top_k, and the chat template's switches (`chat_template_kwargs`, e.g. enable_thinking)."""
    extra: dict = {"top_k": params.top_k} if params.top_k > 0 else {}
    if template_kwargs:
        extra["chat_template_kwargs"] = dict(template_kwargs)
    return extra


class OpenAIBackend(Backend):
    def __init__(
        self,
        base_url: str | Sequence[str],
        model: str,
        concurrency: int = 16,
        timeout_s: float = 600.0,
        max_retries: int = 4,
        api_key: str | None = None,
        backoff_initial_s: float = 0.5,
        enable_thinking: bool | None = None,
    ):
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        # Sorted and without repeats: the order a user lists servers in is no part of the model.
        self.endpoints = [Endpoint(u) for u in sorted({u.rstrip("/") for u in urls})]
        if not self.endpoints:
            raise ValueError("the openai backend needs at least one base URL")
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
        self.answered: Counter[str] = Counter()  # replies by endpoint URL
        self.template_kwargs, self._identity_suffix = template_switches(enable_thinking)
        self._identity: str | None = None
        self._identity_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The first endpoint's URL (the only one, for a single server)."""
        return self.endpoints[0].url

    @property
    def retries(self) -> int:
        """Retried attempts, all reasons together."""
        return sum(self.retried.values())

    @property
    def identity(self) -> str:
        """`openai:MODEL=SERVED@URL[,URL...]`: the name requests use, what the servers report
        serving under it (SERVED_FIELDS of their `/v1/models` entry, as JSON) and the sorted
        endpoint URLs. Asked of the servers once, on first use.

        The served entry tells apart different weights behind one name where the server says
        what it loaded (vLLM, SGLang, llama.cpp's `llama-server`); llama-cpp-python's server
        reports only the name, so the URLs are what tells two of its servers apart. All the
        endpoints of one backend are one engine: each call is keyed and stored once, whichever
        endpoint answers it, so replicas share one cache. Changing the set of URLs (another
        replica, another port, a proxy in front) starts a new cache, as that is all a client
        can see of "another server"; a dead endpoint still in the list keeps the identity.
        """
        with self._identity_lock:
            if self._identity is None:
                served = self._ask_served()
                urls = ",".join(e.url for e in self.endpoints)
                self._identity = f"openai:{self.model}={served}@{urls}{self._identity_suffix}"
            return self._identity

    def _ask_served(self) -> str:
        """SERVED_FIELDS of the model's `/v1/models` entry, as compact JSON, agreed on by every
        endpoint that answers. An endpoint that cannot be reached starts cooling down (a
        warning says so); if none can, or two disagree, the run stops here, before any call."""
        served: dict[str, str] = {}
        unreachable: dict[str, str] = {}
        for endpoint in self.endpoints:
            client = openai.OpenAI(base_url=endpoint.url, api_key=self.api_key,
                                   timeout=min(self.timeout_s, 30.0), max_retries=2)
            try:
                listed = {m.id: m.to_dict() for m in client.models.list().data}
            except openai.NotFoundError:  # a server without the models route
                served[endpoint.url] = json.dumps({"id": None})
                continue
            except (openai.APIError, ValueError, TypeError, AttributeError) as exc:
                unreachable[endpoint.url] = f"{failure_reason(exc)}: {exc}"
                endpoint.failed()
                continue
            finally:
                client.close()
            entry = listed.get(self.model)
            if entry is None and len(listed) == 1:
                # A one-model server (llama.cpp's) answers whatever name a request uses.
                entry = next(iter(listed.values()))
            if entry is None:
                raise RunError(f"the server at {endpoint.url} does not serve {self.model!r} "
                               f"(it lists {', '.join(sorted(listed)) or 'no model'})")
            kept = {k: entry[k] for k in SERVED_FIELDS if entry.get(k) is not None}
            served[endpoint.url] = json.dumps(kept, sort_keys=True, separators=(",", ":"))
        if not served:
            raise RunError(f"no endpoint of openai:{self.model} answered /v1/models: " + "; ".join(
                f"{url}: {why}" for url, why in unreachable.items()))
        if len(set(served.values())) > 1:
            raise RunError(f"the endpoints of openai:{self.model} serve different models: "
                           + "; ".join(f"{url}: {s}" for url, s in served.items()))
        for url, why in unreachable.items():
            warnings.warn(f"openai:{self.model}: {url} did not answer /v1/models ({why}); "
                          "its requests go to the other endpoints until it answers",
                          stacklevel=3)
        return next(iter(served.values()))

    def _pick(self) -> Endpoint:
        """The endpoint for the next attempt: fewest in flight, then fewest chosen so far,
        among those not cooling down; if all are, the one whose cooldown ends first."""
        if len(self.endpoints) == 1:
            return self.endpoints[0]
        now = time.monotonic()
        ready = [e for e in self.endpoints if e.available(now)]
        if not ready:
            return min(self.endpoints, key=lambda e: e.down_until)
        return min(ready, key=lambda e: (e.in_flight, e.picks))

    def _client(self, url: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=url,
            api_key=self.api_key,
            timeout=self.timeout_s,
            max_retries=0,  # tenacity owns retries so they are counted and bounded here
        )

    async def _one(self, clients: dict[str, openai.AsyncOpenAI], request: Request) -> Completion:
        p = request.params
        extra = request_extra(p, self.template_kwargs)
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
                    endpoint = self._pick()
                    endpoint.in_flight += 1
                    endpoint.picks += 1
                    try:
                        reply = await clients[endpoint.url].chat.completions.create(
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
                    except Exception as exc:
                        if _retryable(exc):  # the server's fault: send the next ones elsewhere
                            endpoint.failed()
                        raise
                    finally:
                        endpoint.in_flight -= 1
                    endpoint.succeeded()
                    self.answered[endpoint.url] += 1
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
        clients = {e.url: self._client(e.url) for e in self.endpoints}
        try:

            async def bounded(index: int, request: Request) -> None:
                async with limit:
                    sink(index, await self._one(clients, request))

            await asyncio.gather(*(bounded(i, r) for i, r in enumerate(requests)))
        finally:
            for client in clients.values():
                await client.close()

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        out: list[Completion | None] = [None] * len(requests)
        for index, completion in self.stream(requests):
            out[index] = completion
        return out  # type: ignore[return-value]

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        """Yield each reply the moment it arrives, so the store keeps it even if we die next."""
        self.identity  # noqa: B018 - the servers are asked what they serve before any call
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
