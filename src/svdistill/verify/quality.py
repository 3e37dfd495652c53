"""How good is the judge? Precision and recall of the cascade against a real grader.

The paper never measured this. When seed questions carry a reference answer (which the method
itself never sees), every candidate is graded by `svdistill.grade.math` and the cascade's
decisions, and each stage's, are scored against those grades:

- base rate: fraction of graded candidates that are correct (what accepting everything gives);
- precision: of the accepted, the fraction correct (accepted-but-wrong is the costly error:
  it becomes training data);
- recall: of the correct, the fraction accepted (lost good data);
- accept rate: fraction accepted.

Per stage, the same figures over the candidates that reached that stage. A candidate whose
answer cannot be graded (no reference, a domain without a grader, a gold answer the grader
cannot read) is counted as ungraded and left out, never scored as wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..records import Candidate, Grade, Question, Verdict
from ..summaries import JudgeQuality

#: Domains graded by mathematical equivalence. "general" is the default domain of seed files
#: that name none; a reference math-verify cannot parse there comes back ungraded, not wrong.
MATH_DOMAINS = ("math", "arithmetic", "general")


def _grade_many(pairs: list[tuple[str, str]]) -> list[Grade]:
    if not pairs:
        return []
    try:  # the project's grader, imported only when quality is measured
        from ..grade.math import grade_math_many
    except ImportError:  # an older tree without the batch helper
        try:
            from ..grade.math import grade_math
        except ImportError:
            return [_math_verify_grade(r, g) for r, g in pairs]
        return [grade_math(r, g) for r, g in pairs]
    return grade_math_many(pairs)


def _math_verify_grade(response: str, gold: str) -> Grade:
    """Stand-in for trees without svdistill.grade.math: plain math-verify equivalence."""
    from math_verify import parse, verify

    gold_parsed = parse(gold)
    if not gold_parsed:
        return Grade(None, None, "gold not gradable")
    answer = parse(response)
    if not answer:
        return Grade(False, None, "no final answer")
    ok = bool(verify(gold_parsed, answer))
    return Grade(ok, str(answer[-1]), "equivalent" if ok else "not equivalent")


def grade_candidates(items: Sequence[tuple[Question, Candidate]]) -> list[Grade]:
    """One Grade per item: the candidate's final answer against its question's reference."""
    grades: list[Grade] = [Grade(None, None, "no reference")] * len(items)
    todo: list[int] = []
    for i, (question, _) in enumerate(items):
        if question.reference is None or not str(question.reference).strip():
            continue
        if question.domain not in MATH_DOMAINS:
            grades[i] = Grade(None, None, f"no grader for domain {question.domain!r}")
            continue
        todo.append(i)
    done = _grade_many([(items[i][1].final_answer, str(items[i][0].reference)) for i in todo])
    for i, grade in zip(todo, done, strict=True):
        grades[i] = grade
    return grades


class QualityTally:
    """judge_quality's figures, counted one candidate at a time (for a phase that streams)."""

    def __init__(self, stage_names: Sequence[str]):
        self.quality = JudgeQuality(stages={name: JudgeQuality() for name in stage_names})

    def add(self, verdict: Verdict, grade: Grade) -> None:
        if grade.correct is None:
            self.quality.ungraded += 1
            return
        self.quality.add(verdict.accepted, grade.correct)
        for result in verdict.stages:
            if result.stage in self.quality.stages:
                self.quality.stages[result.stage].add(result.passed, grade.correct)

    def result(self) -> JudgeQuality | None:
        """Cascade and per-stage quality, or None when no candidate could be graded."""
        return self.quality if self.quality.graded else None


def judge_quality(
    verdicts: Sequence[Verdict], grades: Sequence[Grade], stage_names: Sequence[str]
) -> JudgeQuality | None:
    """Cascade and per-stage quality, or None when no candidate could be graded."""
    tally = QualityTally(stage_names)
    for verdict, grade in zip(verdicts, grades, strict=True):
        tally.add(verdict, grade)
    return tally.result()
