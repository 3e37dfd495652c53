"""A model's weights named by their content, for the engines that load a folder: the call
store keys replies by engine identity, and a model retrained in the same folder must not find
the replies of the weights it replaced."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def weights_fingerprint(path: Path) -> str:
    """A hash of the weight files, so a retrained model never reuses the base model's calls.

    Hashing a 1 GB model takes seconds, so the result is remembered in a sidecar file keyed by
    the files' sizes and modification times.
    """
    files = [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".gguf")
    )
    stamp = [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    sidecar = (path.parent if path.is_file() else path) / f".{path.name}.fingerprint.json"
    try:
        cached = json.loads(sidecar.read_text())
        if cached["stamp"] == stamp:
            return cached["fingerprint"]
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as f:
            while chunk := f.read(1 << 22):
                digest.update(chunk)
    fingerprint = digest.hexdigest()[:16]
    try:
        sidecar.write_text(json.dumps({"stamp": stamp, "fingerprint": fingerprint}))
    except OSError:
        pass  # a read-only model folder just means hashing again next time
    return fingerprint
