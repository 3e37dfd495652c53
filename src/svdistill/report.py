"""One self-contained HTML page describing a run folder: `build_report(run) -> RUN/report.html`.

The page reads only what the phases wrote (config.yaml, sample_stats.json, verify_stats.json,
verdicts.jsonl, rejected/, sft/stats.json, train/stats.json and train/log.jsonl, eval/) and says
plainly which of them are missing, so it works on a run stopped at any phase. A multi-round run
(`round-1/`, `round-2/`, ...) gets one section per round and a summary of pass@1 across rounds.

Everything is inline: CSS in a <style>, plots as base64 PNG data URIs (matplotlib, Agg, only
when installed), no JavaScript. Every piece of model-generated or user text goes through
html.escape, since questions and candidates are untrusted and may contain markup.
"""

from __future__ import annotations

import html
import json
import re
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

REPORT_NAME = "report.html"
VERSION_PACKAGES = (
    "svdistill",
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "math-verify",
    "vllm",
    "matplotlib",
)
EXAMPLE_CHARS = 1500  # longer texts are cut in the examples section; the files hold them whole
_SERIES_ORDER = {"base": 0, "trained": 1, "no-filter": 2, "uq-ttc": 3}
_ROUND = re.compile(r"^round-(\d+)$")
_NUMERIC = re.compile(r"^[-+−]?[\d,.]+(%| pts)?( [–/] [-+−]?[\d,.–]+%?)*$|^[–-]$")

TITLES = {
    "results": "Results: before / after / UQ-TTC",
    "funnel": "Acceptance funnel",
    "votes": "Judge votes",
    "calls": "Model calls and tokens",
    "quality": "Judge quality",
    "curation": "Curation",
    "training": "Training",
    "sampling": "Sampling",
    "examples": "Examples",
    "contents": "Run contents",
}
# What a run folder may hold, the phase that writes it, and what it is.
ITEMS = [
    ("config.yaml", "sample", "resolved config"),
    ("questions.jsonl", "sample", "seed questions"),
    ("candidates.jsonl", "sample", "sampled candidates"),
    ("sample_stats.json", "sample", "sampling stats"),
    ("verdicts.jsonl", "verify", "cascade verdicts"),
    ("verify_stats.json", "verify", "per-stage counts, calls, tokens, judge quality"),
    ("rejected", "verify", "rejected candidates by stage"),
    ("sft/stats.json", "curate", "curation stats"),
    ("train/stats.json", "train", "training stats"),
    ("train/log.jsonl", "train", "training loss log"),
    ("eval", "evaluate", "benchmark results"),
]


# ---------------------------------------------------------------------------- html helpers


class Raw(str):
    """A string of HTML that is already safe; every other value is escaped."""


def esc(value: Any) -> str:
    return value if isinstance(value, Raw) else html.escape(str(value))


