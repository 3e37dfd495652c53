"""Same config and seeds, same texts, whatever the batch composition (one machine).

Runs HFBackend.stream on the tiny random model with different batch sizes, so each request
shares its batch with different neighbours and different left padding, and compares every text.
"""

import pytest

pytest.importorskip("transformers")

from svdistill.backends.base import Request, SamplingParams  # noqa: E402
from svdistill.backends.hf import HFBackend  # noqa: E402

PROMPTS = ["Hi", "What is 2 + 2?", "Name three fruits, then say why you like each.",
           "x" * 40, "Write a haiku about rain.", "Count to five."]


def requests() -> list[Request]:
    return [Request.chat([{"role": "user", "content": p}],
                         SamplingParams(temperature=0.8, top_p=0.95, top_k=50,
                                        max_tokens=16, seed=100 + i))
            for i, p in enumerate(PROMPTS)]


def texts(backend: HFBackend, batch_size: int) -> list[str]:
    backend.batch_size = batch_size
    out = dict(backend.stream(requests()))
    return [out[i].text for i in range(len(PROMPTS))]


# bf16 on CPU (found here on AMD EPYC, no AMX): a row's logits change with the other rows and
# the left padding of its batch, and a sampled token flips within the first 16. float32 holds.
BF16_DEPENDS = pytest.mark.xfail(strict=True, reason="bf16 CPU kernels make rows depend on "
                                 "batch composition; see tests/test_determinism.py")


@pytest.mark.parametrize("dtype", ["float32", pytest.param("bfloat16", marks=BF16_DEPENDS)])
def test_texts_do_not_depend_on_batch_size(tiny_model, dtype):
    backend = HFBackend(tiny_model, dtype=dtype)
    one, three, six = texts(backend, 1), texts(backend, 3), texts(backend, 6)
    assert one == three == six
    assert texts(backend, 6) == six  # and the same twice
