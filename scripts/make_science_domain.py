"""Generate the science domain's seeds and held-out set, disjoint from the `science-mc` benchmark.

    python scripts/make_science_domain.py

The same fifteen physics formulas and unit conversions as `science-mc` (scripts/make_science_mc.py),
with numbers drawn from wider ranges. The correct option is computed and the three distractors
are common mistakes, as there. Two wordings per skill:

- src/svdistill/data/seeds/science_mc.jsonl (packaged seed set `science`): science-mc's wording,
  the options already lettered in the question text (seeds are plain questions); the gold letter
  is kept as `answer`, a reference only the judge-quality report reads;
- src/svdistill/data/benchmarks/science_heldout.jsonl (benchmark `science-heldout`): another
  wording, so the held-out set shares no 13-word run with the seeds (the evaluate phase's overlap
  rule) while testing the same skills.

No question of either set is a question of `science-mc`; tests/test_domains.py checks all three
disjointness properties.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from make_science_mc import fmt  # noqa: E402

from svdistill.evaluate.benchmarks import render_options  # noqa: E402
from svdistill.grade.choice import shuffle_options  # noqa: E402

SEEDS = ROOT / "src/svdistill/data/seeds/science_mc.jsonl"
HELDOUT = ROOT / "src/svdistill/data/benchmarks/science_heldout.jsonl"
SCIENCE_MC = ROOT / "src/svdistill/data/benchmarks/science_mc.jsonl"


# Each skill returns (seed wording, held-out wording, unit, correct value, distractor values).
def kinetic_energy(r: random.Random):
    m, v = r.randint(2, 20), r.randint(2, 12)
    return (f"A {m} kg cart moves at {v} m/s. What is its kinetic energy?",
            f"Find the energy of motion of a trolley of mass {m} kg travelling at {v} m/s.",
            "J", 0.5 * m * v * v, [m * v * v, 0.5 * m * v, m * v])


def force(r: random.Random):
    m, a = r.randint(2, 30), r.randint(2, 12)
    return (f"What net force gives a {m} kg box an acceleration of {a} m/s^2?",
            f"A crate of {m} kg speeds up at {a} m/s^2. How large is the resultant force on it?",
            "N", m * a, [m / a, m + a, 0.5 * m * a])


def ohm(r: random.Random):
    i, res = r.randint(2, 9), r.randint(3, 40)
    return (f"A current of {i} A flows through a {res} ohm resistor. What is the voltage "
            "across it?",
            f"Find the potential difference needed to push {i} A through {res} ohms.",
            "V", i * res, [res / i, i + res, i * i * res])


def power(r: random.Random):
    v, i = r.choice([3, 5, 6, 9, 12, 18, 24, 48, 120, 230]), r.randint(2, 8)
    return (f"A device draws {i} A from a {v} V supply. How much power does it use?",
            f"Supplied at {v} V, a heater takes a current of {i} A. At what rate does it use "
            "energy?", "W", v * i, [v / i, v * i * i, v + i])


def speed_of_wave(r: random.Random):
    f, lam = r.choice([20, 40, 50, 100, 200, 250, 440, 500, 800]), r.choice([0.5, 1.5, 2, 3, 4, 5])
    return (f"A wave has frequency {f} Hz and wavelength {lam} m. What is its speed?",
            f"Ripples {lam} m apart pass a post {f} times per second. How fast do they travel?",
            "m/s", f * lam, [f / lam, lam / f, 2 * f * lam])


def potential_energy(r: random.Random):
    m, h = r.randint(2, 15), r.choice([2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25])
    return (f"A {m} kg mass is lifted {h} m. Taking g = 10 m/s^2, how much gravitational "
            "potential energy does it gain?",
            f"With g = 10 m/s^2, what energy is stored by raising a {m} kg load through "
            f"{h} m?", "J", m * 10 * h, [m * h, 0.5 * m * 10 * h, m * 10 * h * h])


def kinematics(r: random.Random):
    u, a, t = r.randint(0, 15), r.randint(1, 6), r.randint(2, 8)
    return (f"A car starts at {u} m/s and accelerates uniformly at {a} m/s^2 for {t} s. How far "
            "does it travel in that time?",
            f"Moving at {u} m/s, a cyclist gains speed steadily at {a} m/s^2. What distance is "
            f"covered in the next {t} s?", "m", u * t + 0.5 * a * t * t,
            [u * t + a * t * t, u * t + 0.5 * a * t, u + a * t])


def density(r: random.Random):
    v = r.randint(2, 9)
    m = v * r.randint(2, 30) * 10
    return (f"A block of mass {m} g has a volume of {v} cm^3. What is its density?",
            f"{v} cm^3 of a metal weigh {m} g. How many grams does each cubic centimetre hold?",
            "g/cm^3", m / v, [m * v, v / m, m / v / 10])


def pressure(r: random.Random):
    a = r.randint(2, 8)
    f = a * r.randint(5, 200) * 10
    return (f"A force of {f} N acts evenly on an area of {a} m^2. What pressure does it exert?",
            f"A {f} N load rests on a base of {a} m^2. Find the pressure under it.",
            "Pa", f / a, [f * a, a / f, f / a / 100])


def momentum(r: random.Random):
    m, v = r.choice([0.2, 0.5, 1, 2, 3, 5, 8, 60, 800, 1200]), r.randint(2, 30)
    return (f"What is the momentum of a {m} kg object moving at {v} m/s?",
            f"A {m} kg body travels at {v} m/s. Find the product of its mass and velocity.",
            "kg*m/s", m * v, [0.5 * m * v * v, m / v, m * v * v])


def km_to_m(r: random.Random):
    km = r.choice([0.3, 0.45, 0.6, 1.2, 2.5, 3.2, 4.8, 6.5, 7.25, 9.6, 15, 22])
    return (f"How many metres are in {km} km?", f"Express a distance of {km} km in metres.",
            "m", km * 1000, [km * 100, km * 10000, km / 1000])


def hours_to_seconds(r: random.Random):
    h = r.choice([0.5, 0.75, 1, 3, 3.5, 5, 6, 8, 12])
    return (f"How many seconds are in {h} hours?", f"A journey lasts {h} h. Give its length "
            "in seconds.", "s", h * 3600, [h * 60, h * 360, h * 36000])


def kmh_to_ms(r: random.Random):
    v = r.choice([9, 27, 45, 63, 81, 126, 144, 180])
    return (f"Convert a speed of {v} km/h to metres per second.",
            f"A train's speedometer reads {v} km/h. What is that in m/s?",
            "m/s", v / 3.6, [v * 3.6, v / 36, v / 60])


def celsius_to_kelvin(r: random.Random):
    c = r.choice([-100, -20, -10, 10, 15, 20, 50, 60, 80, 250])
    return (f"What is {c} degrees Celsius in kelvin?",
            f"A thermometer shows {c} degrees Celsius. Give the absolute temperature.",
            "K", c + 273.15, [c - 273.15, c * 1.8 + 32, c + 373.15])


def grams_per_cm3(r: random.Random):
    d = r.choice([0.6, 0.9, 1.5, 1.8, 2.2, 3.4, 4.5, 8.9, 10.5, 19.3])
    return (f"A material has a density of {d} g/cm^3. What is that in kg/m^3?",
            f"Rewrite a density of {d} g/cm^3 in SI units of kg/m^3.",
            "kg/m^3", d * 1000, [d * 100, d / 1000, d * 10])


SKILLS = [kinetic_energy, force, ohm, power, speed_of_wave, potential_energy, kinematics, density,
          pressure, momentum, km_to_m, hours_to_seconds, kmh_to_ms, celsius_to_kelvin,
          grams_per_cm3]


def make(seed_count: int, heldout_count: int, seed: int = 2026) -> tuple[list[dict], list[dict]]:
    """(seed rows, held-out rows); questions never repeat across the two or with science-mc."""
    taken = {json.loads(line)["question"] for line in SCIENCE_MC.open(encoding="utf-8")}
    rng = random.Random(seed)
    seeds: list[dict] = []
    heldout: list[dict] = []
    for attempt in range((seed_count + heldout_count) * 50):
        if len(seeds) == seed_count and len(heldout) == heldout_count:
            break
        skill = SKILLS[attempt % len(SKILLS)]
        seed_text, heldout_text, unit, correct, wrong = skill(rng)
        options = [f"{fmt(correct)} {unit}"] + [f"{fmt(w)} {unit}" for w in wrong]
        # rounds over the skills alternate between the sets, so both cover every skill
        to_seeds = (attempt // len(SKILLS)) % 2 == 0
        if len(seeds if to_seeds else heldout) == (seed_count if to_seeds else heldout_count):
            to_seeds = not to_seeds  # that set is full
        text = seed_text if to_seeds else heldout_text
        if seed_text in taken or heldout_text in taken or len(set(options)) != len(options):
            continue  # drawn before, or a mistake that happens to give the right number
        taken.update((seed_text, heldout_text))  # neither wording of these numbers again
        rows = seeds if to_seeds else heldout
        shuffled, letter = shuffle_options(options, 0, seed * 100_003 + attempt)
        if to_seeds:
            rows.append({"id": f"sci-seed-{len(rows) + 1:04d}",
                         "question": render_options(text, shuffled), "answer": letter,
                         "domain": "science", "topic": skill.__name__})
        else:
            rows.append({"id": f"sci-ho-{len(rows) + 1:04d}", "question": text,
                         "options": shuffled, "target": letter, "grader": "choice",
                         "domain": "science", "topic": skill.__name__})
    if len(seeds) < seed_count or len(heldout) < heldout_count:
        raise SystemExit(f"only {len(seeds)} seeds and {len(heldout)} held-out; ask for fewer")
    return seeds, heldout


def main() -> None:
    seeds, heldout = make(90, 90)
    for path, rows in ((SEEDS, seeds), (HELDOUT, heldout)):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        print(f"wrote {len(rows)} questions to {path}")


if __name__ == "__main__":
    main()
