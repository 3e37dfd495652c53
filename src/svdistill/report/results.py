"""The results sections: pass@1 before / after / UQ-TTC, the paired differences between models,
and the summary of a multi-round run."""

from __future__ import annotations

from ..evaluate.paired import NOT_DISTINGUISHABLE, PairedDiff
from ..summaries import CurateSummary, TrainSummary, VerifyStats
from .html import Raw, Row, esc, image, missing, note, pct, plot, section, table
from .view import TITLES, RunView

_SERIES_ORDER = {"base": 0, "trained": 1, "no-filter": 2, "uq-ttc": 3}


def series_of(row: dict) -> tuple[str, str]:
    """(legend label, colour key) of an evaluation row."""
    model, method = row["model"], row["method"]
    if method == "uq-ttc":
        return f"UQ-TTC on {model}", "uq-ttc"
    if model == "base":
        return "base (before)", "base"
    if model == "trained":
        return "trained (after SVD)", "trained"
    if model == "no-filter":
        return "trained on unverified samples (no-filter)", "no-filter"
    return (str(model) if method == "single" else f"{model} + {method}"), str(model)


def results_section(rows: list[dict], level: int = 2, anchor: str = "results") -> str:
    """The headline: pass@1 with its CI and calls per question, before / after / UQ-TTC."""
    title = TITLES["results"]
    if not rows:
        return section(
            anchor, title, missing("evaluation results (eval/*/*/summary.json)", "evaluate"), level
        )
    base = {
        r["benchmark"]: r["pass_at_1"]
        for r in rows
        if r["model"] == "base" and r["method"] == "single"
    }
    table_rows, plot_rows = [], []
    # before, after, then the baseline: the order the comparison is read in
    rows = sorted(rows, key=lambda r: (str(r["benchmark"]), _SERIES_ORDER.get(series_of(r)[1], 4)))
    for r in rows:
        label, key = series_of(r)
        b = base.get(r["benchmark"])
        delta = (
            "–"
            if b is None or r["pass_at_1"] is None or label.startswith("base")
            else f"{100 * (r['pass_at_1'] - b):+.1f} pts"
        )
        ci = "–" if r["ci_low"] is None else f"{100 * r['ci_low']:.1f} – {100 * r['ci_high']:.1f}"
        calls = None if r["calls_per_question"] is None else round(r["calls_per_question"], 1)
        table_rows.append(
            Row(
                [
                    r["benchmark"],
                    label,
                    r["questions"],
                    r["samples_per_question"],
                    pct(r["pass_at_1"]),
                    ci,
                    delta,
                    calls,
                    pct(r["fallback_rate"]),
                ],
                key,
            )
        )
        plot_rows.append({**r, "series": label, "colour_key": key})
    body = table(
        [
            "benchmark",
            "model",
            "questions",
            "samples/q",
            "pass@1",
            "95% CI",
            "vs base",
            "calls/q",
            "fallback",
        ],
        table_rows,
    )
    for r in rows:  # rare, and each needs its own explanation, so notes rather than columns
        if r["ungraded"]:
            body += note(
                esc(
                    f"{r['benchmark']}, {series_of(r)[0]}: {r['ungraded']} samples could not be "
                    "graded and are left out of pass@1."
                )
            )
        if r["gold_rejected"]:
            body += note(
                esc(
                    f"{r['benchmark']}, {series_of(r)[0]}: {r['gold_rejected']} questions set "
                    "aside because their gold answer did not grade as correct "
                    "(gold_rejected.jsonl)."
                )
            )
    body += image(plot("pass_at_1_plot", plot_rows), "pass@1 per benchmark")
    body += note(
        "pass@1 is the mean over sampled attempts per question; the CI is a bootstrap "
        "over questions. UQ-TTC samples N candidates and runs the cascade on them at "
        "test time (fallback: none accepted, candidate 0 answered); the distilled model "
        "answers in one call."
    )
    return section(anchor, title, body, level)


def in_words(d: PairedDiff) -> tuple[str, str]:
    """(the verdict in words, its CSS class): a difference whose interval contains zero is
    "not distinguishable", whatever its sign; otherwise the first model is better or worse."""
    if d.outcome == "better":
        return f"better: {d.a} above {d.b}", "better"
    if d.outcome == "worse":
        return f"worse: {d.a} below {d.b}", "worse"
    return f"{NOT_DISTINGUISHABLE}: {d.a} and {d.b} within noise", "indistinct"


