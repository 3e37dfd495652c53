import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from svdistill.config import SeedsConfig
from svdistill.records import text_id
from svdistill.seeds import SeedError, load_seeds


def write(path, text: str | bytes):
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_builtin_seeds_load_with_references():
    questions, report = load_seeds(SeedsConfig())
    assert len(questions) == report.loaded >= 100
    assert all(q.reference for q in questions)


def test_jsonl_ids_derived_and_duplicates_dropped_once(tmp_path):
    path = write(tmp_path / "s.jsonl", "\n".join(json.dumps(r) for r in [
        {"question": "What is 2+2?"}, {"question": "What is 3+3?"}, {"question": "What is 2+2?"},
    ]) + "\n")
    questions, report = load_seeds(SeedsConfig(path=str(path)))
    assert [q.text for q in questions] == ["What is 2+2?", "What is 3+3?"]
    assert questions[0].id == text_id("What is 2+2?")
    assert report.duplicates == 1


def test_custom_field_names(tmp_path):
    path = write(tmp_path / "s.jsonl", json.dumps({"prompt": "Q?", "uid": "x1", "gold": "4"}))
    cfg = SeedsConfig(path=str(path), question_field="prompt", id_field="uid",
                      reference_field="gold")
    (q,), _ = load_seeds(cfg)
    assert (q.id, q.text, q.reference) == ("x1", "Q?", "4")


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"question": "ok"}\n{"question": "broken"\n', r"s\.jsonl:line 2: not valid JSON"),
        ('{"question": "ok"}\n{"text": "no question"}\n', r"s\.jsonl:line 2: field 'question' is "
                                                          r"missing"),
        ('{"question": ["a", "list"]}\n', r"s\.jsonl:line 1: field 'question' must be text"),
        ('{"question": "ok"}\n[1, 2]\n', r"s\.jsonl:line 2: a row must be a JSON object"),
        (b'{"question": "ok"}\n{"question": "caf\xe9"}\n', r"s\.jsonl:line 2: not UTF-8"),
        ("", r"s\.jsonl: no usable seed questions"),
        ("\n\n", r"s\.jsonl: no usable seed questions"),
    ],
)
def test_malformed_jsonl_names_file_line_and_field(tmp_path, content, message):
    path = write(tmp_path / "s.jsonl", content)
    with pytest.raises(SeedError, match=message):
        load_seeds(SeedsConfig(path=str(path)))


def test_skip_mode_counts_reasons(tmp_path):
    bad_rows = b'{"question": "a"}\n{bad\n{"x": 1}\n\xff\n{"question": "b"}\n'
    path = write(tmp_path / "s.jsonl", bad_rows)
    questions, report = load_seeds(SeedsConfig(path=str(path), on_error="skip"))
    assert [q.text for q in questions] == ["a", "b"]
    assert sum(report.skipped.values()) == 3


def test_csv_and_parquet(tmp_path):
    csv_path = write(tmp_path / "s.csv", "id,question,answer\nq1,What is 1+1?,2\nq2,,3\n")
    with pytest.raises(SeedError, match=r"s\.csv:line 3: field 'question' is missing"):
        load_seeds(SeedsConfig(path=str(csv_path)))
    parquet = tmp_path / "s.parquet"
    pq.write_table(pa.table({"question": ["A?", "B?"], "answer": ["1", "2"]}), parquet)
    questions, _ = load_seeds(SeedsConfig(path=str(parquet)))
    assert [q.reference for q in questions] == ["1", "2"]


def test_datasets_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"question": ["A?", "B?"]}).save_to_disk(str(folder))
    questions, _ = load_seeds(SeedsConfig(path=str(folder)))
    assert [q.text for q in questions] == ["A?", "B?"]


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(SeedError, match="seed file not found"):
        load_seeds(SeedsConfig(path=str(tmp_path / "none.jsonl")))
    with pytest.raises(SeedError, match="unknown seed format"):
        load_seeds(SeedsConfig(path=str(write(tmp_path / "s.txt", "hi"))))


@pytest.mark.parametrize("second, why", [
    ('{"id": "a", "question": "What is 3+3?"}', ""),
    ('{"id": "1", "question": "What is 3+3?"}', "the number 1 and the text '1' are the same id"),
])
def test_one_id_for_two_questions_names_both_lines(tmp_path, second, why):
    """Before: the second question was dropped, with only a counter in sample_stats.json."""
    first = '{"id": "a", "question": "What is 2+2?"}' if '"a"' in second else \
        '{"id": 1, "question": "What is 2+2?"}'
    path = write(tmp_path / "s.jsonl", f'{first}\n{{"question": "x?"}}\n{second}\n')
    with pytest.raises(SeedError) as info:
        load_seeds(SeedsConfig(path=str(path)))
    message = str(info.value)
    assert "s.jsonl:line 3: id" in message and "different question at" in message
    assert "s.jsonl:line 1" in message and why in message


def test_same_id_same_question_is_kept_once(tmp_path):
    row = '{"id": "a", "question": "What is 2+2?"}\n'
    path = write(tmp_path / "s.jsonl", row + '{"question": "What is 3+3?"}\n' + row)
    questions, report = load_seeds(SeedsConfig(path=str(path)))
    assert [q.id for q in questions][0] == "a" and len(questions) == 2
    assert report.duplicates == 1
