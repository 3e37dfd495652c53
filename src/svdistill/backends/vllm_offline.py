"""Offline vLLM (`vllm.LLM`): `pip install 'svdistill[vllm]'` on a GPU machine, or
`bash scripts/install.sh vllm` for vLLM's CPU build in a venv of its own.

Exact command on a GPU machine (tensor parallel over 4 GPUs):

    svdistill sample paper-qwen3-4b --out runs/q4b model.tensor_parallel_size=4

Each request carries its own seed, so samples are reproducible and cached one by one.

On a machine without CUDA three defaults of vLLM's CPU build get in the way, and are set here
unless the environment sets them: the KV cache (vLLM wants 92% of NUMA node 0's memory and
refuses to start with less free; VLLM_CPU_KVCACHE_SPACE, GiB, default 2 here), chunked prefill
(a seeded request split across steps crashes the engine with "CPU Generator does not use
offset", a known bug of non-CUDA backends; it is turned off), and the OpenMP thread binding
(vLLM's `auto` leaves the model one core; VLLM_CPU_OMP_THREADS_BIND takes every core this
process may use, for tensor_parallel_size 1).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from ..store import RunError
from .base import Backend, Completion, Request, template_switches
from .weights import weights_fingerprint


def _on_cpu() -> bool:
    import torch

    return not torch.cuda.is_available()


def _cpu_environment(tensor_parallel_size: int) -> None:
    """vLLM's CPU settings, where the user has not set them (see the module docstring)."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if tensor_parallel_size == 1 and cpus and cpus == list(range(cpus[0], cpus[-1] + 1)):
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"{cpus[0]}-{cpus[-1]}")


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
        self.template_kwargs, suffix = template_switches(enable_thinking)
        # A local folder (a trained model) is named by its weights too, so a model retrained
        # in the same folder never finds the replies of the weights it replaced.
        folder = Path(model)
        weights = f":{weights_fingerprint(folder)}" if folder.is_dir() else ""
        self._identity = f"vllm:{model}{weights}{suffix}"
        options = {}
        if _on_cpu():
            _cpu_environment(tensor_parallel_size)
            options["enable_chunked_prefill"] = False
        try:
            self.llm = vllm.LLM(model=model, tensor_parallel_size=tensor_parallel_size,
                                dtype=dtype, **options)
        except RuntimeError as exc:  # the engine's own cause is in its worker's log above
            raise RunError(
                f"vLLM could not start {model}: {exc}. The cause is in vLLM's log above; the "
                "usual one on CPU is memory for the KV cache (set VLLM_CPU_KVCACHE_SPACE to "
                f"fewer GiB; now {os.environ.get('VLLM_CPU_KVCACHE_SPACE', 'unset')}), on GPU "
                "the gpu_memory_utilization share or a model too large for tensor_parallel_size."
            ) from exc

    @property
    def identity(self) -> str:
        return self._identity

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        """One completion per request. A request vLLM refuses (a prompt longer than the
        model's context, say) comes back failed with vLLM's reason, and the rest of its batch
        still runs: vLLM refuses a whole `chat` call for one bad request, so the batch is split
        until the bad ones stand alone (vLLM aborts what it had queued of a refused call)."""
        if not requests:
            return []
        started = time.perf_counter()
        try:
            outputs = self._chat(requests)
        except self._refusals as exc:
            if len(requests) == 1:
                return [Completion("", "error", error=f"vLLM refused the request: {exc}")]
            half = len(requests) // 2
            return self.generate(requests[:half]) + self.generate(requests[half:])
        latency = (time.perf_counter() - started) / len(requests)
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

    def _chat(self, requests: Sequence[Request]):
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
        switches = {"chat_template_kwargs": self.template_kwargs} if self.template_kwargs else {}
        return self.llm.chat([r.message_dicts() for r in requests], params, use_tqdm=False,
                             **switches)

    @property
    def _refusals(self) -> tuple[type[Exception], ...]:
        """What vLLM raises for a request it will not run (not for an engine that died)."""
        try:
            from vllm.exceptions import VLLMClientError
        except ImportError:  # before vLLM 0.20 a refused request was a ValueError
            return (ValueError,)
        return (ValueError, VLLMClientError)

    def close(self) -> None:
        """Stop the engine's worker process now, not whenever the interpreter exits."""
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.llm_engine.engine_core.shutdown()
            self.llm = None
