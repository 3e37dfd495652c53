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

Judges: `mixed` answers yes to candidates whose index is a multiple of 4 and no to the rest
(about the acceptance of a real run); `yes` accepts everything, so every stage pays all v votes
in both modes.
"""

from __future__ import annotations

import argparse
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
            return "How many apples now? " + prompt[prompt.rfind("#") :].split()[0]
        number = prompt[prompt.rfind("#") + 1 :].split()[0]
        return "[[Y]]" if number.isdigit() and int(number) % 4 == 0 else "[[N]]"

    if kind == "yes":
        return ScriptedBackend(
            rules=[("reconstruct that question", "How many apples now?")],
            default="[[Y]]",
            name="bench-yes",
        )
    return ScriptedBackend(default=mixed, name="bench-mixed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--mode", choices=["lazy", "eager"], default="lazy")
    parser.add_argument("--judge", choices=["mixed", "yes"], default="mixed")
    parser.add_argument("--votes", type=int, default=5)
    args = parser.parse_args()

    items = make_items(args.candidates)
    with tempfile.TemporaryDirectory() as tmp:
        store = CallStore(Path(tmp) / "calls.jsonl")
        generator = Generator(make_judge(args.judge), store)
        cascade = Cascade(VerifyConfig(mode=args.mode, votes=args.votes), generator)
        started, cpu_started = time.perf_counter(), time.process_time()
        verdicts = cascade.judge(items)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        store.close()
    accepted = sum(v.accepted for v in verdicts)
    calls = sum(s.calls for s in cascade.stats)
    print(f"candidates          {len(items):,}")
    print(f"mode / judge        {args.mode} / {args.judge}, v={args.votes}, unanimous")
    print(f"accepted            {accepted:,}")
    print(f"model calls         {calls:,} ({calls / len(items):.2f} per candidate)")
    print(f"wall time           {elapsed:.2f} s")
    print(f"candidates/s        {len(items) / elapsed:,.0f}   (target >= 5,000)")
    # on a shared machine the wall clock counts other people's work; CPU time does not
    print(f"per CPU-second      {len(items) / cpu:,.0f} candidates ({cpu:.2f} CPU s)")
    print(f"calls/s             {calls / elapsed:,.0f}")


if __name__ == "__main__":
    main()
