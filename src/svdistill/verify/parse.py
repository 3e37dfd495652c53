"""Read a judge's verdict out of its reply.

Every judge prompt asks the judge to end with one line holding one tag, `[[Y]]` or `[[N]]`.
The verdict is read from that line, and only from it:

1. only the text after `</think>` counts (a thinking judge's reasoning may weigh both sides;
   a reply cut off inside `<think>` has no final part and is undecided);
2. the LAST non-empty line decides. It is a verdict when it ends with a tag and holds no other
   tag (`Checked every step. [[Y]]`, `**Verdict:** [[N]]`, `[[Y]].`), or when it is a lone
   `Y` / `N` / `YES` / `NO` with light decoration (markdown emphasis, quotes, end punctuation,
   a label such as `Verdict:` or `Final answer:`). Not verdicts: `[[N]]. I will not write
   [[Y]]` (two tags), `... [[N]] The answer says [[Y]] at the end` (text after the tag), a
   code fence closing a format example (the last line is the fence);
3. if an earlier line of the final part is a verdict alone (a tag or a lone word, decoration
   only) that says the opposite ("Final verdict: N" then "Y"), the reply contradicts itself;
4. a bare word verdict (`Y`, `yes`, no tag) counts only when none of the untrusted text the
   prompt showed (the candidate's answer) holds a line that is a verdict alone: a judge that
   echoes the candidate must not hand on the candidate's own "Y". A tag cannot come from
   candidate text at all (untrusted.neutralize splits every `[[` and `]]`);
5. anything else is "undecided": it rejects, but is counted apart from a "no".

A reply the engine cut off at its token budget is "truncated", decided before any parsing
(stages.reply_verdict): a cut-off reply is not a vote, whatever its last line says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..thinking import split_thinking

YES = "yes"
NO = "no"
UNDECIDED = "undecided"
TRUNCATED = "truncated"  # the reply hit max_tokens: not a vote; rejects, counted apart
ERROR = "error"  # the judge call itself failed; rejects, and a rerun retries it

# Whitespace inside the brackets and any case are tolerated; the brackets must be adjacent, which
# is what `neutralize` breaks in untrusted text, so an echoed candidate cannot forge a tag.
_TAG = re.compile(r"\[\[\s*(y|n|yes|no)\s*\]\]", re.IGNORECASE)
# Decoration a model puts around a bare answer: markdown emphasis, quotes, punctuation. Square
# brackets are not decoration: "[ [Y] ]" is a defanged tag (see untrusted.neutralize), not a Y.
# Control characters (NUL, escapes) are noise around a tag, not text after it.
_DECORATION = re.compile(r"[\s\x00-\x1f\x7f*_`'\"(){}.,:;!<>=#-]+")
_LABEL = re.compile(
    r"^(?:final\s+)?(?:answer|verdict|judg(?:e)?ment|decision|result|output)\s*[:=-]?\s*",
    re.IGNORECASE,
)
_WORDS = {"y": YES, "n": NO, "yes": YES, "no": NO}


def _alone(line: str) -> tuple[str, bool] | None:
    """(verdict, is_tag) when `line` is a verdict alone: a tag or a Y/N word, decoration only."""
    text = _LABEL.sub("", _DECORATION.sub(" ", line).strip()).strip()
    tag = _TAG.fullmatch(text)
    if tag:
        return _WORDS[tag.group(1).lower()], True
    word = _WORDS.get(text.lower())
    return (word, False) if word else None


def _last_line_verdict(line: str) -> tuple[str, bool] | None:
    """(verdict, is_tag) for the reply's last line: its only tag, ending it, or a verdict alone."""
    tags = list(_TAG.finditer(line))
    if len(tags) > 1:
        return None
    if tags and not _DECORATION.sub("", line[tags[0].end() :]):
        return _WORDS[tags[0].group(1).lower()], True
    return None if tags else _alone(line)


def parse_verdict(reply: str, untrusted: Iterable[str] = ()) -> str:
    """ "yes", "no" or "undecided" for one judge reply; `untrusted`: the texts from the
    candidate that its prompt showed. See the module docstring for the rule."""
    _, final = split_thinking(reply)
    lines = [line for line in final.splitlines() if line.strip()]
    if not lines:
        return UNDECIDED
    last = _last_line_verdict(lines[-1])
    if last is None:
        return UNDECIDED
    verdict, is_tag = last
    for line in lines[:-1]:
        other = _alone(line)
        if other is not None and other[0] != verdict:
            return UNDECIDED
    if not is_tag:
        for text in untrusted:
            if any(_alone(line) for line in text.splitlines() if line.strip()):
                return UNDECIDED
    return verdict
