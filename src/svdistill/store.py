"""The run folder: JSONL files written safely, and the call store that makes runs resumable.

Two write disciplines, both safe under kill -9:
- append-only logs (`calls.jsonl`, progress logs): each row is one `write` of one line, flushed;
  a reader drops a torn last line, so a crash loses at most the row being written;
- finished artifacts (`candidates.jsonl`, `verdicts.jsonl`, ...): written to a temporary file,
  fsynced, and renamed into place, so they either exist whole or not at all.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .backends.base import Completion


class RunError(Exception):
    """A user-facing error: bad input, bad config, unusable output folder. Printed, not traced."""


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file written by this project. A torn last line (crash mid-write) is skipped;
    a malformed line anywhere else is an error naming the file and line."""
    with open(path, "rb") as f:  # streamed: a file of any size is read in constant memory
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                yield json.loads(raw)
            except json.JSONDecodeError as exc:
                if not raw.endswith(b"\n"):  # only a file's last line can lack one
                    return  # torn tail from an interrupted append
                raise RunError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc


def dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


@contextmanager
def atomic_writer(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside `path` and rename it into place only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Fill a temporary folder beside `path`; it replaces `path` only on success.

    The folder is world-readable (mkdtemp makes it private), since models and datasets written
    this way are meant to be read by other users and servers.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    tmp.chmod(0o755)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Atomically write rows to `path`; returns the row count."""
    count = 0
    with atomic_writer(path) as f:
        for row in rows:
            f.write(dumps(row) + "\n")
            count += 1
    return count


def write_json(path: Path, obj: Any) -> None:
    with atomic_writer(path) as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")


class CallStore:
    """Every model call ever paid for in a run, keyed by what determined its result.

    Stored in `calls.jsonl`, one row per completed call, appended the moment the call finishes.
    Only an index (key -> byte offset) is held in memory, so a store of millions of calls stays
    small; replies are read back from disk when asked for. Failed calls ("error") are not stored,
    so a rerun tries them again.
    """

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._offsets: dict[str, int] = {}
        self.duplicates = 0  # rows whose key was already stored: a call paid twice
        self._repair_and_index()
        self._append = open(self.path, "ab")  # noqa: SIM115 - lives as long as the store
        self._reader = open(self.path, "rb")  # noqa: SIM115

    def _repair_and_index(self) -> None:
        if not self.path.exists():
            return
        offset = 0
        with open(self.path, "rb+") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    f.truncate(offset)  # torn tail from a crash: that call was never completed
                    break
                try:
                    key = json.loads(raw)["key"]
                except (json.JSONDecodeError, KeyError) as exc:
                    raise RunError(f"{self.path}: corrupt call-store row at byte {offset}") from exc
                if key in self._offsets:
                    self.duplicates += 1
                else:
                    self._offsets[key] = offset
                offset += len(raw)

    def __contains__(self, key: str) -> bool:
        return key in self._offsets

    def __len__(self) -> int:
        return len(self._offsets)

    def get(self, key: str) -> Completion | None:
        offset = self._offsets.get(key)
        if offset is None:
            return None
        self._reader.seek(offset)
        row = json.loads(self._reader.readline())
        return Completion(
            text=row["text"],
            finish_reason=row["finish_reason"],
            prompt_tokens=row.get("prompt_tokens", 0),
            completion_tokens=row.get("completion_tokens", 0),
            latency_s=row.get("latency_s", 0.0),
        )

    def put(self, key: str, completion: Completion, engine: str = "") -> None:
        self.put_many([(key, completion)], engine)

    def put_many(self, calls: Iterable[tuple[str, Completion]], engine: str = "") -> None:
        """Append finished calls in one locked write. Failed calls and keys already stored are
        skipped; a key twice in `calls` is written once, the first time."""
        rows: dict[str, bytes] = {}
        for key, completion in calls:
            if completion.ok and key not in self._offsets and key not in rows:
                rows[key] = _call_row(key, completion, engine)
        if not rows:
            return
        # Locked so that a second process appending to the same store cannot slip a row in
        # between our reading the end offset and writing there.
        fcntl.flock(self._append.fileno(), fcntl.LOCK_EX)
        try:
            self._append.seek(0, os.SEEK_END)
            offset = self._append.tell()
            self._append.write(b"".join(rows.values()))
            self._append.flush()  # survives kill -9 once in the OS page cache
        finally:
            fcntl.flock(self._append.fileno(), fcntl.LOCK_UN)
        for key, line in rows.items():
            self._offsets[key] = offset
            offset += len(line)

    def sync(self) -> None:
        """fsync the log: called at batch boundaries so a power loss costs at most one batch."""
        self._append.flush()
        os.fsync(self._append.fileno())

    def close(self) -> None:
        self.sync()
        self._append.close()
        self._reader.close()


_ROW_FIELDS = ("key", "engine", "text", "finish_reason", "prompt_tokens", "completion_tokens",
               "latency_s")


def _call_row(key: str, completion: Completion, engine: str) -> bytes:
    """One calls.jsonl line (its byte format is pinned by tests/test_store.py)."""
    values = (key, engine, completion.text, completion.finish_reason, completion.prompt_tokens,
              completion.completion_tokens, round(completion.latency_s, 4))
    return (dumps(dict(zip(_ROW_FIELDS, values, strict=True))) + "\n").encode("utf-8")
