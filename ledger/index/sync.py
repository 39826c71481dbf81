"""Filling the index: chunked, retried, reorg-safe eth_getLogs ranges, and the relation rows each event gives."""

from __future__ import annotations

import functools
import gc
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from ledger import errors
from ledger.chain.logs import (
    ATTESTATIONS,
    LEDGER,
    EventLayout,
    LogRangeTooLarge,
    LogRecord,
    LogStreamBroken,
    layouts,
    log_records,
    split_topics,
    stream_logs,
)
from ledger.chain.rpc import batch, call, close_sessions
from ledger.domain.models import Deployment
from ledger.index import _fetcher
from ledger.index.base import _LOG_BITS, IndexBase

if TYPE_CHECKING:
    from web3 import Web3

    from ledger.client.ledger import Ledger


@dataclass(frozen=True)
class SyncProgress:
    """Where a sync stands: blocks `start`..`target`, done up to `block`, `events` indexed so far."""

    start: int
    target: int
    block: int
    events: int

    @property
    def fraction(self) -> float:
        """Share of the block range done, 0 to 1."""
        span = self.target - self.start + 1
        return 1.0 if span <= 0 else min(1.0, (self.block - self.start + 1) / span)


@dataclass(frozen=True)
class SyncResult:
    """What one sync did."""

    from_block: int
    to_block: int
    events: int
    reorged_from: int | None
    seconds: float


#: Blocks an eth_getLogs of the check asks for at once (a node's result limit splits a span further).
_LOG_SPAN = 10_000


class _ReorgDuringChunk(errors.ChainError):
    """The blocks of a chunk changed while it was being fetched; nothing of it was stored."""


def _created_row(eid: int, lot: bytes, holder: bytes, material: bytes, data: bytes) -> tuple[Any, ...]:
    """The lots row of a LotCreated from its three indexed topics and its data, without decoding
    the composition: (lot, event, material, mass, origin, holder as lowercase hex)."""
    return (lot, eid, material, int.from_bytes(data[0:32], "big"), data[32:64], "0x" + holder[12:].hex())


def _derive(
    eid: int,
    layout: EventLayout | None,
    topics: list[bytes],
    data: bytes,
    lots: list[tuple[Any, ...]],
    ins: list[tuple[Any, ...]],
    outs: list[tuple[Any, ...]],
    atts: list[tuple[Any, ...]],
    units: list[tuple[bytes]],
) -> None:
    """Append the relation rows (lots, op_in, op_out, attested, units) one event gives."""
    if layout is None:
        return
    name = layout.name
    if name == "LotCreated" and len(topics) == 4:
        lots.append(_created_row(eid, topics[1], topics[2], topics[3], data))
    elif name == "LotCreated":
        a = layout.decode(topics, data)
        lots.append((a["lotId"], eid, a["material"], a["mass"], a["origin"], a["holder"]))
    elif name == "LotsTransformed":
        a = layout.decode(topics, data)
        ins.extend((eid, k, lot, used) for k, (lot, used) in enumerate(zip(a["inputs"], a["usedMasses"])))
        outs.extend((eid, k, lot) for k, lot in enumerate(a["outputs"]))
    elif name == "UnitCreated":
        units.append((topics[1],))
    elif name in ("Attested", "InventoryAttested"):
        atts.append((topics[1], topics[2], eid))


#: Events that give relation rows (:func:`_derive`).
_DERIVED = frozenset(("LotCreated", "LotsTransformed", "UnitCreated", "Attested", "InventoryAttested"))

#: Logs one eth_getLogs response of a sync aims at (a single block can hold more: it is not split).
_TARGET_LOGS = 5_000

#: Blocks a first sync must span before it builds the secondary indexes at the end instead of row by row.
_BULK_BLOCKS = 8

#: What :func:`_kind` says of an event: its layout, name, position of its key topic (0: none), whether it gives relation rows.
_Kind = tuple[EventLayout | None, str, int, bool]


