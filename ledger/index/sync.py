"""Filling the index: chunked, retried, reorg-safe eth_getLogs ranges, and the relation rows each event gives."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger import errors
from ledger.chain.logs import ATTESTATIONS, LEDGER, EventLayout, LogRangeTooLarge, get_logs, layouts
from ledger.chain.rpc import batch, call
from ledger.domain.models import Deployment
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
    if name == "LotCreated" and len(topics) == 4:  # the lots row without decoding the composition
        lots.append((topics[1], eid, topics[3], int.from_bytes(data[0:32], "big"), data[32:64], "0x" + topics[2][12:].hex()))
    elif name == "LotCreated":
        a = layout.decode(topics, data)
        lots.append((a["lotId"], eid, a["material"], a["mass"], a["origin"], a["holder"]))
    elif name == "LotsTransformed":
        a = layout.decode(topics, data)
        ins.extend((eid, k, lot, used) for k, (lot, used) in enumerate(zip(a["inputs"], a["usedMasses"])))
        outs.extend((eid, k, lot) for k, lot in enumerate(a["outputs"]))
    elif name == "UnitCreated":
        units.append((topics[1],))
    elif name == "Attested":
        atts.append((topics[1], topics[2], eid))


def _key(name: str, topics: list[bytes]) -> bytes | None:
    if name in ("LotsTransformed", "AdminTransferred", "AdminTransferStarted", "?") or len(topics) < 2:
        return None
    if name == "Attested":
        return topics[2]  # the lot
    return topics[1]  # lot, unit, uid (Revoked) or account (registry)


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
        # The next chunk's logs are fetched in a background thread while this one is stored. For each
        # chunk its last block is read before its logs, and that block is checked again after them:
        # the logs are of the branch that block is on, and the reorg check (between the two reads)
        # ties that branch to the blocks stored before.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rinne-sync")
        pending: tuple[tuple[int, int], Any, Future[list[dict[str, Any]]]] | None = None
        try:
            while start <= target:
                end = min(start + span - 1, target)
                if pending is not None and pending[0] == (start, end):
                    _, tip, fetching = pending
                else:
                    tip = call(w3, "eth_getBlockByNumber", [hex(end), False])
                    fetching = pool.submit(get_logs, w3, addresses, start, end, retries=retries)
                pending = None
                fork = self._check_reorg(w3, deployment.block)
                if fork is not None:
                    reorged = fork if reorged is None else min(reorged, fork)
                    synced = self.synced_block
                    start = deployment.block if synced is None else synced + 1
                    first = min(first, start)
                    continue
                try:
                    logs = fetching.result()
                except LogRangeTooLarge:
                    if span == 1:
                        raise errors.ChainError(f"the node refuses eth_getLogs even for the single block {start}") from None
                    span = max(1, span // 4)
                    continue
                # Keep each response near 10k logs: memory stays flat however dense the blocks are.
                if len(logs) > 20_000:
                    span = max(1, span // 2)
                elif len(logs) < 5_000 and span < chunk_blocks:
                    span = min(chunk_blocks, span * 2)
                if end < target:
                    nxt = (end + 1, min(end + span, target))
                    nxt_tip = call(w3, "eth_getBlockByNumber", [hex(nxt[1]), False])
                    pending = (nxt, nxt_tip, pool.submit(get_logs, w3, addresses, nxt[0], nxt[1], retries=retries))
                try:
                    n = self._store(w3, logs, slots, end, expected_tip=None if tip is None else tip["hash"])
                except _ReorgDuringChunk:
                    reorgs_seen += 1
                    if reorgs_seen > 10:
                        raise
                    continue  # the next round finds the fork and resumes from it
                del logs
                total += n
                if progress:
                    progress(SyncProgress(first, target, end, total))
                start = end + 1
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return SyncResult(first, max(target, first - 1), total, reorged, time.perf_counter() - t0)

    def _store(self, w3: Web3, logs: list[dict[str, Any]], slots: dict[str, int], end: int, expected_tip: str | None = None) -> int:
        hashes: dict[int, bytes] = {}
        stamps: dict[int, int] = {}
        seen: set[tuple[str, str, str | None]] = set()  # a block's logs repeat the same three strings
        for log in logs:
            marks = (log["blockNumber"], log["blockHash"], log.get("blockTimestamp"))
            if marks in seen:
                continue
            seen.add(marks)
            block = int(marks[0], 16)
            bh = bytes.fromhex(marks[1][2:])
            if hashes.setdefault(block, bh) != bh:
                raise errors.ChainError(f"the node returned logs of two different blocks at height {block}: retry the sync")
            if marks[2]:
                stamps[block] = int(marks[2], 16)
        missing = [b for b in hashes if b not in stamps]
        for start in range(0, len(missing), 500):
            part = missing[start : start + 500]
            for b, blk in zip(part, batch(w3, [("eth_getBlockByNumber", [hex(b), False]) for b in part])):
                if blk is None or bytes.fromhex(blk["hash"][2:]) != hashes[b]:
                    raise _ReorgDuringChunk(f"block {b} changed while it was being indexed (a reorg): sync again")
                stamps[b] = int(blk["timestamp"], 16)
        tip = call(w3, "eth_getBlockByNumber", [hex(end), False])
        if tip is None:
            raise _ReorgDuringChunk(f"block {end} vanished while it was being indexed (a reorg): sync again")
        if expected_tip is not None and tip["hash"] != expected_tip:
            raise _ReorgDuringChunk(f"block {end} changed while it was being indexed (a reorg): sync again")
        return self.ingest(logs, slots, stamps, (end, bytes.fromhex(tip["hash"][2:]), int(tip["timestamp"], 16)))

    def ingest(
        self, logs: list[dict[str, Any]], slots: dict[str, int], timestamps: dict[int, int], tip: tuple[int, bytes, int]
    ) -> int:
        """Store JSON-RPC logs (as ``eth_getLogs`` returns them) in one transaction and mark the index
        synced to `tip` = (block, hash, timestamp). `slots` maps lowercase contract address → slot
        (0 ledger, 1 attestations); `timestamps` gives every log's block time. Returns events stored."""
        lay = layouts()
        hashes: dict[int, bytes] = {}
        rows: list[tuple[Any, ...]] = []
        lots: list[tuple[Any, ...]] = []
        ins: list[tuple[Any, ...]] = []
        outs: list[tuple[Any, ...]] = []
        atts: list[tuple[Any, ...]] = []
        units: list[tuple[bytes]] = []
        # Consecutive logs mostly share address, block and transaction: convert each of those once.
        addr_slot: dict[str, int | None] = {}
        last_bn, last_bh = "", ""
        last_tx: str | None = ""
        block, bh, txb = 0, b"", None
        for log in logs:
            if log.get("removed"):
                continue
            address = log["address"]
            slot = addr_slot.get(address, -1)
            if slot == -1:
                slot = addr_slot[address] = slots.get(address.lower())
            if slot is None:
                continue
            if log["blockNumber"] != last_bn:
                last_bn = log["blockNumber"]
                block = int(last_bn, 16)
            if log["blockHash"] != last_bh:
                last_bh = log["blockHash"]
                bh = bytes.fromhex(last_bh[2:])
            hashes[block] = bh
            hex_topics = log["topics"]
            blob = bytes.fromhex("".join(t[2:] for t in hex_topics))
            if len(blob) == 32 * len(hex_topics):
                topics = [blob[i : i + 32] for i in range(0, len(blob), 32)]
            else:  # topics that are not 32 bytes each (not from a real node): as they come
                topics = [bytes.fromhex(t[2:]) for t in hex_topics]
            data = bytes.fromhex(log["data"][2:])
            li = int(log["logIndex"], 16)
            eid = (block << _LOG_BITS) | li
            layout: EventLayout | None = lay.get((slot, topics[0])) if topics else None
            name = layout.name if layout else "?"
            key = _key(name, topics)
            tx = log.get("transactionHash")
            if tx != last_tx:
                last_tx = tx
                txb = bytes.fromhex(tx[2:]) if tx else None
            rows.append((eid, block, li, txb, slot, name, key, blob, data))
            _derive(eid, layout, topics, data, lots, ins, outs, atts, units)
        end, tip_hash, tip_ts = tip
        c = self.conn
        c.execute("BEGIN")
        try:
            c.executemany("INSERT INTO events VALUES(?,?,?,?,?,?,?,?,?)", rows)
            c.executemany("INSERT OR REPLACE INTO lots(lot_id, event, material, mass, origin, holder) VALUES(?,?,?,?,?,?)", lots)
            c.executemany("INSERT INTO op_in VALUES(?,?,?,?)", ins)
            c.executemany("INSERT INTO op_out VALUES(?,?,?)", outs)
            c.executemany("UPDATE lots SET kind=1 WHERE lot_id=?", units)
            c.executemany("INSERT OR REPLACE INTO attested VALUES(?,?,?)", atts)
            blocks = [(b, h, timestamps[b]) for b, h in hashes.items()]
            blocks.append((end, tip_hash, tip_ts))
            c.executemany("INSERT OR REPLACE INTO blocks VALUES(?,?,?)", blocks)
            self._set_meta("synced_block", end)
            self._set_meta("synced_timestamp", tip_ts)
            c.execute("COMMIT")
            if self._graph is not None:
                self._graph.add(ins, outs)
                self._graph.add_lots(lots, units)
        except sqlite3.IntegrityError as exc:
            c.execute("ROLLBACK")
            raise errors.IndexCorrupt(
                f"{self.path}: the chain gave an event the index holds already ({exc}): rebuild the index"
            ) from None
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self._state_cache = None
        return len(rows)

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
