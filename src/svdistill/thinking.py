"""Split a thinking model's reply into its reasoning trace and its final answer."""

from __future__ import annotations

import re

_OPEN = "<think>"
_CLOSE = "</think>"


def split_thinking(text: str) -> tuple[str | None, str]:
    """Return (reasoning, final_answer).

    The final answer is the text after the last `</think>`. A reply with no think tags is all
    final answer. A reply that opens `<think>` but never closes it was cut off while reasoning:
    it has no final answer at all, which later phases treat as empty.
    """
    if _CLOSE in text:
        head, _, tail = text.rpartition(_CLOSE)
        reasoning = head.split(_OPEN, 1)[-1].strip()
        return reasoning, tail.strip()
    if re.match(r"\s*<think>", text):
        return text.split(_OPEN, 1)[1].strip(), ""
    return None, text.strip()
