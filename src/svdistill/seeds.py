"""Load seed questions from JSONL, Parquet, CSV or a `datasets` save_to_disk folder.

Every problem names its file, row (line) and field. With `on_error: skip`, malformed rows are
counted by reason instead. Duplicate questions (same id, or same text when ids are derived) are
reported and dropped once; one id given to two different questions (also `1` and `"1"`) is an
error naming both lines. An input with no usable question is an error, not an empty run.
Files are read by `svdistill.tables`, the reader benchmarks share.

`seeds.path` may also name a packaged seed set (BUILTIN_SEEDS): `arithmetic` (the default),
`science` (generated physics multiple choice, disjoint from the `science-mc` benchmark) or
`humaneval-seeds` (the prompts of one half of HumanEval, without tests or solutions; the other
half is the `humaneval-heldout` benchmark).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .config import SeedsConfig
from .records import Question, text_id
from .store import RunError
from .tables import is_text, parse_json_line, read_rows, text_field, unit

__all__ = ["SeedError", "SeedReport", "builtin_seeds_path", "seeds_path", "iter_seeds",
           "load_seeds", "is_text", "parse_json_line", "text_field"]  # the last three: tables


class SeedError(RunError):
    pass


@dataclass
class SeedReport:
    rows: int = 0
    loaded: int = 0
    duplicates: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count


BUILTIN_SEEDS = {"arithmetic": "arithmetic.jsonl", "science": "science_mc.jsonl",
                 "humaneval-seeds": "humaneval_seeds.jsonl"}


def builtin_seeds_path(name: str = "arithmetic") -> Path:
    return Path(str(resources.files("svdistill") / "data" / "seeds" / BUILTIN_SEEDS[name]))


def seeds_path(spec: str | None) -> Path:
    """The file `seeds.path` names: a path, a packaged set's name, or None (arithmetic)."""
    if spec is None:
        return builtin_seeds_path()
    if spec in BUILTIN_SEEDS and not Path(spec).exists():
        return builtin_seeds_path(spec)
    return Path(spec)


def iter_seeds(cfg: SeedsConfig, report: SeedReport | None = None) -> Iterator[Question]:
    """Yield the distinct, well-formed questions of the configured seed source, in file order."""
    path = seeds_path(cfg.path)
    if not path.exists():
        raise SeedError(f"{path}: seed file not found")
    report = report if report is not None else SeedReport()
    seen: dict[str, tuple[int, str, bool]] = {}  # id -> (first row, hash of its text, numeric)
    where = unit(path)
    for number, row in read_rows(path, SeedError, "seed"):
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
                raise SeedError(f"{path}:{where} {number}: {exc}") from None
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
                raise SeedError(f"{path}:{where} {number}: id {qid!r} was given to a different "
                                f"question at {path}:{where} {first}{why}")
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
