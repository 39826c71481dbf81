"""A JSON-RPC proxy on 127.0.0.1 that makes a local Anvil answer like a consortium or public node.

Besu caps eth_getLogs ranges (``--rpc-max-logs-range``, 5,000 blocks by default for some releases and
profiles), public providers cap both the range and the number of logs, each with its own error text, and
over a real network some answers are lost and batch answers come back in any order (JSON-RPC 2.0 §6
lets a server answer a batch in any order; clients match by id). The proxy does each of these:

- an eth_getLogs range wider than ``max_blocks`` is refused with the error of ``style``;
- a result with more than ``max_logs`` logs is refused, as the node would (the node's answer is read
  and thrown away, as a node that stops at the cap would);
- a share ``drop`` of read requests (never a transaction) is lost, half before the node saw it and half
  after it answered;
- batch answers are shuffled.
"""

from __future__ import annotations

import json
import random
import threading
import urllib.request
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Error objects of real nodes and providers for a range or result over their limits ({n}: the limit).
STYLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # Besu: RpcErrorType EXCEEDS_RPC_MAX_BLOCK_RANGE; no result cap of its own.
    "besu": (
        {"code": -32005, "message": "Requested range exceeds maximum RPC range limit"},
        {"code": -32005, "message": "Requested range exceeds maximum RPC range limit"},
    ),
    # Infura, as its live API answers (the range) and as its documentation says (the results).
    "infura": (
        {"code": -32602, "message": "range {span} exceeds limit of {n}"},
        {"code": -32005, "message": "query returned more than {n} results"},
    ),
    # Erigon with --rpc.blockrange.limit and --rpc.logs.maxresults.
    "erigon": (
        {"code": -32000, "message": "query block range exceeds server limit, narrow your filter: {n}"},
        {"code": -32000, "message": "query returns too many logs, narrow your filter: {n}"},
    ),
}

_WRITES = frozenset({"eth_sendRawTransaction", "eth_sendTransaction"})


@dataclass
class Profile:
    """Limits and faults of the node the proxy stands for."""

    style: str = "besu"
    max_blocks: int = 5_000
    max_logs: int = 10_000
    drop: float = 0.0
    shuffle_batches: bool = True
    seed: int = 0


class ConsortiumProxy:
    """``with ConsortiumProxy(upstream, Profile(...)) as proxy:``; clients use ``proxy.url``."""

    def __init__(self, upstream: str, profile: Profile | None = None) -> None:
        self.upstream = upstream
        self.profile = profile or Profile()
        self._rng = random.Random(self.profile.seed)
        self._lock = threading.Lock()
        #: What the proxy did: ("refused-range" | "refused-logs" | "dropped-request" | "dropped-answer" | "shuffled", method).
        self.events: Counter[tuple[str, str]] = Counter()
        self.seen: Counter[str] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answer = proxy._handle(body)
                if answer is None:
                    self.close_connection = True
                    return
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ConsortiumProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------------------ handling

    def _forward(self, body: bytes) -> bytes:
        req = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()

    def _note(self, what: str, method: str) -> None:
        with self._lock:
            self.events[(what, method)] += 1

    def _roll(self) -> float:
        with self._lock:
            return self._rng.random()

    def _handle(self, body: bytes) -> bytes | None:
        try:
            msg = json.loads(body)
        except ValueError:
            return self._forward(body)
        calls = msg if isinstance(msg, list) else [msg]
        methods = [str(c.get("method", "?")) for c in calls if isinstance(c, dict)]
        with self._lock:
            self.seen.update(methods)
        reads_only = not any(m in _WRITES for m in methods)
        p = self.profile
        if reads_only and p.drop and self._roll() < p.drop:
            if self._roll() < 0.5:
                self._note("dropped-request", methods[0] if methods else "?")
                return None
            self._forward(body)  # the node answered; the answer is lost on the way back
            self._note("dropped-answer", methods[0] if methods else "?")
            return None
        if not isinstance(msg, list):
            refused = self._refuse_logs(msg)
            return json.dumps(refused).encode() if refused is not None else self._forward(body)
        answers = json.loads(self._forward(body))
        if isinstance(answers, list) and p.shuffle_batches and len(answers) > 1:
            with self._lock:
                self._rng.shuffle(answers)
            self._note("shuffled", "batch")
        return json.dumps(answers).encode()

    def _refuse_logs(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """The error answer a capped node gives this eth_getLogs call, or None to forward it."""
        if msg.get("method") != "eth_getLogs":
            return None
        p = self.profile
        range_error, logs_error = STYLES[p.style]
        query = (msg.get("params") or [{}])[0]
        lo, hi = query.get("fromBlock"), query.get("toBlock")
        if isinstance(lo, str) and isinstance(hi, str) and lo.startswith("0x") and hi.startswith("0x"):
            span = int(hi, 16) - int(lo, 16) + 1
            if span > p.max_blocks:
                self._note("refused-range", "eth_getLogs")
                return {"jsonrpc": "2.0", "id": msg.get("id"), "error": _fill(range_error, n=p.max_blocks, span=span)}
        answer = json.loads(self._forward(json.dumps(msg).encode()))
        if isinstance(answer.get("result"), list) and len(answer["result"]) > p.max_logs:
            self._note("refused-logs", "eth_getLogs")
            return {"jsonrpc": "2.0", "id": msg.get("id"), "error": _fill(logs_error, n=p.max_logs, span=0)}
        return answer


def _fill(error: dict[str, Any], **values: int) -> dict[str, Any]:
    return {**error, "message": error["message"].format(**values)}
