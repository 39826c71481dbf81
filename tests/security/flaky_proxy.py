"""A small, threaded JSON-RPC proxy on 127.0.0.1 that loses or delays some requests on purpose.

For each POST it decides, from a seeded random generator or a script of planned faults:

- ``drop-request``: close the connection without forwarding (the node never sees the request);
- ``drop-response``: forward, let the node execute it, then close the connection without answering
  (the node did it, the client cannot know);
- ``delay``: wait, then forward and answer (if longer than the client's timeout, the node may see
  the request after the client retried it);
- ``slow-response``: forward, let the node execute it, answer only after the delay (if longer than the
  client's timeout: the node did it, the client timed out);
- ``pass``: forward and answer.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Decision = str  # "pass" | "drop-request" | "drop-response" | "delay" | "slow-response"


@dataclass
class Faults:
    """How often each fault happens; `methods` limits faults to those JSON-RPC methods (batches: "batch")."""

    drop_request: float = 0.0
    drop_response: float = 0.0
    delay: float = 0.0
    delay_seconds: float = 0.2
    methods: frozenset[str] | None = None
    seed: int = 0
    #: Planned faults: (method, n-th request of that method counting from 1, decision).
    script: list[tuple[str, int, Decision]] = field(default_factory=list)


class FlakyProxy:
    """Start with `with FlakyProxy(upstream, faults) as proxy:`; `proxy.url` is what clients use."""

    def __init__(self, upstream: str, faults: Faults | None = None) -> None:
        self.upstream = upstream
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self.seen: Counter[str] = Counter()  # requests per method
        self.injected: Counter[tuple[str, Decision]] = Counter()  # faults per (method, decision)
        self.enabled = True
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                decision = proxy._decide(body)
                if decision == "drop-request":
                    self.close_connection = True
                    return
                if decision == "delay":
                    time.sleep(proxy.faults.delay_seconds)
                try:
                    answer = proxy._forward(body)
                except OSError:
                    self.close_connection = True
                    return
                if decision == "drop-response":
                    self.close_connection = True
                    return
                if decision == "slow-response":
                    time.sleep(proxy.faults.delay_seconds)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the client gave up (timeout) meanwhile
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _method(self, body: bytes) -> str:
        try:
            msg = json.loads(body)
        except ValueError:
            return "?"
        if isinstance(msg, list):
            return "batch"
        return str(msg.get("method", "?")) if isinstance(msg, dict) else "?"

    def _decide(self, body: bytes) -> Decision:
        method = self._method(body)
        f = self.faults
        with self._lock:
            self.seen[method] += 1
            n = self.seen[method]
            if not self.enabled:
                return "pass"
            decision: Decision = "pass"
            for m, k, d in f.script:
                if m == method and k == n:
                    decision = d
                    break
            else:
                if f.methods is None or method in f.methods:
                    x = self._rng.random()
                    if x < f.drop_request:
                        decision = "drop-request"
                    elif x < f.drop_request + f.drop_response:
                        decision = "drop-response"
                    elif x < f.drop_request + f.drop_response + f.delay:
                        decision = "delay"
            if decision != "pass":
                self.injected[(method, decision)] += 1
            return decision

    def _forward(self, body: bytes) -> bytes:
        req = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()


def when(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)
