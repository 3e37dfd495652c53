"""Generate the built-in two-step arithmetic word problems (seeds and a disjoint held-out set).

    python scripts/make_arithmetic.py

Writes src/svdistill/data/seeds/arithmetic.jsonl (training seeds; the answer is kept as a
reference that only evaluation and judge-quality reports read) and
src/svdistill/data/benchmarks/arithmetic_heldout.jsonl (evaluation). The two use different
templates for the same six two-step skills, so the held-out set shares no 13-word run with the
seeds: a model that only memorised the seeds' wording gains nothing on it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goro", "Hana", "Ivan", "Jo", "Kofi",
         "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara"]
THINGS = ["apples", "marbles", "stickers", "books", "coins", "pencils", "cookies", "shells",
          "cards", "stamps", "beads", "tickets"]


def problem(rng: random.Random) -> tuple[str, int]:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    kind = rng.randrange(6)
    a, b, c = rng.randint(12, 95), rng.randint(3, 40), rng.randint(2, 9)
    if kind == 0:
        b = rng.randint(3, a - 1)
        return (f"{name} has {a} {thing}. {name} gives away {b} and then buys {c} more. "
                f"How many {thing} does {name} have now?", a - b + c)
    if kind == 1:
        return (f"{name} buys {c} boxes with {b} {thing} in each box and already had {a} {thing}. "
                f"How many {thing} does {name} have in total?", c * b + a)
    if kind == 2:
        total = c * b
        return (f"{name} shares {total} {thing} equally among {c} friends, then adds {a} more "
                f"to one friend's share. How many {thing} does that friend have?", b + a)
    if kind == 3:
        return (f"A shop had {a} {thing}. It sold {b} in the morning and {c} times as many in the "
                f"afternoon as in the morning. How many {thing} did it sell in total?", b + c * b)
    if kind == 4:
        return (f"{name} collects {b} {thing} every day for {c} days, then loses {min(a, b * c)}."
                f" How many {thing} are left?", b * c - min(a, b * c))
    return (f"{name} has {a} {thing} and {rng.choice(NAMES)} has {b} more than {name}. "
            f"How many {thing} do they have together?", a + (a + b))


def heldout_problem(rng: random.Random) -> tuple[str, int]:
    """The same six skills as `problem`, worded differently."""
    name = rng.choice(NAMES)
    kind = rng.randrange(6)
    a, b, c = rng.randint(12, 95), rng.randint(3, 40), rng.randint(2, 9)
    if kind == 0:
        b = rng.randint(3, a - 1)
        return (f"A parking lot holds {a} cars. Then {b} cars drive away and {c} new cars arrive."
                " How many cars are in the lot now?", a - b + c)
    if kind == 1:
        return (f"A farmer plants {c} rows of trees with {b} trees per row. The farm already had "
                f"{a} trees. What is the total number of trees on the farm?", c * b + a)
    if kind == 2:
        return (f"{c * b} liters of juice are poured evenly into {c} jugs. Then {a} liters are "
                "added to the first jug. How many liters does the first jug hold?", b + a)
    if kind == 3:
        return (f"On Monday a library lent out {b} books. On Tuesday it lent out {c} times the "
                "Monday number. How many books did it lend out over both days?", b + c * b)
    if kind == 4:
        lost = min(a, b * c)
        return (f"{name} earns {b} points a day for {c} days and then spends {lost} points. "
                "How many points remain?", b * c - lost)
    return (f"A red box weighs {a} grams. A blue box weighs {b} grams more than the red box. "
            "What is the combined weight of both boxes in grams?", a + (a + b))


def generate(count: int, rng: random.Random, taken: set[str], make=problem,
             prefix: str = "arith") -> list[dict]:
    rows = []
    while len(rows) < count:
        text, answer = make(rng)
        if text in taken:
            continue
        taken.add(text)
        rows.append({"id": f"{prefix}-{len(rows) + 1:04d}", "question": text, "answer": str(answer),
                     "domain": "math"})
    return rows


def build() -> tuple[list[dict], list[dict]]:
    """The seeds and the held-out set. Held-out rows are appended only: cached evaluations of
    the set are keyed by question, so its first rows must stay as they are."""
    taken: set[str] = set()
    seeds = generate(300, random.Random(1), taken)
    return seeds, generate(240, random.Random(2), taken, heldout_problem, "heldout")


def main() -> None:
    root = Path(__file__).resolve().parents[1] / "src" / "svdistill" / "data"
    seeds, heldout = build()
    for path, rows in ((root / "seeds" / "arithmetic.jsonl", seeds),
                       (root / "benchmarks" / "arithmetic_heldout.jsonl", heldout)):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        print(f"wrote {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
