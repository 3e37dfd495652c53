"""Prompt templates: one shared set of fields, every placeholder checked when a template loads,
and the cycle comparison in its two forms (plain, UQ's with the answer shown)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from svdistill.backends.base import Request
from svdistill.backends.scripted import ScriptedBackend
from svdistill.config import load_config
from svdistill.generation import CallRunner
from svdistill.records import Candidate, Question
from svdistill.store import CallStore, RunError
from svdistill.verify import Cascade
from svdistill.verify.prompts import FIELDS, REQUIRED, SOLVER, load_templates

QUESTION = "What is 6 * 7?"
ANSWER = "6 * 7 = 42, so the answer is \\boxed{42}."


def _items() -> list[tuple[Question, Candidate]]:
    q = Question(id="q1", text=QUESTION, domain="math", reference="42")
    return [(q, Candidate("q1", 0, ANSWER, ANSWER, None, "stop", 5, 5, 0.0, "k0"))]


def _prompts_seen(tmp_path: Path, *overrides: str) -> list[str]:
    """Every prompt a cycle-only cascade sends, with a judge that always accepts."""
    seen: list[str] = []

    def reply(request: Request) -> str:
        seen.append(request.messages[-1][1])
        return "What is 6 times 7?" if "reconstruct that question" in seen[-1] else "Fine. [[Y]]"

    cfg = load_config(None, ["verify.stages=[cycle]", "verify.votes=1", *overrides])
    generator = CallRunner(ScriptedBackend(default=reply), CallStore(tmp_path / "calls.jsonl"))
    [verdict] = Cascade(cfg.verify, generator).judge(_items())
    assert verdict.accepted
    return seen


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_packaged_templates_use_only_known_fields() -> None:
    templates = load_templates(solver=True)
    assert set(templates) == set(REQUIRED) | set(SOLVER)
    for template in templates.values():
        used = set(re.findall(r"\{(\w+)\}", template.text)) - {"ANSWER"}  # \boxed{ANSWER}
        assert used <= set(FIELDS), template.name


@pytest.mark.parametrize("typo", ["{questoin}", "{Question}", "{anwser}"])
def test_a_misspelt_placeholder_names_the_template_and_the_placeholder(
    tmp_path: Path, typo: str
) -> None:
    text = f"Check {{question}} against {{answer}} and {typo}. Say [[Y]] or [[N]]."
    file = _write(tmp_path, "factual.txt", text)
    with pytest.raises(RunError) as info:
        load_templates({"factual": file})
    message = str(info.value)
    assert "'factual'" in message and f"unknown placeholder {typo}" in message
    assert "did you mean" in message


def test_latex_and_code_braces_are_not_placeholders(tmp_path: Path) -> None:
    text = ("Check {question} against {answer}: \\boxed{ANSWER}, \\frac{a}{b}, x_{max}, x^{n}, "
            "${k}$, \\{n\\}, {{name}} and { spaced }. Say [[Y]] or [[N]].")
    template = load_templates({"factual": _write(tmp_path, "f.txt", text)})["factual"]
    rendered = template.render(question="Q", answer="A")
    assert rendered.startswith("Check Q against A: \\boxed{ANSWER}, \\frac{a}{b}, x_{max}")


def test_a_field_the_stage_cannot_fill_is_an_error(tmp_path: Path) -> None:
    inferred = _write(tmp_path, "f.txt", "{question} {answer} {inferred} [[Y]] [[N]]")
    with pytest.raises(RunError, match=r"'factual' \{inferred\} is not available here"):
        load_templates({"factual": inferred})
    # Fields withheld on purpose say why.
    leak = _write(tmp_path, "i.txt", "Question: {question}. Answer: {answer}. Guess the question.")
    with pytest.raises(RunError, match=r"\{question\} is not available here: the cycle stage "
                                       r"infers the question from the answer alone"):
        load_templates({"cycle_infer": leak})


def test_cycle_compare_may_show_the_answer(tmp_path: Path) -> None:
    """Before: the comparison was rendered with the two questions only (KeyError: 'answer')."""
    file = _write(tmp_path, "c.txt", "Original: {question}\nAnswer: {answer}\nInferred: "
                                     "{inferred}\nSame? [[Y]] or [[N]]")
    compare = _prompts_seen(tmp_path, f"verify.prompts={{cycle_compare: {file}}}")[-1]
    assert compare == f"Original: {QUESTION}\nAnswer: {ANSWER}\nInferred: What is 6 times 7?\n" \
                      "Same? [[Y]] or [[N]]"


def test_claim_template_may_show_the_question(tmp_path: Path) -> None:
    file = _write(tmp_path, "claim.txt", "While solving {question}: is {claim} true? [[Y]] [[N]]")
    seen: list[str] = []

    def reply(request: Request) -> str:
        seen.append(request.messages[-1][1])
        return "[[Y]]"

    cfg = load_config(None, ["verify.stages=[claims]", "verify.votes=1",
                             f"verify.prompts={{claim: {file}}}"])
    generator = CallRunner(ScriptedBackend(default=reply), CallStore(tmp_path / "calls.jsonl"))
    [verdict] = Cascade(cfg.verify, generator).judge(_items())
    assert verdict.accepted
    assert seen == [f"While solving {QUESTION}: is 6 * 7 = 42 true? [[Y]] [[N]]"]


def test_uq_comparison_shows_the_answer_and_plain_does_not(tmp_path: Path) -> None:
    plain = _prompts_seen(tmp_path / "plain")[-1]
    uq = _prompts_seen(tmp_path / "uq", "verify.cycle_compare=uq")[-1]
    for prompt in (plain, uq):
        assert QUESTION in prompt and "What is 6 times 7?" in prompt
    assert "boxed{42}" not in plain
    assert f"<candidate_answer>\n{ANSWER}\n</candidate_answer>" in uq
    # UQ's validator also asks whether the answer addresses the question itself
    assert "Does it address the main problem" in uq


def test_misspelt_user_template_is_a_config_error_with_file_and_line(tmp_path: Path) -> None:
    """Before: accepted, and `{questoin}` reached the model instead of the question."""
    path = tmp_path / "c.yaml"
    path.write_text('sample:\n  n: 2\nmodel:\n  user_template: "Solve {questoin}"\n')
    with pytest.raises(RunError) as info:
        load_config(path)
    message = str(info.value)
    assert "model.user_template:" in message and "c.yaml line 4" in message
    assert "lacks the placeholder {question}" in message
    path.write_text('model:\n  user_template: "Solve {question} for {Question}"\n')
    with pytest.raises(RunError, match=r"unknown placeholder \{Question\} \(did you mean "
                                       r"\{question\}\?"):
        load_config(path)
    assert load_config(None, ["model.user_template=Q: {question} in \\boxed{ANSWER}"])


def test_prompt_problems_are_found_when_the_config_loads(tmp_path: Path) -> None:
    """Before: an unknown template name or a bad prompt file surfaced only when verify built
    its stages, after `svdistill run` had paid for the samples."""
    bad = _write(tmp_path, "f.txt", "{question} {answer} {questoin} [[Y]] [[N]]")
    good = _write(tmp_path, "g.txt", "{question} {answer} [[Y]] [[N]]")
    path = tmp_path / "c.yaml"
    path.write_text(f"verify:\n  votes: 1\n  prompts:\n    correctness: {good}\n"
                    f"    factul: {good}\n    factual: {bad}\n")
    with pytest.raises(RunError) as info:
        load_config(path)
    message = str(info.value)
    assert "verify.prompts.factul: unknown prompt (did you mean factual?" in message
    assert "c.yaml line 5" in message
    assert "verify.prompts.factual:" in message and "unknown placeholder {questoin}" in message
    assert "c.yaml line 6" in message
    assert "correctness" not in message.split("known:")[0]
