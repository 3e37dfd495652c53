"""Read back every evaluation in a run folder: rows for the comparison table and the report."""

from __future__ import annotations

import json
from typing import Any

from ..runfolder import RunFolder

_MODEL_ORDER = {"base": 0, "trained": 1}
_METHOD_ORDER = {"single": 0, "uq-ttc": 1}


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
    rows.sort(key=lambda r: (str(r["benchmark"]), _MODEL_ORDER.get(r["model"], 2),
                             str(r["model"]), _METHOD_ORDER.get(r["method"], 2)))
    return rows


def comparison_table(rows: list[dict[str, Any]]):
    """A rich Table of `comparison_rows`: pass@1 with its CI and model calls per question."""
    from rich.table import Table

    table = Table(title="evaluation", title_justify="left")
    for name in ("benchmark", "model", "method", "questions", "samples", "pass@1", "95% CI",
                 "calls/q", "fallback", "ungraded", "bad gold"):
        table.add_column(name, justify="left" if name in ("benchmark", "model", "method")
                         else "right")

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    for r in rows:
        table.add_row(
            r["benchmark"], r["model"], r["method"], str(r["questions"]),
            str(r["samples_per_question"]), pct(r["pass_at_1"]),
            f"{pct(r['ci_low'])}-{pct(r['ci_high'])}",
            "-" if r["calls_per_question"] is None else f"{r['calls_per_question']:.1f}",
            pct(r["fallback_rate"]), str(r["ungraded"]), str(r["gold_rejected"]),
        )
    return table
