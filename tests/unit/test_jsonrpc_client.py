"""The standard-library JSON-RPC client of the web3-free reads (ledger/chain/_jsonrpc.py) against a scripted node.

A node may be faulty or hostile: batch answers out of order or missing, an HTTP error page instead of JSON,
a kept-alive connection it closes between requests. Each must end in the right answer or one library error,
never in an answer matched to the wrong request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ledger import errors
from ledger.chain._jsonrpc import JsonRpc

#: (request body) -> (status, response body, close the connection after it)
Script = Callable[[Any], tuple[int, bytes, bool]]


@pytest.fixture
def node() -> Iterator[Callable[[Script], str]]:
    servers: list[ThreadingHTTPServer] = []

    def serve(script: Script) -> str:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a node serves it

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, out, close = script(body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                if close:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(out)
                if close:
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def _ok(result: Any, rid: Any = 1) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}).encode()


def test_batch_answers_out_of_order_are_matched_by_id(node) -> None:
    def script(body: Any) -> tuple[int, bytes, bool]:
        answers = [{"jsonrpc": "2.0", "id": r["id"], "result": r["method"]} for r in body]
        return 200, json.dumps(list(reversed(answers))).encode(), False

    rpc = JsonRpc(node(script))
    assert rpc.batch([("a", []), ("b", []), ("c", [])]) == ["a", "b", "c"]


def test_a_batch_answer_left_out_is_an_error_not_a_shifted_result(node) -> None:
    def script(body: Any) -> tuple[int, bytes, bool]:
        return 200, json.dumps([{"jsonrpc": "2.0", "id": r["id"], "result": r["method"]} for r in body[1:]]).encode(), False

    with pytest.raises(errors.ChainError, match="no answer to request 0"):
        JsonRpc(node(script)).batch([("a", []), ("b", [])])


def test_an_http_error_page_is_one_chain_error(node) -> None:
    rpc = JsonRpc(node(lambda body: (502, b"<html>bad gateway</html>", False)))
    with pytest.raises(errors.ChainError, match="HTTP 502"):
        rpc.request("eth_chainId", [])


def test_a_revert_is_named_and_an_error_is_a_chain_error(node) -> None:
    panic = "0x4e487b71" + (0x11).to_bytes(32, "big").hex()

    def script(body: Any) -> tuple[int, bytes, bool]:
        if body["method"] == "eth_call":
            return 200, json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": 3, "message": "x", "data": panic}}).encode(), False
        return 200, json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no such method"}}).encode(), False

    rpc = JsonRpc(node(script))
    with pytest.raises(errors.ContractRevert) as revert:
        rpc.request("eth_call", [])
    assert revert.value.error_name == "Panic"
    with pytest.raises(errors.ChainError, match="eth_foo failed: no such method"):
        rpc.request("eth_foo", [])


def test_a_connection_the_node_closes_is_reopened(node) -> None:
    count = {"n": 0}

    def script(body: Any) -> tuple[int, bytes, bool]:
        count["n"] += 1
        return 200, _ok(count["n"]), True  # every answer closes the kept-alive connection

    rpc = JsonRpc(node(script))
    assert [rpc.request("eth_blockNumber", []) for _ in range(3)] == [1, 2, 3]


def test_nothing_listening_is_connection_failed(monkeypatch) -> None:
    monkeypatch.setattr("ledger.chain._jsonrpc.BACKOFF", 0.0)
    with pytest.raises(errors.ConnectionFailed, match="cannot reach http://127.0.0.1:1"):
        JsonRpc("http://127.0.0.1:1").request("eth_chainId", [])


def test_a_url_that_is_not_http_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError):
        JsonRpc("ws://127.0.0.1:8545")
