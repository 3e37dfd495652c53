"""The openai backend on several endpoints, and its call-store identity.

Fast tests run against a small fake OpenAI-compatible server (stdlib HTTP, replies computed
from the prompt, `/v1/models` as the test sets it): the identity, the spread of requests and
the failover when an endpoint dies with requests in flight. The slow test does the same with
two real llama-cpp-python servers on the tiny GGUF, one of them killed mid-run.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from svdistill.backends import make_backend
from svdistill.backends.base import Request, SamplingParams
from svdistill.backends.openai_http import OpenAIBackend
from svdistill.generation import CallRunner
from svdistill.store import CallStore, RunError


class FakeServer:
    """An OpenAI-compatible server on 127.0.0.1 whose reply to a chat is `echo: <last user
    message>`, after `delay_s`. `models`: the `/v1/models` entries. `kill()` makes it die as a
    crashed server does: requests in flight get their connection closed without a reply, and
    the port refuses new connections."""

    def __init__(self, models: list[dict], delay_s: float = 0.0):
        self.models, self.delay_s = models, delay_s
        self.chats = 0  # chat requests answered
        self.dead = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def kill(self) -> None:
        self.dead.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.endswith("/models"):
                    return self._send({"object": "list", "data": fake.models})
                self._send({"error": "not found"}, 404)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if fake.dead.wait(fake.delay_s):  # died while this request was in flight
                    self.close_connection = True
                    return
                text = "echo: " + body["messages"][-1]["content"]
                with fake.lock:
                    fake.chats += 1
                self._send({
                    "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                })

            def _send(self, obj, status=200):
                payload = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def vllm_entry(name: str, root: str) -> dict:
    """A `/v1/models` entry as vLLM writes it (times and permissions change on every start)."""
    return {"id": name, "object": "model", "created": time.time_ns(), "owned_by": "vllm",
            "root": root, "parent": None, "max_model_len": 4096,
            "permission": [{"id": f"modelperm-{time.time_ns()}", "created": time.time_ns()}]}


@pytest.fixture
def servers():
    started: list[FakeServer] = []

    def start(models=None, delay_s=0.0) -> FakeServer:
        server = FakeServer(models or [vllm_entry("m", "/models/A")], delay_s)
        started.append(server)
        return server

    yield start
    for server in started:
        if not server.dead.is_set():
            server.kill()


def ask(i: int) -> Request:
    return Request.chat([{"role": "user", "content": f"question {i}"}],
                        SamplingParams(temperature=0.0, max_tokens=4, seed=i))


def backend(urls, model="m", **options) -> OpenAIBackend:
    options = {"backoff_initial_s": 0.01, "max_retries": 6, **options}
    return OpenAIBackend(urls, model, **options)


def test_identity_names_the_served_model_and_the_endpoints(servers):
    a, b = servers(), servers()
    one = backend(a.url).identity
    assert one == f'openai:m={{"id":"m","owned_by":"vllm","root":"/models/A"}}@{a.url}'
    # Replicas: one identity whatever the order they are listed in, and a backend string
    # with both gives the same as the backend built directly.
    both = backend([a.url, b.url]).identity
    assert both == backend([b.url, a.url]).identity == make_backend(
        f"openai:{b.url},{a.url}#m").identity
    assert both.endswith("@" + ",".join(sorted([a.url, b.url])))
    # Another restart of the same server (new times and permission ids): the same identity.
    assert backend(a.url).identity == one


def test_other_weights_under_the_same_name_are_another_engine(servers):
    a, other = servers(), servers([vllm_entry("m", "/models/B")])
    assert backend(a.url).identity != backend(other.url).identity
    with pytest.raises(RunError, match="serve different models"):
        backend([a.url, other.url]).identity  # noqa: B018


def test_a_name_the_server_does_not_serve_is_an_error(servers):
    a = servers([vllm_entry("m", "/models/A"), vllm_entry("n", "/models/N")])
    with pytest.raises(RunError, match="does not serve 'x' .it lists m, n"):
        backend(a.url, model="x").identity  # noqa: B018
    # A one-model server answers any name (llama.cpp's): its entry is the served model.
    single = servers([{"id": "/models/q.gguf", "owned_by": "llamacpp",
                       "meta": {"n_params": 494032768, "size": 397807936}}])
    assert '"size":397807936' in backend(single.url, model="x").identity


def test_no_endpoint_answering_stops_before_any_call(servers):
    dead = servers()
    dead.kill()
    with pytest.raises(RunError, match="no endpoint of openai:m answered /v1/models"):
        backend(dead.url).generate([ask(0)])


def test_concurrent_requests_are_spread_over_the_endpoints(servers):
    a, b = servers(delay_s=0.05), servers(delay_s=0.05)
    engine = backend([a.url, b.url], concurrency=4)
    replies = engine.generate([ask(i) for i in range(40)])
    assert [r.text for r in replies] == [f"echo: question {i}" for i in range(40)]
    assert a.chats + b.chats == 40 and abs(a.chats - b.chats) <= 4
    assert engine.answered == {a.url: a.chats, b.url: b.chats}


def test_a_dead_endpoint_at_start_leaves_the_work_to_the_others(servers):
    a, b = servers(), servers()
    identity = backend([a.url, b.url]).identity
    b.kill()
    engine = backend([a.url, b.url])
    with pytest.warns(UserWarning, match="did not answer /v1/models"):
        assert engine.identity == identity  # the same cache as with both alive
    replies = engine.generate([ask(i) for i in range(8)])
    assert all(r.ok for r in replies) and a.chats == 8 and not engine.failed


def test_an_endpoint_dying_mid_run_loses_no_call_and_pays_none_twice(servers, tmp_path):
    a, b = servers(delay_s=0.05), servers(delay_s=0.05)
    engine = backend([a.url, b.url], concurrency=4)
    requests = [ask(i) for i in range(40)]

    def kill_b_with_requests_in_flight():
        victim = next(e for e in engine.endpoints if e.url == b.url)
        while not (b.chats >= 3 and victim.in_flight):
            time.sleep(0.005)
        in_flight.append(victim.in_flight)
        b.kill()

    in_flight: list[int] = []
    killer = threading.Thread(target=kill_b_with_requests_in_flight, daemon=True)
    killer.start()
    store = CallStore(tmp_path / "calls.jsonl")
    generator = CallRunner(engine, store)
    replies = generator.run(requests)
    killer.join(5)
    assert in_flight and in_flight[0] >= 1  # killed with requests in flight
    assert [r.text for r in replies] == [f"echo: question {i}" for i in range(40)]
    assert generator.stats.paid == 40 and generator.stats.errors == 0
    assert engine.retried["connection"] >= in_flight[0] and not engine.failed
    assert a.chats + b.chats >= 40 and engine.answered[b.url] == b.chats
    store.close()

    # Each call stored once; a rerun (with the dead endpoint still listed) pays nothing.
    rows = (tmp_path / "calls.jsonl").read_text().splitlines()
    assert len(rows) == 40 and len({json.loads(r)["key"] for r in rows}) == 40
    again = CallRunner(backend([a.url, b.url]), CallStore(tmp_path / "calls.jsonl"))
    with pytest.warns(UserWarning, match="did not answer"):
        assert [r.text for r in again.run(requests)] == [r.text for r in replies]
    assert (again.stats.paid, again.stats.cached, again.store.duplicates) == (0, 40, 0)


# --- two real llama.cpp servers --------------------------------------------------------------


def server_process(url: str):
    """The llama_cpp.server child of this test process that listens on `url`'s port."""
    from urllib.parse import urlparse

    psutil = pytest.importorskip("psutil")
    port = str(urlparse(url).port)
    for child in psutil.Process().children():
        cmdline = child.cmdline()
        if "llama_cpp.server" in cmdline and port in cmdline:
            return child
    raise AssertionError(f"no llama_cpp.server child on port {port}")


