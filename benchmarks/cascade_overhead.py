"""Per-candidate Python overhead of the whole verify cascade, with a zero-latency judge.

Runs the default cascade (rules, cycle, factual, correctness; v=5, unanimous) over N synthetic
candidates through the real Generator and call store, with a scripted judge that answers
instantly, and prints candidates/s (wall clock, and per CPU-second of this process, which is
the steadier figure on a shared machine). Target: >= 5,000 candidates/s with the default `mixed`
judge. The model is free here, so this measures what the cascade, the Generator, the call-key
hashing and the call store cost per candidate.

    python benchmarks/cascade_overhead.py                  # 20,000 candidates, lazy, mixed judge
    python benchmarks/cascade_overhead.py --judge yes      # worst case: every vote is paid
    python benchmarks/cascade_overhead.py --mode eager --candidates 5000
    python benchmarks/cascade_overhead.py --repeats 3     # medians of 3 runs (shared machines)

Judges: `mixed` answers yes to candidates whose index is a multiple of 4 and no to the rest
(about the acceptance of a real run); `yes` accepts everything, so every stage pays all v votes
in both modes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from svdistill.backends.base import Request
from svdistill.backends.scripted import ScriptedBackend
from svdistill.config import VerifyConfig
from svdistill.generation import Generator
from svdistill.records import Candidate, Question
from svdistill.store import CallStore
from svdistill.verify import Cascade


def make_items(n: int) -> list[tuple[Question, Candidate]]:
    items = []
    for i in range(n):
        a, b = 10 + i % 89, 3 + i % 7
        q = Question(f"q{i // 8}", f"A shop had {a} apples and bought {b} more. How many now?")
        text = f"It had {a} and bought {b}, so {a} + {b} = {a + b}. Answer \\boxed{{{a + b}}} #{i}"
        items.append((q, Candidate(q.id, i % 8, text, text, None, "stop", 40, 30, 0.0, f"k{i}")))
    return items


def make_judge(kind: str) -> ScriptedBackend:
    def mixed(request: Request) -> str:
        prompt = request.messages[-1][1]
        if "reconstruct that question" in prompt:
            # carry the candidate number into the inferred question, as a real judge would not
            return "How many apples now? " + prompt[prompt.rfind("#") :].split(None, 1)[0]
        # maxsplit: the judge is meant to cost nothing, not to split the rest of the prompt
        number = prompt[prompt.rfind("#") + 1 :].split(None, 1)[0]
        return "[[Y]]" if number.isdigit() and int(number) % 4 == 0 else "[[N]]"

    if kind == "yes":
        return ScriptedBackend(
            rules=[("reconstruct that question", "How many apples now?")],
            default="[[Y]]",
            name="bench-yes",
        )
    return ScriptedBackend(default=mixed, name="bench-mixed")


def judge_once(args: argparse.Namespace, items: list) -> tuple[int, int, float, float]:
    """One timed judge run from an empty call store: (accepted, calls, wall s, CPU s). Only
    counts come back, so no run's verdicts are still alive to slow the next one down."""
    with tempfile.TemporaryDirectory() as tmp:
        store = CallStore(Path(tmp) / "calls.jsonl")
        generator = Generator(make_judge(args.judge), store)
        cascade = Cascade(VerifyConfig(mode=args.mode, votes=args.votes), generator)
        started, cpu_started = time.perf_counter(), time.process_time()
        verdicts = cascade.judge(items)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        store.close()
    return sum(v.accepted for v in verdicts), sum(s.calls for s in cascade.stats), elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--mode", choices=["lazy", "eager"], default="lazy")
    parser.add_argument("--judge", choices=["mixed", "yes"], default="mixed")
    parser.add_argument("--votes", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1, help="runs, each from an empty store")
    args = parser.parse_args()

    items = make_items(args.candidates)
    n = len(items)
    walls, cpus = [], []
    for repeat in range(1, args.repeats + 1):
        accepted, calls, elapsed, cpu = judge_once(args, items)
        walls.append(elapsed)
        cpus.append(cpu)
        if args.repeats > 1:
            print(f"run {repeat:<15} {n / elapsed:,.0f} candidates/s, {n / cpu:,.0f} per CPU-s")
    elapsed, cpu = statistics.median(walls), statistics.median(cpus)
    of = f" (median of {args.repeats})" if args.repeats > 1 else ""
    print(f"candidates          {n:,}")
    print(f"mode / judge        {args.mode} / {args.judge}, v={args.votes}, unanimous")
    print(f"accepted            {accepted:,}")
    print(f"model calls         {calls:,} ({calls / n:.2f} per candidate)")
    print(f"wall time           {elapsed:.2f} s{of}")
    print(f"candidates/s        {n / elapsed:,.0f}   (target >= 5,000)")
    # on a shared machine the wall clock counts other people's work; CPU time does not
    print(f"per CPU-second      {n / cpu:,.0f} candidates ({cpu:.2f} CPU s){of}")
    print(f"calls/s             {calls / elapsed:,.0f}")


if __name__ == "__main__":
    main()
