"""The sync's fetch process (opt-in: ``RINNE_SYNC_FETCH=process``): eth_getLogs, msgspec decoding and
the index rows, beside the process that stores them.

A thread cannot do this work beside the store: decoding and row building are Python, and sqlite3's
``executemany`` gives up the GIL around every row's step and must win it back from the busy thread
(docs/performance.md, section 3). A forked process has its own GIL: the parent only reads the node's
small answers, checks them and runs the inserts. It is not the default: it costs about 0.25 CPU
seconds more per 100,000 events (pickling the rows, the pages the fork copies), time lost wherever the
cores are busy anyway (on the shared 2-core machine: 4 % faster than the thread at load 1.4, no faster
at 3.5; docs/performance.md, section 3), and forking an application that runs other threads can leave
the child stuck on a lock one of them held. It pays where spare cores let both processes run at once.

What the process hands over is what :func:`ledger.index.sync._rows_by_log` makes of the node's logs,
plus the blocks' (number, hash, timestamp) marks of those logs and the chunk's tip read before them.
Every check of the node's answer stays in the parent (:meth:`ledger.index.sync.SyncMixin._confirm`, the
reorg check), on what the process read; the process is our own code, not a party to distrust.

The process is forked, not spawned: a spawned one would import web3 again (over a second) before its
first request. It never touches what it inherited beyond the provider's URL and request settings (not
the parent's HTTP sessions, nor its index connection) and leaves with ``os._exit``, so no inherited
object is finalized twice.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import pickle
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from ledger import errors
from ledger.chain import rpc
from ledger.chain.logs import fetch_logs
from ledger.chain.rpc import call_decoded, raise_rpc_error

if TYPE_CHECKING:
    from web3 import Web3

#: What one fetch gives: the chunk's tip block as read before its logs (None: missing), the number of
#: logs, their blocks' (number, hash, timestamp) marks, and the rows (ledger.index.sync._Rows), or the
#: error building them raised (raised by the parent where it stores them, after its checks).
Fetched = tuple[Any, int, list[tuple[str, str, str | None]], Any]
#: One piece of a fetch as the sync stores it: a :data:`Fetched`, whether it is the range's last piece
#: (the process answers a range in one piece; the sync's thread in several, ledger.index.sync._ThreadFetch),
#: and on the last piece of the thread's the range's last block and the block before the range as read
#: after the logs (ledger.index.sync._After; None: the sync reads them itself).
Piece = tuple[Any, int, list[tuple[str, str, str | None]], Any, bool, Any]


def usable(w3: Web3) -> bool:
    """Whether the sync fetches through a process: asked for (``RINNE_SYNC_FETCH=process``), an HTTP
    provider (its URL and request settings are all the process needs), a platform that forks."""
    provider = w3.provider
    url = getattr(provider, "endpoint_uri", None)
    return (
        isinstance(url, str)
        and url.startswith(("http://", "https://"))
        and getattr(provider, "get_request_kwargs", None) is not None
        and "fork" in multiprocessing.get_all_start_methods()
        and os.environ.get("RINNE_SYNC_FETCH") == "process"
    )


class FetchProcess:
    """A forked process answering fetches of block ranges, one at a time, in the order asked."""

    def __init__(self, w3: Web3, addresses: Sequence[str], slots: Mapping[str, int], retries: int, plan: tuple[int, int]) -> None:
        """Fork the process; `plan` is (last block, most blocks a range), for it to guess the next range."""
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._asked = 0  # fetches sent
        self._answered = 0  # answers read (an abandoned fetch's answer is read and dropped)
        self._proc = ctx.Process(
            target=_serve,
            args=(child, self._conn, w3, list(addresses), dict(slots), retries, plan),
            name="rinne-sync-fetch",
            daemon=True,
        )
        self._proc.start()
        child.close()

    def submit(self, lo: int, hi: int) -> int:
        """Ask for blocks `lo`..`hi`; returns the ticket :meth:`result` takes."""
        try:
            self._conn.send((lo, hi))
        except OSError:
            raise errors.ChainError("the sync's fetch process ended unexpectedly: sync again") from None
        self._asked += 1
        return self._asked

    def result(self, ticket: int) -> Fetched:
        """The answer to fetch `ticket` (answers before it are dropped); the process's error raises here."""
        while True:
            try:
                body = self._conn.recv_bytes()
            except (EOFError, OSError):
                raise errors.ChainError("the sync's fetch process ended unexpectedly: sync again") from None
            self._answered += 1
            if self._answered < ticket:
                continue
            try:
                kind, value = pickle.loads(body)
            except Exception as exc:  # an exception class whose arguments do not rebuild it
                raise errors.ChainError(f"the sync's fetch process failed ({type(exc).__name__}): sync again") from None
            if kind == "error":
                raise value
            out: Fetched = value
            return out

    def drop(self, ticket: int) -> None:
        """Nothing to stop: an answer the sync does not read is dropped unread by :meth:`result`."""

    def pieces(self, ticket: int) -> Iterator[Piece]:
        """The answer to fetch `ticket` as the sync's pieces: one, the last."""
        tip, n_logs, marks, got = self.result(ticket)
        yield tip, n_logs, marks, got, True, None

    def close(self) -> None:
        """Stop the process (at once: a fetch still running is not waited for)."""
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._conn.close()
        self._proc.join(timeout=0.5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()


def _tip_decoder(body: bytes) -> Any:
    try:
        response = json.loads(body)
    except ValueError:
        raise errors.ChainError("eth_getBlockByNumber failed: the node's answer is not JSON") from None
    if not isinstance(response, dict):
        raise errors.ChainError("eth_getBlockByNumber failed: the node's answer is not a JSON-RPC response")
    if response.get("error") is not None:
        raise_rpc_error("eth_getBlockByNumber", response["error"])
    return response.get("result")


def _tip(w3: Web3, block: int) -> Any:
    # Retried on transport failures as web3 retries the thread's reads (rpc._RETRY).
    for attempt in range(rpc._RETRY.retries):
        try:
            return call_decoded(w3, "eth_getBlockByNumber", [hex(block), False], _tip_decoder)
        except errors.ConnectionFailed:
            rpc.close_sessions()
            if attempt == rpc._RETRY.retries - 1:
                raise
            time.sleep(rpc._RETRY.backoff_factor * 2**attempt)
    raise AssertionError("unreachable")


def _serve(
    conn: Connection,
    parent_end: Connection,
    w3: Web3,
    addresses: list[str],
    slots: dict[str, int],
    retries: int,
    plan: tuple[int, int],
) -> None:
    """The process: answer (lo, hi) requests until None or the parent's end closes."""
    from ledger.index.sync import _block_marks, _next_span, _rows_by_log

    parent_end.close()
    # What was inherited stays out of the collector's passes: a pass over it would touch (and so
    # copy) every page of the parent's heap.
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this process
    # The HTTP sessions of the thread that forked belong to the parent's sockets: never use them here.
    rpc._SESSIONS.__dict__.pop("by_url", None)
    target, chunk_blocks = plan

    def fetch(lo: int, hi: int) -> tuple[Any, Any]:
        # The chunk's last block before its logs, as the thread does (SyncMixin._sync's fetch).
        tip = _tip(w3, hi)
        return tip, fetch_logs(w3, addresses, lo, hi, retries=retries)

    # While the rows of one range are built and handed over, a thread already fetches the range the
    # parent will most likely ask for next (the parent's own sizing rule, _next_span): the node works
    # while this process builds. A guess the parent does not ask for is dropped unread.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rinne-sync-fetch")
    guessed: tuple[tuple[int, int], Future[tuple[Any, Any]]] | None = None
    try:
        while True:
            try:
                asked = conn.recv()
            except (EOFError, OSError):
                break
            if asked is None:
                break
            lo, hi = asked
            out: tuple[str, Any]
            try:
                if guessed is not None and guessed[0] == (lo, hi):
                    fetching = guessed[1]
                else:
                    fetching = pool.submit(fetch, lo, hi)
                guessed = None
                tip, logs = fetching.result()
                if hi < target:
                    span = _next_span(hi - lo + 1, hi - lo + 1, len(logs), chunk_blocks)
                    nxt = (hi + 1, min(hi + span, target))
                    guessed = (nxt, pool.submit(fetch, *nxt))
                rows: Any
                gc.disable()  # as SyncMixin._ingest_records: no cycles among the rows, no passes over them
                try:
                    rows = _rows_by_log(logs, slots)
                except errors.ChainError as exc:  # raised where the parent would have built the rows
                    rows = exc
                finally:
                    gc.enable()
                out = ("ok", (tip, len(logs), _block_marks(logs), rows))
                del logs
            except Exception as exc:  # the parent raises it where the thread's future would
                out = ("error", exc)
            try:
                body = pickle.dumps(out, protocol=5)
            except Exception as exc:  # an error that does not pickle: its words
                body = pickle.dumps(("error", errors.ChainError(f"{type(exc).__name__}: {out[1]}")), protocol=5)
            del out
            try:
                conn.send_bytes(body)
            except OSError:
                break
            del body
    finally:
        os._exit(0)  # nothing inherited from the parent is finalized here (nor the fetch thread waited for)
