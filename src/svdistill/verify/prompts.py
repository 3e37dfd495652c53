"""Judge prompt templates: packaged text files, each replaceable by a file of the user's own.

A template is plain text with placeholders drawn from one shared set of fields (FIELDS):
`{question}`, `{answer}`, `{inferred}` and `{claim}`. Every stage fills in every field it has,
so any template may use any field its stage knows (`cycle_compare` may show `{answer}` as well as
the two questions). Placeholders are checked when a template loads: a name that is no field
(`{questoin}`) or a field the stage does not have is an error naming the template and the
placeholder, never text left in the prompt. Fields are filled in one pass, so text inserted for
one placeholder is never searched for another, and other braces (LaTeX, code) are left alone.
"""

from __future__ import annotations

import difflib
import re
from importlib import resources
from pathlib import Path

from ..store import RunError

#: every field a template can use, and what it holds
FIELDS = {
    "question": "the seed question",
    "answer": "the candidate's final answer (its reasoning is never shown to a judge)",
    "inferred": "the question the cycle stage inferred from the answer alone",
    "claim": "one arithmetic statement taken from the answer",
}
_JUDGED = ("question", "answer")
#: template name -> the placeholders it must contain
REQUIRED = {
    "cycle_infer": ("answer",),
    "cycle_compare": ("question", "inferred"),
    "cycle_compare_uq": ("question", "answer", "inferred"),  # verify.cycle_compare=uq
    "factual": _JUDGED,
    "correctness": _JUDGED,
    "single": _JUDGED,
    # Opt-in stages (docs/judge_signal.md): the judge's own solution, single claims, and the
    # single judge with the two tags mentioned in alternating order across votes.
    "claim": ("claim",),
    "single_alt_yes_last": _JUDGED,
    "single_alt_no_last": _JUDGED,
}
#: prompts whose reply is not a verdict (no tags): loaded only by `load_templates(solver=True)`
SOLVER = {"solve": ("question",)}
#: template name -> the fields its stage fills in; every stage has the question and the answer,
#: except where showing one would defeat the stage (WITHHELD)
FILLED = {name: _JUDGED for name in {**REQUIRED, **SOLVER}} | {
    "cycle_infer": ("answer",),
    "cycle_compare": ("question", "answer", "inferred"),
    "cycle_compare_uq": ("question", "answer", "inferred"),
    "claim": ("question", "answer", "claim"),
    "solve": ("question",),
}
WITHHELD = {
    ("cycle_infer", "question"): "the cycle stage infers the question from the answer alone",
    ("solve", "answer"): "the solve stage works the problem without seeing the candidate",
}
#: A placeholder is a name in braces. Braces that follow a word character, a backslash, `^`,
#: `}` or `$` are LaTeX (`\boxed{ANSWER}`, `x_{max}`, `\frac{a}{b}`), not placeholders.
_CANDIDATE = re.compile(r"(?<![\w\\^}${])\{([A-Za-z_]\w*)\}")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(FIELDS) + r")\}")


def placeholder_problems(name: str, text: str, filled: tuple[str, ...]) -> list[str]:
    """What is wrong with the placeholders of template `name`, given the fields its stage fills
    in: each unknown name (with the field it most likely means) and each field it cannot have."""
    problems = []
    for found in dict.fromkeys(_CANDIDATE.findall(text)):
        if found in filled:
            continue
        if (name, found) in WITHHELD:
            problems.append(f"{{{found}}} is not available here: {WITHHELD[name, found]}")
        elif found in FIELDS:
            problems.append(f"{{{found}}} is not available here (this stage fills in "
                            + ", ".join("{" + f + "}" for f in filled) + ")")
        else:
            close = difflib.get_close_matches(found.lower(), FIELDS, n=1, cutoff=0.6)
            hint = f"did you mean {{{close[0]}}}? " if close else ""
            problems.append(
                f"unknown placeholder {{{found}}} ({hint}fields: "
                + ", ".join("{" + f + "}" for f in filled)
                + "; braces meant as text: put a space inside, `{ " + found + " }`)"
            )
    return problems


class Template:
    """One prompt, rendered by `render(question=..., answer=...)`; fields the text does not
    use are ignored, so a stage passes every field it has."""

    def __init__(self, name: str, text: str, source: str):
        missing = [p for p in {**REQUIRED, **SOLVER}[name] if "{" + p + "}" not in text]
        problems = placeholder_problems(name, text, FILLED[name])
        if missing:
            problems.insert(0, "lacks placeholder(s) " + ", ".join("{" + p + "}" for p in missing))
        if problems:
            raise RunError(f"{source}: prompt {name!r} " + "; ".join(problems))
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


def load_template(name: str, path: str | None = None) -> Template:
    """Template `name`: the packaged text, or the user's file at `path` (`verify.prompts`)."""
    if path is None:
        text = (resources.files("svdistill") / "prompts" / f"{name}.txt").read_text("utf-8")
        return Template(name, text, f"svdistill/prompts/{name}.txt")
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunError(f"verify.prompts.{name}: cannot read {file} ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise RunError(
            f"verify.prompts.{name}: {file} is not UTF-8 text (byte {exc.start})"
        ) from None
    return Template(name, text, str(file))


def unknown_prompts(overrides: dict[str, str]) -> list[str]:
    """The keys of `verify.prompts` that name no template."""
    return sorted(set(overrides) - set(REQUIRED) - set(SOLVER))


def load_templates(
    overrides: dict[str, str] | None = None, solver: bool = False
) -> dict[str, Template]:
    """Every judge template, packaged or overridden (`verify.prompts: {factual: my.txt}`), and
    with `solver` also the `solve` stage's prompt (its reply is a solution, not a verdict)."""
    overrides = dict(overrides or {})
    if unknown := unknown_prompts(overrides):
        raise RunError(
            f"verify.prompts: unknown prompt(s) {', '.join(unknown)}; known: "
            + ", ".join({**REQUIRED, **SOLVER})
        )
    names = {**REQUIRED, **SOLVER} if solver else REQUIRED
    return {name: load_template(name, overrides.get(name)) for name in names}
