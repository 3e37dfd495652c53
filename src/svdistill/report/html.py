"""The report's HTML pieces: escaping, number formats, tables, notes, images and sections.

Every value that is not a `Raw` string is escaped: questions and candidates are untrusted model
or user text and may contain markup.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

_NUMERIC = re.compile(r"^[-+−]?[\d,.]+(%| pts)?( [–/] [-+−]?[\d,.–]+%?)*$|^[–-]$")


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
    """A base64 PNG from `plots`, or None without matplotlib."""
    from . import plots

    if not plots.available():
        return None
    return getattr(plots, name)(*args)


def section(anchor: str, title: str, body: str, level: int = 2) -> str:
    return f'<section id="{esc(anchor)}"><h{level}>{esc(title)}</h{level}>{body}</section>'
