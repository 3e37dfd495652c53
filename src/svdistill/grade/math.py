"""Math answer grading: extract the final answer, then check equivalence with math-verify.

math-verify enforces its parse and verify timeouts with SIGALRM, which only works on a process's
main thread. Graders are called from worker threads (evaluation runs requests concurrently), so
every parse/verify runs in a small pool of worker processes, where it does run on the main
thread. A worker that hangs anyway (a sympy call that ignores the alarm) is caught by a result
timeout in the parent, and the pool is thrown away and recreated lazily.

Outcomes: no extractable answer or an answer that does not parse is wrong (False, the model's
fault); a gold answer that math-verify cannot turn into a mathematical object, or that does not
equal itself, is "could not grade" (None), never wrong.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import multiprocessing
import os
import re
import threading
from collections.abc import Iterable, Sequence

# imported by name: `cf.process` exists only once something has imported that submodule, so an
# `except cf.process.BrokenProcessPool` hit before the pool was built (a Ctrl-C while it
# starts) raised AttributeError in place of the real exception
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from typing import Any

from svdistill.records import Grade

__all__ = ["extract_final_answer", "grade_math", "grade_math_many", "validate_gold"]

# Phrases that introduce a final answer when there is no \boxed{}. The last match wins because
# models often restate a tentative answer before the final one.
_ANSWER_PHRASE = re.compile(
    r"(?:the\s+(?:final\s+)?answer\s+is|final\s+answer\s*(?:is)?\s*[:=]?)\s*[:=]?\s*(?P<ans>[^\n]+)",
    re.IGNORECASE,
)


_NON_SPACE = re.compile(r"\S")
# A brace, or an escaped character such as \{ (which does not open or close a group).
_BRACE_OR_ESCAPE = re.compile(r"\\.|[{}]", re.DOTALL)


def _boxed_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the contents of every \\boxed{...} / \\fbox{...} with balanced braces, in
    order of appearance. A box whose braces never close is skipped: a truncated reply has no
    final answer.

    One pass pairs every brace, and spans are returned rather than slices: scanning on from
    each box, or copying each nested box's contents, takes quadratic time on a reply of many
    (nested or unclosed) boxes, which a model can produce.
    """
    opens = {m.end() - 1: m.end() for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text)}
    if not opens:
        return []
    closes: dict[int, int] = {}  # position of a box's "{" -> position of its "}"
    stack: list[int] = []
    # Text before the first box cannot change how its braces pair, so the scan starts there.
    for m in _BRACE_OR_ESCAPE.finditer(text, min(opens)):
        ch = m.group()
        if ch == "{":
            stack.append(m.start())
        elif ch == "}" and stack:
            start = stack.pop()
            if start in opens:
                closes[start] = m.start()
    return [(opens[b], closes[b]) for b in sorted(closes)]


def extract_final_answer(text: str) -> str | None:
    """The final answer in a model reply, or None.

    Order: the last \\boxed{...} with balanced braces; else the last "The answer is ..." or
    "final answer: ..." phrase (to the end of its line, trailing period and $ removed); else None.
    """
    if not text:
        return None
    for start, end in reversed(_boxed_spans(text)):
        if _NON_SPACE.search(text, start, end):  # the last box that is not empty
            return text[start:end].strip()
    matches = list(_ANSWER_PHRASE.finditer(text))
    for m in reversed(matches):
        ans = m.group("ans").strip().rstrip(".").strip()
        ans = ans.strip("$").strip().strip("*").strip()  # markdown bold and inline math
        if ans:
            return ans
    return None


# --- work done inside the pool's processes ----------------------------------------------------


def _as_latex(s: str) -> str:
    """Wrap a bare answer in $...$ so math-verify's LaTeX parser reads it (\\frac, \\sqrt, sets)."""
    s = s.strip()
    if s.startswith("$") and s.endswith("$"):
        s = s.strip("$")
    return f"${s}$"


@lru_cache(maxsize=4096)
def _parse_cached(s: str, timeout: int) -> Any:
    from math_verify import parse

    return parse(_as_latex(s), parsing_timeout=timeout)


def _has_math(parsed: Sequence[Any]) -> bool:
    # math-verify falls back to the raw string when nothing parses; that is not a math object.
    return any(not isinstance(p, str) for p in parsed)


