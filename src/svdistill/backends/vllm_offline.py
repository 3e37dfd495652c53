"""Offline vLLM (`vllm.LLM`) for GPU clusters. Needs `pip install 'svdistill[vllm]'` and a GPU.

Exact command on a GPU machine (tensor parallel over 4 GPUs):

    svdistill sample configs/paper-qwen3-4b.yaml --out runs/q4b \
        model.backend=vllm:Qwen/Qwen3-4B model.tensor_parallel_size=4

Each request carries its own seed, so samples are reproducible and cached one by one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from .base import Backend, Completion, Request, template_switches


class VLLMBackend(Backend):
    batch_size = 4096  # vLLM schedules continuous batches itself; give it a lot at once

    def __init__(self, model: str, tensor_parallel_size: int = 1, dtype: str = "auto",
                 enable_thinking: bool | None = None):
        try:
            import vllm
        except ImportError as exc:
            raise ImportError(
                "the vllm backend needs vLLM and a GPU: pip install 'svdistill[vllm]'"
            ) from exc
        self._vllm = vllm
        self.model = model
        self.template_kwargs, self._identity_suffix = template_switches(enable_thinking)
        self.llm = vllm.LLM(model=model, tensor_parallel_size=tensor_parallel_size, dtype=dtype)

    @property
    def identity(self) -> str:
        return f"vllm:{self.model}{self._identity_suffix}"

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        params = [
            self._vllm.SamplingParams(
                temperature=r.params.temperature,
                top_p=r.params.top_p,
                top_k=r.params.top_k if r.params.top_k > 0 else -1,
                max_tokens=r.params.max_tokens,
                seed=r.params.seed,
            )
            for r in requests
        ]
        started = time.perf_counter()
        switches = {"chat_template_kwargs": self.template_kwargs} if self.template_kwargs else {}
        outputs = self.llm.chat([r.message_dicts() for r in requests], params, use_tqdm=False,
                                **switches)
        latency = (time.perf_counter() - started) / max(len(requests), 1)
        out = []
        for result in outputs:
            sample = result.outputs[0]
            out.append(
                Completion(
                    text=sample.text,
                    finish_reason="length" if sample.finish_reason == "length" else "stop",
                    prompt_tokens=len(result.prompt_token_ids or []),
                    completion_tokens=len(sample.token_ids),
                    latency_s=latency,
                )
            )
        return out
