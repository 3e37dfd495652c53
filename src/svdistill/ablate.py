"""The paper's ablation grid on one run's samples: `svdistill ablate CONFIG --out RUN`.

Cells (defaults as the paper; `--n`, `--v` and `--cells` change them):

    n{n}-v{v}      n in {1,4,8} x v in {1,3,5}: the config's cascade, first-valid
    no-filter      all max-n samples, unverified
    single-judge   one "is this correct?" judge (verify.stages=[rules, single]), max n, max v
    all-valid      every accepted candidate at max n, max v (its first-valid twin is n8-v5)

Layout:

    RUN/ablate/samples/   max-n candidates per question (`run_sample`, through RUN's call store)
    RUN/ablate/base/      the base model's evaluation, for the gain column
    RUN/ablate/<cell>/    a run folder per cell: config.yaml, candidates (the first n),
                          verdicts, sft/, model/, eval/, phases.json
    RUN/ablate/results.json, results.md, timings.json

How calls are shared, and why it is correct: every cell is a plain run folder whose call store is
RUN's own (RUN/round-1/calls.jsonl for a `svdistill run` folder, else RUN/calls.jsonl). A call is
keyed by engine identity, messages and sampling settings, seed included; sample i of a question
always uses seed sample.seed + i and vote i of a stage verify.seed + i, whatever n or v. So
the pool's first n samples are the calls RUN already paid for, and a cell with v votes asks exactly
the requests a direct `svdistill verify` with v votes would: the phases run unchanged
(`run_sample`, `run_verify`, `run_curate`, `run_train`, `run_evaluate`), and the store only decides
which of those requests must still be paid. Decisions are therefore those of a direct run by
construction (not derived from another cell's votes), and a second `ablate` pays nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from .config import Config, load_config
from .evaluate.paired import PairedDiff
from .evaluate.results import paired_between
from .phases import (
    Engines,
    Executor,
    Phase,
    curate_phase,
    evaluate_phase,
    is_done,
    sample_phase,
    train_phase,
    verify_phase,
)
from .runfolder import RunFolder
from .store import RunError, read_jsonl, write_json, write_jsonl
from .summaries import CurateSummary, EvalSummary, SampleStats, VerifyStats

PAPER_N = (1, 4, 8)
PAPER_V = (1, 3, 5)


@dataclass(frozen=True)
class Cell:
    """One setting of the grid: which samples, which verification, which curation policy."""

    name: str
    setting: str  # the row label, shaped like the paper's
    n: int
    votes: int | None  # None: not verified
    policy: str
    stages: tuple[str, ...] | None = None  # None: the config's cascade

    def configure(self, config: Config) -> Config:
        cfg = config.model_copy(deep=True)
        cfg.sample.n = self.n
        if self.votes is not None:
            cfg.verify.votes = self.votes
        if self.stages is not None:
            cfg.verify.stages = list(self.stages)
        cfg.curate.policy = self.policy  # type: ignore[assignment]
        return cfg


def grid(config: Config, ns: tuple[int, ...] = PAPER_N, vs: tuple[int, ...] = PAPER_V
         ) -> list[Cell]:
    """Every cell, in table order: the n x v grid, then the paper's three other rows."""
    if not ns or not vs or min(ns) < 1 or min(vs) < 1:
        raise RunError(f"ablate: n and v must be positive integers (got n={ns}, v={vs})")
    ns, vs = tuple(sorted(set(ns))), tuple(sorted(set(vs)))
    big_n, big_v = max(ns), max(vs)
    single = ("rules", "single") if "rules" in config.verify.stages else ("single",)
    return [
        *(Cell(f"n{n}-v{v}", f"n={n}, v={v}", n, v, "first-valid") for n in ns for v in vs),
        Cell("no-filter", f"no filter (all {big_n} samples)", big_n, None, "no-filter"),
        Cell("single-judge", f"single judge, n={big_n}, v={big_v}", big_n, big_v,
             "single-judge", single),
        Cell("all-valid", f"all-valid, n={big_n}, v={big_v}", big_n, big_v, "all-valid"),
    ]


def pick(cells: list[Cell], names: list[str] | None) -> list[Cell]:
    """The cells named (all when `names` is empty), in grid order."""
    if not names:
        return cells
    known = {c.name for c in cells}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RunError(f"--cells: unknown cell(s) {', '.join(unknown)}; "
                       f"this grid has {', '.join(c.name for c in cells)}")
    return [c for c in cells if c.name in names]


def source_folder(out: Path) -> RunFolder:
    """The run whose samples and call store the grid reuses: round 1 of a `svdistill run`
    folder, or RUN itself (a folder written by `svdistill sample`, or an empty one)."""
    round1 = out / "round-1"
    return RunFolder(round1 if round1.is_dir() else out)


