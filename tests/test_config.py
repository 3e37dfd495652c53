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
