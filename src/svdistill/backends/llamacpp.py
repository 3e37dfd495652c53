"""In-process llama.cpp through llama-cpp-python: GGUF files on CPU (or a GPU build)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from .base import Backend, Completion, Request


class LlamaCppBackend(Backend):
    batch_size = 1  # llama-cpp-python's high-level API runs one sequence at a time

    def __init__(self, path: str | Path, n_ctx: int = 4096, n_threads: int | None = None):
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "the llamacpp backend needs llama-cpp-python: pip install 'svdistill[llamacpp]'"
            ) from exc
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"GGUF model not found: {self.path}")
        self.llm = Llama(
            model_path=str(self.path),
            n_ctx=n_ctx,
            n_threads=n_threads or os.cpu_count(),
            verbose=False,
        )

    @property
    def identity(self) -> str:
        # `min_p=0`: replies sampled before min_p was pinned (llama.cpp's 0.05) are not reused.
        return f"llamacpp:{self.path.name}:{self.path.stat().st_size}:min_p=0"

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        out = []
        for request in requests:
            p = request.params
            started = time.perf_counter()
            reply = self.llm.create_chat_completion(
                messages=request.message_dicts(),  # type: ignore[arg-type]
                temperature=p.temperature,
                top_p=p.top_p,
                top_k=p.top_k,
                # llama-cpp-python cuts the tail at min_p=0.05 unless told otherwise; the other
                # engines sample the configured distribution, so must this one.
                min_p=0.0,
                repeat_penalty=1.0,
                max_tokens=p.max_tokens,
                seed=p.seed,
            )
            choice = reply["choices"][0]
            usage = reply.get("usage", {})
            out.append(
                Completion(
                    text=choice["message"]["content"] or "",
                    finish_reason="length" if choice["finish_reason"] == "length" else "stop",
                    prompt_tokens=usage.get("prompt_tokens", 0),
                    completion_tokens=usage.get("completion_tokens", 0),
                    latency_s=time.perf_counter() - started,
                )
            )
        return out

    def close(self) -> None:
        self.llm.close()