def _sampling_settings(config: Config) -> dict[str, Any]:
    d = config.model_dump(mode="json")
    return {
        "model.backend": d["model"]["backend"],
        "model.system_prompt": d["model"]["system_prompt"],
        "model.user_template": d["model"]["user_template"],
        **{f"seeds.{k}": v for k, v in d["seeds"].items()},
        **{f"sample.{k}": v for k, v in d["sample"].items() if k != "n"},
    }


def check_same_samples(source: RunFolder, config: Config) -> None:
    """Refuse a config whose samples would differ from RUN's (other than their number): the
    grid would pay for a fresh set of samples instead of reusing RUN's."""
    path = source.file("config.yaml")
    if not path.exists():
        return
    theirs, ours = _sampling_settings(load_config(path)), _sampling_settings(config)
    differ = [k for k in ours if ours[k] != theirs.get(k)]
    if differ:
        raise RunError(
            f"{path} was sampled with other settings ({', '.join(differ)}); pass the config "
            "and overrides the run used, so the grid reuses its samples and calls")


def take_first(pool: RunFolder, run: RunFolder, n: int) -> None:
    """A cell's candidates: the first n samples of every question of the pool."""
    write_jsonl(run.file("questions.jsonl"), read_jsonl(pool.file("questions.jsonl")))
    write_jsonl(run.file("candidates.jsonl"),
                (r for r in read_jsonl(pool.file("candidates.jsonl")) if r["sample_index"] < n))


def reference_cell(cells: list[Cell]) -> Cell | None:
    """The cell every other is compared with: the paper's method at the grid's largest budget
    (the config's cascade, first-valid, largest n, then largest v)."""
    full = [c for c in cells if c.policy == "first-valid" and c.stages is None and c.votes]
    return max(full, key=lambda c: (c.n, c.votes or 0), default=None)


