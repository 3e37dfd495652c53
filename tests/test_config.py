import time

import pytest

from svdistill.config import load_config, parse_override
from svdistill.store import RunError


def test_overrides_are_typed_yaml_scalars():
    cfg = load_config(None, ["sample.n=8", "sample.temperature=0.8", "verify.mode=eager",
                             "curate.decontaminate=[a.jsonl, b.jsonl]"])
    assert cfg.sample.n == 8 and cfg.sample.temperature == 0.8
    assert cfg.verify.mode == "eager"
    assert cfg.curate.decontaminate == ["a.jsonl", "b.jsonl"]


def test_yaml_file_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("sample:\n  n: 2\n  max_tokens: 64\n")
    cfg = load_config(path, ["sample.n=5"])
    assert (cfg.sample.n, cfg.sample.max_tokens) == (5, 64)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["sample.nn=3"], "sample.nn: unknown key"),
        (["bogus.x=1"], "bogus: unknown key"),
        (["sample.n=0"], "sample.n: Input should be greater than or equal to 1"),
        (["verify.votes=0"], "verify.votes: Input should be greater than or equal to 1"),
        (["sample.n=many"], "sample.n: Input should be a valid integer"),
        (["verify.mode=sometimes"], "verify.mode: Input should be 'eager' or 'lazy'"),
        (["sample.top_p=1.5"], "sample.top_p: Input should be less than or equal to 1"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(RunError) as info:
        load_config(None, overrides)
    assert message in str(info.value)


def test_bad_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("sample:\n  n: [1, 2\n")
    with pytest.raises(RunError, match=r"broken\.yaml:\d+: not valid YAML"):
        load_config(path)


def test_override_without_equals_is_an_error():
    with pytest.raises(RunError, match="expected key.sub=value"):
        parse_override("sample.n")


def test_missing_config_file(tmp_path):
    with pytest.raises(RunError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml")


def test_duplicate_yaml_key_names_both_lines(tmp_path):
    """Before: the second `n` silently replaced the first."""
    path = tmp_path / "dup.yaml"
    path.write_text("sample:\n  n: 2\n  temperature: 0.5\n  n: 3\n")
    with pytest.raises(RunError, match=r"dup\.yaml:4: not valid YAML \(duplicate key 'sample\.n',"
                                       r" first at line 2"):
        load_config(path)


def _alias_bomb(kind: str, depth: int = 6) -> str:
    """`depth` levels of nine aliases each: a few hundred bytes that expand to 9**depth values."""
    if kind == "list":
        levels = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
        levels += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]"
                   for i in range(1, depth + 1)]
    else:
        levels = ['m0: &m0 {k: "x"}']
        levels += [f"m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(9)) + "}"
                   for i in range(1, depth + 1)]
    return "verify:\n  prompts:\n" + "".join(f"    {line}\n" for line in levels)


@pytest.mark.parametrize("kind", ["list", "mapping"])
def test_yaml_alias_bomb_is_refused_fast(tmp_path, kind):
    """Before: validating (and describing) the expanded values took seconds to minutes."""
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(kind))
    started = time.perf_counter()
    with pytest.raises(RunError, match=r"bomb\.yaml:\d+: not valid YAML \(the aliases here expand "
                                       r"to more than 100,000 values"):
        load_config(path)
    assert time.perf_counter() - started < 2


def test_yaml_aliases_within_reason_still_work(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text("curate:\n  decontaminate: &held [a.jsonl, b.jsonl]\n"
                    "evaluate:\n  benchmarks: *held\n")
    cfg = load_config(path)
    assert cfg.evaluate.benchmarks == cfg.curate.decontaminate == ["a.jsonl", "b.jsonl"]
    (tmp_path / "loop.yaml").write_text("evaluate:\n  benchmarks: &b [*b]\n")
    with pytest.raises(RunError, match="an alias refers to a value that holds it"):
        load_config(tmp_path / "loop.yaml")


@pytest.mark.parametrize("line, message", [
    ("evaluate:\n  code_timeout_s: .inf", "evaluate.code_timeout_s: Input should be a finite"),
    ("evaluate:\n  code_timeout_s: 1.0e+300", "evaluate.code_timeout_s: Input should be less than"),
    ("sample:\n  n: 100000000", "sample.n: Input should be less than or equal to 1024"),
    ("verify:\n  temperature: .nan", "verify.temperature: Input should be a finite number"),
    ("model:\n  timeout_s: 1.0e+12", "model.timeout_s: Input should be less than"),
    ("train:\n  seed: 100000000000000000000", "train.seed: Input should be less than"),
])
def test_absurd_numbers_are_errors_naming_file_and_line(tmp_path, line, message):
    """Before: inf and 1e300 timeouts, n=10**8 and huge seeds were accepted, and failed later
    with an OverflowError or MemoryError traceback (or set every code row aside)."""
    path = tmp_path / "c.yaml"
    path.write_text(line + "\n")
    with pytest.raises(RunError) as info:
        load_config(path)
    assert message in str(info.value) and "c.yaml line 2" in str(info.value)
