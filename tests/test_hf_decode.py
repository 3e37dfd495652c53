"""Continuous batching on the tiny random model: finished rows leave, waiting ones join, and a
request's tokens, finish reason and counts are those it gets alone or from static `generate`."""

import dataclasses

import pytest

pytest.importorskip("transformers")

import torch  # noqa: E402

from svdistill.backends.base import Request, SamplingParams  # noqa: E402
from svdistill.backends.hf import HFBackend  # noqa: E402
from svdistill.backends.hf_decode import decode  # noqa: E402

PROMPTS = ["Hi", "What is 2 + 2?", "Name three fruits, then say why you like each.", "x" * 40,
           "Write a haiku about rain.", "Count to five.", "A much longer question about apples?"]
LIMITS = [3, 11, 5, 14, 2, 8, 6]
SHARPEN = 30.0


def requests(temperature: float = 0.9) -> list[Request]:
    return [Request.chat([{"role": "user", "content": p}],
                         SamplingParams(temperature=temperature if i != 2 else 0.0, top_p=0.9,
                                        top_k=40, max_tokens=limit, seed=50 + i))
            for i, (p, limit) in enumerate(zip(PROMPTS, LIMITS, strict=True))]


@pytest.fixture(scope="module")
def backend(tiny_model):
    """The tiny model with its attention sharpened: at random initialisation every query
    attends almost evenly to every key, so a wrong position or a wrong mask column would hardly
    change a token; with queries and keys scaled up, it does."""
    engine = HFBackend(tiny_model, batch_size=3, dtype="float32")
    with torch.no_grad():
        for layer in engine.model.model.layers:
            for projection in (layer.self_attn.q_proj, layer.self_attn.k_proj):
                projection.weight.mul_(SHARPEN)
                projection.bias.mul_(SHARPEN)
    return engine


def run(backend: HFBackend, route: str, batch: list[Request]):
    backend.decode = route
    try:
        return backend.generate(batch)
    finally:
        backend.decode = "continuous"


def as_tuple(c):
    return c.text, c.finish_reason, c.prompt_tokens, c.completion_tokens


def test_the_tiny_model_decodes_continuously(backend):
    assert backend.decode == "continuous"
    with pytest.raises(ValueError, match="decode"):
        HFBackend(backend.path, decode="sometimes")


def token_ids(backend: HFBackend, batch: list[Request]) -> list[list[int]]:
    return [backend.tokenizer(backend.render(r), add_special_tokens=False)["input_ids"]
            for r in batch]


def test_rows_leave_when_they_finish_and_waiting_rows_join(backend, monkeypatch):
    """Every decode step feeds only rows still running: the rows fed over all steps are the
    tokens generated after the first (which comes from the prefill), nothing more."""
    fed = []  # (rows, tokens per row) of every forward pass
    original = backend.model.forward

    def counting(*args, **kwargs):
        fed.append(tuple(kwargs["input_ids"].shape))
        return original(*args, **kwargs)

    monkeypatch.setattr(backend.model, "forward", counting)
    batch = requests()
    done = list(decode(backend.model, token_ids(backend, batch), [r.params for r in batch],
                       backend.stop_ids, batch_size=3))
    assert sorted(d.index for d in done) == list(range(len(PROMPTS)))
    steps = [rows for rows, width in fed if width == 1]
    prefills = [rows for rows, width in fed if width > 1]
    assert sum(steps) == sum(d.completion_tokens - 1 for d in done)
    assert sum(prefills) == len(PROMPTS) and len(prefills) > 1  # later requests joined
    assert max(steps) <= 3
    # the 2-token request leaves first, long before the 14-token one
    order = [d.index for d in done]
    assert order.index(4) < order.index(3)


def test_a_request_gives_the_same_completion_alone_batched_and_static(backend):
    batch = requests()
    together = [as_tuple(c) for c in run(backend, "continuous", batch)]
    alone = [as_tuple(run(backend, "continuous", [r])[0]) for r in batch]
    static = [as_tuple(c) for c in run(backend, "static", batch)]
    assert together == alone == static
    assert len({t[0] for t in together}) > 1


def test_length_limits_are_per_request(backend):
    replies = run(backend, "continuous", requests())
    for reply, limit in zip(replies, LIMITS, strict=True):
        if reply.finish_reason == "length":
            assert reply.completion_tokens == limit
        else:
            assert reply.finish_reason == "stop" and reply.completion_tokens <= limit


def test_a_stop_token_ends_the_row_and_is_counted_not_kept(backend, monkeypatch):
    """Make a token the random model does emit a stop token: each row then stops at its first
    occurrence, in both routes alike."""
    free = [dataclasses.replace(r, params=dataclasses.replace(r.params, max_tokens=14))
            for r in requests()]
    plain = {d.index: d for d in decode(backend.model, token_ids(backend, free),
                                        [r.params for r in free], [],
                                        batch_size=3)}
    emitted = plain[3].tokens
    assert plain[3].finish_reason == "length" and len(emitted) == 14
    stop = emitted[4]
    monkeypatch.setattr(backend, "stop_ids", [stop])
    continuous = run(backend, "continuous", free)
    static = run(backend, "static", free)
    assert [as_tuple(c) for c in continuous] == [as_tuple(c) for c in static]
    stopped = continuous[3]
    assert stopped.finish_reason == "stop"
    assert stopped.completion_tokens == emitted.index(stop) + 1
    kept = emitted[: emitted.index(stop)]
    assert stopped.text == backend.tokenizer.decode(kept, skip_special_tokens=True)


def test_stream_yields_each_request_once_as_it_finishes(backend):
    indices = [i for i, _ in backend.stream(requests())]
    assert sorted(indices) == list(range(len(PROMPTS)))
    assert indices != sorted(indices)  # finishing order, not request order
