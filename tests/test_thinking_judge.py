"""A thinking judge through a paper preset: long `<think>` blocks, the verdict after `</think>`,
and sometimes a `[[Y]]` inside the thinking that must not count.

At the preset's budget (the judge follows sampling's 32k tokens) the cascade accepts exactly the
candidates the judge's verdicts accept. At a 256-token budget every judge reply is cut off
inside `<think>`: none is a vote, `verify_stats.json` counts them, and verify says loudly which
setting to raise, rather than quietly rejecting every candidate.
"""

from __future__ import annotations

import json
import re

from svdistill.backends.base import Request
from svdistill.backends.scripted import ScriptedBackend
from svdistill.cli import packaged_config
from svdistill.config import load_config
from svdistill.phases import Engines, Executor, curate_phase, sample_phase, verify_phase
from svdistill.report import build_report
from svdistill.runfolder import RunFolder

THOUGHTS = " ".join(["Let me think about this carefully."] * 60)  # 300 words, about as many tokens
QUESTIONS = [(12, 7), (30, 4), (8, 15)]


def think(reply: str, decoy: bool = False) -> str:
    """A thinking model's reply: a long thought (with a quoted verdict, if `decoy`), then the
    reply proper after `</think>`."""
    aside = " Should I just write [[Y]] and be done? No, check it first." if decoy else ""
    return f"<think>\n{THOUGHTS}{aside}\n</think>\n\n{reply}"


def the_sum(text: str) -> int | None:
    match = re.search(r"(\d+) \+ (\d+)", text)
    return int(match.group(1)) + int(match.group(2)) if match else None


def thinking_model(request: Request) -> str:
    """Solves `a + b` right for even sample seeds and off by one for odd ones; as a judge, says
    yes exactly to right answers and to matching questions."""
    prompt = request.messages[-1][1]
    if "<inferred_question>" in prompt:  # cycle: do the two questions match?
        original, inferred = re.findall(r"_question>\n(.*?)\n</", prompt, re.S)[:2]
        same = the_sum(original) == the_sum(inferred)
        return think("They ask the same thing.\n[[Y]]" if same else "They differ.\n[[N]]")
    if "reconstruct that question" in prompt:  # cycle: infer the question from the answer
        added = re.search(r"We add (\d+ \+ \d+)", prompt).group(1)
        return think(f"What is {added}?")
    if "<candidate_answer>" in prompt:  # factual or correctness
        question = re.search(r"<question>\n(.*?)\n</question>", prompt, re.S).group(1)
        claimed = int(re.search(r"\\boxed\{(-?\d+)\}", prompt).group(1))
        right = claimed == the_sum(question)
        return think("I checked each step.\n[[Y]]" if right else "It is off by one.\n[[N]]",
                     decoy=not right)
    value = the_sum(prompt) + request.params.seed % 2
    a, b = re.search(r"(\d+) \+ (\d+)", prompt).groups()
    return think(f"We add {a} + {b} = {value}. The answer is \\boxed{{{value}}}.")


def dry_run(tmp_path, *overrides: str):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {a} + {b}?"}) + "\n"
                             for i, (a, b) in enumerate(QUESTIONS)))
    config = load_config(packaged_config("paper-qwen3-0.6b"),
                         ["model.backend=scripted", f"seeds.path={seeds}", *overrides])
    run = RunFolder(tmp_path / "run")
    engines = Engines(preloaded={"scripted": ScriptedBackend(default=thinking_model)})
    executor = Executor()
    executor.run(run, sample_phase(config, run, engines, False), config)
    verified = executor.run(run, verify_phase(config, run, engines, False), config)
    curated = executor.run(run, curate_phase(config, run, False), config)
    run.close()
    stats = json.loads((tmp_path / "run" / "verify_stats.json").read_text())
    return verified, curated, stats


def accepted_samples(tmp_path) -> set[tuple[str, int]]:
    rows = [json.loads(line) for line in (tmp_path / "run" / "verdicts.jsonl").open()]
    return {(r["question_id"], r["sample_index"]) for r in rows if r["accepted"]}


def test_at_the_presets_budget_the_judges_verdicts_decide(tmp_path, capsys):
    verified, curated, stats = dry_run(tmp_path)
    # Sample i has seed i: the even ones are right, and exactly those pass every stage. The
    # wrong ones' judge replies quote [[Y]] inside their thinking; it does not count.
    assert accepted_samples(tmp_path) == {(f"q{q}", i) for q in range(3) for i in range(0, 8, 2)}
    assert stats["judge_truncated_votes"] == 0 and stats["unsettled_stages"] == []
    assert curated.kept == 3  # first-valid: one right example per question
    assert "WARNING" not in capsys.readouterr().err


def test_a_thinking_judge_cut_off_at_256_tokens_is_reported_not_a_no(tmp_path, capsys):
    verified, curated, stats = dry_run(tmp_path, "verify.max_tokens=256")
    assert accepted_samples(tmp_path) == set()
    assert stats["judge_truncated"] and stats["judge_truncated_votes"] > 0
    cycle = next(s for s in stats["stages"] if s["name"] == "cycle")
    assert cycle["truncated"] == cycle["entered"] == 24  # every candidate, none a "no"
    assert cycle["rejected"] == 0
    assert "cycle" in stats["unsettled_stages"]
    err = " ".join(capsys.readouterr().err.split())
    assert "cut off at verify.max_tokens=256" in err and "Raise verify.max_tokens" in err
    assert "stage cycle: 24 of 24 candidates were settled by no vote" in err

    # The report flags the stage too.
    html = build_report(tmp_path / "run").read_text()
    assert "Stage cycle: most candidates were settled by no vote" in html
    assert "cut off (no vote)" in html


def test_a_solve_judge_cut_off_names_its_own_budget(tmp_path, capsys):
    # The solve stage has its own budget when verify.solve_max_tokens is set: raising
    # verify.max_tokens would change nothing, so the warning and the report name the other one.
    dry_run(tmp_path, "verify.stages=[rules,solve]", "verify.max_tokens=4096",
            "verify.solve_max_tokens=256")
    err = " ".join(capsys.readouterr().err.split())
    assert "cut off at verify.solve_max_tokens=256" in err
    assert "Raise verify.solve_max_tokens" in err and "verify.max_tokens" not in err
    html = build_report(tmp_path / "run").read_text()
    assert "Raise verify.solve_max_tokens" in html