def num(value: Any) -> str:
    """Numbers for tables: thousands separators, few decimals; None is a dash."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value  # keeps Raw as Raw
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.4g}"
    return str(value)


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


@dataclass
class Row:
    cells: list[Any]
    cls: str = ""


def table(headers: list[str], rows: list[list[Any] | Row], caption: str = "") -> str:
    """An HTML table; columns whose cells all look numeric are right-aligned."""
    rows = [r if isinstance(r, Row) else Row(r) for r in rows]
    right = [
        all(
            _NUMERIC.match(re.sub(r"<[^>]+>", "", num(r.cells[i])).strip() or "-")
            for r in rows
            if i < len(r.cells)
        )
        for i in range(len(headers))
    ]
    cls = [' class="num"' if r else "" for r in right]
    head = "".join(f"<th{cls[i]}>{esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        (f'<tr class="{r.cls}">' if r.cls else "<tr>")
        + "".join(f"<td{cls[i]}>{esc(num(c))}</td>" for i, c in enumerate(r.cells))
        + "</tr>"
        for r in rows
    )
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def kv_table(pairs: dict[str, Any]) -> str:
    """A two-column table of named values."""
    body = "".join(
        f'<tr><th>{esc(k)}</th><td class="num">{esc(num(v))}</td></tr>' for k, v in pairs.items()
    )
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def missing(what: str, phase: str | None = None) -> str:
    hint = f" Run <code>svdistill {esc(phase)}</code> to produce it." if phase else ""
    return f'<p class="missing">Not available: {esc(what)}.{hint}</p>'


def note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def image(b64: str | None, alt: str) -> str:
    if b64 is None:
        return note(
            "Plot not drawn: matplotlib is not installed "
            "(<code>pip install 'svdistill[report]'</code>)."
        )
    return f'<img class="plot" alt="{esc(alt)}" src="data:image/png;base64,{b64}">'


def plot(name: str, *args: Any) -> str | None:
    """A base64 PNG from report_plots, or None without matplotlib."""
    from . import report_plots

    if not report_plots.available():
        return None
    return getattr(report_plots, name)(*args)


def section(anchor: str, title: str, body: str, level: int = 2) -> str:
    return f'<section id="{esc(anchor)}"><h{level}>{esc(title)}</h{level}>{body}</section>'


# ---------------------------------------------------------------------------- reading a run


@dataclass
class RunView:
    """One run folder, read leniently: a missing file is None, an unreadable one a problem."""

    path: Path
    problems: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return (self.path / name).exists()

    def json(self, name: str) -> dict | None:
        file = self.path / name
        if not file.is_file():
            return None
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.problems.append(f"{name}: could not be read ({exc})")
            return None
        if not isinstance(data, dict):
            self.problems.append(f"{name}: not a JSON object")
            return None
        return data

    def rows(self, name: str, limit: int | None = None):
        """Rows of a JSONL file, streamed; bad lines are skipped and counted as a problem."""
        file = self.path / name
        if not file.is_file():
            return
        bad = 0
        with open(file, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f):
                if limit is not None and n >= limit:
                    break
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        bad += 1
        if bad:
            self.problems.append(f"{name}: {bad} unreadable lines skipped")

    def text(self, name: str) -> str | None:
        file = self.path / name
        try:
            return file.read_text(encoding="utf-8") if file.is_file() else None
        except OSError as exc:
            self.problems.append(f"{name}: could not be read ({exc})")
            return None

    def config(self) -> dict:
        import yaml

        raw = self.text("config.yaml")
        try:
            data = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError as exc:
            self.problems.append(f"config.yaml: not valid YAML ({exc})")
            return {}
        return data if isinstance(data, dict) else {}

    def eval_rows(self) -> list[dict]:
        from .evaluate.results import comparison_rows
        from .runfolder import RunFolder

        rows = comparison_rows(RunFolder(self.path)) if self.has("eval") else []
        if self.has("no-filter/eval"):  # the ablation `run.no_filter` trains beside the round
            for row in comparison_rows(RunFolder(self.path / "no-filter")):
                if row["model"] == "trained":
                    rows.append({**row, "model": "no-filter"})
        return rows


def rounds_of(path: Path) -> list[tuple[int, Path]]:
    """The round-N subfolders of a multi-round run, in round order."""
    found = (
        [(int(m.group(1)), p) for p in path.iterdir() if p.is_dir() and (m := _ROUND.match(p.name))]
        if path.is_dir()
        else []
    )
    return sorted(found)


# ---------------------------------------------------------------------------- sections


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


def funnel_section(v: RunView, stats: dict | None, level: int, prefix: str = "") -> str:
    title = TITLES["funnel"]
    if not stats or not stats.get("stages"):
        return section(f"{prefix}funnel", title, missing("verify_stats.json", "verify"), level)
    stages = stats["stages"]
    rejected_files = (
        {p.name.split("_", 1)[-1][:-6]: p for p in (v.path / "rejected").glob("*.jsonl")}
        if v.has("rejected")
        else {}
    )
    rows = []
    for s in stages:
        file = rejected_files.get(s["name"])
        written = sum(1 for _ in v.rows(f"rejected/{file.name}")) if file else None
        rows.append(
            [
                s["name"],
                s["entered"],
                s["passed"],
                s["rejected"],
                s["undecided"],
                s["errors"],
                pct(s["passed"] / s["entered"] if s["entered"] else None),
                written,
            ]
        )
    labels = ["sampled"] + [f"after {s['name']}" for s in stages]
    counts = [stats["candidates"]] + [s["passed"] for s in stages]
    body = table(
        [
            "stage",
            "in",
            "passed",
            "rejected (no)",
            "undecided",
            "judge errors",
            "pass rate",
            "in rejected/",
        ],
        rows,
    )
    body += image(plot("funnel_plot", labels, counts), "candidates remaining after each stage")
    reasons = {r: n for s in stages for r, n in (s.get("reasons") or {}).items()}
    if reasons:
        body += note(
            "Rule rejections: " + esc(", ".join(f"{r}: {n}" for r, n in sorted(reasons.items())))
        )
    body += note(
        f"Accepted <b>{num(stats['accepted'])}</b> of {num(stats['candidates'])} "
        f"candidates ({pct(stats.get('acceptance'))}). Each stage decides by its votes "
        "(the rule is under Judge votes; the paper's is unanimous), and the first stage "
        "a candidate fails ends its cascade."
    )
    return section(f"{prefix}funnel", title, body, level)


def votes_section(v: RunView, stats: dict | None, level: int, prefix: str = "") -> str:
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
    order = [s["name"] for s in (stats or {}).get("stages", [])] or list(outcomes)
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
    body = table(
        [
            "stage",
            "yes",
            "no",
            "undecided",
            "error",
            "votes",
            "passed",
            "failed on no",
            "failed on undecided",
            "failed a rule",
        ],
        rows,
        caption="Votes cast per stage, and how each candidate's stage ended",
    )
    voted = [s for s in order if sum(votes.get(s, Counter()).values())]  # rules cast none
    if voted:
        counts = {k: [votes[s][k] for s in voted] for k in kinds}
        body += image(plot("votes_plot", voted, counts), "judge votes per stage")
    settings = (stats or {}).get("settings") or {}
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


def calls_section(v: RunView, stats: dict | None, level: int, prefix: str = "") -> str:
    title = TITLES["calls"]
    if not stats or not stats.get("stages"):
        return section(f"{prefix}calls", title, missing("verify_stats.json", "verify"), level)
    rows = []
    for s in stats["stages"]:
        tokens = s["prompt_tokens"] + s["completion_tokens"]
        per = s["calls"] / s["entered"] if s["entered"] else None
        rows.append(
            [
                s["name"],
                s["entered"],
                s["calls"],
                s["paid"],
                None if per is None else round(per, 2),
                s["prompt_tokens"],
                s["completion_tokens"],
                tokens,
            ]
        )
    totals = [sum(r[i] or 0 for r in rows) for i in (2, 3, 5, 6, 7)]
    rows.append(
        Row(
            ["total", "", totals[0], totals[1], stats.get("calls_per_candidate"), *totals[2:]],
            "total",
        )
    )
    body = table(
        [
            "stage",
            "candidates in",
            "model calls",
            "paid by this run",
            "calls / candidate in",
            "prompt tokens",
            "completion tokens",
            "tokens",
        ],
        rows,
    )
    body += kv_table(
        {
            "calls per accepted candidate": stats.get("calls_per_accepted"),
            "calls paid / reused from the call store / failed": " / ".join(
                num(stats.get(k)) for k in ("paid_calls", "cached_calls", "failed_calls")
            ),
            "verify wall time (s)": stats.get("wall_s"),
        }
    )
    return section(f"{prefix}calls", title, body, level)


def _quality_row(name: str, q: dict) -> Row:
    precision, base = q.get("precision"), q.get("base_rate")
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
            q.get("graded", q.get("judged")),
            pct(base),
            pct(precision),
            pct(q.get("recall")),
            pct(q.get("accept_rate")),
            "–" if lift is None else f"{100 * lift:+.1f} pts",
            q.get("accepted_wrong"),
            Raw(f'<span class="{"flag" if cls else "aside"}">{esc(flag)}</span>' if flag else ""),
        ],
        cls,
    )


def quality_section(stats: dict | None, eval_rows: list[dict], level: int, prefix: str = "") -> str:
    title = TITLES["quality"]
    headers = [
        "",
        "graded",
        "base rate",
        "precision",
        "recall",
        "accept rate",
        "precision − base",
        "accepted but wrong",
        "",
    ]
    if stats is None:
        body = missing("verify_stats.json", "verify")
    elif not stats.get("quality"):
        body = note(
            "Not measured: no seed question carries a reference answer the grader could "
            "read, so there is nothing to score the judge against."
        )
    else:
        q = stats["quality"]
        rows = [_quality_row("cascade (all stages)", q)]
        rows += [_quality_row(name, sq) for name, sq in (q.get("stages") or {}).items()]
        body = table(headers, rows)
        body += note(
            f"Over {num(q.get('graded'))} graded candidates ({num(q.get('ungraded'))} ungraded, "
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
        jq = _read_json(Path(r["path"]) / "summary.json").get("judge_quality") or {}
        if jq.get("judged"):
            right = jq.get("accepted_right", 0) + jq.get("rejected_right", 0)
            accepted = jq.get("accepted_right", 0) + jq.get("accepted_wrong", 0)
            bench.append(
                _quality_row(
                    f"{r['benchmark']} (UQ-TTC, {r['model']})",
                    {
                        **jq,
                        "base_rate": right / jq["judged"],
                        "accept_rate": accepted / jq["judged"],
                    },
                )
            )
    if bench:
        body += table(headers, bench, caption="On benchmark candidates judged by UQ-TTC")
    return section(f"{prefix}quality", title, body, level)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def curation_section(stats: dict | None, level: int, prefix: str = "") -> str:
    title = TITLES["curation"]
    if not stats:
        return section(f"{prefix}curation", title, missing("sft/stats.json", "curate"), level)
    questions = stats.get("questions") or 0
    body = kv_table(
        {
            "policy": stats.get("policy"),
            "questions": questions,
            "candidates": stats.get("candidates"),
            "accepted candidates": stats.get("accepted"),
            "questions with an accepted candidate": stats.get("questions_with_accepted"),
            "selected by the policy": stats.get("selected"),
            "kept (training examples)": stats.get("kept"),
            "kept per question": pct(stats["kept"] / questions if questions else None),
            "truncated responses kept": stats.get("truncated_kept"),
        }
    )
    dropped = stats.get("dropped") or {}
    body += (
        table(["dropped, by reason", "count"], [[r, n] for r, n in dropped.items()])
        if dropped
        else note("Nothing dropped.")
    )
    tokens = stats.get("tokens") or {}
    if tokens:
        names = [
            "examples",
            "min",
            "mean",
            "p50",
            "p95",
            "max",
            "response_mean",
            "over_max_length",
            "total",
        ]
        body += table(
            [n.replace("_", " ") for n in names],
            [[tokens.get(n) for n in names]],
            caption="Example length in tokens (prompt + response, as sampled)",
        )
    for warning in stats.get("warnings") or []:
        body += f'<p class="warn-text">{esc(warning)}</p>'
    return section(f"{prefix}curation", title, body, level)


def training_section(v: RunView, level: int, prefix: str = "") -> str:
    title = TITLES["training"]
    stats = v.json("train/stats.json")
    losses = [
        (r["step"], r["loss"])
        for r in v.rows("train/log.jsonl")
        if isinstance(r.get("loss"), (int, float)) and "step" in r
    ]
    if not losses:  # trainer_state.json holds the same history when the log is gone
        history = (v.json("train/trainer_state.json") or {}).get("log_history") or []
        losses = [(h["step"], h["loss"]) for h in history if "loss" in h and "step" in h]
    if not stats and not losses:
        return section(
            f"{prefix}training",
            title,
            missing("train/stats.json and train/log.jsonl", "train"),
            level,
        )
    body = ""
    if stats:
        t = stats.get("train") or {}
        body += kv_table(
            {
                "base model": stats.get("base_model"),
                "method": stats.get("method"),
                "examples": stats.get("examples"),
                "dropped: longer than max_length": len(stats.get("dropped_too_long") or []),
                "steps / epochs": f"{num(stats.get('steps'))} / {num(stats.get('epochs'))}",
                "effective batch": stats.get("effective_batch"),
                "learning rate / weight decay / warmup": f"{num(t.get('learning_rate'))} / "
                f"{num(t.get('weight_decay'))} / {num(t.get('warmup_ratio'))}",
                "trainable parameters": stats.get("trainable_params"),
                "loss first / last / mean": f"{num(stats.get('first_loss'))} / "
                f"{num(stats.get('last_loss'))} / {num(stats.get('train_loss'))}",
                "s / step": stats.get("s_per_step"),
                "wall time (s)": stats.get("wall_s"),
                "peak memory MiB (RAM / GPU)": f"{num(stats.get('peak_rss_mib'))} / "
                f"{num(stats.get('peak_gpu_mib'))}",
                "model folder": stats.get("model_dir"),
            }
        )
    else:
        body += missing("train/stats.json (training did not finish)", "train")
    if losses:
        body += image(
            plot("loss_plot", [s for s, _ in losses], [x for _, x in losses]), "training loss"
        )
    else:
        body += missing("training loss log (train/log.jsonl)")
    return section(f"{prefix}training", title, body, level)


def sampling_section(v: RunView, config: dict, level: int, prefix: str = "") -> str:
    title = TITLES["sampling"]
    stats = v.json("sample_stats.json")
    if not stats:
        return section(f"{prefix}sampling", title, missing("sample_stats.json", "sample"), level)
    s = config.get("sample") or {}
    skipped = sum((stats.get("skipped_seeds") or {}).values())
    body = kv_table(
        {
            "questions": stats.get("questions"),
            "candidates": stats.get("candidates"),
            "n / temperature / top_p / max_tokens": f"{s.get('n', '–')} / "
            f"{s.get('temperature', '–')} / {s.get('top_p', '–')} / {s.get('max_tokens', '–')}",
            "truncated (hit max_tokens)": stats.get("truncated"),
            "failed calls": stats.get("errors"),
            "calls paid / reused": f"{num(stats.get('paid_calls'))} / "
            f"{num(stats.get('cached_calls'))}",
            "completion tokens paid": stats.get("completion_tokens_paid"),
            "engine tokens/s": stats.get("engine_tokens_per_s"),
            "seed rows / duplicates / skipped": f"{num(stats.get('seed_rows'))} / "
            f"{num(stats.get('duplicate_seeds'))} / {num(skipped)}",
            "wall time (s)": stats.get("wall_s"),
        }
    )
    lengths = sorted(int(c.get("completion_tokens") or 0) for c in v.rows("candidates.jsonl"))
    if lengths:
        body += table(
            ["candidates", "min", "mean", "p50", "p95", "max"],
            [
                [
                    len(lengths),
                    lengths[0],
                    round(statistics.fmean(lengths), 1),
                    lengths[len(lengths) // 2],
                    lengths[min(len(lengths) - 1, int(0.95 * len(lengths)))],
                    lengths[-1],
                ]
            ],
            caption="Response length in tokens",
        )
    return section(f"{prefix}sampling", title, body, level)


def _example(
    label: str, question: str | None, response: str, reason: str = "", opened: bool = False
) -> str:
    def cut(text: str) -> str:
        return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + " [...]"

    parts = [f"<summary>{esc(label)}</summary>"]
    if reason:
        parts.append(f'<p class="note">{esc(reason)}</p>')
    if question is not None:
        parts.append(
            f'<div class="label">question</div><pre class="text">{esc(cut(question))}</pre>'
        )
    parts.append(f'<div class="label">response</div><pre class="text">{esc(cut(response))}</pre>')
    return f'<details class="example"{" open" if opened else ""}>{"".join(parts)}</details>'


def examples_section(v: RunView, level: int, prefix: str = "") -> str:
    """The first training example and the first rejection of each stage, for a look at the text."""
    title = TITLES["examples"]
    picks: list[tuple[str, dict, str]] = []
    for row in v.rows("sft/train.jsonl", limit=1):
        msgs = {m.get("role"): m.get("content", "") for m in row.get("messages") or []}
        picks.append(("first training example", row, msgs.get("assistant", "")))
        row["_question"] = msgs.get("user")
    for file in sorted((v.path / "rejected").glob("*.jsonl")) if v.has("rejected") else []:
        for row in v.rows(f"rejected/{file.name}", limit=1):
            picks.append(
                (f"rejected by {row.get('rejected_by', file.stem)}", row, row.get("text", ""))
            )
    if not picks:
        what = missing("sft/train.jsonl and rejected/", "curate")
        return section(f"{prefix}examples", title, what, level)
    wanted = {p[1].get("question_id") for p in picks if "_question" not in p[1]}
    texts = (
        {q.get("id"): q.get("text") for q in v.rows("questions.jsonl") if q.get("id") in wanted}
        if wanted
        else {}
    )
    body = "".join(
        _example(
            f"{label}: {row.get('question_id')} #{row.get('sample_index')}",
            row.get("_question", texts.get(row.get("question_id"))),
            str(text),
            row.get("reason", ""),
            opened=i == 0,
        )
        for i, (label, row, text) in enumerate(picks)
    )
    return section(f"{prefix}examples", title, body, level)


def contents_section(v: RunView, level: int, prefix: str = "") -> str:
    rows = [
        Row(
            [
                name,
                what,
                Raw('<span class="ok">present</span>')
                if v.has(name)
                else Raw(f'<span class="absent">missing</span> (svdistill {esc(phase)})'),
            ],
            "" if v.has(name) else "absent-row",
        )
        for name, phase, what in ITEMS
    ]
    body = table(["file", "what", "status"], rows)
    return section(f"{prefix}contents", TITLES["contents"], body, level)


def run_sections(v: RunView, level: int = 2, prefix: str = "") -> list[str]:
    """Every section describing one run folder (a single run, or one round); `prefix` keeps
    the anchors of several rounds on one page apart."""
    config = v.config()
    stats = v.json("verify_stats.json")
    rows = v.eval_rows()
    builders = {
        "results": lambda: results_section(rows, level, anchor=f"{prefix}results"),
        "funnel": lambda: funnel_section(v, stats, level, prefix),
        "votes": lambda: votes_section(v, stats, level, prefix),
        "calls": lambda: calls_section(v, stats, level, prefix),
        "quality": lambda: quality_section(stats, rows, level, prefix),
        "curation": lambda: curation_section(v.json("sft/stats.json"), level, prefix),
        "training": lambda: training_section(v, level, prefix),
        "sampling": lambda: sampling_section(v, config, level, prefix),
        "examples": lambda: examples_section(v, level, prefix),
        "contents": lambda: contents_section(v, level, prefix),
    }
    out = []
    for name, build in builders.items():
        try:
            out.append(build())
        except Exception as exc:  # a malformed file spoils its own section, not the report
            why = f"could not be drawn from the files ({type(exc).__name__}: {exc})"
            out.append(section(f"{prefix}{name}", TITLES[name], missing(why), level))
    return out


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
        vs = v.json("verify_stats.json") or {}
        sft = v.json("sft/stats.json") or {}
        train = v.json("train/stats.json") or {}
        data_rows.append(
            [
                f"round {k}",
                vs.get("candidates"),
                vs.get("accepted"),
                pct(vs.get("acceptance")),
                sft.get("kept"),
                train.get("last_loss"),
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


def versions_section() -> str:
    versions = {"python": sys.version.split()[0]}
    for name in VERSION_PACKAGES:
        try:  # metadata only: never import torch and friends just to read a version
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return section(
        "versions",
        "Package versions",
        note("Installed where this report was written, which may not be where the run ran.")
        + kv_table(versions),
    )


# ---------------------------------------------------------------------------- the page


def build_report(run_dir: Path) -> Path:
    """Write RUN/report.html describing `run_dir` and return its path; see the module docstring.
    Raises FileNotFoundError when `run_dir` is not a folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    top = RunView(run_dir)
    rounds = [(k, RunView(p)) for k, p in rounds_of(run_dir)]
    config = top.config() or (rounds[0][1].config() if rounds else {})
    sections: list[str] = []
    nav: list[tuple[str, str]] = []
    if rounds:
        sections.append(rounds_section(top, rounds))
        nav.append(("rounds", "Summary across rounds"))
        if top.has("eval"):
            sections.append(results_section(top.eval_rows(), 2, anchor="results-top"))
        for k, v in rounds:
            inner = "".join(run_sections(v, level=3, prefix=f"round-{k}-"))
            own = v.text("config.yaml")
            if own and own != top.text("config.yaml"):  # later rounds start from another model
                inner += (
                    f'<details class="example"><summary>Round {k} config</summary>'
                    f'<pre class="config">{esc(own)}</pre></details>'
                )
            sections.append(
                f'<section class="round" id="round-{k}"><h2>Round {k}</h2>'
                f'<p class="meta">{esc(v.path)}</p>{inner}</section>'
            )
            nav.append((f"round-{k}", f"Round {k}"))
    else:
        sections.extend(run_sections(top))
        nav += [
            ("results", "Results"),
            ("funnel", "Funnel"),
            ("votes", "Votes"),
            ("calls", "Calls"),
            ("quality", "Judge quality"),
            ("curation", "Curation"),
            ("training", "Training"),
            ("sampling", "Sampling"),
            ("examples", "Examples"),
        ]
    config_text = top.text("config.yaml") or (rounds[0][1].text("config.yaml") if rounds else None)
    sections.append(
        section(
            "config",
            "Resolved config",
            f'<pre class="config">{esc(config_text)}</pre>'
            if config_text
            else missing("config.yaml", "sample"),
        )
    )
    sections.append(versions_section())
    nav += [("config", "Config"), ("versions", "Versions")]
    problems = list(dict.fromkeys(top.problems + [p for _, v in rounds for p in v.problems]))
    absent = [name for name, _, _ in ITEMS if not top.has(name)] if not rounds else []
    page = _page(run_dir, config, sections, nav, problems, len(rounds), absent)
    out = run_dir / REPORT_NAME
    tmp = out.with_name(f".{REPORT_NAME}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)  # a reader never sees half a page
    return out


def _page(
    run_dir: Path,
    config: dict,
    sections: list[str],
    nav: list[tuple[str, str]],
    problems: list[str],
    rounds: int,
    absent: list[str],
) -> str:
    model = (config.get("model") or {}).get("backend", "unknown (no config.yaml)")
    started = (
        (run_dir / "config.yaml").stat().st_mtime if (run_dir / "config.yaml").exists() else None
    )
    now = datetime.now(timezone.utc)
    meta = {
        "run folder": str(run_dir.resolve()),
        "model": model,
        "rounds": rounds or 1,
        "config written": datetime.fromtimestamp(started, timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        )
        if started
        else "–",
        "report written": now.strftime("%Y-%m-%d %H:%M UTC"),
    }
    if absent:
        meta["missing"] = ", ".join(absent)
    header = "".join(f"<div><span>{esc(k)}</span> {esc(v)}</div>" for k, v in meta.items())
    links = " ".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in nav)
    # Problems are rendered after the sections are built, since reading is what finds them.
    warn = "".join(f"<li>{esc(p)}</li>" for p in problems)
    warn = (
        f'<div class="problems"><b>Problems reading the run</b><ul>{warn}</ul></div>'
        if warn
        else ""
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>svdistill report: {esc(run_dir.name)}</title><style>{CSS}</style></head>"
        f"<body><header><h1>Self-Verified Distillation report</h1>"
        f'<div class="meta-grid">{header}</div><nav>{links}</nav></header>'
        f"<main>{warn}{''.join(sections)}</main>"
        f"<footer>Written by svdistill report. Numbers come from the run folder's files; "
        f"nothing is recomputed from model calls.</footer></body></html>\n"
    )


