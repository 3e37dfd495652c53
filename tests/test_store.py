import json

import pytest

from svdistill.backends.base import Completion, Request, SamplingParams, call_key
from svdistill.backends.scripted import ScriptedBackend
from svdistill.generation import CallRunner
from svdistill.store import CallStore, RunError, atomic_writer, dumps, read_jsonl, write_jsonl


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


def test_put_many_writes_rows_as_put_does_and_reads_each_back(tmp_path):
    store = CallStore(tmp_path / "calls.jsonl")
    store.put("old", Completion("stored before", "stop"))
    calls = [
        ("a", Completion('quotes " \\ and\nnewlines, é, \u2028, 😀', "stop", 7, 2, 0.123456)),
        ("b", Completion("", "error", error="boom")),  # failed: not stored
        ("old", Completion("again", "stop")),  # already stored: not written twice
        ("c", Completion("cut", "length", 1, 512, 3)),  # an int latency: the general encoder
        ("a", Completion("twice in one batch", "stop")),  # the first one wins
    ]
    store.put_many(calls, engine="scripted:x")
    store.close()
    rows = (tmp_path / "calls.jsonl").read_bytes().split(b"\n")  # not splitlines: \u2028
    expected = [
        {"key": "a", "engine": "scripted:x", "text": calls[0][1].text, "finish_reason": "stop",
         "prompt_tokens": 7, "completion_tokens": 2, "latency_s": 0.1235},
        {"key": "c", "engine": "scripted:x", "text": "cut", "finish_reason": "length",
         "prompt_tokens": 1, "completion_tokens": 512, "latency_s": 3},
    ]
    assert rows[1:] == [dumps(row).encode("utf-8") for row in expected] + [b""]  # byte for byte
    reopened = CallStore(tmp_path / "calls.jsonl")
    assert len(reopened) == 3 and "b" not in reopened and reopened.duplicates == 0
    assert [reopened.get(k).text for k in ("old", "a", "c")] == ["stored before", *[
        row["text"] for row in expected]]


def test_call_key_format_is_pinned():
    # Every stored call is found by this key: a change to its byte format (even one that keeps
    # it collision-safe) would make a resumed run pay for every call again.
    chat = Request.chat(
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi \u00e9 \U0001f600 \ud800 12:3"},  # a lone surrogate too
        ],
        SamplingParams(0.6, 0.95, 50, 256, 1003),
    )
    # the values the format had before it was made faster
    assert call_key("scripted:bench", chat) == "0042002b2a1a8b247f31e63bf3ebd04e"
    empty = Request.chat([{"role": "user", "content": ""}], SamplingParams())
    assert call_key("", empty) == "dffeca7e58816d5f6663ce414b90b202"
    # the settings' cached framing is no setting: equality, hashing and repr ignore it
    assert empty.params == SamplingParams() and hash(empty.params) == hash(SamplingParams())
    assert repr(empty.params) == repr(SamplingParams())


def test_call_key_framing_is_unambiguous():
    params = SamplingParams()
    pairs = [
        ([("user", "ab"), ("user", "c")], [("user", "a"), ("user", "bc")]),
        ([("user", "1:x")], [("user1", ":x")]),
        ([("user", "")], [("user", ""), ("user", "")]),
    ]
    for first, second in pairs:
        a = call_key("e", Request(tuple(first), params))
        b = call_key("e", Request(tuple(second), params))
        assert a != b
    assert call_key("e1", Request((("user", "x"),), params)) != call_key(
        "e", Request((("1user", "x"),), params)
    )


class _Watched(ScriptedBackend):
    """Records, before yielding each reply, how many rows calls.jsonl already holds."""

    batch_size = 4

    def __init__(self, path, fail_after=None):
        super().__init__(default="ok")
        self.path, self.fail_after, self.rows_seen = path, fail_after, []

    def stream(self, requests):
        for index, completion in super().stream(requests):
            if index == self.fail_after:
                raise RuntimeError("engine died")
            self.rows_seen.append(self.path.read_bytes().count(b"\n"))
            yield index, completion


def _requests(n):
    return [Request((("user", f"q{i}"),), SamplingParams()) for i in range(n)]


def test_calls_are_written_as_each_finishes(tmp_path):
    store = CallStore(tmp_path / "calls.jsonl")
    backend = _Watched(store.path)
    CallRunner(backend, store).run(_requests(6))
    assert backend.rows_seen == [0, 1, 2, 3, 4, 5]


def test_calls_finished_before_an_engine_error_are_stored(tmp_path):
    store = CallStore(tmp_path / "calls.jsonl")
    with pytest.raises(RuntimeError, match="engine died"):
        CallRunner(_Watched(store.path, fail_after=3), store).run(_requests(6))
    assert len(CallStore(store.path)) == 3
