"""Grading reasoning-gym tasks with the task's own scorer.

reasoning-gym (package `reasoning_gym`, an optional extra) generates procedural tasks; every
entry is a dict with "question", "answer" and "metadata" whose "source_dataset" names the task.
Each dataset class has `score_answer(answer, entry) -> float` in [0, 1]; some tasks give partial
credit, so only a full score counts as correct.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from svdistill.grade.math import extract_final_answer
from svdistill.records import Grade

__all__ = ["extract_gym_answer", "grade_gym"]

_FULL = 1.0 - 1e-9  # float scores: 1.0 may come back as 0.9999999


def extract_gym_answer(text: str) -> str | None:
    """The answer in a reply: the last <answer>...</answer> (reasoning-gym's own convention),
    else the last \\boxed{...}, else "The answer is ...", else None."""
    tags = re.findall(r"<answer>\s*(.*?)\s*</answer>", text or "", re.DOTALL)
    if tags and tags[-1].strip():
        return tags[-1].strip()
    return extract_final_answer(text or "")


@cache
def _scorer(name: str) -> Callable[[str | None, dict[str, Any]], float]:
    import reasoning_gym  # optional dependency, imported only when a gym task is graded

    # The scorer built from the default config only reads the entry, so it serves entries
    # generated with any config of that task.
    return reasoning_gym.get_score_answer_fn(name)


def grade_gym(response: str, entry: dict[str, Any], dataset_name: str | None = None) -> Grade:
    """Grade a reply to a reasoning-gym entry with the task's `score_answer`.

    The task name comes from `dataset_name` or `entry["metadata"]["source_dataset"]`. The gold
    (`entry["answer"]`) is scored first and must get full marks, else the entry is not gradable
    (None); entries whose gold is None (tasks with many valid answers) cannot be checked that way,
    which the reason notes. True only for a full score; partial credit is recorded in the reason.
    """
    name = dataset_name or (entry.get("metadata") or {}).get("source_dataset")
    if not name:
        return Grade(None, None, "no dataset name in entry metadata")
    try:
        score = _scorer(name)
    except ImportError:
        return Grade(None, None, "reasoning_gym is not installed (pip install svdistill[data])")
    except Exception as e:  # noqa: BLE001 - unknown task names raise ValueError, others vary
        return Grade(None, None, f"no scorer for {name!r}: {e}")
    note = ""
    gold = entry.get("answer")
    try:
        if gold is None:
            note = " (gold not checked: entry has no answer)"
        elif score(str(gold), entry) < _FULL:
            return Grade(None, None, f"gold not gradable: scorer gives gold < 1 on {name}")
        answer = extract_gym_answer(response)
        if answer is None:
            return Grade(False, None, "no final answer" + note)
        value = float(score(answer, entry))
    except Exception as e:  # noqa: BLE001 - a scorer crash is "could not grade", not wrong
        return Grade(None, None, f"scorer error on {name}: {type(e).__name__}: {e}")
    if value >= _FULL:
        return Grade(True, answer, f"score 1.0{note}")
    return Grade(False, answer, f"score {value:.3g}{note}")