def _check(answer: str | None, gold: str, timeout: int) -> tuple[str, str]:
    """Runs in a worker. Returns (status, detail); status is gold_bad, no_parse, ok or wrong."""
    from math_verify import verify

    try:
        g = _parse_cached(gold, timeout)
        if not g or not _has_math(g) or not verify(g, g, timeout_seconds=timeout):
            return "gold_bad", ""
        if answer is None:
            return "no_answer", ""
        a = _parse_cached(answer, timeout)
        if not a:
            return "no_parse", ""
        return ("ok" if verify(g, a, timeout_seconds=timeout) else "wrong"), str(a[0])
    except Exception as e:  # noqa: BLE001 - a grader crash must become "could not grade"
        return "error", f"{type(e).__name__}: {e}"


# --- the pool, owned by the parent -------------------------------------------------------------

_pool: cf.ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _get_pool() -> cf.ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            # forkserver/spawn: forking a parent that holds threads (HTTP clients, tokenizers)
            # can deadlock the child; a clean interpreter avoids that.
            method = (
                "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            )
            _pool = cf.ProcessPoolExecutor(
                _workers(), mp_context=multiprocessing.get_context(method)
            )
        return _pool


def _kill_pool() -> None:
    """Kill every worker (one may be stuck in sympy) and forget the pool; the next call rebuilds."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is None:
        return
    for proc in list(getattr(pool, "_processes", {}).values()):  # no public API to kill workers
        try:
            proc.kill()
        except Exception:  # noqa: BLE001,S110 - already dead is fine
            pass
    pool.shutdown(wait=False, cancel_futures=True)


atexit.register(_kill_pool)


def _to_grade(status: str, detail: str, extracted: str | None) -> Grade:
    if status == "gold_bad":
        return Grade(None, extracted, "gold not gradable")
    if status == "no_answer":
        return Grade(False, None, "no final answer")
    if status == "no_parse":
        return Grade(False, extracted, "answer did not parse")
    if status == "ok":
        return Grade(True, extracted, "equivalent")
    if status == "wrong":
        return Grade(False, extracted, "not equivalent")
    return Grade(None, extracted, f"grader error: {detail}")


def _batch_budget(n_items: int, inner_timeout: int) -> float:
    """Seconds the parent waits for a batch before declaring the rest hung."""
    # Each item may spend up to 2 parses + 2 verifies; items share _workers() processes.
    rounds = -(-n_items // _workers())
    return 4.0 * inner_timeout * rounds + 30.0  # +30 s: a fresh pool imports sympy first


def grade_math_many(pairs: Iterable[tuple[str, str]], timeout_s: float = 5.0) -> list[Grade]:
    """Grade many (response, gold) pairs through the worker pool, in input order.

    Work runs in spawned/forkserver processes, so a script that calls this at import time needs
    the usual `if __name__ == "__main__":` guard. `timeout_s` bounds each parse/verify inside a
    worker; the parent waits at most for the whole
    batch's share of that (plus start-up slack) and marks whatever is unfinished as ungradable.
    """
    items = [(extract_final_answer(resp), gold) for resp, gold in pairs]
    if not items:
        return []
    inner = max(1, int(round(timeout_s)))
    try:
        pool = _get_pool()
        futures = [pool.submit(_check, ans, gold, inner) for ans, gold in items]
    except BrokenProcessPool:
        _kill_pool()  # a worker died earlier (killed, out of memory): start over once
        pool = _get_pool()
        futures = [pool.submit(_check, ans, gold, inner) for ans, gold in items]
    done, not_done = cf.wait(futures, timeout=_batch_budget(len(items), inner))
    broken = any(isinstance(f.exception(), BrokenProcessPool) for f in done)
    if not_done or broken:
        _kill_pool()
    grades = []
    for (ans, _), fut in zip(items, futures, strict=True):
        if fut in done and fut.exception() is None:
            grades.append(_to_grade(*fut.result(), ans))
        elif fut in done:
            grades.append(Grade(None, ans, f"grader error: {fut.exception()!r}"))
        else:
            grades.append(Grade(None, ans, "grading timed out"))
    return grades


def grade_math(response: str, gold: str, timeout_s: float = 5.0) -> Grade:
    """Grade one reply against a gold answer by mathematical equivalence (math-verify).

    True: equivalent (1/2, 0.5 and \\frac{1}{2} all match). False: no final answer, an answer
    that does not parse, or a different value. None: the gold is not gradable, or grading failed
    or timed out.
    """
    return grade_math_many([(response, gold)], timeout_s=timeout_s)[0]


def validate_gold(gold: str, timeout_s: float = 5.0) -> bool:
    """True when math-verify can parse `gold` and judges it equal to itself."""
    return grade_math(f"\\boxed{{{gold}}}", gold, timeout_s=timeout_s).correct is True
