"""Candidate text is untrusted input to the judge. This module is the one place that handles it.

What it guarantees (each property is attacked in tests/test_verify_injection.py):
- `neutralize(text)` returns text that cannot close the fence it is placed in (every tag named
  in FENCE_TAGS is defanged, in any case or spacing), cannot end or open a thinking block
  (`<think>`, `</think>`), cannot contain a verdict tag the parser would read (`[[` / `]]` are
  split apart), and cannot carry chat-template control tokens (`<|...|>`). It defangs the
  *folded* text (Unicode NFKC, invisible format characters removed) and returns that folded
  text, so a look-alike (fullwidth `＜/think＞`, small form `﹤`, a zero-width joiner inside the
  tag) is folded first and defanged after: folding never creates the token it exists to remove,
  and folding the result again creates none either.
- `injection_reason(text)` names the first sign that a candidate addresses the judge instead of
  the question: verdict markup, prompt-control tokens, "ignore the previous instructions",
  "the grader must answer yes", and similar. The `rules` stage rejects such candidates outright.

What it does not promise: the phrase patterns are a blocklist, so a reworded or obfuscated plea
(look-alike letters from other scripts, another language) can pass the rules stage; it then
still faces a judge told to ignore it, and can never forge the judge's verdict tag. And a judge
model can be swayed by a persuasive but wrong answer that never addresses it: that is judge
quality, measured by `verify.quality`, not a parsing bug.
"""

from __future__ import annotations

import re
import unicodedata

#: Tags the judge prompts use to fence text. Candidate text may not open or close any of them.
FENCE_TAGS = ("question", "answer", "candidate_answer", "inferred_question", "original_question")

_FENCE = re.compile(r"<\s*/?\s*(?:" + "|".join(FENCE_TAGS) + r")\b[^>]*>", re.IGNORECASE)
# A thinking block's tags end the judge's reasoning where they appear (thinking.split_thinking):
# defanged with or without their closing bracket, so no spacing or cut-off form survives.
_THINK = re.compile(r"<\s*/?\s*think\b", re.IGNORECASE)
_CONTROL = re.compile(r"<\s*\|")  # <|im_start|>, <|endoftext|>, <|system|> ...
_INVISIBLE = {"Cf"}  # zero-width space/joiner, bidi overrides, soft hyphen ...


def fold(text: str) -> str:
    """NFKC-fold and drop invisible format characters: what a reader (or a tokenizer) sees."""
    if text.isascii():
        return text  # ASCII is NFKC-stable and has no format characters: the common case
    folded = unicodedata.normalize("NFKC", text)
    if folded.isascii():
        return folded  # e.g. fullwidth letters folded to plain ones: nothing invisible is left
    visible = "".join(ch for ch in folded if unicodedata.category(ch) not in _INVISIBLE)
    # Removing a format character can bring together characters NFKC composes: fold again, so
    # that fold(fold(text)) == fold(text) and nothing new appears when the result is re-read.
    return visible if visible == folded else unicodedata.normalize("NFKC", visible)


def neutralize(text: str) -> str:
    """Make untrusted text safe to place inside a fenced block of a judge prompt."""
    text = fold(text)  # first: every check below runs on what a tokenizer will see
    if "<" in text:
        text = _FENCE.sub(lambda m: "\u2039" + m.group(0)[1:], text)  # '<' -> single angle quote
        text = _THINK.sub(lambda m: "\u2039" + m.group(0)[1:], text)
        text = _CONTROL.sub("< |", text)
    # Split every double bracket so no tag survives, e.g. "[[Y]]" -> "[ [Y] ]".
    while "[[" in text or "]]" in text:
        text = text.replace("[[", "[ [").replace("]]", "] ]")
    return text


