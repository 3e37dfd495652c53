"""One reader for every table the tool takes in: seed questions and benchmarks alike.

JSONL, CSV, Parquet, or a `datasets` save_to_disk folder (a DatasetDict: its first split). Rows
come back one at a time with their line (JSONL, CSV) or row (Parquet, datasets) number, so every
message can name file, row and column. A row that cannot be parsed comes back as the text of its
error, so a caller may skip it (`seeds.on_error: skip`) or stop on it (benchmarks).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .store import RunError

JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
SUFFIXES = (*JSON_SUFFIXES, ".csv", ".parquet")

#: (line or row number, the row as a dict, or the reason it could not be read)
Row = tuple[int, "dict[str, Any] | str"]


def is_table(path: Path) -> bool:
    """A path the reader takes: a file with a known suffix, or a folder (a datasets folder)."""
    return path.is_dir() or path.suffix.lower() in SUFFIXES


def unit(path: Path) -> str:
    """What the numbers of `read_rows` count in this file: "line" or "row"."""
    return "row" if path.is_dir() or path.suffix.lower() == ".parquet" else "line"


def read_rows(path: Path, error: type[RunError] = RunError, what: str = "input") -> Iterator[Row]:
    """(number, row) pairs of a table; a row that cannot be parsed comes back as its error.

    A file that cannot be read at all (unknown format, broken Parquet, not a datasets folder)
    raises `error` naming it; `what` ("seed", "benchmark") words that message."""
    suffix = path.suffix.lower()
    if path.is_dir():
        yield from _dataset_rows(path, error)
    elif suffix in JSON_SUFFIXES:
        yield from _json_rows(path)
    elif suffix == ".csv":
        yield from _csv_rows(path, error)
    elif suffix == ".parquet":
        yield from _parquet_rows(path, error)
    else:
        raise error(f"{path}: unknown {what} format {suffix!r} (use .jsonl, .csv, .parquet "
                    "or a datasets save_to_disk folder)")


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


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _json_rows(path: Path) -> Iterator[Row]:
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
                + (" (a .json file is read as JSON Lines: one object a line)" if number == 1
                   else "")
            )


def _csv_rows(path: Path, error: type[RunError]) -> Iterator[Row]:
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
            raise error(f"{path}:line {reader.line_num}: not valid CSV ({exc})") from None


def _parquet_rows(path: Path, error: type[RunError]) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=4096)
        number = 0
        for batch in batches:  # a batch at a time: a large file is never held whole
            for row in batch.to_pylist():
                number += 1
                yield number, row
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
        raise error(f"{path}: cannot read Parquet ({exc})") from None


def _dataset_rows(path: Path, error: type[RunError]) -> Iterator[Row]:
    try:
        from datasets import load_from_disk
    except ImportError as exc:
        raise error(f"{path}: reading a datasets folder needs `pip install datasets`") from exc
    try:
        dataset = load_from_disk(str(path))
    except Exception as exc:
        raise error(f"{path}: not a datasets save_to_disk folder ({exc})") from exc
    if hasattr(dataset, "keys"):  # a DatasetDict: take its first split
        dataset = dataset[next(iter(dataset.keys()))]
    yield from enumerate(dataset, start=1)


def is_text(value: str) -> bool:
    """False for a str holding surrogates: undecodable bytes or a lone `\\ud800` escape."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
