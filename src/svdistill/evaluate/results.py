"""Read back every evaluation in a run folder: rows for the comparison table and the report,
and the paired differences between models evaluated on the same questions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..runfolder import RunFolder
from ..store import write_json
from ..summaries import EvalSummary
from .paired import PairedDiff, paired_difference, question_means_file

_METHOD_ORDER = {"single": 0, "uq-ttc": 1}


def model_rank(model: str) -> int:
    """Where a model's rows go in every comparison: base, the trained model(s), the no-filter
    ablation, then any other model."""
    if model == "base":
        return 0
    if model == "trained" or model.startswith("round "):
        return 1
    return 2 if model == "no-filter" else 3


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Comparison rows in table order: by benchmark, model (`model_rank`), then method."""
    rows.sort(key=lambda r: (str(r["benchmark"]), model_rank(str(r["model"])), str(r["model"]),
                             _METHOD_ORDER.get(r["method"], 2)))
    return rows


def comparison_rows(run: RunFolder) -> list[dict[str, Any]]:
    """One row per (benchmark, model, method) with results in RUN/eval, sorted by benchmark,
    then base, trained, other models, and single before UQ-TTC."""
    rows = []
    for path in sorted(run.path.glob(f"eval/*/*/{EvalSummary.FILE}")):
        try:
            s = EvalSummary.read(path)
        except (OSError, ValueError):
            continue  # a summary is written atomically; an unreadable one is not ours
        rows.append({
            "benchmark": s.benchmark,
            "model": s.model,
            "method": s.method,
            "engine": s.engine,
            "questions": s.graded_questions,
            "samples_per_question": s.samples_per_question,
            "pass_at_1": s.pass_at_1,
            "ci_low": s.ci_low,
            "ci_high": s.ci_high,
            "calls_per_question": s.calls_per_question,
            "fallback_rate": s.fallback_rate,
            "ungraded": s.ungraded,
            "gold_rejected": s.gold_rejected,
            "path": str(path.parent),
        })
    return sort_rows(rows)


#: (model, method) of the references every other single-method model is compared with.
_REFERENCES = (("base", "single"), ("no-filter", "single"), ("base", "uq-ttc"))


def _label(row: dict[str, Any]) -> str:
    return row["model"] if row["method"] == "single" else str(row["method"])


def paired_comparisons(rows: list[dict[str, Any]]) -> list[PairedDiff]:
    """Paired differences for `comparison_rows` (rows from several run folders may be mixed, as
    `Pipeline.results` does): per benchmark, every trained model (method single, other than base
    and no-filter) minus base, minus no-filter and minus base with UQ-TTC, where those exist.
    Questions only one side has are excluded and listed in `PairedDiff.excluded`. The bootstrap
    uses the subject's own evaluate settings (resamples, confidence, seed)."""
    by_bench: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for r in rows:
        by_bench.setdefault(str(r["benchmark"]), {})[(str(r["model"]), str(r["method"]))] = r
    out = []
    for bench, found in by_bench.items():
        subjects = [r for (m, meth), r in found.items()
                    if meth == "single" and m not in ("base", "no-filter")]
        for subject in subjects:
            for ref_key in _REFERENCES:
                ref = found.get(ref_key)
                if ref is None:
                    continue
                diff = paired_between(subject["path"], ref["path"], a=_label(subject),
                                      b=_label(ref), benchmark=bench)
                if diff is not None:
                    out.append(diff)
    return out


def paired_between(a_folder: str | Path, b_folder: str | Path, *, a: str, b: str,
                   benchmark: str) -> PairedDiff | None:
    """`a` - `b` from two evaluation folders of one benchmark (RUN/eval/<model>/<benchmark>/),
    unpaired questions excluded and listed, bootstrapped with `a`'s own evaluate settings
    (resamples, confidence, seed); None when either folder has no samples.jsonl."""
    try:
        a_scores, b_scores = question_means_file(a_folder), question_means_file(b_folder)
    except OSError:
        return None  # a folder without samples was not written by run_evaluate
    try:
        settings = EvalSummary.read(Path(a_folder) / EvalSummary.FILE).bootstrap_settings()
    except (OSError, ValueError):
        settings = {}
    return paired_difference(a_scores, b_scores, a=a, b=b, benchmark=benchmark,
                             exclude_unpaired=True, **settings)


