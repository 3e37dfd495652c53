"""The transformers engine on a tiny random model: batching, per-row seeds, stop and length."""

import pytest

pytest.importorskip("transformers")

from svdistill.backends.base import Request, SamplingParams  # noqa: E402
from svdistill.backends.hf import HFBackend  # noqa: E402


def ask(text: str, seed: int, max_tokens: int = 12, temperature: float = 1.0) -> Request:
    return Request.chat([{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": text}],
                        SamplingParams(temperature=temperature, top_p=0.95, top_k=50,
                                       max_tokens=max_tokens, seed=seed))


@pytest.fixture(scope="module")
def backend(tiny_model):
    return HFBackend(tiny_model, batch_size=4, dtype="float32")


def test_a_sample_does_not_depend_on_its_batch(backend):
    alone = backend.generate([ask("What is 2 + 2?", seed=7)])[0]
    batched = backend.generate([
        ask("A much longer question that pads the batch differently, about apples?", seed=3),
        ask("What is 2 + 2?", seed=7),
        ask("Hi", seed=1),
    ])[1]
    assert alone.text == batched.text
    assert alone.completion_tokens == batched.completion_tokens


def test_seeds_differ_and_repeat(backend):
    first = [c.text for c in backend.generate([ask("Hi", seed=s) for s in range(4)])]
    again = [c.text for c in backend.generate([ask("Hi", seed=s) for s in range(4)])]
    assert first == again
    assert len(set(first)) > 1


def test_length_limit_is_reported(backend):
    (reply,) = backend.generate([ask("Write a long story.", seed=0, max_tokens=5)])
    # A random model almost never emits the stop token within 5 tokens.
    assert reply.finish_reason == "length" and reply.completion_tokens == 5
    assert reply.prompt_tokens > 5


def test_mixed_limits_in_one_batch(backend):
    short, long = backend.generate([ask("Hi", seed=0, max_tokens=3), ask("Hi", 0, 9)])
    assert short.completion_tokens == 3 and long.completion_tokens <= 9
    assert long.text.startswith(short.text)


def test_identity_tracks_the_weights(backend, tiny_model):
    assert backend.identity.startswith("hf:model:float32:")
    assert backend.identity == HFBackend(tiny_model, dtype="float32").identity


def test_stream_returns_every_index_once(backend):
    requests = [ask("x" * (i * 7 + 1), seed=i, max_tokens=3) for i in range(9)]
    indices = [i for i, _ in backend.stream(requests)]
    assert sorted(indices) == list(range(9))