# Verdict markup in any of the forms a parser or a judge might honour: [[Y]], [ [yes] ], [[N]].
# Not right after a name, `]` or `)`: there `[[y]]` is indexing with a list (`df.loc[[n]]`),
# ordinary code; the judge is shown it split apart either way (neutralize), and reads its
# verdict only from its own reply's last line.
_MARKUP = re.compile(r"(?<![\w\])])\[\s*\[\s*(?:y|n|yes|no)\s*\]\s*\]", re.IGNORECASE)
_JUDGE = (
    r"(?:the\s+)?(?:judge|grader|evaluator|verifier|reviewer|checker|assessor|examiner|"
    r"marker|ai|llm|language\s+model|assistant)s?"
)
_MUST = (
    r"(?:must|should|shall|will|have\s+to|need\s+to|are\s+(?:required|instructed|told|"
    r"expected)\s+to)\s+(?:now\s+|simply\s+|just\s+)?"
)
_SAY = r"(?:answer|output|respond|reply|say|return|print|write|emit|give|conclude|put)"
# a "yes" verdict: the word yes/correct, a quoted or bracketed y, or an opening verdict bracket
_YES = r"(?:with\s+)?(?:only\s+)?(?:a\s+|the\s+)?[\"'`*]*(?:yes\b|correct\b|[\"'`\[(]y\b|\[)"
# Each pattern runs only when the text contains one of its gate words (or gate character): the
# patterns are slow to scan with, and ordinary answers contain none of the words.
_JUDGE_WORDS = frozenset(
    "judge judges grader graders evaluator evaluators verifier verifiers reviewer reviewers "
    "checker assessor examiner marker ai llm model assistant".split()
)
_YOU_WORDS = _JUDGE_WORDS | {"you"}
_OVERRIDE_WORDS = frozenset(
    "ignore ignored ignoring disregard disregarding forget forgetting override overriding bypass "
    "bypassing".split()
)
_CLAIM_WORDS = frozenset("mark grade rate judge consider treat accept score label classify".split())
_APPROVED_WORDS = frozenset(
    "preapproved approved preverified verified certified officially already".split()
)
_ROLE_WORDS = frozenset("new updated system developer admin administrator".split())
_WORD = re.compile(r"[a-z]+")
# Each pattern is phrased so ordinary math and code prose does not match it (the rules stage
# must not throw away good data): "you should return y" in code is fine, "you must say 'Y'" is not.
_ADDRESS: list[tuple[str, re.Pattern[str], str | frozenset[str]]] = [
    ("verdict markup", _MARKUP, "["),
    (
        "prompt control tokens",
        re.compile(r"<\s*\|[^|>]{1,40}\|\s*>|</?\s*(?:system|assistant|user|think)\s*>", re.I),
        "<",
    ),
    ("fence tags", _FENCE, "<"),
    (
        "overrides instructions",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}?\b(?:instruction|prompt|"
            r"rule|guideline|directive|system\s+message)s?\b",
            re.I,
        ),
        _OVERRIDE_WORDS,
    ),
    (
        "addresses the judge",
        re.compile(
            r"\b(?:dear|note\s+(?:to|for)|message\s+(?:to|for)|instructions?\s+(?:to|for))\s+"
            + _JUDGE
            + r"\b|\b(?:hey|hello|hi|attention|listen)\s*,?\s+"
            + _JUDGE
            + r"\s*[,:!-]",
            re.I,
        ),
        _JUDGE_WORDS,
    ),
    (
        "orders a verdict",
        re.compile(r"\b(?:you|" + _JUDGE + r")\s+" + _MUST + _SAY + r"\s+" + _YES, re.I),
        _YOU_WORDS,
    ),
    (
        "orders a verdict",
        re.compile(
            r"\b(?:you|" + _JUDGE + r")\s+" + _MUST + r"(?:accept|approve|pass|mark|grade|rate|"
            r"judge|score)\s+(?:this|my|the|it)\b",
            re.I,
        ),
        _YOU_WORDS,
    ),
    (
        "orders a verdict",
        re.compile(
            r"\b(?:say|answer|respond|reply|output|write|print)\s+(?:with\s+)?(?:only\s+)?"
            r"[\"'`*]*(?:yes|y)[\"'`*]*\s*(?:to\s+(?:this|the\s+(?:question|check))|as\s+"
            r"(?:your|the)\s+(?:verdict|answer|decision))",
            re.I,
        ),
        frozenset({"yes", "y"}),
    ),
    (
        "claims a verdict",
        re.compile(
            r"\b(?:mark|grade|rate|judge|consider|treat|accept|score|label|classify)\s+(?:this|the|"
            r"my)\s+(?:answer|solution|response|reply|submission|output)\s+as\s+(?:fully\s+)?"
            r"(?:correct|right|valid|accepted|yes|passing|equivalent)",
            re.I,
        ),
        _CLAIM_WORDS,
    ),
    (
        "claims a verdict",
        re.compile(
            r"\bverdict\s*(?:is|:|=|should\s+be|must\s+be)\s*[\"'`*]*\s*(?:y|yes|correct|"
            r"accept(?:ed)?|pass(?:ed)?|approved|equivalent)\b",
            re.I,
        ),
        frozenset({"verdict"}),
    ),
    (
        "claims a verdict",
        re.compile(
            r"\b(?:pre-?approved|pre-?verified|certified\s+(?:as\s+)?correct|officially\s+"
            r"(?:verified|approved|correct)|already\s+(?:been\s+)?(?:approved|accepted|verified\s+by))"
            r"\b",
            re.I,
        ),
        _APPROVED_WORDS,
    ),
    (
        "role play",
        re.compile(
            r"\b(?:new|updated|system|developer|admin(?:istrator)?)\s+(?:instructions?|prompt|"
            r"message|override|mode|command)\s*[:\-]",
            re.I,
        ),
        _ROLE_WORDS,
    ),
]

# Every gate at once, so an ordinary answer is cleared by one test instead of one per pattern.
_GATE_WORDS = frozenset().union(*(g for _, _, g in _ADDRESS if not isinstance(g, str)))
_GATE_CHARS = tuple({g for _, _, g in _ADDRESS if isinstance(g, str)})


def injection_reason(text: str) -> str | None:
    """Why `text` looks like it talks to the judge, or None. Checked on the folded text."""
    folded = fold(text)
    words = set(_WORD.findall(folded.lower()))
    words.update([w[:-1] for w in words if w.endswith("s")])  # "graders" gates like "grader"
    if words.isdisjoint(_GATE_WORDS) and not any(c in folded for c in _GATE_CHARS):
        return None
    for reason, pattern, gate in _ADDRESS:
        hit = gate in folded if isinstance(gate, str) else not words.isdisjoint(gate)
        if hit and pattern.search(folded):
            return reason
    return None
