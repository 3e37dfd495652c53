"""The openai backend against a real OpenAI-compatible server: llama-cpp-python's server on the
embedded GGUF, started on 127.0.0.1 by the test, with a fault-injecting proxy in front of it."""

from __future__ import annotations

import pytest
from conftest import llama_server
from faultproxy import FaultProxy

from svdistill.backends.base import Request, SamplingParams
from svdistill.backends.openai_http import OpenAIBackend
from svdistill.generation import CallRunner
from svdistill.store import CallStore

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
pytestmark = pytest.mark.slow

MODEL = "qwen-embedded"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    from svdistill.backends.embedded import embedded_gguf

    with llama_server(embedded_gguf(), MODEL, tmp_path_factory.mktemp("server"), "--n_ctx", "1024",
                      start_timeout_s=180) as url:
        yield url


def ask(text: str, max_tokens: int = 12, seed: int = 0) -> Request:
    return Request.chat([{"role": "user", "content": text}],
                        SamplingParams(temperature=0.0, max_tokens=max_tokens, seed=seed))


def test_round_trip_with_usage_and_truncation(server_url):
    backend = OpenAIBackend(server_url, MODEL, concurrency=2)
    full, cut = backend.generate([ask("Say hello in one word.", 24), ask("Count to fifty.", 3)])
    assert full.ok and full.text.strip() and full.prompt_tokens > 0
    assert cut.finish_reason == "length" and cut.completion_tokens == 3


def test_failed_requests_are_retried(server_url):
    with FaultProxy(server_url, schedule=["503", "reset", "malformed"]) as proxy:
        backend = OpenAIBackend(proxy.url, MODEL, max_retries=4, backoff_initial_s=0.05)
        (reply,) = backend.generate([ask("What is 2 + 3? Answer with a number.")])
    assert reply.ok and reply.text.strip()
    assert proxy.injected == ["503", "reset", "malformed"]
    assert backend.retries == 3


def test_exhausted_retries_are_recorded_not_stored(server_url, tmp_path):
    with FaultProxy(server_url, schedule=["503", "503", "503"]) as proxy:
        backend = OpenAIBackend(proxy.url, MODEL, max_retries=2, backoff_initial_s=0.01)
        generator = CallRunner(backend, CallStore(tmp_path / "calls.jsonl"))
        (reply,) = generator.run([ask("Hi")])
        assert reply.finish_reason == "error" and "503" in reply.error
        assert generator.stats.errors == 1 and len(generator.store) == 0
        (again,) = generator.run([ask("Hi")])  # the schedule is used up: this one goes through
    assert again.ok and len(generator.store) == 1


def test_stalled_request_times_out_and_retries(server_url):
    # The retried, unstalled reply must come back within the timeout even on a loaded machine
    # (2.6 s was seen with another model job beside it); the stall lasts well past it.
    with FaultProxy(server_url, schedule=["stall"], stall_s=12) as proxy:
        backend = OpenAIBackend(proxy.url, MODEL, timeout_s=5.0, max_retries=2,
                                backoff_initial_s=0.01)
        (reply,) = backend.generate([ask("Say yes.")])
    assert reply.ok and backend.retries == 1


def test_another_model_under_the_same_name_shares_no_cached_reply(server_url, tmp_path):
    """The tiny GGUF served under the embedded model's name: another engine, so the store
    answers nothing of one from the other (llama-cpp-python reports only the name: the URL is
    what tells them apart)."""
    from svdistill.backends.embedded import tiny_gguf

    store = CallStore(tmp_path / "calls.jsonl")
    first = CallRunner(OpenAIBackend(server_url, MODEL), store)
    first.run([ask("Say hi.")])
    with llama_server(tiny_gguf(), MODEL, tmp_path, "--n_ctx", "512") as other_url:
        other = CallRunner(OpenAIBackend(other_url, MODEL), store)
        assert other.backend.identity != first.backend.identity
        assert other.backend.identity.startswith(f'openai:{MODEL}={{"id":"{MODEL}"')
        other.run([ask("Say hi.")])
    assert (first.stats.paid, other.stats.paid, other.stats.cached) == (1, 1, 0)
    assert len(store) == 2
