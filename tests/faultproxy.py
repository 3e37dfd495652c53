"""A fault-injecting HTTP proxy on 127.0.0.1 for testing the openai backend against real faults.

It forwards requests to an upstream OpenAI-compatible server and, for a chosen share of requests
(or a fixed schedule), answers with a fault instead: a 5xx, a connection reset, a stall past the
client's timeout, a 200 with a cut-off JSON body, or a slow but correct reply.
"""

from __future__ import annotations

import random
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
                 schedule: list[str | None] | None = None, seed: int = 0, stall_s: float = 3.0):
        self.upstream = upstream.rstrip("/")
        self.rate, self.faults, self.stall_s = rate, faults, stall_s
        self.schedule = list(schedule or [])
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: list[str] = []
        self.forwarded = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def choose(self, path: str) -> str | None:
        with self.lock:
            if not path.endswith("/chat/completions"):
                return None
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
                self._forward(b"")

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
                self._forward(body, cut=fault == "malformed")

            def _forward(self, body: bytes, cut: bool = False):
                url = proxy.upstream + self.path.removeprefix("/v1")
                request = urllib.request.Request(url, data=body or None, method=self.command,
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=600) as reply:
                        status, payload = reply.status, reply.read()
                except urllib.error.HTTPError as exc:
                    status, payload = exc.code, exc.read()
                with proxy.lock:
                    proxy.forwarded += 1
                self._send(status, payload[: len(payload) // 2] if cut else payload)

            def _send(self, status: int, payload: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