def _next_span(span: int, blocks: int, logs: int, chunk_blocks: int) -> int:
    """The block span to ask for after a range of `blocks` blocks gave `logs` logs, the last span being `span`."""
    return max(1, min(chunk_blocks, span * 2, blocks * _TARGET_LOGS // max(logs, 1)))


def _key_position(name: str, n_topics: int) -> int:
    """Which topic is the key of an event (the lot, unit, uid or account it is about); 0 for none."""
    if name in ("LotsTransformed", "AdminTransferred", "AdminTransferStarted", "?") or n_topics < 2:
        return 0
    if name in ("Attested", "InventoryAttested"):
        return 2 if n_topics > 2 else 0  # the lot
    return 1  # lot, unit, uid (Revoked) or account (registry)


def _key(name: str, topics: list[bytes]) -> bytes | None:
    k = _key_position(name, len(topics))
    return topics[k] if k else None


def _kind(lay: dict[tuple[int, bytes], EventLayout], slot: int, topics: list[bytes]) -> _Kind:
    """What the index needs to know of an event of this contract, first topic and topic count."""
    layout = lay.get((slot, topics[0])) if topics else None
    name = layout.name if layout else "?"
    return layout, name, _key_position(name, len(topics)), layout is not None and name in _DERIVED


def _block_marks(logs: list[LogRecord]) -> list[tuple[str, str, str | None]]:
    """The distinct (block number, block hash, block timestamp) strings of the logs that are not removed
    (a removed log is not stored: its block says nothing of the branch)."""
    if any(map(attrgetter("removed"), logs)):
        logs = [x for x in logs if not x.removed]
    return list(
        dict.fromkeys(
            zip(map(attrgetter("blockNumber"), logs), map(attrgetter("blockHash"), logs), map(attrgetter("blockTimestamp"), logs))
        )
    )


#: Pieces a range's fetch thread reads before the sync takes them (:class:`_Chunk`).
_AHEAD = 4


class _Chunk:
    """One range the fetch thread reads: its pieces, handed over one at a time."""

    def __init__(self, lo: int, hi: int) -> None:
        self.range = (lo, hi)
        # _AHEAD pieces waiting here, one the thread holds back to say whether it is the last: a range
        # asked for early reads that far before the sync takes it, so that a small one is read whole
        # and the range after it asked for at once (_ThreadFetch._guess). With the one being stored and
        # the next range's, a sync holds about a dozen pieces, however large a block's answer.
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=_AHEAD)
        self.dropped = threading.Event()

    def hand(self, item: Any) -> bool:
        """Hand `item` over, waiting while the one before is still there; False once the range is dropped."""
        while not self.dropped.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False


@dataclass(frozen=True)
class _After:
    """What the fetch thread read after a range's logs: its last block and the block before it (None:
    missing, or `first` is block 0), for the sync's checks to take instead of asking the node again."""

    first: int
    end_block: Any
    before: Any


class _ThreadFetch:
    """Fetches in a thread (the default; see :mod:`ledger.index._fetcher` for the process): the interface of
    :class:`ledger.index._fetcher.FetchProcess`, the logs handed over as they are, a piece of the
    answer at a time (:func:`ledger.chain.logs.stream_logs`; the rows are built by the main thread:
    built beside its inserts they would fight them for the GIL)."""

    def __init__(self, w3: Web3, addresses: list[str], retries: int, plan: tuple[int, int]) -> None:
        """`plan` is (last block, most blocks a range), for the fetch threads to guess the next range."""
        self._w3, self._addresses, self._retries = w3, addresses, retries
        self._target, self._chunk_blocks = plan
        # Two threads: the next range is asked for while this one's answer still streams in (the node
        # builds a whole answer before its first byte: ~1.5 s for a block of 100,000 events).
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rinne-sync")
        self._chunks: list[_Chunk] = []
        self._lock = threading.Lock()
        self._furthest = -1  # the first block of the furthest range asked for
        self._guessed: dict[tuple[int, int], _Chunk] = {}  # ranges the fetch threads asked for before the sync did

    def _guess(self, chunk: _Chunk, logs: int) -> None:
        """The range of `chunk`, `logs` logs, was read whole: ask at once for the range the sync will ask
        for next by its own rule (_next_span), unless a later one was asked for already. Through empty
        or small ranges the node keeps building answers instead of waiting for the sync to reach them."""
        lo, hi = chunk.range
        span = _next_span(hi - lo + 1, hi - lo + 1, logs, self._chunk_blocks)
        with self._lock:
            if self._furthest > lo or hi >= self._target or chunk.dropped.is_set():
                return
            nxt = (hi + 1, min(hi + span, self._target))
            self._guessed[nxt] = self._start(*nxt)

    def _fetch(self, lo: int, hi: int, chunk: _Chunk) -> None:
        try:
            # A chunk's last block is read before its logs and again after them (_confirm): the logs are
            # of the branch that block is on; the block before the chunk, read after them too, ties that
            # branch to the blocks stored before (_continues).
            tip = call(self._w3, "eth_getBlockByNumber", [hex(hi), False])
            stream = stream_logs(self._w3, self._addresses, lo, hi, retries=self._retries)
            try:
                held = next(stream)
                n_logs = len(held)
                for logs in stream:
                    if not chunk.hand((tip, held, False, None)):
                        return
                    held = logs
                    n_logs += len(held)
                self._guess(chunk, n_logs)
                # The reads the sync's checks take after the logs (_confirm, _continues), made here while
                # the sync still stores the pieces before: no round trip to the node between two ranges.
                ends = [hi, lo - 1] if lo > 0 else [hi]
                after = batch(self._w3, [("eth_getBlockByNumber", [hex(b), False]) for b in ends])
                chunk.hand((tip, held, True, _After(lo, after[0], after[1] if lo > 0 else None)))
            finally:
                stream.close()
        except BaseException as exc:  # raised in the main thread, where it takes the piece
            chunk.hand(exc)

    def _start(self, lo: int, hi: int) -> _Chunk:
        chunk = _Chunk(lo, hi)
        self._furthest = max(self._furthest, lo)
        self._chunks = [c for c in self._chunks if not c.dropped.is_set()] + [chunk]
        self._pool.submit(self._fetch, lo, hi, chunk)
        return chunk

    def submit(self, lo: int, hi: int) -> _Chunk:
        with self._lock:
            guessed = self._guessed.pop((lo, hi), None)
            for stale in [r for r in self._guessed if r[0] <= lo]:  # a guess the sync did not follow
                self._guessed.pop(stale).dropped.set()
            if guessed is not None and not guessed.dropped.is_set():
                return guessed
            return self._start(lo, hi)

    def drop(self, chunk: _Chunk) -> None:
        # A range the sync will not read further: its thread stops at its next piece instead of
        # waiting to hand it over.
        chunk.dropped.set()

    def pieces(self, chunk: _Chunk) -> Iterator[_fetcher.Piece]:
        while True:
            item = chunk.queue.get()
            if isinstance(item, BaseException):
                raise item
            tip, logs, last, after = item
            box = [(tip, len(logs), _block_marks(logs), logs, last, after)]
            del item, logs  # held by the caller alone while it stores them
            yield box.pop()
            if last:
                return

    def close(self) -> None:
        with self._lock:
            self._target = -1  # no more guesses
            for chunk in self._chunks:
                chunk.dropped.set()
        # The HTTP sessions are per thread: each of the two closes its own, after the fetch it may still run.
        both = threading.Barrier(2)

        def close_own() -> None:
            try:
                both.wait(timeout=60)
            except threading.BrokenBarrierError:
                pass
            close_sessions()

        for _ in range(2):
            self._pool.submit(close_own)
        self._pool.shutdown(wait=True)


class SyncMixin(IndexBase):
    """Sync, ingest and rollback of an :class:`EventIndex`."""

    def sync(
        self,
        ledger: Ledger,
        progress: Callable[[SyncProgress], None] | None = None,
        *,
        confirmations: int | None = None,
        chunk_blocks: int = 5_000,
        to_block: int | None = None,
        retries: int = 5,
    ) -> SyncResult:
        """Bring the index up to `confirmations` blocks behind the chain head (default: the ledger's).

        Resumes where the last sync stopped; first checks that the blocks it indexed are still on the
        chain and re-syncs from the fork when they are not. `progress` is called after every chunk.
        """
        deployment = ledger.deployment
        if deployment is None:
            raise errors.NotDeployed(f"no Rinne deployment recorded for chain {ledger.chain_id}: nothing to index")
        with self.writing():
            return self._sync(ledger, deployment, progress, confirmations, chunk_blocks, to_block, retries)

    def _sync(
        self,
        ledger: Ledger,
        deployment: Deployment,
        progress: Callable[[SyncProgress], None] | None,
        confirmations: int | None,
        chunk_blocks: int,
        to_block: int | None,
        retries: int,
    ) -> SyncResult:
        t0 = time.perf_counter()
        self.bind(deployment)
        self._state_cache = None
        w3 = ledger.w3
        depth = ledger.confirmations if confirmations is None else confirmations
        head = int(call(w3, "eth_blockNumber", []), 16)
        target = head - max(depth, 0) if to_block is None else min(to_block, head)
        reorged = self._check_reorg(w3, deployment.block)
        synced = self.synced_block
        start = deployment.block if synced is None else synced + 1
        first = start
        total = 0
        addresses = [deployment.ledger, deployment.attestations]
        slots = {deployment.ledger.lower(): LEDGER, deployment.attestations.lower(): ATTESTATIONS}
        # Start with one block and double while responses stay small: the first request of a chain
        # with dense blocks must not be its whole history (a sparse chain pays ~12 extra requests).
        span = 1
        reorgs_seen = 0
        broken = 0  # answers that failed after some of their logs were taken
        recheck = False  # a chunk was refused for a changed block: look for the fork before the next

        # The next chunk is fetched while this one is stored: in a thread, or in a forked process when
        # RINNE_SYNC_FETCH=process asks for it over HTTP (its decoding and row building then have a GIL
        # of their own, at a cost in CPU: _fetcher.py). The main thread
        # talks to the node only between two fetches, so its few small calls never queue behind a
        # large eth_getLogs on the node.
        fetcher: _fetcher.FetchProcess | _ThreadFetch
        pending: tuple[tuple[int, int], Any] | None = None
        # A first sync of a large range builds the secondary indexes once at the end (a sorted build)
        # instead of keeping them up row by row; an interrupted one gets them back on the next open.
        bulk = synced is None and target - start >= _BULK_BLOCKS and self.event_count() == 0
        if bulk:
            self._drop_secondary_indexes()
        failed = False
        if _fetcher.usable(w3):
            fetcher = _fetcher.FetchProcess(w3, addresses, slots, retries, (target, chunk_blocks))
        else:
            fetcher = _ThreadFetch(w3, addresses, retries, (target, chunk_blocks))
        try:
            while start <= target:
                end = min(start + span - 1, target)
                if pending is not None and pending[0] == (start, end):
                    fetching = pending[1]
                else:
                    if pending is not None:
                        fetcher.drop(pending[1])
                    fetching = fetcher.submit(start, end)
                pending = None
                pieces = fetcher.pieces(fetching)
                try:
                    piece = next(pieces)
                except LogRangeTooLarge:
                    if span == 1:
                        raise errors.ChainError(f"the node refuses eth_getLogs even for the single block {start}") from None
                    span = max(1, span // 4)
                    continue
                # The thread's fetch reads, after the logs, the block before the range: the store checks it
                # against the stored tip (_continues). The process's does not: ask the node here.
                # Asked again after a chunk failed that check.
                fork = self._check_reorg(w3, deployment.block) if recheck or not isinstance(fetcher, _ThreadFetch) else None
                recheck = False
                if fork is not None:
                    fetcher.drop(fetching)
                    reorged = fork if reorged is None else min(reorged, fork)
                    synced = self.synced_block
                    start = deployment.block if synced is None else synced + 1
                    first = min(first, start)
                    continue

                def fetched(n_logs: int, last: bool, lo: int = start, hi: int = end) -> None:
                    # Size the next range from this one's density, aiming at _TARGET_LOGS logs (at most
                    # doubling): ranges small enough that fetching the next overlaps storing this one
                    # (memory is bounded by the pieces, not by the range: a block is not split). Asked
                    # for as soon as its size is settled: at the last piece, or once this range holds
                    # so many logs that the next is one block whatever else comes.
                    nonlocal span, pending
                    if pending is not None or (not last and (hi - lo + 1) * _TARGET_LOGS // max(n_logs, 1) > 1):
                        return
                    span = _next_span(span, hi - lo + 1, n_logs, chunk_blocks)
                    if hi < target:
                        nxt = (hi + 1, min(hi + span, target))
                        pending = (nxt, fetcher.submit(*nxt))

                try:
                    n = self._store_chunk(w3, piece, pieces, end, slots, fetched)
                except _ReorgDuringChunk:
                    reorgs_seen += 1
                    if reorgs_seen > 10:
                        raise
                    recheck = True
                    continue  # the next round finds the fork and resumes from it
                except LogStreamBroken:
                    broken += 1
                    if broken > retries:
                        raise
                    continue  # nothing of the range was stored: fetch it again
                del piece, pieces
                total += n
                if progress:
                    progress(SyncProgress(first, target, end, total))
                start = end + 1
        except BaseException:
            failed = True
            raise
        finally:
            fetcher.close()
            if bulk:
                try:
                    self._build_secondary_indexes()
                except (errors.LedgerError, sqlite3.Error):
                    if not failed:  # else the next open builds them: the first failure is the one to report
                        raise
        return SyncResult(first, max(target, first - 1), total, reorged, time.perf_counter() - t0)

    def _continues(self, after: _After) -> None:
        """Refuse a chunk whose block before it, as read after its logs (`after`), is not the index's
        stored tip (a reorg reaching into what is stored: the next round finds the fork)."""
        synced = self.synced_block
        if synced is None:  # nothing stored before this chunk
            return
        row = self.conn.execute("SELECT hash FROM blocks WHERE number=?", (synced,)).fetchone()
        before = after.before
        if synced != after.first - 1 or row is None or before is None or bytes.fromhex(str(before["hash"])[2:]) != row[0]:
            raise _ReorgDuringChunk(f"block {synced} changed while the blocks after it were being indexed (a reorg): sync again")

    def _confirm(
        self,
        w3: Web3,
        marks: list[tuple[str, str, str | None]],
        end: int,
        expected_tip: str | None,
        after: _After | None = None,
    ) -> tuple[dict[int, int], tuple[int, bytes, int]]:
        """Check a fetched chunk against the chain: one hash per block among its logs (their `marks`,
        :func:`_block_marks`), every block
        still there with that hash, and its last block unchanged since before the fetch (its hash
        then: `expected_tip`, None when it was missing). Returns the blocks' timestamps and the tip
        row (block, hash, timestamp). The last block is read from the node unless `after` holds it
        as read after the logs."""
        hashes: dict[int, bytes] = {}
        stamps: dict[int, int] = {}
        for marks_ in marks:
            block = int(marks_[0], 16)
            bh = bytes.fromhex(marks_[1][2:])
            if hashes.setdefault(block, bh) != bh:
                raise errors.ChainError(f"the node returned logs of two different blocks at height {block}: retry the sync")
            if marks_[2]:
                stamps[block] = int(marks_[2], 16)
        missing = [b for b in hashes if b not in stamps]
        for start in range(0, len(missing), 500):
            part = missing[start : start + 500]
            for b, blk in zip(part, batch(w3, [("eth_getBlockByNumber", [hex(b), False]) for b in part])):
                if blk is None or bytes.fromhex(blk["hash"][2:]) != hashes[b]:
                    raise _ReorgDuringChunk(f"block {b} changed while it was being indexed (a reorg): sync again")
                stamps[b] = int(blk["timestamp"], 16)
        tip = after.end_block if after is not None else call(w3, "eth_getBlockByNumber", [hex(end), False])
        if tip is None or expected_tip is None:  # missing before the logs were read, or after
            raise _ReorgDuringChunk(f"block {end} vanished while it was being indexed (a reorg): sync again")
        if tip["hash"] != expected_tip:
            raise _ReorgDuringChunk(f"block {end} changed while it was being indexed (a reorg): sync again")
        return stamps, (end, bytes.fromhex(tip["hash"][2:]), int(tip["timestamp"], 16))

    def ingest(
        self,
        logs: Sequence[dict[str, Any]] | Sequence[LogRecord],
        slots: dict[str, int],
        timestamps: dict[int, int],
        tip: tuple[int, bytes, int],
    ) -> int:
        """Store JSON-RPC logs (as ``eth_getLogs`` returns them, dicts or :class:`LogRecord`) in one
        transaction and mark the index synced to `tip` = (block, hash, timestamp). `slots` maps
        lowercase contract address → slot (0 ledger, 1 attestations); `timestamps` gives every log's
        block time. Returns events stored."""
        records = [x for x in logs if isinstance(x, LogRecord)]
        if not records:  # dicts, as JSON gives them (a test, a log file)
            records = log_records(logs)  # type: ignore[arg-type]
        elif len(records) != len(logs):
            raise errors.ChainError("ingest takes logs as all dicts or all LogRecord, not both")
        return self._ingest_records(records, slots, timestamps, tip)

    def _ingest_records(
        self, logs: list[LogRecord], slots: dict[str, int], timestamps: dict[int, int], tip: tuple[int, bytes, int]
    ) -> int:
        # No collector passes while a chunk's rows are built and stored: they are ~10 tuples and bytes
        # objects a log, none in a cycle, and the passes their allocations set off walk every live
        # object again and again (0.16 of 1.6 CPU s for 100k events).
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._store_rows(_rows_by_log(logs, slots), timestamps, tip)
        finally:
            if enabled:
                gc.enable()

    def _store_rows(self, built: _Rows, timestamps: dict[int, int], tip: tuple[int, bytes, int]) -> int:
        """Store the rows of a chunk in one transaction and mark the index synced to `tip`."""
        hashes: dict[int, bytes] = {}
        c = self.conn
        c.execute("BEGIN")
        try:
            n = self._insert_rows(built, hashes)
            self._finish_chunk(hashes, timestamps, tip)
            c.execute("COMMIT")
        except BaseException as exc:
            self._abandon_chunk(exc)
            raise
        return n

    def _store_chunk(
        self,
        w3: Web3,
        piece: _fetcher.Piece,
        pieces: Iterator[_fetcher.Piece],
        end: int,
        slots: dict[str, int],
        fetched: Callable[[int, bool], None],
    ) -> int:
        """Store a fetched chunk, `piece` and the `pieces` after it, in one transaction that marks the index
        synced to its last block `end`; returns events stored.

        Each piece's rows are inserted as it comes (a block's answer can hold tens of thousands of
        logs: none is held whole), and the chunk is checked against the chain (:meth:`_confirm`) when its
        last piece is in, before anything commits: a reader sees all of a chunk or none of it.
        `fetched(logs, last)` is called after each piece with the chunk's logs so far, for the next fetch
        to start while this chunk is stored.
        """
        c = self.conn
        hashes: dict[int, bytes] = {}
        marks: dict[tuple[str, str, str | None], None] = {}
        n_logs = stored = 0
        # No collector passes while a chunk's rows are built and stored: they are ~10 tuples and bytes
        # objects a log, none in a cycle, and the passes their allocations set off walk every live
        # object again and again (0.16 of 1.6 CPU s for 100k events).
        enabled = gc.isenabled()
        gc.disable()
        # The write lock at once on SQLite: the chunk reads the stored tip inside this transaction
        # (_continues), and a deferred transaction that has read cannot take the write lock once another
        # connection wrote meanwhile (an opener rebuilding the secondary indexes, base.py): SQLite refuses
        # it at once ("database is locked") instead of waiting.
        c.execute("BEGIN" if self.pg is not None else "BEGIN IMMEDIATE")
        try:
            while True:
                tip, n, piece_marks, got, last, after = piece
                del piece
                n_logs += n
                marks.update(dict.fromkeys(piece_marks))
                if last:
                    if after is not None:
                        self._continues(after)
                    expected = None if tip is None else tip["hash"]
                    stamps, tip_row = self._confirm(w3, list(marks), end, expected, after)
                fetched(n_logs, last)
                if isinstance(got, BaseException):  # the fetch process could not build the rows
                    raise got
                built = _rows_by_log(got, slots) if isinstance(got, list) else got
                del got
                stored += self._insert_rows(built, hashes)
                del built
                if last:
                    break
                piece = next(pieces)
            self._finish_chunk(hashes, stamps, tip_row)
            c.execute("COMMIT")
        except BaseException as exc:
            self._abandon_chunk(exc)
            raise
        finally:
            if enabled:
                gc.enable()
        return stored

    def _insert_rows(self, built: _Rows, hashes: dict[int, bytes]) -> int:
        """Insert rows inside the open transaction; their blocks' hashes go into `hashes`. Returns events."""
        rows, lots, ins, outs, atts, units, block_hashes = built
        c = self.conn
        if self.pg is None:
            _insert_grouped(c, "INSERT INTO events VALUES", 9, rows)
            _insert_grouped(c, "INSERT OR REPLACE INTO lots(lot_id, event, material, mass, origin, holder) VALUES", 6, lots)
        else:  # COPY for the events (ledger/index/_postgres.py)
            c.executemany("INSERT INTO events VALUES(?,?,?,?,?,?,?,?,?)", rows)
            c.executemany("INSERT OR REPLACE INTO lots(lot_id, event, material, mass, origin, holder) VALUES(?,?,?,?,?,?)", lots)
        c.executemany("INSERT INTO op_in VALUES(?,?,?,?)", ins)
        c.executemany("INSERT INTO op_out VALUES(?,?,?)", outs)
        c.executemany("UPDATE lots SET kind=1 WHERE lot_id=?", units)
        c.executemany("INSERT OR REPLACE INTO attested VALUES(?,?,?)", atts)
        hashes.update(block_hashes)
        if self._graph is not None:  # dropped again if the chunk does not commit (_abandon_chunk)
            self._graph.add(ins, outs)
            self._graph.add_lots(lots, units)
        return len(rows)

    def _finish_chunk(self, hashes: dict[int, bytes], timestamps: dict[int, int], tip: tuple[int, bytes, int]) -> None:
        """Record a chunk's blocks and mark the index synced to `tip` = (block, hash, timestamp), uncommitted."""
        end, tip_hash, tip_ts = tip
        blocks = [(b, h, timestamps[b]) for b, h in hashes.items()]
        blocks.append((end, tip_hash, tip_ts))
        self.conn.executemany("INSERT OR REPLACE INTO blocks VALUES(?,?,?)", blocks)
        self._set_meta("synced_block", end)
        self._set_meta("synced_timestamp", tip_ts)
        self._state_cache = None

    def _abandon_chunk(self, exc: BaseException) -> None:
        """Roll back a chunk's open transaction (raising IndexCorrupt for an event stored twice)."""
        self.conn.execute("ROLLBACK")
        self._graph = None  # it may hold rows of the chunk: loaded again from the file when asked for
        self._state_cache = None
        if isinstance(exc, sqlite3.IntegrityError):
            raise errors.IndexCorrupt(
                f"{self.path}: the chain gave an event the index holds already ({exc}): rebuild the index"
            ) from None

    def _check_reorg(self, w3: Web3, deploy_block: int) -> int | None:
        """Roll back to the newest stored block the chain still agrees with; return the first block dropped."""
        synced = self.synced_block
        if synced is None:
            return None
        tip = self.conn.execute("SELECT hash FROM blocks WHERE number=?", (synced,)).fetchone()
        now = call(w3, "eth_getBlockByNumber", [hex(synced), False])
        if tip is not None and now is not None and bytes.fromhex(now["hash"][2:]) == tip[0]:
            return None
        stored = self.conn.execute("SELECT number, hash FROM blocks ORDER BY number DESC").fetchall()
        keep: int | None = None
        for start in range(0, len(stored), 200):
            part = stored[start : start + 200]
            chain = batch(w3, [("eth_getBlockByNumber", [hex(n), False]) for n, _ in part])
            for (n, h), blk in zip(part, chain):
                if blk is not None and bytes.fromhex(blk["hash"][2:]) == h:
                    keep = n
                    break
            if keep is not None:
                break
        if keep == synced:
            return None
        fork = (keep + 1) if keep is not None else deploy_block
        self.rollback(fork)
        return fork

    def rollback(self, block: int) -> None:
        """Forget everything from `block` on (the next sync re-indexes it)."""
        first = block << _LOG_BITS
        c = self.conn
        c.execute("BEGIN")
        try:
            c.execute("DELETE FROM events WHERE id >= ?", (first,))
            c.execute("DELETE FROM lots WHERE event >= ?", (first,))
            c.execute("DELETE FROM op_in WHERE op >= ?", (first,))
            c.execute("DELETE FROM op_out WHERE op >= ?", (first,))
            c.execute("DELETE FROM attested WHERE event >= ?", (first,))
            c.execute("DELETE FROM blocks WHERE number >= ?", (block,))
            last = c.execute("SELECT number, timestamp FROM blocks ORDER BY number DESC LIMIT 1").fetchone()
            deployment = self.deployment
            if last is None or (deployment is not None and block <= deployment.block):
                c.execute("DELETE FROM meta WHERE key IN ('synced_block', 'synced_timestamp')")
            else:
                self._set_meta("synced_block", block - 1)
                self._set_meta("synced_timestamp", last[1])
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self._state_cache = None
        self._graph = None


#: Rows one multi-row INSERT of :func:`_insert_grouped` takes (9 columns: 576 parameters, well under SQLite's limit).
_GROUP = 64


@functools.cache
def _grouped_sql(head: str, columns: int, n: int) -> str:
    row = "(" + ",".join("?" * columns) + ")"
    return head + ",".join([row] * n)


def _insert_grouped(c: Any, head: str, columns: int, rows: list[tuple[Any, ...]]) -> None:
    """``executemany(head + "(?,…)", rows)`` on SQLite, as multi-row INSERTs of :data:`_GROUP` rows each.

    sqlite3 gives up the GIL around every step of a statement and must win it back, behind the fetch
    thread when that one is running Python (msgspec, the socket): a step per row waited out the switch
    interval again and again; a step per group of rows does so a 64th as often."""
    full = len(rows) - len(rows) % _GROUP
    if full:
        flat = list(chain.from_iterable(rows[:full]))
        step = _GROUP * columns
        c.executemany(_grouped_sql(head, columns, _GROUP), [flat[k : k + step] for k in range(0, len(flat), step)])
    if full < len(rows):
        c.executemany(_grouped_sql(head, columns, 1), rows[full:])


#: What the row builders give: events, lots, op_in, op_out, attested and units rows, and block → hash.
_Rows = tuple[
    list[tuple[Any, ...]],
    list[tuple[Any, ...]],
    list[tuple[Any, ...]],
    list[tuple[Any, ...]],
    list[tuple[Any, ...]],
    list[tuple[bytes]],
    dict[int, bytes],
]


def _rows_by_log(logs: list[LogRecord], slots: dict[str, int]) -> _Rows:
    """The rows of the logs (removed ones and those of other contracts left out); a malformed log raises
    :class:`ledger.errors.ChainError`."""
    lay = layouts()
    hashes: dict[int, bytes] = {}
    rows: list[tuple[Any, ...]] = []
    lots: list[tuple[Any, ...]] = []
    ins: list[tuple[Any, ...]] = []
    outs: list[tuple[Any, ...]] = []
    atts: list[tuple[Any, ...]] = []
    units: list[tuple[bytes]] = []
    # Consecutive logs mostly share address, block and transaction: convert each of those once.
    # What the index needs of an event (_kind) is looked up once per (slot, topic0, topic count).
    kinds: dict[tuple[int, str, int], _Kind] = {}
    addr_slot: dict[str, int | None] = {}
    last_bn, last_bh = "", ""
    last_tx: str | None = ""
    block, bh, txb = 0, b"", None
    fromhex = bytes.fromhex
    append = rows.append
    log: LogRecord | None = None
    try:
        for log in logs:
            if log.removed:
                continue
            address = log.address
            slot = addr_slot.get(address, -1)
            if slot == -1:
                slot = addr_slot[address] = slots.get(address.lower())
            if slot is None:
                continue
            if log.blockNumber != last_bn or log.blockHash != last_bh:
                last_bn, last_bh = log.blockNumber, log.blockHash
                block, bh = int(last_bn, 16), fromhex(last_bh[2:])
                hashes[block] = bh
            hex_topics = log.topics
            nt = len(hex_topics)
            blob = fromhex("".join([t[2:] for t in hex_topics]))
            topics: list[bytes] = []  # split from blob only when an event needs them one by one
            if len(blob) == 32 * nt:
                t0 = hex_topics[0] if nt else ""
                found = kinds.get((slot, t0, nt))
                if found is None:
                    found = kinds[(slot, t0, nt)] = _kind(lay, slot, split_topics(blob))
                layout, name, kpos, derives = found
                key = blob[32 * kpos : 32 * kpos + 32] if kpos else None
            else:  # topics that are not 32 bytes each (not from a real node): as they come
                blob = fromhex("".join(t[2:] for t in hex_topics))
                topics = [fromhex(t[2:]) for t in hex_topics]
                layout, name, kpos, derives = _kind(lay, slot, topics)
                key = topics[kpos] if kpos else None
            data = fromhex(log.data[2:])
            li = int(log.logIndex, 16)
            eid = (block << _LOG_BITS) | li
            tx = log.transactionHash
            if tx != last_tx:
                last_tx = tx
                txb = fromhex(tx[2:]) if tx else None
            append((eid, block, li, txb, slot, name, key, blob, data))
            if derives:
                if name == "LotCreated" and nt == 4 and not topics:  # most events of a busy ledger
                    lots.append(_created_row(eid, blob[32:64], blob[64:96], blob[96:128], data))
                    continue
                _derive(eid, layout, topics or split_topics(blob), data, lots, ins, outs, atts, units)
    except (ValueError, IndexError, OverflowError) as exc:
        where = f" in block {log.blockNumber}" if log is not None else ""
        raise errors.ChainError(f"the node returned a malformed log{where} ({exc}): sync again") from None
    return rows, lots, ins, outs, atts, units, hashes
