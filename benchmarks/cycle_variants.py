"""The cycle-consistency stage's two comparisons on the same candidates: how often they decide
differently, and which one agrees better with the reference answers.

    plain   the judge sees the original and the inferred question (the paper's)
    uq      it also sees the answer, and is asked whether the answer addresses the original
            question (UQ's validator)

Both variants share one call store: the inference calls ("reconstruct the question") are the
same requests in both, so they are paid once; only the comparison calls differ.

    svdistill sample demo --out RUN                  # or any sampled run folder
    python benchmarks/cycle_variants.py --run RUN --candidates 40
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from svdistill.backends import make_backend
from svdistill.config import ModelConfig, load_config
from svdistill.generation import CallRunner
from svdistill.runfolder import RunFolder
from svdistill.store import CallStore
from svdistill.verify import Cascade, load_items
from svdistill.verify.quality import grade_candidates, judge_quality


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a sampled run folder")
    parser.add_argument("--backend", default="embedded")
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--votes", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=320, help="judge reply limit")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("/tmp/cycle_variants"))
    args = parser.parse_args()

    items = load_items(RunFolder(args.run))[: args.candidates]
    backend = make_backend(args.backend, ModelConfig(batch_size=args.batch_size))
    args.out.mkdir(parents=True, exist_ok=True)
    store = CallStore(args.out / "calls.jsonl")
    grades = grade_candidates(items)
    decisions = {}
    for variant in ("plain", "uq"):
        config = load_config(None, [
            "verify.stages=[cycle]", f"verify.cycle_compare={variant}",
            f"verify.votes={args.votes}", "verify.decision=unanimous",
            f"verify.max_tokens={args.max_tokens}"])
        runner = CallRunner(backend, store)
        started = time.perf_counter()
        verdicts = Cascade(config.verify, runner).judge(items)
        decisions[variant] = [v.accepted for v in verdicts]
        quality = judge_quality(verdicts, grades, ["cycle"])
        precision, recall = (quality.precision, quality.recall) if quality else (None, None)
        print(f"{variant:<6} accepted {sum(decisions[variant]):>3} of {len(items)}  "
              f"precision {precision}  recall {recall}  "
              f"paid {runner.stats.paid} calls in {time.perf_counter() - started:.0f} s",
              flush=True)
    store.close()
    backend.close()
    differ = sum(a != b for a, b in zip(decisions["plain"], decisions["uq"], strict=True))
    graded = [g.correct for g in grades if g.correct is not None]
    print(f"judge {backend.identity}; {len(items)} candidates of {args.run}, v={args.votes}")
    print(f"base rate {sum(graded) / max(len(graded), 1):.3f} ({len(graded)} graded)")
    print(f"decisions that differ: {differ} of {len(items)} ({100 * differ / len(items):.1f}%)")


if __name__ == "__main__":
    main()
