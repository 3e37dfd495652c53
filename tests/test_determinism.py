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


# bf16 on CPU (found here on AMD EPYC with avx512_bf16, no AMX): a row's logits change by one
# unit in the last place with the number of rows beside it (the matrix kernels block the sum
# differently for 1 and for 7 or more rows) and with its left padding (attention's reductions),
# and bf16 logits tie so often (22 distinct values among a top 50) that a sampled token flips
# within the first 16. float32 differs by 1e-6 and holds. Making rows independent would take
# batch-invariant matrix kernels; what holds instead is the next test: the batches are a
# function of the requests and the batch size only, so the same run gives the same numbers.
BF16_DEPENDS = pytest.mark.xfail(strict=True, reason="bf16 CPU kernels make rows depend on "
                                 "batch composition; see tests/test_determinism.py")


@pytest.mark.parametrize("dtype", ["float32", pytest.param("bfloat16", marks=BF16_DEPENDS)])
def test_texts_do_not_depend_on_batch_size(tiny_model, dtype):
    backend = HFBackend(tiny_model, dtype=dtype)
    one, three, six = texts(backend, 1), texts(backend, 3), texts(backend, 6)
    assert one == three == six
    assert texts(backend, 6) == six  # and the same twice


@pytest.mark.parametrize("decode", ["continuous", "static"])
def test_bf16_gives_the_same_texts_twice_with_the_same_batch_size(tiny_model, decode):
    backend = HFBackend(tiny_model, dtype="bfloat16", decode=decode)
    assert texts(backend, 4) == texts(backend, 4)
