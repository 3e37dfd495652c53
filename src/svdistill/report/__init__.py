"""One self-contained HTML page describing a run folder: `build_report(run) -> RUN/report.html`.

The page reads only what the phases wrote, through their own records (`svdistill.summaries`:
sample_stats.json, verify_stats.json, sft/stats.json, train/stats.json, eval/*/*/summary.json)
and their JSONL files (verdicts.jsonl, rejected/, train/log.jsonl, eval samples), and says
plainly which of them are missing, so it works on a run stopped at any phase. A multi-round run
(`round-1/`, `round-2/`, ...) gets one section per round and a summary across rounds.

Everything is inline: CSS in a <style>, plots as base64 PNG data URIs (matplotlib, Agg, only
when installed), no JavaScript. Every piece of model-generated or user text goes through
html.escape, since questions and candidates are untrusted and may contain markup.

The sections live beside this module: `results` (pass@1, paired differences, rounds),
`judging` (funnel, votes, calls, judge quality), `data` (curation, training, sampling,
examples, contents); `html` holds the pieces they are built from and `plots` the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ..summaries import CurateSummary, SummaryError, VerifyStats
from ..versions import package_versions
from .data import (
    contents_section,
    curation_section,
    examples_section,
    sampling_section,
    training_section,
)
from .html import esc, kv_table, missing, note, section
from .judging import calls_section, funnel_section, quality_section, votes_section
from .results import paired_section, results_section, rounds_rows, rounds_section
from .style import CSS
from .view import ITEMS, TITLES, RunView, rounds_of

__all__ = ["REPORT_NAME", "build_report"]

REPORT_NAME = "report.html"


def run_sections(v: RunView, level: int = 2, prefix: str = "", paired: bool = True) -> list[str]:
    """Every section describing one run folder (a single run, or one round); `prefix` keeps
    the anchors of several rounds on one page apart. `paired`: include the paired differences
    (a multi-round page draws them once, across rounds)."""
    config = v.config()
    rows = v.eval_rows()
    try:  # read once; a malformed record spoils each section that needs it, and only those
        verify, verify_error = v.summary(VerifyStats), None
    except SummaryError as exc:
        verify, verify_error = None, exc

    def stats() -> VerifyStats | None:
        if verify_error is not None:
            raise verify_error
        return verify

    builders: dict[str, Callable[[], str]] = {
        "results": lambda: results_section(rows, level, anchor=f"{prefix}results"),
        "paired": lambda: paired_section(rows, level, anchor=f"{prefix}paired"),
        "funnel": lambda: funnel_section(v, stats(), level, prefix),
        "votes": lambda: votes_section(v, stats(), level, prefix),
        "calls": lambda: calls_section(stats(), level, prefix),
        "quality": lambda: quality_section(stats(), rows, level, prefix),
        "curation": lambda: curation_section(v.summary(CurateSummary), level, prefix),
        "training": lambda: training_section(v, level, prefix),
        "sampling": lambda: sampling_section(v, config, level, prefix),
        "examples": lambda: examples_section(v, level, prefix),
        "contents": lambda: contents_section(v, level, prefix),
    }
    if not paired:
        del builders["paired"]
    out = []
    for name, build in builders.items():
        try:
            out.append(build())
        except Exception as exc:  # a malformed file spoils its own section, not the report
            why = f"could not be drawn from the files ({type(exc).__name__}: {exc})"
            out.append(section(f"{prefix}{name}", TITLES[name], missing(why), level))
    return out


def versions_section() -> str:
    return section(
        "versions",
        "Package versions",
        note("Installed where this report was written, which may not be where the run ran.")
        + kv_table(package_versions(include_missing=True)),
    )


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
        sections.append(paired_section(rounds_rows(top, rounds)))
        nav += [("rounds", "Summary across rounds"), ("paired", "Paired")]
        if top.has("eval"):
            sections.append(results_section(top.eval_rows(), 2, anchor="results-top"))
        for k, v in rounds:
            inner = "".join(run_sections(v, level=3, prefix=f"round-{k}-", paired=False))
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
            ("paired", "Paired"),
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
