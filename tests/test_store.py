import json

import pytest

from svdistill.backends.base import Completion
from svdistill.store import CallStore, RunError, atomic_writer, read_jsonl, write_jsonl


def test_call_store_roundtrip_and_reopen(tmp_path):
    store = CallStore(tmp_path / "calls.jsonl")
    store.put("k1", Completion("hello", "stop", 3, 1, 0.5))
    store.put("k1", Completion("again", "stop"))  # already stored: not written twice
    store.put("k2", Completion("", "error", error="boom"))  # failures are not stored
    store.close()
    reopened = CallStore(tmp_path / "calls.jsonl")
    assert len(reopened) == 1 and "k2" not in reopened
    assert reopened.get("k1").text == "hello"
    assert reopened.duplicates == 0


def test_torn_tail_is_dropped_and_repaired(tmp_path):
    path = tmp_path / "calls.jsonl"
    good = json.dumps({"key": "a", "text": "x", "finish_reason": "stop"}) + "\n"
    path.write_text(good + '{"key": "b", "text": "half')
    store = CallStore(path)
    assert len(store) == 1 and "b" not in store
    store.put("c", Completion("y", "stop"))
    store.close()
    assert [r["key"] for r in read_jsonl(path)] == ["a", "c"]


def test_corrupt_row_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text('{"key": "a", "text": "x", "finish_reason": "stop"}\nnot json\n')
    with pytest.raises(RunError, match="corrupt call-store row"):
        CallStore(path)


def test_atomic_writer_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    write_jsonl(target, [{"a": 1}])
    with pytest.raises(RuntimeError), atomic_writer(target) as f:
        f.write("partial\n")
        raise RuntimeError("killed")
    assert list(read_jsonl(target)) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_interleaved_writers_read_back_their_own_rows(tmp_path):
    first, second = CallStore(tmp_path / "calls.jsonl"), CallStore(tmp_path / "calls.jsonl")
    for i in range(20):
        first.put(f"a{i}", Completion(f"first {i}", "stop"))
        second.put(f"b{i}", Completion(f"second {i}", "stop"))
    assert [first.get(f"a{i}").text for i in range(20)] == [f"first {i}" for i in range(20)]
    assert [second.get(f"b{i}").text for i in range(20)] == [f"second {i}" for i in range(20)]
