"""A fault-injecting HTTP proxy on 127.0.0.1 for testing the openai backend against real faults.

It forwards requests to an upstream OpenAI-compatible server and, for a chosen share of requests
(or a fixed schedule), answers with a fault instead: a 5xx, a connection reset, a stall past the
client's timeout, a 200 with a cut-off JSON body, or a slow but correct reply.

It counts what it did: `requests` (chat requests seen), `injected` (the faults, in order),
`forwarded` (requests passed upstream) and `abandoned`: for each forwarded request whose client
had hung up before the reply came back (a timeout the proxy did not cause, on a slow upstream),
the fault it carried ("malformed", "slow") or None.

With `fresh=True` every chat request finds the upstream in the same state, so that its reply
does not depend on the requests before it: the proxy forwards one request at a time, each right
after a one-token completion of an unrelated prompt. That is for llama-cpp-python's server,
whose replies otherwise do depend on the order (even seeded ones: it reuses the KV cache of the
prefix a prompt shares with the previous one and evaluates only the rest, and a batch of prompt
tokens is computed with other kernels than a single token; measured with the tiny model, 11 of
12 seeded replies at temperature 0.7 and 2 of 12 greedy ones changed when a request came right
after itself rather than after another). Retries change that order; `fresh` makes them harmless.
"""

from __future__ import annotations

import json
import random
import select
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("503", "reset", "stall", "malformed", "slow")


class FaultProxy:
    def __init__(self, upstream: str, rate: float = 0.0, faults: tuple[str, ...] = FAULTS,
                 schedule: list[str | None] | None = None, seed: int = 0, stall_s: float = 3.0,
                 fresh: bool = False, port: int = 0):
        self.upstream = upstream.rstrip("/")
        self.rate, self.faults, self.stall_s = rate, faults, stall_s
        self.fresh = fresh
        self.upstream_lock = threading.Lock()  # with fresh: held from the reset to the reply
        self.schedule = list(schedule or [])
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.requests = 0
        self.injected: list[str] = []
        self.forwarded = 0
        self.abandoned: list[str | None] = []
        self.in_flight = 0  # forwards not yet answered
        # port: a fixed one lets a second proxy stand where the first was, under the same URL
        # (the URL is part of the openai backend's call-store identity)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        # Forwards still running (a client that timed out does not wait for them) are counted
        # once they finish; the handler threads are daemons that close would not wait for.
        deadline = time.time() + 120
        while self.in_flight and time.time() < deadline:
            time.sleep(0.05)
        self.server.shutdown()
        self.server.server_close()

    def upstream_reply(self, request: urllib.request.Request, chat: bool) -> tuple[int, bytes]:
        """(status, body) of `request` sent upstream; with `fresh`, a chat request goes right
        after a one-token completion of a prompt that shares nothing with a chat prompt after
        the first token, so it is evaluated from the same cache state as every other."""
        if not (self.fresh and chat):
            return _send_upstream(request)
        reset = urllib.request.Request(
            self.upstream + "/completions", headers={"Content-Type": "application/json"},
            data=json.dumps({"prompt": " reset", "max_tokens": 1, "temperature": 0}).encode())
        with self.upstream_lock:
            _send_upstream(reset)
            return _send_upstream(request)

    def choose(self, path: str) -> str | None:
        with self.lock:
            if not path.endswith("/chat/completions"):
                return None
            self.requests += 1
            if self.schedule:
                fault = self.schedule.pop(0)
            elif self.rng.random() < self.rate:
                fault = self.rng.choice(self.faults)
            else:
                fault = None
            if fault:
                self.injected.append(fault)
            return fault

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                self._forward(b"", None)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fault = proxy.choose(self.path)
                if fault == "503":
                    return self._send(503, b'{"error": {"message": "injected overload"}}')
                if fault == "reset":
                    # SO_LINGER 0 makes close() send RST instead of FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if fault == "stall":
                    time.sleep(proxy.stall_s)
                    self.connection.close()
                    return
                if fault == "slow":
                    time.sleep(0.3)
                self._forward(body, fault)

            def _forward(self, body: bytes, fault: str | None):
                url = proxy.upstream + self.path.removeprefix("/v1")
                request = urllib.request.Request(url, data=body or None, method=self.command,
                                                 headers={"Content-Type": "application/json"})
                with proxy.lock:
                    proxy.in_flight += 1
                try:
                    status, payload = proxy.upstream_reply(
                        request, chat=self.path.endswith("/chat/completions"))
                    with proxy.lock:
                        proxy.forwarded += 1
                        if self._client_gone():
                            proxy.abandoned.append(fault)
                            return
                    cut = fault == "malformed"
                    try:
                        self._send(status, payload[: len(payload) // 2] if cut else payload)
                    except (BrokenPipeError, ConnectionResetError):  # hung up just now
                        with proxy.lock:
                            proxy.abandoned.append(fault)
                finally:
                    with proxy.lock:
                        proxy.in_flight -= 1

            def _client_gone(self) -> bool:
                # The request was read whole, so a readable socket means the client closed it.
                readable, _, _ = select.select([self.connection], [], [], 0)
                try:
                    return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    return True

            def _send(self, status: int, payload: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def _send_upstream(request: urllib.request.Request) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=600) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
