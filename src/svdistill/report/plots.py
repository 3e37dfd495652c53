"""The report's figures: matplotlib on the Agg canvas, returned as base64 PNG for data URIs.

matplotlib is an optional extra (`svdistill[report]`), imported inside each function so the core
package imports without it. Figures are built with `matplotlib.figure.Figure` and an explicit
Agg canvas rather than pyplot, which keeps no global state and never switches the backend of a
process that has already chosen one (a notebook, say).
"""

from __future__ import annotations

import base64
import importlib.util
import io
from collections.abc import Sequence

# Base model grey, distilled model blue, UQ-TTC orange; anything else takes the next colour.
_COLOURS = {"base": "#8c96a3", "trained": "#2f6fdb", "no-filter": "#9fc2f5", "uq-ttc": "#e8832a"}
_OTHERS = ["#2a9d8f", "#9b5de5", "#d1495b", "#6c757d", "#e9c46a", "#264653"]
_VOTE_COLOURS = {"yes": "#3a9d5d", "no": "#d1495b", "undecided": "#e9b949", "error": "#6c757d"}


def available() -> bool:
    """True when matplotlib can be imported (the report then embeds plots)."""
    return importlib.util.find_spec("matplotlib") is not None


def _figure(width: float = 7.5, height: float = 3.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    fig.patch.set_facecolor("white")
    return fig


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e3e6ea", linewidth=0.8)
    ax.set_axisbelow(True)


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def series_colour(key: str, index: int) -> str:
    """The colour of a bar series: fixed for base / trained / UQ-TTC, cycling otherwise."""
    if "uq-ttc" in key:
        return _COLOURS["uq-ttc"]
    return _COLOURS.get(key, _OTHERS[index % len(_OTHERS)])


def pass_at_1_plot(rows: Sequence[dict]) -> str:
    """Grouped bars of pass@1 (%) per benchmark, one bar per (model, method), with CI whiskers.
    `rows` are `comparison_rows` dicts plus a "series" label."""
    benchmarks = list(dict.fromkeys(str(r["benchmark"]) for r in rows))
    series = list(dict.fromkeys(r["series"] for r in rows))
    fig = _figure(max(5.0, 1.6 + 1.3 * len(benchmarks) * max(1, len(series)) / 2), 3.4)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    for si, name in enumerate(series):
        xs, ys, err_lo, err_hi = [], [], [], []
        for bi, bench in enumerate(benchmarks):
            row = next(
                (r for r in rows if r["series"] == name and str(r["benchmark"]) == bench), None
            )
            if row is None or row["pass_at_1"] is None:
                continue
            p = 100 * row["pass_at_1"]
            lo = 100 * row["ci_low"] if row["ci_low"] is not None else p
            hi = 100 * row["ci_high"] if row["ci_high"] is not None else p
            xs.append(bi - 0.4 + width * (si + 0.5))
            ys.append(p)
            err_lo.append(max(0.0, p - lo))
            err_hi.append(max(0.0, hi - p))
        key = rows[[r["series"] for r in rows].index(name)]["colour_key"]
        bars = ax.bar(
            xs,
            ys,
            width * 0.92,
            yerr=[err_lo, err_hi],
            capsize=3,
            label=name,
            color=series_colour(key, si),
            error_kw={"elinewidth": 1, "ecolor": "#333"},
        )
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2, label_type="edge")
    ax.set_xticks(range(len(benchmarks)), benchmarks)
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 105)
    _style(ax)
    ax.legend(
        frameon=False,
        fontsize=8,
        # one row while the labels fit the figure's width; wider, constrained layout would
        # squeeze the axes to a sliver to make room, so the legend wraps into two columns
        ncols=len(series) if sum(len(name) for name in series) <= 70 else 2,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
    )
    return _png(fig)


def funnel_plot(labels: Sequence[str], counts: Sequence[int]) -> str:
    """Horizontal bars: candidates remaining after each stage, with count and share of the start."""
    fig = _figure(7.5, 0.6 + 0.42 * len(labels))
    ax = fig.add_subplot()
    start = counts[0] or 1
    ys = list(range(len(labels)))[::-1]
    bars = ax.barh(ys, counts, color=["#8c96a3"] + ["#2f6fdb"] * (len(counts) - 1), height=0.65)
    ax.bar_label(bars, [f"{c:,} ({100 * c / start:.0f}%)" for c in counts], padding=3, fontsize=8)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, max(counts) * 1.22 if max(counts) else 1)
    ax.set_xlabel("candidates")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def votes_plot(stages: Sequence[str], counts: dict[str, Sequence[int]]) -> str:
    """Stacked horizontal bars of judge votes per stage: yes / no / undecided / error."""
    fig = _figure(7.5, 0.7 + 0.42 * len(stages))
    ax = fig.add_subplot()
    ys = list(range(len(stages)))[::-1]
    left = [0] * len(stages)
    for verdict, values in counts.items():
        if not any(values):
            continue
        ax.barh(
            ys,
            values,
            left=left,
            height=0.65,
            label=verdict,
            color=_VOTE_COLOURS.get(verdict, "#999"),
        )
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(ys, stages)
    ax.set_xlabel("judge votes")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=8, ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _png(fig)


def loss_plot(steps: Sequence[float], losses: Sequence[float]) -> str:
    """Training loss against optimizer step."""
    fig = _figure(7.5, 3.0)
    ax = fig.add_subplot()
    ax.plot(
        steps,
        losses,
        color="#2f6fdb",
        linewidth=1.4,
        marker="o" if len(steps) < 40 else None,
        markersize=3,
    )
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    _style(ax)
    return _png(fig)


def rounds_plot(series: dict[str, list[tuple[int, float, float | None, float | None]]]) -> str:
    """pass@1 (%) per round for each benchmark (round 0 = the base model), with CI whiskers."""
    fig = _figure(7.5, 3.2)
    ax = fig.add_subplot()
    rounds: set[int] = set()
    for i, (bench, points) in enumerate(series.items()):
        xs = [p[0] for p in points]
        ys = [100 * p[1] for p in points]
        lo = [100 * (p[1] - p[2]) if p[2] is not None else 0.0 for p in points]
        hi = [100 * (p[3] - p[1]) if p[3] is not None else 0.0 for p in points]
        ax.errorbar(
            xs,
            ys,
            yerr=[lo, hi],
            marker="o",
            capsize=3,
            label=bench,
            color=_OTHERS[i % len(_OTHERS)] if i else "#2f6fdb",
        )
        rounds.update(xs)
    ticks = sorted(rounds)
    ax.set_xticks(ticks, ["base" if r == 0 else f"round {r}" for r in ticks])
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 105)
    _style(ax)
    ax.legend(frameon=False, fontsize=8)
    return _png(fig)
