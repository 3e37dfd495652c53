"""Load seed questions from JSONL, Parquet, CSV or a `datasets` save_to_disk folder.

Every problem names its file, row (line) and field. With `on_error: skip`, malformed rows are
counted by reason instead. Duplicate questions (same id, or same text when ids are derived) are
reported and dropped once. An input with no usable question is an error, not an empty run.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .config import SeedsConfig
from .records import Question, text_id
from .store import RunError


class SeedError(RunError):
    pass


@dataclass
class SeedReport:
    rows: int = 0
    loaded: int = 0
    duplicates: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count


def builtin_seeds_path() -> Path:
    return Path(str(resources.files("svdistill") / "data" / "seeds" / "arithmetic.jsonl"))


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line or row number, row) pairs; a row that cannot be parsed comes back as its error."""
    suffix = path.suffix.lower()
    if path.is_dir():
        yield from _dataset_rows(path)
    elif suffix in (".jsonl", ".json", ".ndjson"):
        with open(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield number, f"not UTF-8 text (byte {exc.start})"
                    continue
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, f"not valid JSON ({exc.msg}, column {exc.colno})"
                    continue
                yield number, row if isinstance(row, dict) else "a row must be a JSON object"
    elif suffix == ".csv":
        try:
            with open(path, encoding="utf-8", newline="") as f:
                reader = csv.DictReader(f)
                for row in reader:
                    yield reader.line_num, row
        except UnicodeDecodeError as exc:
            raise SeedError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise SeedError(f"{path}: cannot read Parquet ({exc})") from exc
        for number, row in enumerate(table.to_pylist(), start=1):
            yield number, row
    else:
        raise SeedError(f"{path}: unknown seed format {suffix!r} (use .jsonl, .csv, .parquet "
                        "or a datasets save_to_disk folder)")


def _dataset_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    try:
        from datasets import load_from_disk
    except ImportError as exc:
        raise SeedError(f"{path}: reading a datasets folder needs `pip install datasets`") from exc
    try:
        dataset = load_from_disk(str(path))
    except Exception as exc:
        raise SeedError(f"{path}: not a datasets save_to_disk folder ({exc})") from exc
    if hasattr(dataset, "keys"):  # a DatasetDict: take its first split
        dataset = dataset[next(iter(dataset.keys()))]
    yield from enumerate(dataset, start=1)


def _text_field(row: dict[str, Any], name: str, required: bool) -> str | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"field {name!r} is missing or empty")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"field {name!r} must be text, got {type(value).__name__}")
    return str(value)


def iter_seeds(cfg: SeedsConfig, report: SeedReport | None = None) -> Iterator[Question]:
    """Yield the distinct, well-formed questions of the configured seed source, in file order."""
    path = Path(cfg.path) if cfg.path else builtin_seeds_path()
    if not path.exists():
        raise SeedError(f"{path}: seed file not found")
    report = report if report is not None else SeedReport()
    seen: set[str] = set()
    unit = "row" if path.suffix.lower() in (".parquet",) or path.is_dir() else "line"
    for number, row in _rows(path):
        report.rows += 1
        try:
            if isinstance(row, str):
                raise ValueError(row)
            text = _text_field(row, cfg.question_field, required=True)
            qid = _text_field(row, cfg.id_field, False) if cfg.id_field else None
            domain = _text_field(row, cfg.domain_field, False) if cfg.domain_field else None
            ref = _text_field(row, cfg.reference_field, False) if cfg.reference_field else None
        except ValueError as exc:
            if cfg.on_error == "fail":
                raise SeedError(f"{path}:{unit} {number}: {exc}") from None
            report.skipped[str(exc).split(" (")[0]] += 1
            continue
        qid = qid or text_id(text)  # type: ignore[arg-type]
        if qid in seen:
            report.duplicates += 1
            continue
        seen.add(qid)
        if len(seen) <= cfg.offset:
            continue
        report.loaded += 1
        yield Question(id=qid, text=text, domain=domain or "general", reference=ref)  # type: ignore[arg-type]
        if cfg.limit and report.loaded >= cfg.limit:
            break
    if report.loaded == 0:
        raise SeedError(f"{path}: no usable seed questions ({report.rows} rows read)")


def load_seeds(cfg: SeedsConfig) -> tuple[list[Question], SeedReport]:
    report = SeedReport()
    return list(iter_seeds(cfg, report)), report
