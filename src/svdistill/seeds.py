"""Load seed questions from JSONL, Parquet, CSV or a `datasets` save_to_disk folder.

Every problem names its file, row (line) and field. With `on_error: skip`, malformed rows are
counted by reason instead. Duplicate questions (same id, or same text when ids are derived) are
reported and dropped once; one id given to two different questions (also `1` and `"1"`) is an
error naming both lines. An input with no usable question is an error, not an empty run.
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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def parse_json_line(raw: bytes, first: bool) -> Any:
    """One JSON Lines row from raw bytes. Raises ValueError with a reason that names the column
    or byte. A UTF-8 byte order mark on the first line is allowed (Windows editors write one);
    NaN and Infinity, which Python's json accepts but JSON does not, are refused."""
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        line = raw.decode("utf-8").rstrip("\r\n")  # so a column past the end is on this line
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(line, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg}, column {exc.colno})") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line or row number, row) pairs; a row that cannot be parsed comes back as its error."""
    suffix = path.suffix.lower()
    if path.is_dir():
        yield from _dataset_rows(path)
    elif suffix in (".jsonl", ".json", ".ndjson"):
        with open(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    row = parse_json_line(raw, first=number == 1)
                except ValueError as exc:
                    yield number, str(exc)
                    continue
                yield number, row if isinstance(row, dict) else (
                    f"a row must be a JSON object, got {_json_type(row)}"
                    + (" (a .json seed file holds one object per line)" if number == 1 else "")
                )
    elif suffix == ".csv":
        yield from _csv_rows(path)
    elif suffix == ".parquet":
        yield from _parquet_rows(path)
    else:
        raise SeedError(f"{path}: unknown seed format {suffix!r} (use .jsonl, .csv, .parquet "
                        "or a datasets save_to_disk folder)")


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    # Undecodable bytes are carried through as surrogates and reported per row (with its line),
    # so `on_error: skip` can skip one bad row instead of refusing the whole file.
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(f)
        try:
            for row in reader:
                bad = next((v for v in row.values() if isinstance(v, str) and not is_text(v)),
                           None)
                yield reader.line_num, row if bad is None else "not UTF-8 text"
        except csv.Error as exc:
            raise SeedError(f"{path}:line {reader.line_num}: not valid CSV ({exc})") from None


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=4096)
        number = 0
        for batch in batches:  # a batch at a time: a large seed file is never held whole
            for row in batch.to_pylist():
                number += 1
                yield number, row
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
        raise SeedError(f"{path}: cannot read Parquet ({exc})") from None


def is_text(value: str) -> bool:
    """False for a str holding surrogates: undecodable bytes or a lone `\\ud800` escape."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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


def text_field(row: dict[str, Any], name: str, required: bool) -> str | None:
    """Field `name` of a row as text (numbers become text; empty counts as missing), or None
    when optional and absent. Raises ValueError naming the field; callers add the location."""
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"field {name!r} is missing or empty")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"field {name!r} must be text, got {type(value).__name__}")
    if isinstance(value, str) and not is_text(value):
        raise ValueError(f"field {name!r} is not valid Unicode (a lone surrogate escape)")
    return str(value)


def iter_seeds(cfg: SeedsConfig, report: SeedReport | None = None) -> Iterator[Question]:
    """Yield the distinct, well-formed questions of the configured seed source, in file order."""
    path = Path(cfg.path) if cfg.path else builtin_seeds_path()
    if not path.exists():
        raise SeedError(f"{path}: seed file not found")
    report = report if report is not None else SeedReport()
    seen: dict[str, tuple[int, str, bool]] = {}  # id -> (first row, hash of its text, numeric)
    unit = "row" if path.suffix.lower() in (".parquet",) or path.is_dir() else "line"
    for number, row in _rows(path):
        report.rows += 1
        try:
            if isinstance(row, str):
                raise ValueError(row)
            text = text_field(row, cfg.question_field, required=True)
            qid = text_field(row, cfg.id_field, False) if cfg.id_field else None
            domain = text_field(row, cfg.domain_field, False) if cfg.domain_field else None
            ref = text_field(row, cfg.reference_field, False) if cfg.reference_field else None
        except ValueError as exc:
            if cfg.on_error == "fail":
                raise SeedError(f"{path}:{unit} {number}: {exc}") from None
            report.skipped[str(exc).split(" (")[0]] += 1
            continue
        qid = qid or text_id(text)  # type: ignore[arg-type]
        digest = text_id(text)  # type: ignore[arg-type]
        numeric = cfg.id_field is not None and not isinstance(row.get(cfg.id_field), str)
        if qid in seen:
            first, first_digest, first_numeric = seen[qid]
            if first_digest != digest:  # one id, two questions: which one is meant is unknowable
                why = (f" (the number {qid} and the text {qid!r} are the same id)"
                       if numeric != first_numeric else "")
                raise SeedError(f"{path}:{unit} {number}: id {qid!r} was given to a different "
                                f"question at {path}:{unit} {first}{why}")
            report.duplicates += 1  # the same question again: kept once
            continue
        seen[qid] = (number, digest, numeric)
        if len(seen) <= cfg.offset:
            continue
        report.loaded += 1
        yield Question(id=qid, text=text, domain=domain or "general", reference=ref)  # type: ignore[arg-type]
        if cfg.limit and report.loaded >= cfg.limit:
            break
    if report.loaded == 0:
        why = [f"{report.rows} rows read"]
        if report.skipped:
            why.append("skipped: " + ", ".join(f"{n} {r}" for r, n in report.skipped.items()))
        if cfg.offset and seen:
            why.append(f"all {len(seen)} distinct questions come before seeds.offset={cfg.offset}")
        raise SeedError(f"{path}: no usable seed questions ({'; '.join(why)})")


def load_seeds(cfg: SeedsConfig) -> tuple[list[Question], SeedReport]:
    report = SeedReport()
    return list(iter_seeds(cfg, report)), report
