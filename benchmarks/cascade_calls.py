"""Eager vs lazy voting: same decisions, how many model calls each pays.

Runs the cascade twice over the same candidates with the same seeds, eager then lazy, each with
its own call store (so each pays for its own calls), and prints the number of differing
decisions (must be 0), the calls each mode needed, and the ratio lazy / eager (target <= 0.5 at
v=5 under unanimity). When the questions carry reference answers it also prints the judge's
precision and recall against the grader next to the base rate, i.e. whether the cascade carries
any signal.

    # candidates from a real sampling run, judged by the embedded 0.5B model (slow on CPU)
    svdistill sample quick --out /tmp/vrun seeds.limit=4
    python benchmarks/cascade_calls.py --run /tmp/vrun --candidates 8
    # a quick run with a scripted judge (yes 80% of the time, seeded per vote)
    python benchmarks/cascade_calls.py --backend scripted --candidates 64

The stores are kept under --out, so an interrupted real-model run picks up where it stopped.
Same request, different reply across the two stores would mean the engine is not deterministic
under a different batch composition; it is counted and printed, since it, not the cascade,
would then explain any differing decision.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from svdistill.backends.base import Backend, Request
from svdistill.backends.scripted import ScriptedBackend
from svdistill.config import load_config
from svdistill.generation import CallRunner
from svdistill.records import Candidate, Question
from svdistill.runfolder import RunFolder
from svdistill.store import CallStore
from svdistill.verify import Cascade, load_items
from svdistill.verify.quality import grade_candidates, judge_quality


def scripted_judge() -> ScriptedBackend:
    """Says yes to 80% of (prompt, seed) pairs, pseudo-randomly but reproducibly."""

    def reply(request: Request) -> str:
        prompt = request.messages[-1][1]
        if "reconstruct that question" in prompt:
            return "How many are there in total?"
        digest = hashlib.sha256(f"{request.params.seed}:{prompt}".encode()).digest()
        return "[[Y]]" if digest[0] < 0.8 * 256 else "[[N]]"

    return ScriptedBackend(default=reply, name="bench-80")


def synthetic_items(n: int) -> list[tuple[Question, Candidate]]:
    items = []
    for i in range(n):
        a, b = 10 + i, 3 + i % 5
        q = Question(f"q{i}", f"What is {a} + {b}?", "math", str(a + b))
        value = a + b + (i % 3 == 0)  # every third candidate is wrong
        text = f"{a} + {b} = {value}. The answer is \\boxed{{{value}}}."
        items.append((q, Candidate(q.id, 0, text, text, None, "stop", 9, 9, 0.0, f"k{i}")))
    return items


def judge_mode(backend: Backend, items, overrides: list[str], mode: str, out: Path):
    cfg = load_config(None, [*overrides, f"verify.mode={mode}"])
    store = CallStore(out / f"{mode}_calls.jsonl")
    generator = CallRunner(backend, store)
    cascade = Cascade(cfg.verify, generator)
    started = time.perf_counter()
    verdicts = cascade.judge(items)
    elapsed = time.perf_counter() - started
    store.close()
    return verdicts, cascade, generator.stats, elapsed


def replies(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        return {row["key"]: row["text"] for row in map(json.loads, f)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="embedded", help="embedded, scripted, or any spec")
    parser.add_argument("--run", type=Path, help="a sampled run folder (default: synthetic)")
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--votes", type=int, default=5)
    parser.add_argument("--decision", choices=["unanimous", "majority"], default="unanimous")
    parser.add_argument("--max-tokens", type=int, default=96, help="judge reply limit")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("/tmp/cascade_calls"))
    args = parser.parse_args()

    if args.run is not None:
        items = load_items(RunFolder(args.run))[: args.candidates]
    else:
        items = synthetic_items(args.candidates)
    if args.backend == "scripted":
        backend: Backend = scripted_judge()
    else:
        from svdistill.backends import make_backend
        from svdistill.config import ModelConfig

        backend = make_backend(args.backend, ModelConfig(batch_size=args.batch_size))
    overrides = [
        f"verify.votes={args.votes}",
        f"verify.decision={args.decision}",
        f"verify.max_tokens={args.max_tokens}",
    ]
    out = (
        args.out
        / hashlib.sha256(
            json.dumps([backend.identity, overrides, str(args.run), args.candidates]).encode()
        ).hexdigest()[:12]
    )
    out.mkdir(parents=True, exist_ok=True)

    results = {}
    for mode in ("lazy", "eager"):  # lazy first: the cheap one reports early on a slow engine
        results[mode] = judge_mode(backend, items, overrides, mode, out)
        verdicts, cascade, stats, elapsed = results[mode]
        print(
            f"{mode}: {sum(s.calls for s in cascade.stats)} calls, "
            f"{sum(v.accepted for v in verdicts)} accepted, {elapsed:.1f} s",
            flush=True,
        )
    (ev, ec, es, et), (lv, lc, ls, lt) = results["eager"], results["lazy"]
    differing = sum(
        a.accepted != b.accepted or a.rejected_by != b.rejected_by
        for a, b in zip(ev, lv, strict=True)
    )
    eager_calls, lazy_calls = sum(s.calls for s in ec.stats), sum(s.calls for s in lc.stats)
    e_replies, l_replies = replies(out / "eager_calls.jsonl"), replies(out / "lazy_calls.jsonl")
    drift = sum(e_replies[k] != t for k, t in l_replies.items() if k in e_replies)

    print(f"judge               {backend.identity}")
    print(
        f"candidates          {len(items)}   v={args.votes} {args.decision}, "
        f"judge max_tokens={args.max_tokens}, stores in {out}"
    )
    print(f"differing decisions {differing}")
    print(f"model calls eager   {eager_calls}   (paid now {es.paid}, {et:.1f} s)")
    print(f"model calls lazy    {lazy_calls}   (paid now {ls.paid}, {lt:.1f} s)")
    print(f"ratio lazy/eager    {lazy_calls / eager_calls:.3f}   (target <= 0.5)")
    print(f"engine drift        {drift} of {len(l_replies)} shared requests replied differently")
    for e, lz in zip(ec.stats, lc.stats, strict=True):
        print(
            f"  {e.name:<12} in {e.entered:>3}  passed {e.passed:>3}  no {e.rejected:>3}  "
            f"undecided {e.undecided:>3}  calls eager {e.calls:>4} lazy {lz.calls:>4}"
        )
    accepted = sum(v.accepted for v in lv)
    print(f"accepted            {accepted} of {len(items)}")
    measured = judge_quality(lv, grade_candidates(items), [s.name for s in lc.stages])
    if measured:
        quality = measured.to_dict()  # rounded, as verify_stats.json holds it
        print(f"base rate           {quality['base_rate']}  ({quality['graded']} graded)")
        print(
            f"cascade precision   {quality['precision']}  recall {quality['recall']}  "
            f"accept rate {quality['accept_rate']}"
        )
        for name, q in quality["stages"].items():
            print(
                f"  {name:<12} in {q['graded']:>3}  base {q['base_rate']}  "
                f"precision {q['precision']}  recall {q['recall']}"
            )
    backend.close()


if __name__ == "__main__":
    main()
