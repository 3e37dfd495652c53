"""Generate the built-in science multiple-choice benchmark (`science-mc`).

Every question is a physics formula or unit conversion with numbers drawn from a fixed seed; the
correct option is computed, and the three distractors are the results of common mistakes
(a forgotten square or factor of 2, an inverted ratio, a wrong power of ten), so the gold answer
is verifiable by construction. Options are shuffled with `svdistill.grade.shuffle_options`.

    python scripts/make_science_mc.py [--n 120] [--seed 7] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

from svdistill.grade.choice import shuffle_options

OUT = Path(__file__).resolve().parents[1] / "src/svdistill/data/benchmarks/science_mc.jsonl"

# A template returns (question, unit, correct value, distractor values).
Template = Callable[[random.Random], tuple[str, str, float, list[float]]]


def kinetic_energy(r: random.Random):
    m, v = r.choice([2, 4, 5, 8, 10, 12]), r.choice([3, 4, 5, 6, 10])
    return (f"A {m} kg cart moves at {v} m/s. What is its kinetic energy?", "J",
            0.5 * m * v * v, [m * v * v, 0.5 * m * v, m * v])


def force(r: random.Random):
    m, a = r.choice([3, 5, 7, 12, 20]), r.choice([2, 4, 6, 9])
    return (f"What net force gives a {m} kg box an acceleration of {a} m/s^2?", "N",
            m * a, [m / a, m + a, 0.5 * m * a])


def ohm(r: random.Random):
    i, res = r.choice([2, 3, 4, 5]), r.choice([6, 8, 12, 15, 20])
    return (f"A current of {i} A flows through a {res} ohm resistor. What is the voltage "
            "across it?", "V", i * res, [res / i, i + res, i * i * res])


def power(r: random.Random):
    v, i = r.choice([6, 9, 12, 24, 120]), r.choice([2, 3, 5])
    return (f"A device draws {i} A from a {v} V supply. How much power does it use?", "W",
            v * i, [v / i, v * i * i, v + i])


def speed_of_wave(r: random.Random):
    f, lam = r.choice([50, 200, 440, 500]), r.choice([2, 3, 4, 0.5])
    return (f"A wave has frequency {f} Hz and wavelength {lam} m. What is its speed?", "m/s",
            f * lam, [f / lam, lam / f, 2 * f * lam])


def potential_energy(r: random.Random):
    m, h = r.choice([2, 3, 5, 10]), r.choice([4, 5, 10, 20])
    return (f"A {m} kg mass is lifted {h} m. Taking g = 10 m/s^2, how much gravitational "
            "potential energy does it gain?", "J", m * 10 * h, [m * h, 0.5 * m * 10 * h,
                                                                  m * 10 * h * h])


def kinematics(r: random.Random):
    u, a, t = r.choice([0, 2, 5, 10]), r.choice([2, 3, 4]), r.choice([3, 5, 6])
    return (f"A car starts at {u} m/s and accelerates uniformly at {a} m/s^2 for {t} s. How far "
            "does it travel in that time?", "m", u * t + 0.5 * a * t * t,
            [u * t + a * t * t, u * t + 0.5 * a * t, u + a * t])


def density(r: random.Random):
    m, v = r.choice([240, 540, 810, 1200]), r.choice([2, 3, 4, 6])
    return (f"A block of mass {m} g has a volume of {v} cm^3. What is its density?", "g/cm^3",
            m / v, [m * v, v / m, m / v / 10])


def pressure(r: random.Random):
    f, a = r.choice([200, 600, 1500, 3000]), r.choice([2, 3, 5])
    return (f"A force of {f} N acts evenly on an area of {a} m^2. What pressure does it exert?",
            "Pa", f / a, [f * a, a / f, f / a / 100])


def momentum(r: random.Random):
    m, v = r.choice([0.5, 2, 4, 1500]), r.choice([3, 8, 20])
    return (f"What is the momentum of a {m} kg object moving at {v} m/s?", "kg*m/s", m * v,
            [0.5 * m * v * v, m / v, m * v * v])


def km_to_m(r: random.Random):
    km = r.choice([1.5, 2.4, 3.75, 12, 0.8])
    return (f"How many metres are in {km} km?", "m", km * 1000,
            [km * 100, km * 10000, km / 1000])


def hours_to_seconds(r: random.Random):
    h = r.choice([1.5, 2, 2.5, 4, 0.25])
    return (f"How many seconds are in {h} hours?", "s", h * 3600,
            [h * 60, h * 360, h * 36000])


def kmh_to_ms(r: random.Random):
    v = r.choice([18, 36, 54, 72, 90, 108])
    return (f"Convert a speed of {v} km/h to metres per second.", "m/s", v / 3.6,
            [v * 3.6, v / 36, v / 60])


def celsius_to_kelvin(r: random.Random):
    c = r.choice([-40, 0, 25, 37, 100])
    return (f"What is {c} degrees Celsius in kelvin?", "K", c + 273.15,
            [c - 273.15, c * 1.8 + 32, c + 373.15])


def grams_per_cm3(r: random.Random):
    d = r.choice([0.8, 1.2, 2.7, 7.9, 11.3])
    return (f"A material has a density of {d} g/cm^3. What is that in kg/m^3?", "kg/m^3",
            d * 1000, [d * 100, d / 1000, d * 10])


TEMPLATES: list[Template] = [
    kinetic_energy, force, ohm, power, speed_of_wave, potential_energy, kinematics, density,
    pressure, momentum, km_to_m, hours_to_seconds, kmh_to_ms, celsius_to_kelvin, grams_per_cm3,
]


def fmt(x: float) -> str:
    """Up to 4 significant figures, no trailing zeros, no exponent for these magnitudes."""
    text = f"{x:.4g}"
    if "e" in text:
        text = f"{x:.6f}".rstrip("0").rstrip(".")
    return text


def make(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []
    seen: set[str] = set()
    for attempt in range(n * 50):
        if len(rows) == n:
            break
        template = TEMPLATES[attempt % len(TEMPLATES)]
        question, unit, correct, wrong = template(rng)
        options = [f"{fmt(correct)} {unit}"] + [f"{fmt(w)} {unit}" for w in wrong]
        if question in seen or len(set(options)) != len(options):
            continue  # a repeated draw, or a mistake that happens to give the right number
        seen.add(question)
        shuffled, letter = shuffle_options(options, 0, seed * 100_003 + len(rows))
        rows.append({
            "id": f"sci-{len(rows) + 1:04d}", "question": question, "options": shuffled,
            "target": letter, "grader": "choice", "domain": "science",
            "topic": template.__name__,
        })
    if len(rows) < n:
        raise SystemExit(f"only {len(rows)} distinct questions; ask for fewer")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = make(args.n, args.seed)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} questions to {args.out}")


if __name__ == "__main__":
    main()
