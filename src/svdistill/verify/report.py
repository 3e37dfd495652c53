"""The end-of-phase tables: what each stage did and cost, and how good the judge was."""

from __future__ import annotations

from rich import box
from rich.table import Table

from .phase import VerifySummary


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def stage_table(summary: VerifySummary) -> Table:
    """One row per stage, in order: candidates in, passed, rejected ("no"), undecided, failed
    judge calls, model calls needed, tokens, and the stage's precision / recall / accept rate over
    the graded candidates that reached it."""
    quality = summary.quality.stages if summary.quality else {}
    reasons = [f"{r} {n}" for s in summary.stages for r, n in s.reasons.most_common()]
    table = Table(
        title="verify: stages",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
        show_edge=False,
        caption="rules: " + ", ".join(reasons) if reasons else None,
        caption_justify="left",
    )
    table.add_column("stage", no_wrap=True)
    for name in ("in", "pass", "no", "undec", "err", "calls", "tokens", "prec", "recall", "accept"):
        table.add_column(name, justify="right", no_wrap=True)
    for s in summary.stages:
        q = quality.get(s.name)
        table.add_row(
            s.name,
            str(s.entered),
            str(s.passed),
            str(s.rejected),
            str(s.undecided),
            str(s.errors),
            str(s.calls),
            f"{s.prompt_tokens + s.completion_tokens:,}",
            _pct(q and q.precision),
            _pct(q and q.recall),
            _pct(q and q.accept_rate),
        )
    return table


def overall_table(summary: VerifySummary) -> Table:
    d = summary.stats()
    table = Table(title="verify: overall", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("candidates", str(d.candidates))
    table.add_row("accepted", f"{d.accepted} ({_pct(d.acceptance)})")
    table.add_row(
        "model calls",
        f"{d.model_calls:,} (paid {d.paid_calls:,}, reused {d.cached_calls:,})",
    )
    table.add_row("calls per candidate", str(d.calls_per_candidate or "-"))
    table.add_row("calls per accepted", str(d.calls_per_accepted or "-"))
    q = summary.quality
    if q is None:
        table.add_row("judge quality", "not measured (no reference answers)")
    else:
        # The figures the paper never reported; precision is the one that matters most, since
        # an accepted wrong answer becomes a training example.
        table.add_row("[yellow]graded candidates", f"{q.graded} (ungraded {q.ungraded})")
        table.add_row("[yellow]base rate (correct)", _pct(q.base_rate))
        table.add_row("[yellow]judge precision", f"[bold]{_pct(q.precision)}")
        table.add_row("[yellow]judge recall", _pct(q.recall))
        table.add_row("[yellow]accepted but wrong", str(q.accepted_wrong))
    table.add_row("wall time (s)", f"{d.wall_s:.1f}")
    return table
