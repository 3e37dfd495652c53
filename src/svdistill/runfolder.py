"""A run folder: where every phase reads and writes, with the resolved config and call store."""

from __future__ import annotations

import os
from pathlib import Path

from .config import Config, save_config
from .store import CallStore, RunError


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"{self.path}: cannot create the run folder ({exc.strerror})") from exc
        if not os.access(self.path, os.W_OK):
            raise RunError(f"{self.path}: the run folder is not writable")
        self._calls: CallStore | None = None

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def calls(self) -> CallStore:
        """The run's call store, opened on first use."""
        if self._calls is None:
            self._calls = CallStore(self.file("calls.jsonl"))
        return self._calls

    def save_config(self, config: Config) -> None:
        save_config(config, self.file("config.yaml"))

    def close(self) -> None:
        if self._calls is not None:
            self._calls.close()
            self._calls = None
