"""Reading a run folder for the report: leniently, through the phases' own summary records.

A missing file is None; an unreadable one is a problem listed at the top of the page. A stats
file that is JSON but not its record raises SummaryError, which spoils only the section drawing
it (see `sections.run_sections`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..summaries import (
    CurateSummary,
    SampleStats,
    Summary,
    SummaryError,
    TrainSummary,
    VerifyStats,
)

S = TypeVar("S", bound=Summary)

_ROUND = re.compile(r"^round-(\d+)$")

TITLES = {
    "results": "Results: before / after / UQ-TTC",
    "paired": "Paired differences",
    "funnel": "Acceptance funnel",
    "votes": "Judge votes",
    "calls": "Model calls and tokens",
    "quality": "Judge quality",
    "curation": "Curation",
    "training": "Training",
    "sampling": "Sampling",
    "examples": "Examples",
    "contents": "Run contents",
}
# What a run folder may hold, the phase that writes it, and what it is.
ITEMS = [
    ("config.yaml", "sample", "resolved config"),
    ("questions.jsonl", "sample", "seed questions"),
    ("candidates.jsonl", "sample", "sampled candidates"),
    (SampleStats.FILE, "sample", "sampling stats"),
    ("verdicts.jsonl", "verify", "cascade verdicts"),
    (VerifyStats.FILE, "verify", "per-stage counts, calls, tokens, judge quality"),
    ("rejected", "verify", "rejected candidates by stage"),
    (CurateSummary.FILE, "curate", "curation stats"),
    (TrainSummary.FILE, "train", "training stats"),
    ("train/log.jsonl", "train", "training loss log"),
    ("eval", "evaluate", "benchmark results"),
]


@dataclass
class RunView:
    """One run folder, read leniently: a missing file is None, an unreadable one a problem."""

    path: Path
    problems: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return (self.path / name).exists()

    def json(self, name: str) -> dict | None:
        file = self.path / name
        if not file.is_file():
            return None
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.problems.append(f"{name}: could not be read ({exc})")
            return None
        if not isinstance(data, dict):
            self.problems.append(f"{name}: not a JSON object")
            return None
        return data

    def summary(self, cls: type[S]) -> S | None:
        """The phase record in `cls.FILE`, or None when absent or unreadable (a problem). A
        JSON object that is not the record raises SummaryError."""
        data = self.json(cls.FILE)
        return None if data is None else cls.from_dict(data)

    def summary_or_none(self, cls: type[S]) -> S | None:
        """`summary`, with a malformed record a listed problem instead of an error: for the
        places that only glance at a record (the rounds table, the examples)."""
        try:
            return self.summary(cls)
        except SummaryError as exc:
            self.problems.append(f"{cls.FILE}: {exc}")
            return None

    def rows(self, name: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Rows of a JSONL file, streamed; bad lines are skipped and counted as a problem."""
        file = self.path / name
        if not file.is_file():
            return
        bad = 0
        with open(file, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f):
                if limit is not None and n >= limit:
                    break
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        bad += 1
        if bad:
            self.problems.append(f"{name}: {bad} unreadable lines skipped")

    def text(self, name: str) -> str | None:
        file = self.path / name
        try:
            return file.read_text(encoding="utf-8") if file.is_file() else None
        except OSError as exc:
            self.problems.append(f"{name}: could not be read ({exc})")
            return None

    def config(self) -> dict:
        import yaml

        raw = self.text("config.yaml")
        try:
            data = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError as exc:
            self.problems.append(f"config.yaml: not valid YAML ({exc})")
            return {}
        return data if isinstance(data, dict) else {}

    def eval_rows(self) -> list[dict]:
        """`comparison_rows` of this folder, with the no-filter ablation's trained model (which
        `run.no_filter` trains beside the round) as model "no-filter"."""
        from ..evaluate.results import comparison_rows
        from ..runfolder import RunFolder

        rows = comparison_rows(RunFolder(self.path)) if self.has("eval") else []
        if self.has("no-filter/eval"):
            for row in comparison_rows(RunFolder(self.path / "no-filter")):
                if row["model"] == "trained":
                    rows.append({**row, "model": "no-filter"})
        return rows


def rounds_of(path: Path) -> list[tuple[int, Path]]:
    """The round-N subfolders of a multi-round run, in round order."""
    found = (
        [(int(m.group(1)), p) for p in path.iterdir() if p.is_dir() and (m := _ROUND.match(p.name))]
        if path.is_dir()
        else []
    )
    return sorted(found)
