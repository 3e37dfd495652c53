"""Judge prompt templates: packaged text files, each replaceable by a file of the user's own.

A template is plain text with placeholders `{question}`, `{answer}`, `{inferred}` and `{claim}`.
They are filled in one pass, so text inserted for one placeholder is never searched for another,
and any other braces (LaTeX, code) are left alone.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from ..store import RunError

#: template name -> the placeholders it must contain
REQUIRED = {
    "cycle_infer": ("answer",),
    "cycle_compare": ("question", "inferred"),
    "factual": ("question", "answer"),
    "correctness": ("question", "answer"),
    "single": ("question", "answer"),
    # Opt-in stages (docs/judge_signal.md): the judge's own solution, single claims, and the
    # single judge with the two tags mentioned in alternating order across votes.
    "claim": ("claim",),
    "single_alt_yes_last": ("question", "answer"),
    "single_alt_no_last": ("question", "answer"),
}
#: prompts whose reply is not a verdict (no tags): loaded only by `load_templates(solver=True)`
SOLVER = {"solve": ("question",)}
_PLACEHOLDER = re.compile(r"\{(question|answer|inferred|claim)\}")


class Template:
    """One prompt, rendered by `render(question=..., answer=...)`."""

    def __init__(self, name: str, text: str, source: str):
        missing = [p for p in {**REQUIRED, **SOLVER}[name] if "{" + p + "}" not in text]
        if missing:
            raise RunError(
                f"{source}: prompt {name!r} lacks placeholder(s) "
                + ", ".join("{" + p + "}" for p in missing)
            )
        self.name = name
        self.text = text
        self.source = source
        # Compiled once into a %-format (literal "%" doubled, each placeholder "%(name)s"), so
        # rendering is one pass in C that never re-reads what it inserts.
        parts = _PLACEHOLDER.split(text)
        self._format = "".join(
            f"%({part})s" if i % 2 else part.replace("%", "%%") for i, part in enumerate(parts)
        )

    def render(self, **values: str) -> str:
        return self._format % values


def load_templates(
    overrides: dict[str, str] | None = None, solver: bool = False
) -> dict[str, Template]:
    """Every judge template, packaged or overridden (`verify.prompts: {factual: my.txt}`), and
    with `solver` also the `solve` stage's prompt (its reply is a solution, not a verdict)."""
    overrides = dict(overrides or {})
    known = {**REQUIRED, **SOLVER}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise RunError(
            f"verify.prompts: unknown prompt(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    templates = {}
    for name in known if solver else REQUIRED:
        if name in overrides:
            path = Path(overrides[name]).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise RunError(
                    f"verify.prompts.{name}: cannot read {path} ({exc.strerror})"
                ) from exc
            source = str(path)
        else:
            text = (resources.files("svdistill") / "prompts" / f"{name}.txt").read_text("utf-8")
            source = f"svdistill/prompts/{name}.txt"
        templates[name] = Template(name, text, source)
    return templates
