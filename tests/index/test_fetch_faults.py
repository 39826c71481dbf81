"""The sync's own eth_getLogs path (a raw POST per thread, decoded by msgspec) against a node that
answers badly: a body cut short, an HTML error page, an answer that is not a list of logs, a refusal
of the range for its size. Each is retried or reported in one line; none is a traceback, and a
sync through a node that refuses every range above one block still builds the whole index."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from index_backends import Targets
from web3 import Web3

from ledger import Composition, Ledger, LotSpec, errors
from ledger.chain import logs as logs_module
from ledger.chain.logs import LogRangeTooLarge, fetch_logs
from ledger.chain.rpc import make_web3
from ledger.index import sync as sync_module
from ledger.index.store import EventIndex

pytestmark = pytest.mark.chain


class BadNode:
    """A proxy to a real node that spoils eth_getLogs answers as `mode` says (`times` of them, -1: all)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.times = -1
        self.spoiled = 0
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = json.loads(body)
                method = req.get("method") if isinstance(req, dict) else "batch"
                mode = node.mode if method == "eth_getLogs" and node.times != 0 else "pass"
                if mode == "range" and req["params"][0]["fromBlock"] == req["params"][0]["toBlock"]:
                    mode = "pass"  # one block at a time is served
                if mode != "pass":
                    node.times -= 1
                    node.spoiled += 1
                if mode == "html":
                    self._answer(502, b"<html><body>Bad Gateway</body></html>", "text/html")
                    return
                if mode == "range":
                    error = {"code": -32005, "message": "query returned more than 10000 results"}
                    self._answer(200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": error}).encode())
                    return
                if mode == "not-logs":
                    self._answer(200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": "0x1"}).encode())
                    return
                up = urllib.request.Request(node.upstream, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(up, timeout=30) as r:
                    answer = r.read()
                if mode == "cut":  # announce the whole body, send half, hang up
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer[: len(answer) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._answer(200, answer)

            def _answer(self, status: int, payload: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bad_node(chain: Any) -> Iterator[BadNode]:
    chain["miner"].mint_many(
        [LotSpec(lot_id=f"FF-{k}", material="ORE-NI", mass=500 + k, composition=Composition.of({"Ni": 5})) for k in range(8)],
        batch_size=3,
    )
    node = BadNode(chain.base.w3.provider.endpoint_uri)
    yield node
    node.close()


def _range(chain: Any) -> tuple[list[str], int, int]:
    d = chain.base.deployment
    return [d.ledger, d.attestations], d.block, int(chain.rpc("eth_blockNumber"), 16)


def _w3(url: str) -> Web3:
    return make_web3(url, timeout=10)


def test_body_cut_short_is_retried(chain: Any, bad_node: BadNode) -> None:
    addresses, lo, hi = _range(chain)
    direct = fetch_logs(chain.base.w3, addresses, lo, hi)
    bad_node.mode, bad_node.times = "cut", 2
    assert fetch_logs(_w3(bad_node.url), addresses, lo, hi, retries=3) == direct
    assert bad_node.spoiled == 2


@pytest.mark.parametrize("mode, words", [("html", "HTTP 502"), ("not-logs", "not a list of logs"), ("cut", "cannot reach")])
def test_answer_spoiled_every_time_is_one_line_error(chain: Any, bad_node: BadNode, mode: str, words: str) -> None:
    addresses, lo, hi = _range(chain)
    bad_node.mode = mode
    with pytest.raises(errors.ChainError) as caught:
        fetch_logs(_w3(bad_node.url), addresses, lo, hi, retries=1)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert not isinstance(caught.value, LogRangeTooLarge)
    assert bad_node.spoiled == 2  # tried, retried once, given up


def test_node_refusing_ranges_still_gives_the_whole_index(chain: Any, bad_node: BadNode, index_at: Targets) -> None:
    """A node that refuses any range of more than one block for its size: the sync narrows to
    single blocks and stores what a sync through a well-behaved node stores."""
    addresses, lo, hi = _range(chain)
    bad_node.mode = "range"
    with pytest.raises(LogRangeTooLarge):
        fetch_logs(_w3(bad_node.url), addresses, lo, hi)
    through = Ledger(_w3(bad_node.url), chain.base.chain_id, chain.base.deployment)
    a, b = EventIndex.open(index_at("bad")), EventIndex.open(index_at("good"))
    assert a.sync(through, to_block=hi).events == b.sync(chain.base, to_block=hi).events > 10
    query = "SELECT * FROM events ORDER BY id"
    assert a.conn.execute(query).fetchall() == b.conn.execute(query).fetchall()
    assert a.conn.execute("SELECT * FROM lots ORDER BY 1").fetchall() == b.conn.execute("SELECT * FROM lots ORDER BY 1").fetchall()
    assert bad_node.spoiled > 1
    a.close()
    b.close()


# ------------------------------------------------------------------ answers read piece by piece
# The sync reads each eth_getLogs answer as it arrives and stores it a piece at a time (no block's answer
# is held whole: on a bulk node one block holds ~100,000 events). The pieces here are ~1.5 kB, about one
# LotCreated, so that a block of 24 is many pieces.


@pytest.fixture
def big_block(chain: Any, bad_node: BadNode, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[int]]:
    """One block of 24 LotCreated after the fixture's; returns (its number, the sizes of the pieces built)."""
    chain["miner"].mint_many(
        [LotSpec(lot_id=f"BB-{k}", material="ORE-NI", mass=700 + k, composition=Composition.of({"Ni": 5})) for k in range(24)],
        batch_size=24,
    )
    block = int(chain.rpc("eth_blockNumber"), 16)
    monkeypatch.setattr(logs_module, "PIECE_BYTES", 1_500)
    sizes: list[int] = []
    real = sync_module._rows_by_log

    def counting(logs: Any, slots: Any) -> Any:
        sizes.append(len(logs))
        return real(logs, slots)

    monkeypatch.setattr(sync_module, "_rows_by_log", counting)
    return block, sizes


def _same(a: EventIndex, b: EventIndex) -> None:
    for query in ("SELECT * FROM events ORDER BY id", "SELECT * FROM lots ORDER BY 1", "SELECT * FROM blocks ORDER BY 1"):
        assert a.conn.execute(query).fetchall() == b.conn.execute(query).fetchall()


def test_a_block_is_stored_in_pieces_and_gives_the_same_index(
    chain: Any, big_block: tuple[int, list[int]], index_at: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    block, sizes = big_block
    a = EventIndex.open(index_at("pieces"))
    assert a.sync(chain.base, to_block=block).events > 24
    assert sizes and max(sizes) < 24 and sum(sizes) >= 24  # no piece held the block's 24 logs
    monkeypatch.setattr(logs_module, "PIECE_BYTES", 1 << 22)
    b = EventIndex.open(index_at("whole"))
    b.sync(chain.base, to_block=block)
    assert max(sizes) > 24  # that one read each answer whole
    _same(a, b)
    a.close()
    b.close()


def test_an_answer_cut_after_some_pieces_is_fetched_again(
    chain: Any, bad_node: BadNode, big_block: tuple[int, list[int]], index_at: Targets
) -> None:
    """The node hangs up twice in the middle of the block's answer, after pieces of it were stored in the
    open transaction: those are rolled back and the range fetched again; the index is the direct one."""
    block, sizes = big_block
    a, b = EventIndex.open(index_at("cut")), EventIndex.open(index_at("direct"))
    a.sync(chain.base, to_block=block - 1)
    before = sum(sizes)
    bad_node.mode, bad_node.times = "cut", 2
    through = Ledger(_w3(bad_node.url), chain.base.chain_id, chain.base.deployment)
    assert a.sync(through, to_block=block).events == 24
    assert bad_node.spoiled == 2
    assert sum(sizes) - before > 24  # pieces of a cut answer were built, then dropped with their transaction
    b.sync(chain.base, to_block=block)
    _same(a, b)
    a.close()
    b.close()


def test_an_answer_cut_every_time_leaves_none_of_its_chunk(
    chain: Any, bad_node: BadNode, big_block: tuple[int, list[int]], index_at: Targets
) -> None:
    """Readers never see half a chunk: pieces of a cut answer were inserted, none of them stays."""
    block, sizes = big_block
    a = EventIndex.open(index_at("cut"))
    a.sync(chain.base, to_block=block - 1)
    events, before = a.event_count(), sum(sizes)
    bad_node.mode = "cut"
    through = Ledger(_w3(bad_node.url), chain.base.chain_id, chain.base.deployment)
    with pytest.raises(errors.ChainError) as caught:
        a.sync(through, to_block=block, retries=1)
    assert "\n" not in str(caught.value)
    assert sum(sizes) > before  # some of the block's pieces were inserted before the cut
    assert (a.synced_block, a.event_count()) == (block - 1, events)
    assert a.conn.execute("SELECT COUNT(*) FROM blocks WHERE number >= ?", (block,)).fetchone()[0] == 0
    a.close()


def test_the_next_range_asked_for_while_one_streams_gives_the_same_index(
    chain: Any, big_block: tuple[int, list[int]], index_at: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a range holds so many logs that the next one is one block whatever else comes, the next is
    asked for while this one still streams in (a second fetch thread); the index is the same."""
    block, _ = big_block
    chain["miner"].mint_many(
        [LotSpec(lot_id=f"BC-{k}", material="ORE-NI", mass=900 + k, composition=Composition.of({"Ni": 5})) for k in range(12)],
        batch_size=12,
    )
    head = int(chain.rpc("eth_blockNumber"), 16)
    monkeypatch.setattr(sync_module, "_TARGET_LOGS", 2)
    early: list[bool] = []
    reading = [False]
    real_pieces, real_submit = sync_module._ThreadFetch.pieces, sync_module._ThreadFetch.submit

    def pieces(self: Any, chunk: Any) -> Any:
        for piece in real_pieces(self, chunk):
            reading[0] = not piece[4]
            yield piece
        reading[0] = False

    def submit(self: Any, lo: int, hi: int) -> Any:
        early.append(reading[0])
        return real_submit(self, lo, hi)

    monkeypatch.setattr(sync_module._ThreadFetch, "pieces", pieces)
    monkeypatch.setattr(sync_module._ThreadFetch, "submit", submit)
    a = EventIndex.open(index_at("early"))
    assert a.sync(chain.base, to_block=head).events > 36
    assert any(early)
    monkeypatch.undo()
    b = EventIndex.open(index_at("plain"))
    b.sync(chain.base, to_block=head)
    _same(a, b)
    a.close()
    b.close()


def test_ranges_the_fetch_thread_guesses_give_the_same_index(chain: Any, index_at: Targets, monkeypatch: pytest.MonkeyPatch) -> None:
    """A range read whole before the sync reaches it makes the fetch thread ask for the next one at once
    (through empty blocks too); the sync takes those guesses, and the index is the one a sync without
    them builds."""
    for k in range(6):  # small blocks, empty ones between them
        chain["miner"].mint(LotSpec(lot_id=f"GU-{k}", material="ORE-NI", mass=300 + k, composition=Composition.of({"Ni": 5})))
        chain.rpc("evm_mine")
    head = int(chain.rpc("eth_blockNumber"), 16)
    monkeypatch.setattr(sync_module, "_TARGET_LOGS", 1)  # ranges of a block or two: many of them
    taken: list[tuple[int, int]] = []
    real_submit = sync_module._ThreadFetch.submit

    def submit(self: Any, lo: int, hi: int) -> Any:
        guessed = (lo, hi) in self._guessed
        chunk = real_submit(self, lo, hi)
        if guessed and chunk.range == (lo, hi):
            taken.append((lo, hi))
        return chunk

    monkeypatch.setattr(sync_module._ThreadFetch, "submit", submit)
    a = EventIndex.open(index_at("guessed"))
    assert a.sync(chain.base, to_block=head).events >= 6
    assert taken  # some ranges were asked for by the fetch thread before the sync asked
    monkeypatch.setattr(sync_module._ThreadFetch, "_guess", lambda self, chunk, logs: None)
    b = EventIndex.open(index_at("unguessed"))
    b.sync(chain.base, to_block=head)
    _same(a, b)
    a.close()
    b.close()
