"""Multiple-choice grading: strict letter extraction and deterministic option shuffling.

Extraction is strict on purpose: a letter counts only when the reply commits to it explicitly
(a box, "the answer is (B)", "Answer: B", or a line holding just the letter). A loose rule such
as "the first capital letter" would credit replies that merely discuss option "A".
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Sequence

from svdistill.records import Grade

__all__ = ["extract_choice", "grade_choice", "shuffle_options"]

_L = r"(?P<open>[(\[]?)(?P<l>[A-Za-z])[)\]]?"  # B, (B), [B]
_END = r"(?=$|[\s.,;:!)*\]}]|\\)"  # the letter must stand alone, not start a word

_PATTERNS = [
    re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{\s*)?" + _L + r"\s*\}?\s*\}"),
    re.compile(
        r"(?:the\s+)?(?:final\s+|correct\s+)?(?:answer|option|choice)\s+is\s*:?\s*"
        r"(?:option\s+|choice\s+)?\**" + _L + _END,
        re.IGNORECASE,
    ),
    re.compile(r"(?:final\s+)?answer\s*:\s*\**\s*(?:option\s+)?" + _L + _END, re.IGNORECASE),
    re.compile(r"^[ \t>*#]*" + _L + r"[ \t.*]*$", re.MULTILINE),  # a lone letter line
]


def extract_choice(text: str, n_options: int = 26) -> str | None:
    """The last explicitly stated option letter (upper case) within the first `n_options`, or None.

    Every pattern is matched over the whole reply and the match that ends last wins, so a final
    "Answer: C" overrides an earlier "the answer is (B)".
    """
    if not text:
        return None
    valid = set(string.ascii_uppercase[:n_options])
    best: tuple[int, str] | None = None
    for pat in _PATTERNS:
        for m in pat.finditer(text):
            letter = m.group("l")
            # A bare lower-case letter is prose ("the answer is a prime"); it counts only boxed
            # or bracketed, as in "(b)".
            if letter.islower() and pat is not _PATTERNS[0] and not m.group("open"):
                continue
            letter = letter.upper()
            if letter in valid and (best is None or m.end() >= best[0]):
                best = (m.end(), letter)
    return best[1] if best else None


def grade_choice(response: str, gold_letter: str, n_options: int) -> Grade:
    """Grade a multiple-choice reply. The gold letter is checked first: an invalid one is None."""
    gold = (gold_letter or "").strip().strip("()").upper()
    if len(gold) != 1 or gold not in string.ascii_uppercase[:n_options]:
        return Grade(None, None, f"gold not gradable: {gold_letter!r} with {n_options} options")
    got = extract_choice(response, n_options)
    if got is None:
        return Grade(False, None, "no final answer")
    return Grade(got == gold, got, "match" if got == gold else "different letter")


def shuffle_options(options: Sequence[str], correct_index: int, seed: int) -> tuple[list[str], str]:
    """Shuffle options deterministically for `seed`; return them and the new correct letter.

    Uses a private Random so the global random state is untouched and the same seed gives the
    same order on every platform and Python version that keeps Random's algorithm.
    """
    if not 0 <= correct_index < len(options):
        raise ValueError(f"correct_index {correct_index} out of range for {len(options)} options")
    if len(options) > 26:
        raise ValueError("at most 26 options can be lettered")
    order = list(range(len(options)))
    random.Random(seed).shuffle(order)
    shuffled = [options[i] for i in order]
    return shuffled, string.ascii_uppercase[order.index(correct_index)]