@pytest.mark.slow
def test_two_llama_servers_one_killed_mid_run(tmp_path):
    """Two servers of the tiny model; one is killed (SIGKILL) while it has requests in flight.
    Every request completes, each is stored once, and a rerun pays no new call."""
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
    from conftest import llama_server

    from svdistill.backends import embedded

    try:
        gguf = embedded.tiny_gguf()
    except embedded.ModelFilesMissing as exc:
        pytest.skip(f"tiny model package not installed: {exc}")
    one_thread = ("--n_ctx", "1024", "--n_threads", "1", "--n_threads_batch", "1")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (llama_server(gguf, "tiny", tmp_path / "a", *one_thread) as url_a,
          llama_server(gguf, "tiny", tmp_path / "b", *one_thread) as url_b):
        spec = f"openai:{url_a},{url_b}#tiny"
        engine = make_backend(spec)
        engine.backoff_initial_s = 0.05
        victim = next(e for e in engine.endpoints if e.url == url_b)
        requests = [Request.chat([{"role": "user", "content": f"Count to {i}."}],
                                 SamplingParams(temperature=0.7, max_tokens=16, seed=i))
                    for i in range(24)]
        killed: list[tuple[int, int]] = []

        def kill_b_mid_run():
            deadline = time.time() + 300
            while time.time() < deadline:
                if engine.answered[url_b] >= 2 and victim.in_flight:
                    killed.append((engine.answered[url_b], victim.in_flight))
                    server_process(url_b).kill()
                    return
                time.sleep(0.01)

        killer = threading.Thread(target=kill_b_mid_run, daemon=True)
        killer.start()
        store = CallStore(tmp_path / "calls.jsonl")
        generator = CallRunner(engine, store)
        started = time.perf_counter()
        replies = generator.run(requests)
        killer.join(5)
        store.close()
        print(f"{time.perf_counter() - started:.1f} s; killed b after {killed}; answered "
              f"{dict(engine.answered)}; retried {dict(engine.retried)}")
        assert killed, "the second server answered too few requests to be killed mid-run"
        assert all(r.ok and r.completion_tokens > 0 for r in replies)
        assert generator.stats.paid == 24 and not engine.failed
        assert engine.answered[url_a] + engine.answered[url_b] == 24
        rows = [json.loads(r) for r in (tmp_path / "calls.jsonl").read_text().splitlines()]
        assert len(rows) == len({r["key"] for r in rows}) == 24

        with pytest.warns(UserWarning, match=f"{url_b} did not answer"):
            again = CallRunner(make_backend(spec), CallStore(tmp_path / "calls.jsonl"))
            texts = [r.text for r in again.run(requests)]
        assert texts == [r.text for r in replies]
        assert (again.stats.paid, again.stats.cached, again.store.duplicates) == (0, 24, 0)