def paired_section(rows: list[dict], level: int = 2, anchor: str = "paired") -> str:
    """Each trained model minus base, minus no-filter and minus UQ-TTC on the same questions,
    with the paired bootstrap interval and the verdict in words (`paired_comparisons`)."""
    from ..evaluate.results import paired_comparisons

    title = TITLES["paired"]
    diffs = paired_comparisons(rows)
    if not diffs:
        what = "a trained model and a reference (base, no-filter or UQ-TTC) on the same benchmark"
        return section(anchor, title, missing(what, "evaluate"), level)

    def pts(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:+.1f} pts"

    table_rows = []
    for d in diffs:
        words, cls = in_words(d)
        ci = "–" if d.ci_low is None else f"{100 * d.ci_low:+.1f} – {100 * d.ci_high:+.1f}"
        if d.ci_low is not None and d.confidence != 0.95:
            ci += f" ({100 * d.confidence:g}%)"
        table_rows.append(Row([
            d.benchmark, f"{d.a} − {d.b}",
            d.questions if not d.excluded else f"{d.questions} ({len(d.excluded)} left out)",
            pct(d.a_pass_at_1), pct(d.b_pass_at_1), pts(d.diff), ci,
            Raw(f'<span class="{cls}">{esc(words)}</span>'),
        ], "trained" if cls == "better" else ""))
    body = table(["benchmark", "difference", "questions", "pass@1 (first)", "pass@1 (second)",
                  "difference", "95% CI", "verdict"], table_rows)
    body += note(
        "Both models answered the same questions with the same sample seeds, so each question "
        "gives one difference and the bootstrap resamples questions with both models' answers "
        "kept together. An interval that contains zero reads <b>not distinguishable</b>: the "
        "run cannot tell the two apart. Questions only one model could be graded on are left "
        "out of the pair (counted in the questions column)."
    )
    return section(anchor, title, body, level)


def rounds_rows(top: RunView, rounds: list[tuple[int, RunView]]) -> list[dict]:
    """Comparison rows of a multi-round run, as `Pipeline.results` builds them: base and UQ-TTC
    from round 1, each round's trained model (`round k` when there are several), no-filter."""
    from ..evaluate.results import sort_rows

    rows = list(top.eval_rows())
    for k, v in rounds:
        for r in v.eval_rows():
            if r["model"] == "trained" and len(rounds) > 1:
                r = {**r, "model": f"round {k}"}
            rows.append(r)
    return sort_rows(rows)


def rounds_section(top: RunView, rounds: list[tuple[int, RunView]]) -> str:
    """pass@1 of the trained model per round (round 0: the base model), and each round's data."""
    base_rows = top.eval_rows() or (rounds[0][1].eval_rows() if rounds else [])
    series: dict[str, list[tuple[int, float, float | None, float | None]]] = {}
    for r in base_rows:
        if r["model"] == "base" and r["method"] == "single" and r["pass_at_1"] is not None:
            series.setdefault(r["benchmark"], []).append(
                (0, r["pass_at_1"], r["ci_low"], r["ci_high"])
            )
    data_rows = []
    for k, v in rounds:
        for r in v.eval_rows():
            if r["model"] == "trained" and r["method"] == "single" and r["pass_at_1"] is not None:
                series.setdefault(r["benchmark"], []).append(
                    (k, r["pass_at_1"], r["ci_low"], r["ci_high"])
                )
        vs = v.summary_or_none(VerifyStats)
        sft = v.summary_or_none(CurateSummary)
        train = v.summary_or_none(TrainSummary)
        data_rows.append(
            [
                f"round {k}",
                vs and vs.candidates,
                vs and vs.accepted,
                pct(vs and vs.acceptance),
                sft and sft.kept,
                train and train.last_loss,
            ]
        )
    body = ""
    if series:
        ks = sorted({p[0] for pts in series.values() for p in pts})
        head = ["benchmark"] + ["base" if k == 0 else f"round {k}" for k in ks]
        rows = [
            [bench] + [next((pct(p[1]) for p in pts if p[0] == k), "–") for k in ks]
            for bench, pts in series.items()
        ]
        body += table(head, rows, caption="pass@1 of the trained model after each round")
        body += image(plot("rounds_plot", series), "pass@1 per round")
    else:
        body += missing("evaluations of the trained model in any round", "evaluate")
    body += table(
        ["round", "candidates", "accepted", "acceptance", "training examples", "final loss"],
        data_rows,
        caption="Data per round",
    )
    return section("rounds", "Summary across rounds", body)
