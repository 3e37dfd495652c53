"""How each kind of svdistill.registry.BACKENDS becomes an engine: `build_KIND(spec, options)`,
with `spec` the parsed backend string and `options` the config's `model` section.

Each builder checks the string's form first (a malformed one is a BackendSpecError saying how to
write it, a missing model file a FileNotFoundError), then imports its engine: torch, vLLM,
llama-cpp-python and openai load only in a process that uses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .base import Backend
from .spec import BackendSpec, BackendSpecError

if TYPE_CHECKING:
    from ..config import ModelConfig


def _expect(spec: BackendSpec, form: str) -> BackendSpecError:
    return BackendSpecError(f"backend {spec.text!r}: expected {form}")


def _nothing_after(spec: BackendSpec) -> None:
    if spec.rest:
        raise _expect(spec, f"{spec.kind} (nothing after it)")


def _no_thinking_switch(spec: BackendSpec, o: ModelConfig) -> None:
    if o.enable_thinking is not None:
        raise BackendSpecError(
            f"backend {spec.text!r}: model.enable_thinking is not supported by the llama.cpp "
            "engines (llama-cpp-python's chat handlers take no template arguments); leave it "
            "unset, or serve the model and use openai:")


def build_embedded(spec: BackendSpec, o: ModelConfig) -> Backend:
    """`embedded`: the packaged model, converted to an HF folder, on transformers."""
    _nothing_after(spec)
    from .embedded import embedded_hf_folder
    from .hf import HFBackend

    return HFBackend(embedded_hf_folder(), o.batch_size, o.dtype, o.n_threads, o.enable_thinking)


def build_embedded_llamacpp(spec: BackendSpec, o: ModelConfig) -> Backend:
    """`embedded-llamacpp`: the packaged model's GGUF file on llama.cpp."""
    _no_thinking_switch(spec, o)
    _nothing_after(spec)
    from .embedded import embedded_gguf
    from .llamacpp import LlamaCppBackend

    return LlamaCppBackend(embedded_gguf(), o.n_ctx, o.n_threads)


def build_tiny(spec: BackendSpec, o: ModelConfig) -> Backend:
    """`tiny`: the packaged tiny GGUF model on llama.cpp (wiring checks, not answers)."""
    _no_thinking_switch(spec, o)
    _nothing_after(spec)
    from .embedded import tiny_gguf
    from .llamacpp import LlamaCppBackend

    return LlamaCppBackend(tiny_gguf(), o.n_ctx, o.n_threads)


def build_scripted(spec: BackendSpec, o: ModelConfig) -> Backend:
    """`scripted[:delay=SECONDS][,judge=yes|no]`: deterministic replies, for tests and demos."""
    from .scripted import from_spec

    try:
        return from_spec(spec.rest)
    except ValueError as exc:
        raise BackendSpecError(
            f"backend {spec.text!r}: {exc}; expected scripted[:delay=SECONDS][,judge=yes|no]"
        ) from None


def build_openai(spec: BackendSpec, o: ModelConfig) -> Backend:
    """`openai:URL[,URL...]#MODEL`: one model served by one or more OpenAI-compatible servers."""
    urls = spec.target.split(",")
    if not spec.fragment or not all(u.startswith(("http://", "https://")) for u in urls):
        raise _expect(spec, "openai:http://HOST:PORT/v1#MODEL")
    from .openai_http import OpenAIBackend

    return OpenAIBackend(urls, spec.fragment, o.concurrency, o.timeout_s, o.max_retries,
                         enable_thinking=o.enable_thinking)


def build_llamacpp(spec: BackendSpec, o: ModelConfig) -> Backend:
    """`llamacpp:PATH.gguf`: a local GGUF file on llama.cpp."""
    _no_thinking_switch(spec, o)
    if not spec.rest:
        raise _expect(spec, "llamacpp:PATH.gguf")
    if not Path(spec.rest).is_file():
        raise FileNotFoundError(f"backend {spec.text!r}: no GGUF file at {spec.rest}")
    from .llamacpp import LlamaCppBackend

    return LlamaCppBackend(spec.rest, o.n_ctx, o.n_threads)


def build_hf(spec: BackendSpec, o: ModelConfig) -> Backend:
    """`hf:PATH_OR_FOLDER[#file.gguf]`: local weights on transformers."""
    if not spec.rest:
        raise _expect(spec, "hf:PATH_OR_FOLDER[#file.gguf]")
    target = spec.model_path()
    if not target.exists():
        raise FileNotFoundError(f"backend {spec.text!r}: no model at {target}")
    from .hf import HFBackend

    return HFBackend(target, o.batch_size, o.dtype, o.n_threads, o.enable_thinking)


def build_vllm(spec: BackendSpec, o: ModelConfig) -> Backend:
    """`vllm:MODEL`: a local folder or hub id on vLLM, in this process."""
    if not spec.rest:
        raise _expect(spec, "vllm:MODEL")
    from .vllm_offline import VLLMBackend

    return VLLMBackend(spec.rest, o.tensor_parallel_size, enable_thinking=o.enable_thinking)
