"""Choose a backend from a string: `embedded`, `tiny`, `scripted`, `openai:URL[,URL...]#MODEL`,
`llamacpp:PATH.gguf`, `hf:PATH`, `vllm:MODEL`. Each kind is one line of
svdistill.registry.BACKENDS and one builder (backends/builders.py); heavy engines are imported
only when chosen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import BACKENDS
from .base import Backend, Completion, Request, SamplingParams, call_key
from .spec import BackendSpec, BackendSpecError

if TYPE_CHECKING:
    from ..config import ModelConfig

__all__ = ["Backend", "BackendSpec", "BackendSpecError", "Completion", "Request",
           "SamplingParams", "call_key", "make_backend"]


def make_backend(spec: str, options: ModelConfig | None = None) -> Backend:
    """Build the engine a backend string names. Raises BackendSpecError for a malformed string
    and FileNotFoundError for a model path that does not exist."""
    from ..config import ModelConfig

    parsed = BackendSpec.parse(spec).check_kind()
    return BACKENDS.load(parsed.kind)(parsed, options or ModelConfig())
