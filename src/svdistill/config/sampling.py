"""The settings of the model engine, the seed questions and sampling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..backends.spec import BackendSpec
from .base import MAX_COUNT, MAX_SECONDS, MAX_SEED, MAX_TOKENS, Section


class ModelConfig(Section):
    backend: str = Field(
        "embedded",
        description="Engine and model: embedded, tiny, scripted, openai:URL#MODEL, "
        "llamacpp:PATH.gguf, hf:PATH_OR_FOLDER[#file.gguf], vllm:MODEL.",
    )
    batch_size: int = Field(16, ge=1, le=MAX_COUNT,
                            description="Requests per engine batch (in-process engines).")
    concurrency: int = Field(16, ge=1, le=MAX_COUNT,
                             description="Requests in flight at once (openai backend).")
    timeout_s: float = Field(600.0, gt=0, le=MAX_SECONDS,
                             description="Per-request timeout (openai backend).")
    max_retries: int = Field(4, ge=0, le=100,
                             description="Retries on 5xx, timeouts, connection errors.")
    dtype: Literal["auto", "bfloat16", "float32", "float16"] = Field(
        "auto", description="Weights dtype for the hf engine; auto is bfloat16 on CPU."
    )
    n_ctx: int = Field(4096, ge=256, le=MAX_TOKENS,
                       description="Context length (llama.cpp engine).")
    n_threads: int | None = Field(None, le=MAX_COUNT,
                                  description="CPU threads; default: all cores.")
    tensor_parallel_size: int = Field(1, ge=1, le=MAX_COUNT,
                                      description="GPUs per model (vllm engine).")
    enable_thinking: bool | None = Field(
        None,
        description="The chat template's thinking switch (Qwen3 and similar), passed to every "
        "engine that renders the chat (hf, vllm; openai servers as chat_template_kwargs); None "
        "= the template's own default. Not supported by the llama.cpp engines.",
    )
    system_prompt: str = Field(
        "You are a careful problem solver. Think step by step, then give the final answer.",
        description="System prompt used for sampling (and kept in the training examples).",
    )
    user_template: str = Field(
        "{question}\n\nEnd with the final answer in the form \\boxed{ANSWER}.",
        description="User message; {question} is replaced by the seed question.",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, backend: str) -> str:
        BackendSpec.parse(backend).check_kind()  # its form is checked when the engine is built
        return backend

    @field_validator("user_template")
    @classmethod
    def _one_placeholder(cls, text: str) -> str:
        from ..verify.prompts import placeholder_problems  # verify imports this module

        if "{question}" not in text:
            raise ValueError("lacks the placeholder {question}: the question would never reach "
                             "the model")
        if problems := placeholder_problems("user_template", text, ("question",)):
            raise ValueError("; ".join(problems))
        return text


class SeedsConfig(Section):
    path: str | None = Field(
        None, description="JSONL, Parquet, CSV or a datasets save_to_disk folder, or a packaged "
        "set: arithmetic, science, humaneval-seeds; None = arithmetic."
    )
    question_field: str = Field("question", description="Field holding the question text.")
    id_field: str | None = Field(
        "id", description="Field holding a question id; rows without one get a hash of the text.")
    domain_field: str | None = Field(
        "domain", description="Field naming the domain (math, arithmetic, code, ...), if any.")
    reference_field: str | None = Field(
        "answer", description="Optional reference answer: evaluation may use it, the method never."
    )
    on_error: Literal["fail", "skip"] = Field(
        "fail", description="Malformed rows: stop with an error, or skip and count them."
    )
    limit: int | None = Field(None, ge=1, description="Use only the first N questions.")
    offset: int = Field(0, ge=0, description="Skip the first N distinct questions.")


class SampleConfig(Section):
    n: int = Field(4, ge=1, le=MAX_COUNT, description="Candidates per question (paper: 8).")
    temperature: float = Field(0.7, ge=0, le=100, description="Sampling temperature (paper: 0.7).")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling threshold.")
    top_k: int = Field(50, ge=0, le=MAX_TOKENS,
                       description="0 disables top-k; 50 keeps CPU sampling fast.")
    max_tokens: int = Field(384, ge=1, le=MAX_TOKENS,
                            description="Longest reply; a longer one is truncated.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Sample i of a question uses seed + i.")
