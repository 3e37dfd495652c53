"""Record real judge replies of the embedded model for the verdict parser's tests.

    PYTHONPATH=src python scripts/record_judge_replies.py tests/data/judge_replies_embedded.jsonl
    PYTHONPATH=src python scripts/record_judge_replies.py tests/data/judge_replies_tiny.jsonl tiny

Each row holds the template, the values it was rendered with, the sha256 of the prompt, the
sampling settings, the engine identity, and the reply (text, finish_reason, tokens). The test
(tests/test_verify_recorded.py) renders the prompt again and fails when the hash differs: a
changed prompt makes the recording stale, to be recorded again, never silently reused.
"""

from __future__ import annotations

import hashlib
import json
import sys

from svdistill.backends import make_backend
from svdistill.backends.base import Request, SamplingParams
from svdistill.verify.prompts import load_templates

# (question, right answer, wrong answer): the first six built-in seed questions.
CASES = [
    ("Eli has 44 stamps. Eli gives away 31 and then buys 9 more. How many stamps does Eli have now?",
     "Eli starts with 44. 44 - 31 = 13. 13 + 9 = 22. The answer is \\boxed{22}.",
     "Eli starts with 44. 44 - 31 = 13. Then 13 - 9 = 4. The answer is \\boxed{4}."),
    ("A shop had 38 beads. It sold 9 in the morning and 9 times as many in the afternoon as in "
     "the morning. How many beads did it sell in total?",
     "Afternoon: 9 * 9 = 81. Total sold: 9 + 81 = 90. The answer is \\boxed{90}.",
     "Afternoon: 9 * 9 = 81. So the shop sold \\boxed{81} beads."),
    ("A shop had 89 cookies. It sold 3 in the morning and 9 times as many in the afternoon as in "
     "the morning. How many cookies did it sell in total?",
     "Morning 3, afternoon 9 * 3 = 27, total 3 + 27 = 30. The answer is \\boxed{30}.",
     "Morning 3, afternoon 27, so 89 - 3 - 27 = 59 are left. The answer is \\boxed{59}."),
    ("Ivan buys 7 boxes with 9 tickets in each box and already had 87 tickets. How many tickets "
     "does Ivan have in total?",
     "7 * 9 = 63 new tickets; 63 + 87 = 150. The answer is \\boxed{150}.",
     "7 * 9 = 56 new tickets; 56 + 87 = 143. The answer is \\boxed{143}."),
    ("Ana has 95 apples. Ana gives away 51 and then buys 2 more. How many apples does Ana have now?",
     "95 - 51 = 44, then 44 + 2 = 46. The answer is \\boxed{46}.",
     "95 - 51 = 44. The answer is \\boxed{44}."),
    ("Goro has 15 cookies and Omar has 36 more than Goro. How many cookies do they have together?",
     "Omar has 15 + 36 = 51. Together 15 + 51 = 66. The answer is \\boxed{66}.",
     "Together they have 15 + 36 = 51. The answer is \\boxed{51}."),
]
JUDGES = ("factual", "correctness", "single", "single_alt_yes_last", "single_alt_no_last")
CLAIMS = ("44 - 31 = 13", "9 * 9 = 81", "7 * 9 = 56", "95 - 51 = 44", "15 + 36 = 61")
SEEDS = (1000, 1001)


def jobs():
    for question, right, wrong in CASES:
        for judge in JUDGES:
            for answer, correct in ((right, True), (wrong, False)):
                yield judge, {"question": question, "answer": answer}, correct
        yield "cycle_compare", {"question": question, "inferred": question}, True
        changed = question.replace("9", "7", 1) if "9" in question else question + " Explain."
        yield "cycle_compare", {"question": question, "inferred": changed}, False
    for claim in CLAIMS:
        left, right = claim.split(" = ")
        yield "claim", {"claim": claim}, eval(left) == int(right)  # noqa: S307 - our own text


def main(out: str, spec: str = "embedded") -> None:
    templates = load_templates()
    backend = make_backend(spec)
    rows, requests = [], []
    for name, values, correct in jobs():
        prompt = templates[name].render(**values)
        for seed in SEEDS:
            params = SamplingParams(0.6, 0.95, 50, 256, seed)
            requests.append(Request((("user", prompt),), params))
            rows.append({
                "model": backend.identity, "template": name, "values": values,
                "truth": correct, "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest(),
                "params": {"temperature": 0.6, "top_p": 0.95, "top_k": 50, "max_tokens": 256,
                           "seed": seed},
            })
    replies = [None] * len(requests)
    for index, completion in backend.stream(requests):
        replies[index] = completion
        print(index, repr(completion.text[:80]), file=sys.stderr, flush=True)
    with open(out, "w", encoding="utf-8") as f:
        for row, reply in zip(rows, replies, strict=True):
            row.update(text=reply.text, finish_reason=reply.finish_reason,
                       completion_tokens=reply.completion_tokens)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