def write_comparison(path: str | Path, rows: list[dict[str, Any]],
                     paired: list[PairedDiff] | None = None) -> Path:
    """RUN/comparison.json: {"rows": comparison rows, "paired": PairedDiff.to_dict() each}.
    `paired` defaults to `paired_comparisons(rows)`."""
    if paired is None:
        paired = paired_comparisons(rows)
    path = Path(path)
    write_json(path, {"rows": rows, "paired": [d.to_dict() for d in paired]})
    return path


def read_paired(path: str | Path) -> list[PairedDiff]:
    """The paired section of a file `write_comparison` wrote."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [PairedDiff.from_dict(d) for d in data.get("paired", [])]


def paired_table(diffs: list[PairedDiff]):
    """A rich Table of paired differences: points with the paired CI, and the verdict in words
    (a CI that contains zero reads "not distinguishable"); excluded questions are counted."""
    from rich import box
    from rich.table import Table

    def pts(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:+.1f}"

    table = Table(title="paired differences (same questions; bootstrap over questions)",
                  title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True,
                  pad_edge=False)
    for name in ("benchmark", "difference", "q", "points (95% CI)", "verdict"):
        table.add_column(name, no_wrap=True,
                         justify="right" if name in ("q", "points (95% CI)") else "left")
    for d in diffs:
        q = f"{d.questions}" + (f" ({len(d.excluded)} excl.)" if d.excluded else "")
        ci = f"{pts(d.diff)} ({pts(d.ci_low)} to {pts(d.ci_high)})"
        if d.confidence != 0.95:
            ci += f" @{100 * d.confidence:g}%"
        table.add_row(d.benchmark, f"{d.a} - {d.b}", q, ci, d.verdict)
    return table


def comparison_table(rows: list[dict[str, Any]], paired: list[PairedDiff] | None = None):
    """`comparison_rows` as rich tables: pass@1 with its 95% CI, questions x samples and model
    calls per question; then, when two models can be paired, `paired_table` under it (`paired`
    defaults to `paired_comparisons(rows)`). The first fits an 80-column terminal: the UQ-TTC
    fallback, ungraded and bad-gold columns appear only when some row has something to show."""
    from rich.console import Group

    if paired is None:
        paired = paired_comparisons(rows)
    results = _results_table(rows)
    return Group(results, paired_table(paired)) if paired else results


def _results_table(rows: list[dict[str, Any]]):
    from rich import box
    from rich.table import Table

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    optional = {
        "fallback": lambda r: pct(r["fallback_rate"]) if r["fallback_rate"] is not None else "-",
        "ungraded": lambda r: str(r["ungraded"] or 0),
        "bad gold": lambda r: str(r["gold_rejected"] or 0),
    }
    shown = [name for name, cell in optional.items()
             if any(cell(r) not in ("-", "0") for r in rows)]
    table = Table(title="evaluation", title_justify="left", box=box.SIMPLE_HEAD,
                  collapse_padding=True, pad_edge=False)
    for name in ("benchmark", "model", "method", "q x s", "pass@1 (95% CI)", "calls/q", *shown):
        table.add_column(name, no_wrap=True, justify="left"
                         if name in ("benchmark", "model", "method") else "right")
    for r in rows:
        calls = r["calls_per_question"]
        table.add_row(
            r["benchmark"], r["model"], r["method"],
            f"{r['questions']}x{r['samples_per_question']}",
            f"{pct(r['pass_at_1'])} ({pct(r['ci_low'])}-{pct(r['ci_high'])})",
            "-" if calls is None else f"{calls:.1f}",
            *(optional[name](r) for name in shown),
        )
    return table
