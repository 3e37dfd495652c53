"""A run folder: where every phase reads and writes, with the resolved config and call store."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .config import Config, is_snapshot, save_config
from .store import CallStore, RunError

_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


class RunFolder:
    """A folder of one run. `calls` lends it another folder's call store (an ablation cell uses
    its source run's): then this folder neither opens nor closes a store of its own."""

    def __init__(self, path: str | Path, calls: CallStore | None = None):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"{self.path}: the run folder is a file, not a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"{self.path}: cannot create the run folder ({exc.strerror})") from None
        if not os.access(self.path, os.W_OK):
            raise RunError(f"{self.path}: the run folder is not writable")
        self._calls: CallStore | None = calls
        self._owns_calls = calls is None

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def calls(self) -> CallStore:
        """The run's call store, opened on first use."""
        if self._calls is None:
            self._calls = CallStore(self.file("calls.jsonl"))
        return self._calls

    def check_own_config(self) -> None:
        """Refuse a folder whose config.yaml svdistill did not write, such as the user's own
        config in the folder given as --out: every run rewrites that file (and later phases
        read it as the run's), so it would be replaced, its comments lost. Commands call this
        before any work; save_config calls it again before it writes."""
        path = self.file("config.yaml")
        if path.is_file() and not is_snapshot(path.read_bytes().decode("utf-8", "replace")):
            raise RunError(
                f"{path} is not a config svdistill saved, and a run writes its resolved config "
                "there: it would replace this file. Give another run folder (--out), or keep "
                "your config under another name."
            )

    def save_config(self, config: Config) -> None:
        """Write config.yaml atomically: on a full disk the previous one stays as it was."""
        self.check_own_config()
        path = self.file("config.yaml")
        try:
            save_config(config, path)
        except OSError as exc:
            raise RunError(
                f"{path}: cannot write ({exc.strerror or exc}); "
                "an earlier config.yaml, if any, is unchanged"
            ) from None

    @contextmanager
    def writing(self, what: str) -> Iterator[None]:
        """Turn a storage failure (full disk, quota, read-only or failing device) while writing
        `what` into a RunError naming the run folder. Finished files are written atomically, so
        they are still whole; a rerun resumes from the calls already stored."""
        try:
            yield
        except OSError as exc:
            if exc.errno not in _STORAGE_ERRORS:
                raise
            where = f" ({exc.filename})" if exc.filename else ""
            raise RunError(
                f"{self.path}: cannot write {what}{where}: {exc.strerror or exc}. Files finished "
                "earlier are unchanged; make room and rerun the same command to resume."
            ) from exc

    def close(self) -> None:
        """Flush and close the call store. This runs in `finally` blocks, where a storage
        failure replaces the error that led there, so it too must say where it happened."""
        if self._calls is not None and self._owns_calls:
            calls, self._calls = self._calls, None
            with self.writing("the call store (calls.jsonl)"):
                calls.close()
