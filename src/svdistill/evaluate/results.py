"""Read back every evaluation in a run folder: rows for the comparison table and the report."""

from __future__ import annotations

import json
from typing import Any

from ..runfolder import RunFolder

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
    for path in sorted(run.path.glob("eval/*/*/summary.json")):
        try:
            s = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a summary is written atomically; an unreadable one is not ours
        ci = s.get("ci") or [None, None]
        rows.append({
            "benchmark": s.get("benchmark"),
            "model": s.get("model"),
            "method": s.get("method", "single"),
            "engine": s.get("engine"),
            "questions": s.get("graded_questions"),
            "samples_per_question": s.get("samples_per_question"),
            "pass_at_1": s.get("pass_at_1"),
            "ci_low": ci[0],
            "ci_high": ci[1],
            "calls_per_question": s.get("calls_per_question"),
            "fallback_rate": s.get("fallback_rate"),
            "ungraded": s.get("ungraded"),
            "gold_rejected": s.get("gold_rejected"),
            "path": str(path.parent),
        })
    return sort_rows(rows)


def comparison_table(rows: list[dict[str, Any]]):
    """A rich Table of `comparison_rows`: pass@1 with its 95% CI, questions x samples, and model
    calls per question. It fits an 80-column terminal: the UQ-TTC fallback, ungraded and bad-gold
    columns appear only when some row has something to show in them."""
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