class Ablation:
    """Runs the cells named in `only` (all when None) of `cells` phase by phase, with the
    pipeline's markers and engines; reports every cell of `cells` that is current.

    `backends` pre-loads engines by backend string (tests pass scripted ones)."""

    def __init__(self, config: Config, out: Path, cells: list[Cell],
                 only: list[str] | None = None, train: bool = True, progress: bool = True,
                 console: Console | None = None, backends: dict[str, Any] | None = None,
                 uq_ttc: bool = False):
        self.config = config
        self.uq_ttc = uq_ttc
        self.out = Path(out)
        self.grid = cells
        self.cells = pick(cells, only)
        self.train = train
        self.source = source_folder(self.out)
        check_same_samples(self.source, config)
        self.root = self.out / "ablate"
        self.console = console or Console(stderr=True)
        self.executor = Executor(self.root / "timings.json", self.console)
        self.engines = Engines(self.console, backends)
        self.progress = progress
        self.max_n = max(c.n for c in self.cells)

    def folder(self, name: str) -> RunFolder:
        """A cell's run folder; its model calls go to RUN's call store."""
        return RunFolder(self.root / name, calls=self.source.calls)

    def run(self) -> dict[str, Any]:
        """Every selected cell, resumably; returns (and writes) the results."""
        try:
            pool = self.sample_pool()
            if self.train:
                self.evaluate_base(pool)
            for cell in self.cells:
                self.select(cell, pool)
            # The base model's work is done: its memory (a GPU's, under vLLM) goes to training.
            self.engines.release()
            if self.train:
                for cell in self.cells:
                    self.train_cell(cell)
        finally:
            self.engines.close()
            self.source.close()
        results = self.results()
        write_json(self.root / "results.json", results)
        (self.root / "results.md").write_text(results_markdown(results), encoding="utf-8")
        return results

    def sample_pool(self) -> RunFolder:
        """max-n samples per question; the first ones are RUN's, read back from its store."""
        config = self.config.model_copy(deep=True)
        config.sample.n = self.max_n
        pool = self.folder("samples")
        pool.save_config(config)
        self.executor.run(pool, sample_phase(config, pool, self.engines, self.progress), config)
        return pool

    def evaluate_base(self, pool: RunFolder) -> None:
        """The base model on the benchmarks (and UQ-TTC on it, when asked): free when
        `svdistill run` evaluated it already."""
        base = self.folder("base")
        base.save_config(self.config)
        # the overlap check reads the seed questions
        write_jsonl(base.file("questions.jsonl"), read_jsonl(pool.file("questions.jsonl")))
        methods = ("single", "uq-ttc") if self.uq_ttc else ("single",)
        for method in methods:
            self.executor.run(base, evaluate_phase(self.config, base, self.engines,
                                                   self.progress, "base", method), self.config)

    def select(self, cell: Cell, pool: RunFolder) -> None:
        """The cell's samples, votes and training set; each phase is skipped when its marker
        says it is done with these inputs."""
        config = cell.configure(self.config)
        run = self.folder(cell.name)
        run.save_config(config)
        go = self._runner(run, config)
        go(Phase("sample", "sample", lambda: take_first(pool, run, cell.n)))
        if cell.votes is not None:
            go(verify_phase(config, run, self.engines, self.progress))
        go(curate_phase(config, run, self.progress))

    def train_cell(self, cell: Cell) -> None:
        """The cell's model, trained on its set and evaluated like the base model."""
        config = cell.configure(self.config)
        run = self.folder(cell.name)
        curated = CurateSummary.of(run.path)
        if not (curated and curated.kept):
            self.console.print(f"[yellow]{cell.name}: no training examples, so no model to "
                               "train or evaluate[/]")
            return
        go = self._runner(run, config)
        go(train_phase(config, run, self.progress))
        go(evaluate_phase(config, run, None, self.progress, "trained"))

    def _runner(self, run: RunFolder, config: Config):
        return lambda phase: self.executor.run(run, phase, config)

    # -- results --------------------------------------------------------------------------------

    def results(self) -> dict[str, Any]:
        """Rows of every cell of the grid whose curation is current (its phases.json holds this
        config's inputs), run now or earlier, with evaluation columns where its trained
        model's evaluation is current too: pass@1, the gain over base, and the paired
        differences against base and against the reference cell (`reference_cell`)."""
        base_eval = {}
        if is_done(self.root / "base", "evaluate base", self.config, "evaluate-base"):
            base_eval = _evaluations(self.root / "base" / "eval" / "base")
        reference = reference_cell(self.grid)
        rows = []
        for cell in self.grid:
            config = cell.configure(self.config)
            folder = self.root / cell.name
            if not is_done(folder, "curate", config, "curate"):
                continue
            row = cell_row(cell, RunFolder(folder))
            if is_done(folder, "evaluate trained", config, "evaluate-trained"):
                row["eval"] = {
                    name: {**e, "gain": (e["pass_at_1"] - base_eval[name]["pass_at_1"])
                           if name in base_eval and e["pass_at_1"] is not None
                           and base_eval[name]["pass_at_1"] is not None else None}
                    for name, e in _evaluations(folder / "eval" / "trained").items()
                }
            rows.append(row)
        evaluated = {r["cell"] for r in rows if r["eval"]}
        for row in rows:
            for bench, e in row["eval"].items():
                mine = self.root / row["cell"] / "eval" / "trained" / bench
                others = {"vs_base": (self.root / "base" / "eval" / "base" / bench, "base")}
                if reference and reference.name in evaluated and row["cell"] != reference.name:
                    others["vs_reference"] = (self.root / reference.name / "eval" / "trained"
                                              / bench, reference.name)
                for key, (theirs, label) in others.items():
                    diff = paired_between(mine, theirs, a=row["cell"], b=label, benchmark=bench)
                    e[key] = diff.to_dict() if diff else None
        pool = SampleStats.of(self.root / "samples")
        return {
            "run": str(self.out),
            "source": str(self.source.path),
            "sampling_calls_paid": pool.paid_calls if pool else None,
            "base": base_eval,
            "reference": reference.name if reference else None,
            "cells": rows,
        }


