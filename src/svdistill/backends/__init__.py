"""Choose a backend from a string: `embedded`, `tiny`, `scripted`, `openai:URL[,URL...]#MODEL`,
`llamacpp:PATH.gguf`, `hf:PATH`, `vllm:MODEL`. Heavy engines are imported only when chosen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .base import Backend, Completion, Request, SamplingParams, call_key

if TYPE_CHECKING:
    from ..config import ModelConfig

__all__ = ["Backend", "Completion", "Request", "SamplingParams", "call_key", "make_backend"]

FORMS = (
    "embedded | embedded-llamacpp | tiny | scripted[:delay=S][,judge=yes|no] | "
    "openai:BASE_URL[,BASE_URL...]#MODEL | llamacpp:PATH.gguf | hf:PATH_OR_FOLDER | vllm:MODEL"
)

_USAGE = {
    "embedded": "embedded (nothing after it)",
    "embedded-llamacpp": "embedded-llamacpp (nothing after it)",
    "tiny": "tiny (nothing after it)",
    "openai": "openai:http://HOST:PORT/v1#MODEL",
    "llamacpp": "llamacpp:PATH.gguf",
    "hf": "hf:PATH_OR_FOLDER[#file.gguf]",
    "vllm": "vllm:MODEL",
}


class BackendSpecError(ValueError):
    pass


def make_backend(spec: str, options: ModelConfig | None = None) -> Backend:
    """Build the engine a backend string names. Raises BackendSpecError for a malformed string
    and FileNotFoundError for a model path that does not exist."""
    from ..config import ModelConfig

    o = options or ModelConfig()
    kind, _, rest = spec.partition(":")
    if o.enable_thinking is not None and kind in ("tiny", "embedded-llamacpp", "llamacpp"):
        raise BackendSpecError(
            f"backend {spec!r}: model.enable_thinking is not supported by the llama.cpp engines "
            "(llama-cpp-python's chat handlers take no template arguments); leave it unset, or "
            "serve the model and use openai:")
    if kind == "scripted":
        from .scripted import from_spec

        try:
            return from_spec(rest)
        except ValueError as exc:
            raise BackendSpecError(
                f"backend {spec!r}: {exc}; expected scripted[:delay=SECONDS][,judge=yes|no]"
            ) from None

    if kind in ("embedded", "tiny", "embedded-llamacpp") and not rest:
        from . import embedded

        if kind == "embedded":
            from .hf import HFBackend

            return HFBackend(embedded.embedded_hf_folder(), o.batch_size, o.dtype, o.n_threads,
                             o.enable_thinking)
        from .llamacpp import LlamaCppBackend

        path = embedded.tiny_gguf() if kind == "tiny" else embedded.embedded_gguf()
        return LlamaCppBackend(path, o.n_ctx, o.n_threads)
    if kind == "openai" and rest:
        url, sep, model = rest.partition("#")
        urls = url.split(",")  # several servers of one model: openai:URL1,URL2#MODEL
        if not sep or not model or not all(u.startswith(("http://", "https://")) for u in urls):
            raise BackendSpecError(f"backend {spec!r}: expected openai:http://HOST:PORT/v1#MODEL")
        from .openai_http import OpenAIBackend

        return OpenAIBackend(urls, model, o.concurrency, o.timeout_s, o.max_retries,
                             enable_thinking=o.enable_thinking)
    if kind == "llamacpp" and rest:
        if not Path(rest).is_file():
            raise FileNotFoundError(f"backend {spec!r}: no GGUF file at {rest}")
        from .llamacpp import LlamaCppBackend

        return LlamaCppBackend(rest, o.n_ctx, o.n_threads)
    if kind == "hf" and rest:
        path, _, gguf = rest.partition("#")
        target = Path(path) / gguf if gguf else Path(path)
        if not target.exists():
            raise FileNotFoundError(f"backend {spec!r}: no model at {target}")
        from .hf import HFBackend

        return HFBackend(target, o.batch_size, o.dtype, o.n_threads, o.enable_thinking)
    if kind == "vllm" and rest:
        from .vllm_offline import VLLMBackend

        return VLLMBackend(rest, o.tensor_parallel_size, enable_thinking=o.enable_thinking)
    if kind in _USAGE:  # a known engine, written wrong: say how to write that one
        raise BackendSpecError(f"backend {spec!r}: expected {_USAGE[kind]}")
    raise BackendSpecError(f"backend {spec!r} is not one of: {FORMS}")
