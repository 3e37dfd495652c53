"""A backend string (`model.backend`, `verify.judge_backend`) parsed once, for every place that
reads one: building the engine, finding the weights to train, naming the base model on a card.

The form is `KIND[:REST]`, where KIND is a name of svdistill.registry.BACKENDS and REST may end
in `#FRAGMENT` (`openai:URL#MODEL`, `hf:FOLDER#file.gguf`). This module imports only the
registry, so the config can check a string when it loads without importing any engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..registry import BACKENDS


class BackendSpecError(ValueError):
    """A backend string that names no engine, or names one in the wrong form."""


@dataclass(frozen=True)
class BackendSpec:
    text: str  # as written
    kind: str  # before the first ':'
    rest: str  # after it; '' when there is none

    @classmethod
    def parse(cls, text: str) -> BackendSpec:
        kind, _, rest = text.partition(":")
        return cls(text, kind, rest)

    @property
    def target(self) -> str:
        """REST before its '#': the URL(s) of openai:, the folder of hf:."""
        return self.rest.partition("#")[0]

    @property
    def fragment(self) -> str:
        """REST after its '#' ('' when none): the model of openai:, the GGUF file of hf:."""
        return self.rest.partition("#")[2]

    def model_path(self) -> Path:
        """`FOLDER[#file.gguf]` as the path to load: the folder, or the GGUF file inside it."""
        return Path(self.target) / self.fragment if self.fragment else Path(self.target)

    def with_weights(self, folder: Path) -> str:
        """This engine loading the weights in `folder` (a trained model, the last round's).
        vLLM stays vLLM, so the trained model is sampled by the engine that sampled the base
        model and a paired difference compares weights, not engines (and a cluster run does
        not fall back to transformers); every other kind loads the folder with transformers
        (a server or a GGUF runtime cannot load it by itself)."""
        kind = "vllm" if self.kind == "vllm" else "hf"
        return f"{kind}:{folder}"

    def check_kind(self) -> BackendSpec:
        """This spec, or BackendSpecError when its kind is no registered backend."""
        if self.kind not in BACKENDS:
            raise BackendSpecError(
                f"backend {self.text!r} is not one of: {', '.join(BACKENDS.names())} "
                "(written KIND or KIND:REST, e.g. hf:PATH, openai:http://HOST:PORT/v1#MODEL)")
        return self

    def __str__(self) -> str:
        return self.text
