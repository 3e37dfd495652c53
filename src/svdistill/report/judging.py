"""The verify phase's sections: acceptance funnel, judge votes, calls and tokens, judge quality.

All of them read verify_stats.json through `VerifyStats`; stage names and each stage's file of
rejected candidates come from that record, in cascade order.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..summaries import EvalSummary, JudgeQuality, VerifyStats
from .html import Raw, Row, esc, image, kv_table, missing, note, num, pct, plot, section, table
from .view import TITLES, RunView


def funnel_section(v: RunView, stats: VerifyStats | None, level: int, prefix: str = "") -> str:
    title = TITLES["funnel"]
    if not stats or not stats.stages:
        return section(f"{prefix}funnel", title, missing("verify_stats.json", "verify"), level)
    rows = []
    for s in stats.stages:
        file = s.rejected_file
        written = sum(1 for _ in v.rows(file)) if file and v.has(file) else None
        rows.append(
            [
                s.name,
                s.entered,
                s.passed,
                s.rejected,
                s.undecided,
                s.truncated,
                s.errors,
                pct(s.passed / s.entered if s.entered else None),
                written,
            ]
        )
    labels = ["sampled"] + [f"after {s.name}" for s in stats.stages]
    counts = [stats.candidates] + [s.passed for s in stats.stages]
    headers = ["stage", "in", "passed", "rejected (no)", "undecided", "cut off (no vote)",
               "judge errors", "pass rate", "in rejected/"]
    body = table(headers, rows)
    body += image(plot("funnel_plot", labels, counts), "candidates remaining after each stage")
    reasons = {r: n for s in stats.stages for r, n in s.reasons.items()}
    if reasons:
        body += note(
            "Rule rejections: " + esc(", ".join(f"{r}: {n}" for r, n in sorted(reasons.items())))
        )
    for name in stats.unsettled_stages:
        stage = next(s for s in stats.stages if s.name == name)
        setting, budget = stats.budget_setting(name)
        body += note(
            f"<b>Stage {esc(name)}: most candidates were settled by no vote</b> "
            f"({num(stage.truncated)} judge replies cut off at {setting}="
            f"{esc(budget)}, {num(stage.undecided)} with no readable "
            f"verdict), so its rejections say little about the candidates. Raise "
            f"{setting} if replies were cut off."
        )
    body += note(
        f"Accepted <b>{num(stats.accepted)}</b> of {num(stats.candidates)} "
        f"candidates ({pct(stats.acceptance)}). Each stage decides by its votes "
        "(the rule is under Judge votes; the paper's is unanimous), and the first stage "
        "a candidate fails ends its cascade."
    )
    return section(f"{prefix}funnel", title, body, level)


def votes_section(v: RunView, stats: VerifyStats | None, level: int, prefix: str = "") -> str:
    title = TITLES["votes"]
    if not v.has("verdicts.jsonl"):
        return section(f"{prefix}votes", title, missing("verdicts.jsonl", "verify"), level)
    votes: dict[str, Counter] = {}
    outcomes: dict[str, Counter] = {}
    for verdict in v.rows("verdicts.jsonl"):
        for s in verdict.get("stages") or []:
            votes.setdefault(s.get("stage", "?"), Counter()).update(
                x.get("verdict", "?") for x in s.get("votes") or []
            )
            outcomes.setdefault(s.get("stage", "?"), Counter())[s.get("outcome") or "?"] += 1
    order = [s.name for s in stats.stages] if stats else []
    order = [s for s in order if s in outcomes] + [s for s in outcomes if s not in order]
    kinds = ["yes", "no", "undecided", "error"]
    rows = [
        [
            s,
            *(votes.get(s, Counter())[k] for k in kinds),
            sum(votes.get(s, {}).values()),
            outcomes[s]["yes"],
            outcomes[s]["no"],
            outcomes[s]["undecided"],
            outcomes[s]["rule"],
        ]
        for s in order
    ]
    headers = ["stage", "yes", "no", "undecided", "error", "votes", "passed", "failed on no",
               "failed on undecided", "failed a rule"]
    caption = "Votes cast per stage, and how each candidate's stage ended"
    body = table(headers, rows, caption=caption)
    voted = [s for s in order if sum(votes.get(s, Counter()).values())]  # rules cast none
    if voted:
        counts = {k: [votes[s][k] for s in voted] for k in kinds}
        body += image(plot("votes_plot", voted, counts), "judge votes per stage")
    settings = stats.settings if stats else {}
    if settings:
        body += note(
            esc(
                f"judge {settings.get('judge')}; v = {settings.get('votes')} votes per "
                f"stage, decision {settings.get('decision')}, mode {settings.get('mode')}"
                f", cycle variant {settings.get('cycle_variant')}"
            )
            + ". In lazy mode "
            "a stage stops asking once a vote settles it, so fewer votes than v are "
            "recorded. An undecided vote (an unparseable reply) rejects but is counted "
            "apart from a no."
        )
    return section(f"{prefix}votes", title, body, level)


def calls_section(stats: VerifyStats | None, level: int, prefix: str = "") -> str:
    title = TITLES["calls"]
    if not stats or not stats.stages:
        return section(f"{prefix}calls", title, missing("verify_stats.json", "verify"), level)
    rows: list[list | Row] = []
    for s in stats.stages:
        per = s.calls / s.entered if s.entered else None
        rows.append([s.name, s.entered, s.calls, s.paid, None if per is None else round(per, 2),
                     s.prompt_tokens, s.completion_tokens, s.prompt_tokens + s.completion_tokens])
    totals = [sum(r[i] or 0 for r in rows) for i in (2, 3, 5, 6, 7)]  # type: ignore[index]
    rows.append(Row(["total", "", totals[0], totals[1], stats.calls_per_candidate, *totals[2:]],
                    "total"))
    headers = ["stage", "candidates in", "model calls", "paid by this run",
               "calls / candidate in", "prompt tokens", "completion tokens", "tokens"]
    body = table(headers, rows)
    body += kv_table(
        {
            "calls per accepted candidate": stats.calls_per_accepted,
            "calls paid / reused from the call store / failed": " / ".join(
                num(x) for x in (stats.paid_calls, stats.cached_calls, stats.failed_calls)
            ),
            "verify wall time (s)": stats.wall_s,
        }
    )
    return section(f"{prefix}calls", title, body, level)


QUALITY_HEADERS = ["", "graded", "base rate", "precision", "recall", "accept rate",
                   "precision − base", "accepted but wrong", ""]


def quality_row(name: str, q: JudgeQuality) -> Row:
    """One row of the judge-quality table; a judge no more precise than the base rate is
    marked "no signal"."""
    precision, base = q.precision, q.base_rate
    lift = None if precision is None or base is None else precision - base
    if precision is None:
        flag, cls = "nothing accepted", ""
    elif base is not None and base >= 1:
        flag, cls = "all correct", ""  # nothing for the judge to tell apart
    elif base is not None and precision <= base:
        flag, cls = "no signal", "warn"
    else:
        flag, cls = "", ""
    return Row(
        [
            name,
            q.graded,
            pct(base),
            pct(precision),
            pct(q.recall),
            pct(q.accept_rate),
            "–" if lift is None else f"{100 * lift:+.1f} pts",
            q.accepted_wrong,
            Raw(f'<span class="{"flag" if cls else "aside"}">{esc(flag)}</span>' if flag else ""),
        ],
        cls,
    )


def quality_section(
    stats: VerifyStats | None, eval_rows: list[dict], level: int, prefix: str = ""
) -> str:
    title = TITLES["quality"]
    if stats is None:
        body = missing("verify_stats.json", "verify")
    elif stats.quality is None:
        body = note(
            "Not measured: no seed question carries a reference answer the grader could "
            "read, so there is nothing to score the judge against."
        )
    else:
        q = stats.quality
        rows = [quality_row("cascade (all stages)", q)]
        rows += [quality_row(name, sq) for name, sq in q.stages.items()]
        body = table(QUALITY_HEADERS, rows)
        body += note(
            f"Over {num(q.graded)} graded candidates ({num(q.ungraded)} ungraded, "
            "left out). Base rate: the share that is correct, i.e. the precision of accepting "
            "everything. Precision: the share of accepted candidates that is correct; an accepted "
            "wrong answer becomes training data, so this is the figure that matters. A stage's "
            "figures cover the candidates that reached it. A judge whose precision is not above "
            "the base rate carries no signal: those rows are marked."
        )
    bench = []
    for r in eval_rows:
        if r["method"] != "uq-ttc":
            continue
        try:
            jq = EvalSummary.read(Path(r["path"]) / EvalSummary.FILE).judge_quality
        except (OSError, ValueError):
            continue
        if jq is not None and jq.graded:
            bench.append(quality_row(f"{r['benchmark']} (UQ-TTC, {r['model']})", jq))
    if bench:
        body += table(QUALITY_HEADERS, bench, caption="On benchmark candidates judged by UQ-TTC")
    return section(f"{prefix}quality", title, body, level)