CSS = """
:root { --fg:#1d2330; --muted:#5f6b7a; --line:#e3e6ea; --bg:#f6f7f9; --accent:#2f6fdb;
  --warn:#fff4d6; --warn-line:#e0a800; --bad:#b42318; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); line-height:1.45;
  font:15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:#fff; border-bottom:1px solid var(--line); padding:24px 40px 12px; }
h1 { margin:0 0 12px; font-size:24px; }
h2 { font-size:19px; margin:0 0 12px; padding-bottom:6px; border-bottom:2px solid var(--line); }
h3 { font-size:16px; margin:0 0 10px; }
.meta-grid { display:flex; flex-wrap:wrap; gap:6px 28px; font-size:14px; }
.meta-grid span { color:var(--muted); margin-right:4px; }
nav { margin-top:14px; font-size:14px; }
nav a { color:var(--accent); text-decoration:none; margin-right:14px; }
main { max-width:1180px; margin:0 auto; padding:20px 24px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:18px 22px;
  margin:0 0 18px; overflow-x:auto; }
section.round { background:#fbfcfd; }
section section { border-radius:6px; }
table { border-collapse:collapse; margin:6px 0 12px; font-size:14px;
  font-variant-numeric:tabular-nums; }
caption { text-align:left; color:var(--muted); font-size:13px; padding-bottom:4px; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:left;
  vertical-align:top; }
thead th { background:#f0f2f5; font-weight:600; font-size:13px; white-space:nowrap; }
td { white-space:nowrap; }
td.num, th.num { text-align:right; }
table.kv td { white-space:normal; word-break:break-all; }
table.kv th { font-weight:500; color:var(--muted); background:none; }
tr.total td { font-weight:600; border-top:2px solid var(--line); }
tr.trained td { background:#eef4ff; }
tr.warn td { background:var(--warn); }
tr.absent-row td { color:var(--muted); }
.flag { color:var(--bad); font-weight:600; }
.aside { color:var(--muted); }
p.meta { color:var(--muted); font-size:13px; margin-top:-6px; }
.ok { color:#1e7b3c; } .absent { color:var(--bad); font-weight:600; }
.missing { color:var(--bad); background:#fff5f4; border-left:3px solid var(--bad);
  padding:8px 12px; margin:6px 0; }
.note { color:var(--muted); font-size:13.5px; max-width:900px; }
.warn-text { background:var(--warn); border-left:3px solid var(--warn-line); padding:6px 10px; }
.problems { background:var(--warn); border:1px solid var(--warn-line); border-radius:8px;
  padding:10px 18px; margin-bottom:18px; }
img.plot { display:block; max-width:100%; height:auto; margin:8px 0; }
pre.config { max-height:560px; overflow:auto; }
pre { background:#f6f8fa; border:1px solid var(--line); border-radius:6px; padding:12px;
  font-size:12.5px; overflow-x:auto; white-space:pre; }
pre.text { white-space:pre-wrap; word-break:break-word; max-height:320px; overflow-y:auto; }
details.example { border:1px solid var(--line); border-radius:6px; padding:8px 12px;
  margin:8px 0; }
details.example summary { cursor:pointer; font-weight:600; }
.label { font-size:12px; color:var(--muted); text-transform:uppercase; margin-top:8px; }
code { background:#f0f2f5; padding:1px 5px; border-radius:4px; }
footer { text-align:center; color:var(--muted); font-size:12.5px; padding:0 0 30px; }
"""
