"""A phase-level progress bar: items done, tokens/s of paid calls, elapsed and ETA."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class PhaseProgress:
    """Use as a context manager; `advance(items, tokens)` as work completes. Disabled = silent."""

    def __init__(self, description: str, total: int | None, console: Console | None = None,
                 enabled: bool = True):
        self.enabled = enabled
        self.tokens = 0
        self.started = time.perf_counter()
        self._progress = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=console or Console(stderr=True),
            )
            self._task = self._progress.add_task(description, total=total, rate="")

    def __enter__(self) -> PhaseProgress:
        self.started = time.perf_counter()
        if self._progress is not None:
            self._progress.start()
        return self

    def advance(self, items: int = 1, tokens: int = 0) -> None:
        self.tokens += tokens
        if self._progress is not None:
            rate = self.tokens / max(time.perf_counter() - self.started, 1e-9)
            self._progress.update(self._task, advance=items, rate=f"{rate:,.0f} tok/s")

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
