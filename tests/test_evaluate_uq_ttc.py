"""UQ-TTC: the first accepted candidate in sampling order, else candidate 0, counted calls.

The scripted model answers by plan: question "What is a + b?" gets a wrong answer on the
candidates its plan marks W and the right one on R. The scripted judge (the same model, as in the
paper) runs the one-question "single" stage and says yes exactly when the boxed answer is a + b.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path

from svdistill.backends.base import Request, SamplingParams
from svdistill.backends.scripted import ScriptedBackend
from svdistill.config import load_config
from svdistill.evaluate import comparison_rows, first_accepted, run_evaluate
from svdistill.generation import CallRunner
from svdistill.records import Candidate, Question, Verdict
from svdistill.runfolder import RunFolder
from svdistill.store import CallStore, read_jsonl

SEED = 2000
PLANS = {1: "WRRR", 2: "WWWW", 3: "RWWW"}  # question "What is n + n?" -> candidate i right?


def reply(request: Request) -> str:
    prompt = request.messages[-1][1]
    if "Decide whether the answer below" in prompt:  # the single-judge stage
        a, b = map(int, re.search(r"What is (\d+) \+ (\d+)", prompt).groups())
        boxed = re.findall(r"\\boxed\{(-?\d+)\}", prompt)
        return "[[Y]]" if boxed and int(boxed[-1]) == a + b else "[[N]]"
    a, b = map(int, re.search(r"What is (\d+) \+ (\d+)", prompt).groups())
    right = PLANS[a][request.params.seed - SEED] == "R"
    # The seed in the text keeps candidates distinct, so no two share a judge call.
    return f"Try {request.params.seed}: it is \\boxed{{{a + b if right else a + b + 7}}}."


def setup(tmp_path: Path, *extra: str):
    rows = [{"id": f"q{n}", "question": f"What is {n} + {n}?", "answer": str(2 * n)}
            for n in PLANS]
    bench = tmp_path / "tiny.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return load_config(None, [
        "model.backend=scripted", f"evaluate.benchmarks=[{bench}]", "evaluate.uq_ttc_candidates=4",
        "verify.stages=[rules, single]", "verify.votes=1", f"evaluate.seed={SEED}", *extra])


def run_ttc(config, path: Path, backend: ScriptedBackend) -> dict:
    run = RunFolder(path)
    try:
        result = run_evaluate(config, run, method="uq-ttc", progress=False, backend=backend)
    finally:
        run.close()
    (summary,) = result["benchmarks"].values()
    return summary


def test_first_accepted_else_candidate_zero(tmp_path):
    config = setup(tmp_path)
    s = run_ttc(config, tmp_path / "run", ScriptedBackend(default=reply))
    out = tmp_path / "run/eval/base+uq-ttc/tiny"
    rows = {r["question_id"]: r for r in read_jsonl(out / "samples.jsonl")}
    assert (rows["q1"]["chosen_candidate"], rows["q1"]["accepted"]) == (1, True)
    assert (rows["q2"]["chosen_candidate"], rows["q2"]["accepted"]) == (0, False)  # fallback
    assert (rows["q3"]["chosen_candidate"], rows["q3"]["accepted"]) == (0, True)
    assert [r["correct"] for r in rows.values()] == [True, False, True]
    assert s["pass_at_1"] == 2 / 3 and s["fallbacks"] == 1
    assert s["fallback_rate"] == 1 / 3 and s["accepted_at"] == {"0": 1, "1": 1}
    # Rounds: candidate 0 of q1..q3, candidate 1 of q1, q2, then 2 and 3 of q2 only.
    assert s["sampling_calls"] == 3 + 2 + 1 + 1
    assert s["judge_calls"] == 7  # one "single" vote per judged candidate
    assert s["calls_per_question"] == 14 / 3
    assert s["method"] == "uq-ttc" and s["candidates"] == 4


def test_uq_ttc_rerun_is_identical_and_free(tmp_path):
    config = setup(tmp_path)
    first = run_ttc(config, tmp_path / "run", ScriptedBackend(default=reply))
    backend = ScriptedBackend(default=reply)
    second = run_ttc(config, tmp_path / "run", backend)
    assert backend.calls == 0 and second["paid_calls"] == 0 and first["paid_calls"] == 14
    for key in ("pass_at_1", "ci", "fallbacks", "calls_per_question", "accepted_at"):
        assert first[key] == second[key]
    rows = comparison_rows(RunFolder(tmp_path / "run"))
    assert [(r["model"], r["method"]) for r in rows] == [("base", "uq-ttc")]


def test_uq_ttc_reuses_the_single_methods_samples(tmp_path):
    """Candidate i is sample i of pass@k: both use seed evaluate.seed + i."""
    config = setup(tmp_path, "evaluate.samples=4")
    run = RunFolder(tmp_path / "run")
    run_evaluate(config, run, progress=False, backend=ScriptedBackend(default=reply))
    run.close()
    s = run_ttc(config, tmp_path / "run", ScriptedBackend(default=reply))
    assert s["paid_calls"] == s["judge_calls"] == 7  # only the judge calls are new


def test_round_order_gives_the_judge_everything_answer(tmp_path):
    """Judging in rounds picks the same candidate as judging all N of every question."""
    rng = random.Random(0)
    for trial in range(30):
        n, q = rng.randint(1, 5), rng.randint(1, 6)
        ok = {(qi, i): rng.random() < 0.3 for qi in range(q) for i in range(n)}
        questions = [Question(id=f"q{qi}", text=f"question {qi}") for qi in range(q)]

        def request_for(qi: int, i: int) -> Request:
            return Request.chat([{"role": "user", "content": f"{qi}|{i}"}],
                                SamplingParams(seed=SEED + i))

        def judge(items: list[tuple[Question, Candidate]], ok=ok) -> list[Verdict]:
            out = []
            for question, cand in items:
                qi, i = map(int, cand.text.split("|"))
                out.append(Verdict(question.id, cand.sample_index, ok[(qi, i)]))
            return out

        echo = ScriptedBackend(default=lambda r: r.messages[-1][1])
        gen = CallRunner(echo, CallStore(tmp_path / f"calls{trial}.jsonl"))
        outcome = first_accepted(questions, request_for, n, gen, judge)
        for qi in range(q):
            expected = next((i for i in range(n) if ok[(qi, i)]), 0)
            assert outcome.chosen[qi].sample_index == expected
            assert outcome.accepted[qi] == any(ok[(qi, i)] for i in range(n))
        judged = sum(len(t) for t in outcome.tried)
        assert judged == sum(next((i + 1 for i in range(n) if ok[(qi, i)]), n)
                             for qi in range(q))
        assert list(itertools.chain.from_iterable(outcome.tried))  # something was judged


def test_judge_quality_from_the_graded_candidates(tmp_path):
    s = run_ttc(setup(tmp_path), tmp_path / "run", ScriptedBackend(default=reply))
    q = s["judge_quality"]  # the scripted judge is perfect: 2 right accepted, 5 wrong rejected
    assert (q["graded"], q["accepted_correct"], q["accepted_wrong"]) == (7, 2, 0)
    assert (q["rejected_correct"], q["rejected_wrong"]) == (0, 5)
    assert q["precision"] == q["recall"] == 1.0
    # the verify phase's schema: per-stage figures too
    assert set(q["stages"]) == {s["name"] for s in s["stages"]}