def _evaluations(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(folder.glob(f"*/{EvalSummary.FILE}")):
        s = EvalSummary.read(path)
        out[s.benchmark] = {"pass_at_1": s.pass_at_1, "ci": s.ci,
                            "questions": s.graded_questions}
    return out


def kept_correct(run: RunFolder) -> tuple[int, int]:
    """(correct, graded) over the cell's training examples, graded against the seed references
    the method never sees: how clean the data each setting trains on is."""
    from .curate import load_candidates
    from .verify.quality import grade_candidates

    questions, by_question = load_candidates(run)
    by_id = {q.id: q for q in questions}
    lookup = {(c.question_id, c.sample_index): c for cs in by_question.values() for c in cs}
    items = [(by_id[r["question_id"]], lookup[(r["question_id"], r["sample_index"])])
             for r in read_jsonl(run.file("sft/train.jsonl"))]
    grades = grade_candidates(items)
    graded = [g.correct for g in grades if g.correct is not None]
    return sum(graded), len(graded)


def cell_row(cell: Cell, run: RunFolder) -> dict[str, Any]:
    """The data-side columns of one cell, from its stats files."""
    curate = CurateSummary.of(run.path) or CurateSummary()
    verify = VerifyStats.of(run.path) if cell.votes is not None else None
    quality = verify.quality if verify else None
    correct, graded = kept_correct(run)
    return {
        "cell": cell.name, "setting": cell.setting, "n": cell.n, "votes": cell.votes,
        "policy": cell.policy, "stages": list(cell.stages) if cell.stages else None,
        "questions": curate.questions, "candidates": curate.candidates,
        "accepted": verify.accepted if verify else None,
        "acceptance": verify.acceptance if verify else None,
        "kept": curate.kept,
        "kept_correct": round(correct / graded, 4) if graded else None,
        "kept_graded": graded,
        "precision": round(quality.precision, 4) if quality and quality.precision is not None
        else None,
        "recall": round(quality.recall, 4) if quality and quality.recall is not None else None,
        "calls_needed": verify.model_calls if verify else 0,
        "calls_paid": verify.paid_calls if verify else 0,
        "eval": {},
    }


# -- tables ------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def paired_text(diff: dict[str, Any] | None) -> str:
    """A paired difference in points with its interval and the verdict in words, e.g.
    "+5.0 (+1.2 to +8.8) better" or "+1.0 (-2.0 to +4.0) not distinguishable"."""
    if not diff:
        return "-"
    d = PairedDiff.from_dict(diff)
    if d.diff is None or d.ci_low is None or d.ci_high is None:
        return f"- {d.outcome}"
    return (f"{100 * d.diff:+.1f} ({100 * d.ci_low:+.1f} to {100 * d.ci_high:+.1f}) "
            f"{d.outcome}")


def table_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the paper-shaped table, as text (shared by rich and markdown)."""
    benches = list(results["base"]) or sorted({b for r in results["cells"] for b in r["eval"]})
    header = ["setting", "kept", "accepted", "acceptance %", "judge precision %",
              "judge recall %", "kept correct %", "calls needed / paid"]
    reference = results.get("reference") or "reference"
    for bench in benches:
        header += [f"{bench} pass@1 (CI)", f"{bench} gain", f"{bench} vs base (paired)",
                   f"{bench} vs {reference} (paired)"]

    def score(e: dict[str, Any] | None) -> str:
        if not e or e["pass_at_1"] is None:
            return "-"
        ci = e.get("ci") or [None, None]
        return f"{_pct(e['pass_at_1'])} ({_pct(ci[0])}-{_pct(ci[1])})"

    rows = []
    if benches:
        rows.append(["base model", *["-"] * 7,
                     *(x for b in benches for x in (score(results["base"].get(b)), "-", "-", "-"))])
    for r in results["cells"]:
        row = [r["setting"], str(r["kept"]),
               "-" if r["accepted"] is None else f"{r['accepted']} / {r['candidates']}",
               _pct(r["acceptance"]), _pct(r["precision"]), _pct(r["recall"]),
               _pct(r["kept_correct"]), f"{r['calls_needed']} / {r['calls_paid']}"]
        for bench in benches:
            e = r["eval"].get(bench)
            gain = None if not e else e["gain"]
            row += [score(e), "-" if gain is None else f"{100 * gain:+.1f}",
                    paired_text((e or {}).get("vs_base")),
                    paired_text((e or {}).get("vs_reference"))]
        rows.append(row)
    return header, rows


def results_table(results: dict[str, Any]):
    """A rich Table of the grid, shaped like the paper's ablation table."""
    from rich.table import Table

    header, rows = table_rows(results)
    table = Table(title="ablation", title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def results_markdown(results: dict[str, Any]) -> str:
    header, rows = table_rows(results)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    note = (f"\nSamples and calls reused from {results['source']}; kept correct and judge "
            "precision/recall are measured against the seed references (never seen by the "
            "method); calls needed / paid: judge calls the cell's verification asked for / paid "
            "for new (0 when earlier cells or the run had paid them). Paired: the cell's trained "
            "model minus base (or the reference cell) on the same questions and sample seeds, in "
            "points with a paired bootstrap interval; one that contains zero is not "
            "distinguishable.\n")
    return "\n".join(lines) + "\n" + note


def run_ablation(config: Config, out: Path, ns: tuple[int, ...] = PAPER_N,
                 vs: tuple[int, ...] = PAPER_V, cells: list[str] | None = None,
                 train: bool = True, progress: bool = True,
                 console: Console | None = None) -> dict[str, Any]:
    """`svdistill ablate`: the selected cells of the n x v grid and the paper's other rows."""
    return Ablation(config, out, grid(config, ns, vs), cells, train=train, progress=progress,
                    console=console).run()
