"""Read a judge's verdict out of its reply.

Every judge prompt asks for one machine-readable tag, `[[Y]]` or `[[N]]`. The reply is read in
this order, and the first rule that applies decides:

1. only the text after `</think>` counts (a thinking judge's reasoning may weigh both sides);
2. the LAST verdict tag wins (judges often quote the format before answering);
3. otherwise a lone `Y` / `N` on the last non-empty line ("Verdict: Y" counts);
4. otherwise a lone `YES` / `NO` on that line;
5. otherwise the reply is "undecided": it rejects, but is counted apart from a "no".
"""

from __future__ import annotations

import re

from ..thinking import split_thinking

YES = "yes"
NO = "no"
UNDECIDED = "undecided"
ERROR = "error"  # the judge call itself failed; rejects, and a rerun retries it

# Whitespace inside the brackets and any case are tolerated; the brackets must be adjacent, which
# is what `neutralize` breaks in untrusted text, so an echoed candidate cannot forge a tag.
_TAG = re.compile(r"\[\[\s*(y|n|yes|no)\s*\]\]", re.IGNORECASE)
# Decoration a model puts around a bare answer: markdown emphasis, quotes, punctuation. Square
# brackets are not decoration: "[ [Y] ]" is a defanged tag (see untrusted.neutralize), not a Y.
_DECORATION = re.compile(r"[\s*_`'\"(){}.,:;!<>=-]+")
_LABEL = re.compile(
    r"^(?:final\s+)?(?:answer|verdict|judg(?:e)?ment|decision|result|output)\s*[:=-]?\s*",
    re.IGNORECASE,
)


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


def parse_verdict(reply: str) -> str:
    """ "yes", "no" or "undecided" for one judge reply; see the module docstring for the order."""
    _, final = split_thinking(reply)
    tags = _TAG.findall(final)
    if tags:
        return YES if tags[-1][0] in "yY" else NO
    line = _LABEL.sub("", _DECORATION.sub(" ", _last_line(final)).strip()).strip().lower()
    if line in ("y", "n"):
        return YES if line == "y" else NO
    if line in ("yes", "no"):
        return YES if line == "yes" else NO
    return UNDECIDED
