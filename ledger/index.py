"""A local SQLite index of every event of a Rinne deployment.

Filled by chunked, retried ``eth_getLogs`` ranges (both contracts in one query), incremental (each
chunk commits with the block it reached, so an interrupted sync resumes there), and reorg-safe: it
only indexes blocks ``confirmations`` behind the head, remembers the hash of every block it took
logs from plus each chunk's last block, and on the next sync walks back to the newest block whose
hash the chain still agrees with and re-syncs from there.

The raw logs are kept byte for byte (the audit recomputes the ledger head from them); beside them,
small relation tables (lots, operation inputs and outputs, attestation uids) let trace queries run
as recursive CTEs without decoding anything.

The file is a cache anyone with disk access can edit: :meth:`EventIndex.verify_heads` checks it
against the chain (ledger heads, block hashes, every stored log) before anything is answered from it.
"""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from eth_utils import to_checksum_address

from ledger import errors
from ledger._abi import contract_abi
from ledger._logs import (
    ATTESTATIONS,
    CONTRACT_NAMES,
    LEDGER,
    EventLayout,
    advance_head,
    keccak,
    layouts,
    split_topics,
)
from ledger._rpc import batch, call
from ledger._state import LedgerState
from ledger.models import Deployment, LotKind, LotState, origin_country, to_bytes32

SCHEMA_VERSION = "1"
#: Event ids are (block << 24) | log index: chain order, and a block's events form one id range.
_LOG_BITS = 24
_REGISTRY_EVENTS = (
    "AdminTransferred", "AdminTransferStarted", "ParticipantRegistered", "RolesChanged", "ParticipantSuspended",
    "ParticipantReinstated",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks(number INTEGER PRIMARY KEY, hash BLOB NOT NULL, timestamp INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events(
    id INTEGER PRIMARY KEY,            -- (block << 24) | log index
    block INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash BLOB,
    contract INTEGER NOT NULL,         -- 0 RinneLedger, 1 GwpAttestations
    name TEXT NOT NULL,
    key BLOB,                          -- the lot, unit, attestation uid or account the event is about
    topics BLOB NOT NULL,              -- topic0 ‖ topic1 ‖ … as emitted
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_key ON events(key);
CREATE INDEX IF NOT EXISTS events_freeze ON events(name, id) WHERE name IN ('LotFrozen', 'LotUnfrozen');
CREATE INDEX IF NOT EXISTS events_registry ON events(id) WHERE contract = 0 AND name IN (
    'AdminTransferred', 'AdminTransferStarted', 'ParticipantRegistered', 'RolesChanged', 'ParticipantSuspended',
    'ParticipantReinstated');
CREATE TABLE IF NOT EXISTS lots(
    lot_id BLOB PRIMARY KEY, event INTEGER NOT NULL, material BLOB NOT NULL, mass INTEGER NOT NULL,
    origin BLOB NOT NULL, holder TEXT NOT NULL, kind INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lots_event ON lots(event);
CREATE TABLE IF NOT EXISTS op_in(op INTEGER NOT NULL, pos INTEGER NOT NULL, lot_id BLOB NOT NULL, used INTEGER NOT NULL,
    PRIMARY KEY(op, pos)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS op_in_lot ON op_in(lot_id);
CREATE TABLE IF NOT EXISTS op_out(op INTEGER NOT NULL, pos INTEGER NOT NULL, lot_id BLOB NOT NULL,
    PRIMARY KEY(op, pos)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS op_out_lot ON op_out(lot_id);
CREATE TABLE IF NOT EXISTS attested(uid BLOB PRIMARY KEY, lot_id BLOB NOT NULL, event INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attested_lot ON attested(lot_id);
"""


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


@dataclass(frozen=True)
class HeadsVerified:
    """What :meth:`EventIndex.verify_heads` checked, up to `to_block`.

    `head_blocks`: blocks at whose end both contracts' replayed ledger heads equal ``ledgerHead()``;
    `log_blocks`: blocks holding events whose stored rows were compared with the node's logs;
    `historical`: whether the heads were compared at every stored block (asked for with
    `every_block` and served by the node).
    """

    to_block: int
    events: int
    head_blocks: int
    log_blocks: int
    every_block: bool
    historical: bool
    seconds: float

    @property
    def note(self) -> str | None:
        """A one-line caveat when heads at every block were asked for and the node could not give them."""
        if self.historical or not self.every_block:
            return None
        return (
            f"heads checked only at block {self.to_block} (the node serves no historical state); every stored "
            "event was compared with the node's logs instead"
        )


@dataclass(frozen=True)
class RawEvent:
    """One stored log."""

    id: int
    block: int
    log_index: int
    contract: int
    name: str
    topics: list[bytes]
    data: bytes
    timestamp: int


# Operational errors that say the file is in use or unreachable, not that it is damaged. Any other
# (e.g. "no such column" after a flipped byte in the schema text) means the file cannot be trusted.
_TRANSIENT_WORDS = ("locked", "busy", "readonly", "read-only", "unable to open", "disk i/o", "interrupted")


def _damaged(path: str, what: object) -> errors.IndexCorrupt:
    return errors.IndexCorrupt(f"{path}: the index file is damaged ({what}): delete it and sync again")


def _reraise(exc: Exception, path: str) -> None:
    # Integrity errors and operational ones (a locked file) are not damage: they keep their own handling.
    if isinstance(exc, UnicodeDecodeError):
        raise _damaged(path, "text that is not UTF-8") from None
    if isinstance(exc, sqlite3.IntegrityError):
        raise exc
    if isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in _TRANSIENT_WORDS):
        raise exc
    raise _damaged(path, exc) from None


class _Cursor(sqlite3.Cursor):
    """A cursor that reports a damaged database file as IndexCorrupt instead of sqlite3's errors."""

    def _path(self) -> str:
        return getattr(self.connection, "index_path", "index")

    def execute(self, *args: Any) -> "_Cursor":
        try:
            return super().execute(*args)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            _reraise(exc, self._path())
            raise

    def executemany(self, *args: Any) -> "_Cursor":
        try:
            return super().executemany(*args)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            _reraise(exc, self._path())
            raise

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            _reraise(exc, self._path())
            raise

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            _reraise(exc, self._path())
            raise

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            _reraise(exc, self._path())
            raise

    def fetchmany(self, size: int = 1) -> list[Any]:
        try:
            return super().fetchmany(size)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            _reraise(exc, self._path())
            raise

    def rows(self, size: int = 2_000) -> Iterator[Any]:
        """Iterate the result in batches of `size` rows (one checked call per batch, not per row)."""
        while True:
            batch_ = self.fetchmany(size)
            if not batch_:
                return
            yield from batch_


class _Connection(sqlite3.Connection):
    """Connection whose execute/executemany go through :class:`_Cursor`."""

    index_path = "index"

    def cursor(self, factory: Any = _Cursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)

    def execute(self, *args: Any) -> Any:  # type: ignore[override]
        return self.cursor().execute(*args)

    def executemany(self, *args: Any) -> Any:  # type: ignore[override]
        return self.cursor().executemany(*args)

    def executescript(self, script: str) -> Any:  # type: ignore[override]
        try:
            return super().executescript(script)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            _reraise(exc, self.index_path)
            raise


def _b32(value: str | bytes) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes.fromhex(to_bytes32(value)[2:])


class LotRow(NamedTuple):
    """One lot as :meth:`EventIndex.lots` answers: ids and hashes as 0x-hex, addresses checksummed,
    masses in grams, times in unix seconds; `composition` is (total, pre-consumer, post-consumer)
    grams per element in :data:`ledger.models.ELEMENTS` order, as the lot holds now."""

    lot_id: str
    kind: LotKind
    state: LotState
    material: str
    mass_g: int
    minted_mass_g: int
    holder: str
    creator: str
    origin: str
    country: str | None
    evidence: str
    minted_block: int
    minted_at: int
    made_by_operation: bool
    offered_to: str | None
    composition: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]

    @classmethod
    def of(cls, rec: Any) -> "LotRow":
        """Make a row from a replayed :class:`ledger._state.LotRec`."""
        return cls(
            lot_id="0x" + rec.lot_id.hex(), kind=LotKind(rec.kind), state=LotState(rec.state), material="0x" + rec.material.hex(),
            mass_g=rec.mass, minted_mass_g=rec.mass0, holder=to_checksum_address(rec.holder),
            creator=to_checksum_address(rec.creator), origin="0x" + rec.origin.hex(), country=origin_country(rec.origin),
            evidence="0x" + rec.evidence.hex(), minted_block=rec.block, minted_at=rec.timestamp,
            made_by_operation=rec.made_by is not None,
            offered_to=to_checksum_address(rec.offered_to) if rec.offered_to else None, composition=rec.comp,
        )


def _enum_member(enum: Any, value: Any, what: str) -> Any:
    """Return `value` as a member of `enum` (a member, or its name in any case); None stays None."""
    if value is None or isinstance(value, enum):
        return value
    try:
        return enum[str(value).upper()]
    except KeyError:
        raise ValueError(f"unknown lot {what} {value!r}: one of {', '.join(m.name.lower() for m in enum)}") from None


class MaterialGraph:
    """Operations as adjacency lists (lot → creating op, op → inputs and outputs, lot → consuming ops),
    loaded from the index once and extended as it syncs; traversals are plain dictionary walks."""

    __slots__ = ("made_by", "inputs", "outputs", "consumers", "lots", "_interned")

    def __init__(self) -> None:
        #: lot id -> (material, mass at creation, origin, creator, kind, LotCreated event id)
        self.lots: dict[bytes, tuple[bytes, int, bytes, str, int, int]] = {}
        self._interned: dict[Any, Any] = {}
        self.made_by: dict[bytes, int] = {}
        self.inputs: dict[int, list[tuple[bytes, int]]] = {}
        self.outputs: dict[int, list[bytes]] = {}
        self.consumers: dict[bytes, list[tuple[int, int]]] = {}  # lot -> [(op, grams used; 0 = whole)]

    def add(self, ins: Iterable[tuple[int, int, bytes, int]], outs: Iterable[tuple[int, int, bytes]]) -> None:
        """Add op_in rows (op, pos, lot, used) and op_out rows (op, pos, lot), each in position order."""
        for op, _pos, lot, used in ins:
            self.inputs.setdefault(op, []).append((lot, used))
            self.consumers.setdefault(lot, []).append((op, used))
        for op, _pos, lot in outs:
            self.outputs.setdefault(op, []).append(lot)
            self.made_by[lot] = op

    def add_lots(self, rows: Iterable[tuple[bytes, int, bytes, int, bytes, str]], units: Iterable[tuple[bytes]] = ()) -> None:
        """Add lots rows (lot, event, material, mass, origin, creator) and mark `units` as battery units."""
        intern = self._interned.setdefault
        for lot, event, material, mass, origin, holder in rows:
            self.lots[lot] = (intern(material, material), mass, intern(origin, origin), intern(holder, holder), 0, event)
        for (unit,) in units:
            rec = self.lots.get(unit)
            if rec is not None:
                self.lots[unit] = rec[:4] + (1,) + rec[5:]

    def upstream(self, root: bytes) -> list[bytes]:
        """The lot and every lot it was made from, transitively."""
        seen = {root}
        stack = [root]
        made_by, inputs = self.made_by, self.inputs
        while stack:
            op = made_by.get(stack.pop())
            if op is None:
                continue
            for lot, _ in inputs.get(op, ()):
                if lot not in seen:
                    seen.add(lot)
                    stack.append(lot)
        return list(seen)

    def downstream(self, root: bytes) -> list[bytes]:
        """The lot and every lot made from it, transitively."""
        seen = {root}
        stack = [root]
        consumers, outputs = self.consumers, self.outputs
        while stack:
            for op, _ in consumers.get(stack.pop(), ()):
                for lot in outputs.get(op, ()):
                    if lot not in seen:
                        seen.add(lot)
                        stack.append(lot)
        return list(seen)


class EventIndex:
    """The SQLite event index of one deployment. Open it with :meth:`EventIndex.open`."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self._state_cache: tuple[int, LedgerState] | None = None
        self._graph: MaterialGraph | None = None

    def graph(self) -> MaterialGraph:
        """Return the material graph (loaded on first use, then kept in step with every sync)."""
        if self._graph is None:
            g = MaterialGraph()
            g.add(
                self.conn.execute("SELECT op, pos, lot_id, used FROM op_in ORDER BY op, pos"),
                self.conn.execute("SELECT op, pos, lot_id FROM op_out ORDER BY op, pos"),
            )
            g.add_lots(self.conn.execute("SELECT lot_id, event, material, mass, origin, holder FROM lots"))
            g.add_lots((), self.conn.execute("SELECT lot_id FROM lots WHERE kind = 1"))
            self._graph = g
        return self._graph

    # ------------------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, path: str | Path) -> "EventIndex":
        """Open (creating when absent) the index at `path`; ``":memory:"`` gives a throwaway one."""
        p = str(path)
        if p != ":memory:":
            Path(p).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(p, isolation_level=None, check_same_thread=False, factory=_Connection)
            conn.index_path = p
            conn.execute("PRAGMA journal_mode=WAL" if p != ":memory:" else "PRAGMA journal_mode=MEMORY")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA cache_size=-65536")
            conn.executescript(_SCHEMA)
            version = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except (sqlite3.DatabaseError, errors.IndexCorrupt) as exc:
            raise errors.IndexCorrupt(f"{p}: not a usable event index ({str(exc).split(': ')[-1]})") from None
        if version is None:
            conn.execute("INSERT INTO meta VALUES('schema', ?)", (SCHEMA_VERSION,))
        elif version[0] != SCHEMA_VERSION:
            raise errors.IndexCorrupt(f"{p}: index schema {version[0]}, this library reads {SCHEMA_VERSION}: delete it and sync again")
        return cls(conn, p)

    def close(self) -> None:
        """Close the database."""
        self.conn.close()

    def __enter__(self) -> "EventIndex":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EventIndex({self.path!r}, synced to {self.synced_block})"

    # ------------------------------------------------------------------------------ meta

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: Any) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (key, str(value)))

    @property
    def synced_block(self) -> int | None:
        """The last block fully indexed, or None before the first sync."""
        v = self._meta("synced_block")
        return _meta_int(self.path, "synced_block", v) if v is not None else None

    @property
    def deployment(self) -> Deployment | None:
        """The deployment this index belongs to."""
        v = self._meta("deployment")
        try:
            return Deployment.model_validate_json(v) if v else None
        except ValueError:
            raise _damaged(self.path, "unreadable deployment record") from None

    @property
    def chain_timestamp(self) -> int:
        """Timestamp of the last indexed block (the index's idea of "now")."""
        v = self._meta("synced_timestamp")
        return _meta_int(self.path, "synced_timestamp", v) if v else 0

    def event_count(self) -> int:
        """Number of stored events."""
        return int(self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def bind(self, deployment: Deployment) -> None:
        """Tie the index to a deployment (first use), or refuse one it does not belong to."""
        known = self.deployment
        if known is None:
            self._set_meta("deployment", deployment.model_dump_json())
            return
        if (known.chain_id, known.ledger, known.attestations) != (deployment.chain_id, deployment.ledger, deployment.attestations):
            raise errors.IndexCorrupt(
                f"{self.path} indexes chain {known.chain_id} ledger {known.ledger}, not chain {deployment.chain_id} "
                f"ledger {deployment.ledger}: use another index file"
            )

    # ------------------------------------------------------------------------------ sync

    def sync(
        self,
        ledger: Any,
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
        t0 = time.perf_counter()
        deployment = ledger.deployment
        if deployment is None:
            raise errors.NotDeployed(f"no Rinne deployment recorded for chain {ledger.chain_id}: nothing to index")
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
                    fetching = pool.submit(self._get_logs, w3, addresses, start, end, retries)
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
                except _RangeTooLarge:
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
                    pending = (nxt, nxt_tip, pool.submit(self._get_logs, w3, addresses, nxt[0], nxt[1], retries))
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

    def _get_logs(self, w3: Any, addresses: list[str], start: int, end: int, retries: int) -> list[dict[str, Any]]:
        params = [{"address": addresses, "fromBlock": hex(start), "toBlock": hex(end)}]
        delay = 0.2
        for attempt in range(retries + 1):
            try:
                return call(w3, "eth_getLogs", params)
            except errors.ConnectionFailed:
                if attempt == retries:
                    raise
            except errors.ChainError as exc:
                text = str(exc).lower()
                if any(s in text for s in ("too many", "limit", "range", "exceed", "too large", "response size")):
                    raise _RangeTooLarge() from None
                if attempt == retries:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def _store(self, w3: Any, logs: list[dict[str, Any]], slots: dict[str, int], end: int, expected_tip: str | None = None) -> int:
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
        rows, lots, ins, outs, atts, units = [], [], [], [], [], []
        # Consecutive logs mostly share address, block and transaction: convert each of those once.
        addr_slot: dict[str, int | None] = {}
        last_bn, last_bh, last_tx = "", "", ""
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
            raise errors.IndexCorrupt(f"{self.path}: the chain gave an event the index holds already ({exc}): rebuild the index") from None
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self._state_cache = None
        return len(rows)

    def _check_reorg(self, w3: Any, deploy_block: int) -> int | None:
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

    def verify(self, w3: Any | None = None) -> None:
        """Check that the index says what its own raw logs say, and with `w3` what the chain says.

        Event ids, names and keys and the lots, operation and attestation tables must follow from the
        raw logs; with `w3`, every stored block hash and time must be the chain's. The raw logs
        themselves are checked by the audit (ledger heads, contract storage). Raises IndexCorrupt
        when the index cannot be trusted: delete it and sync again.
        """
        lay = layouts()
        lots: list[tuple[Any, ...]] = []
        ins: list[tuple[Any, ...]] = []
        outs: list[tuple[Any, ...]] = []
        atts: list[tuple[Any, ...]] = []
        units: list[tuple[bytes]] = []
        for eid, block, li, contract, name, key, blob, data in self.conn.execute(
            "SELECT id, block, log_index, contract, name, key, topics, data FROM events ORDER BY id"
        ).rows():
            if not _row_ok(eid, block, li, contract, blob, data):
                raise _damaged(self.path, f"event row {eid!r} is malformed")
            topics = split_topics(blob)
            layout = lay.get((contract, topics[0]))
            want = layout.name if layout else "?"
            if name != want or key != _key(want, topics):
                raise _damaged(self.path, f"event {eid} is stored as {name!r} but its log is {want!r}")
            try:
                _derive(eid, layout, topics, data, lots, ins, outs, atts, units)
            except (ValueError, IndexError, TypeError):
                raise _damaged(self.path, f"event {eid} cannot be decoded") from None
        derived_lots = {row[0]: (*row, 0) for row in lots}
        for (lot_id,) in units:
            if lot_id in derived_lots:
                derived_lots[lot_id] = (*derived_lots[lot_id][:6], 1)
        tables = [
            ("lots", "SELECT lot_id, event, material, mass, origin, holder, kind FROM lots", sorted(derived_lots.values())),
            ("op_in", "SELECT op, pos, lot_id, used FROM op_in", sorted(ins)),
            ("op_out", "SELECT op, pos, lot_id FROM op_out", sorted(outs)),
            ("attested", "SELECT uid, lot_id, event FROM attested", sorted({a[0]: a for a in atts}.values())),
        ]
        for table, sql, derived in tables:
            try:
                stored = sorted(self.conn.execute(sql).fetchall())
            except TypeError:  # values of mixed types that do not even compare
                raise _damaged(self.path, f"table {table} holds malformed rows") from None
            if stored != derived:
                raise _damaged(self.path, f"table {table} does not follow from the stored events")
        if self._meta("schema") != SCHEMA_VERSION:
            raise _damaged(self.path, "schema record altered")
        blocks = self.conn.execute("SELECT number, hash, timestamp FROM blocks ORDER BY number").fetchall()
        synced = self.synced_block
        if synced is not None and (not blocks or blocks[-1][0] != synced or blocks[-1][2] != self.chain_timestamp):
            raise _damaged(self.path, "the synced block and time do not match the block table")
        used = {b for (b,) in self.conn.execute("SELECT DISTINCT block FROM events")}
        if not used <= {b[0] for b in blocks}:
            raise _damaged(self.path, "events of blocks the block table does not know")
        if w3 is None:
            return
        for start in range(0, len(blocks), 500):
            part = blocks[start : start + 500]
            for (number, h, ts), blk in zip(part, batch(w3, [("eth_getBlockByNumber", [hex(n), False]) for n, _, _ in part])):
                if blk is None or bytes.fromhex(blk["hash"][2:]) != h or int(blk["timestamp"], 16) != ts:
                    raise errors.IndexCorrupt(
                        f"{self.path}: block {number} differs from the chain's (a reorg since the last sync, or a "
                        "damaged index): sync again, or delete the index and sync again"
                    )

    def verify_heads(
        self, w3: Any, *, to_block: int | None = None, deployment: Deployment | None = None, every_block: bool = False
    ) -> HeadsVerified:
        """Check the index against the chain up to `to_block` (default: the synced block) before answering from it.

        Runs :meth:`verify` with `w3` first (the derived tables follow from the raw logs; every stored
        block number, hash and time is the chain's). Then replays the stored raw logs and compares both
        contracts' (sequence, running hash) with their ``ledgerHead()`` at `to_block`, which binds the
        set and order of each contract's events; and it binds every event to its block and to one order
        across both contracts by comparing the stored rows with ``eth_getLogs`` of every block from the
        deployment on, row for row (block number and hash, log index, transaction, contract, topics, data).

        With `every_block`, the heads are compared at the end of every stored block instead (the
        contracts' own word for each block, needs a node with historical state; about 50x slower on
        Anvil), and only the blocks holding events of both contracts are fetched again, for the order
        between the two inside a block, which neither head holds. A node that refuses ``eth_call`` at
        old blocks gets the default check and the result says so (:attr:`HeadsVerified.note`).

        With `deployment`, the index must belong to it. Raises IndexCorrupt naming the first block
        that differs.
        """
        t0 = time.perf_counter()
        self.verify(w3)
        d, synced = self.deployment, self.synced_block
        if d is None or synced is None:
            if self.event_count() or self.conn.execute("SELECT 1 FROM blocks LIMIT 1").fetchone():
                raise _damaged(self.path, "events without a deployment or synced block")
            return HeadsVerified(0, 0, 0, 0, every_block, every_block, time.perf_counter() - t0)
        if deployment is not None and (d.chain_id, d.ledger.lower(), d.attestations.lower(), d.block) != (
            deployment.chain_id, deployment.ledger.lower(), deployment.attestations.lower(), deployment.block
        ):
            raise errors.IndexCorrupt(
                f"{self.path}: the index records another deployment than chain {deployment.chain_id} ledger "
                f"{deployment.ledger} from block {deployment.block}: delete the index and sync again"
            )
        served = int(call(w3, "eth_chainId", []), 16)
        if served != d.chain_id:
            raise errors.IndexCorrupt(f"{self.path} indexes chain {d.chain_id}, the node serves chain {served}: use another index file")
        end = synced if to_block is None else to_block
        if not d.block <= end <= synced:
            raise errors.InvalidInput(f"to_block {end} is outside the indexed blocks {d.block}-{synced}")
        # One pass over the raw logs: both head words as of the last event of every block, and which
        # contracts each block holds events of.
        heads = [0, 0]
        after: dict[int, tuple[int, int]] = {}
        mixed: dict[int, int] = {}
        events = 0
        for eid, block, li, contract, blob, data in self.conn.execute(
            "SELECT id, block, log_index, contract, topics, data FROM events WHERE id < ? ORDER BY id", ((end + 1) << _LOG_BITS,)
        ):
            if not _row_ok(eid, block, li, contract, blob, data):
                raise _damaged(self.path, f"event row {eid!r} is malformed")
            heads[contract] = advance_head(heads[contract], keccak(blob + data))  # = event_hash of the split topics
            after[block] = (heads[0], heads[1])
            mixed[block] = mixed.get(block, 0) | (1 << contract)
            events += 1
        stored = {n: h for n, h in self.conn.execute("SELECT number, hash FROM blocks WHERE number <= ?", (end,))}
        checked = sorted(set(stored) | set(after) | {end})
        if checked[0] < d.block:
            raise errors.IndexCorrupt(
                f"{self.path}: block {checked[0]} precedes the deployment (block {d.block}): delete the index and sync again"
            )
        expect: list[tuple[int, int]] = []
        cur = (0, 0)
        for b in checked:
            cur = after.get(b, cur)
            expect.append(cur)
        addresses = (d.ledger, d.attestations)
        # The heads at `end` first: a node that cannot answer even that fails here, whatever its history.
        last = _ledger_heads(w3, addresses, [end])
        historical = every_block
        if every_block:
            try:
                chain = _ledger_heads(w3, addresses, checked[:-1], history=True) + last
            except _NoHistory:  # pruned state ("BlockOutOfRangeError", "missing trie node"): the default check
                historical = False
        if not historical:
            checked, expect, chain = [end], [expect[-1]], last
        bad_heads = next(
            ((b, k, mine, theirs) for b, mine, theirs in zip(checked, expect, chain) for k in (LEDGER, ATTESTATIONS) if mine[k] != theirs[k]),
            None,
        )
        if historical:
            log_blocks = sorted(b for b, m in mixed.items() if m == 3)
            bad_logs = self._compare_logs(w3, addresses, [(b, b) for b in log_blocks], stored)
        else:
            log_blocks = sorted(mixed)
            bad_logs = self._compare_logs(w3, addresses, [(d.block, end)], stored)
        if bad_heads is not None and (bad_logs is None or bad_heads[0] <= bad_logs[0]):
            b, k, mine, theirs = bad_heads
            mask = (1 << 64) - 1
            raise errors.IndexCorrupt(
                f"{self.path}: block {b} differs from the chain's ledger heads ({CONTRACT_NAMES[k]}: the index replays "
                f"{mine[k] & mask} events to head {mine[k].to_bytes(32, 'big').hex()[:12]}…, the chain counts {theirs[k] & mask} "
                f"to {theirs[k].to_bytes(32, 'big').hex()[:12]}…): delete the index and sync again"
            )
        if bad_logs is not None:
            raise errors.IndexCorrupt(
                f"{self.path}: block {bad_logs[0]} differs from the chain's logs ({bad_logs[1]}): delete the index and sync again"
            )
        return HeadsVerified(end, events, len(checked), len(log_blocks), every_block, historical, time.perf_counter() - t0)

    def _compare_logs(
        self, w3: Any, addresses: tuple[str, str], ranges: list[tuple[int, int]], hashes: dict[int, bytes]
    ) -> tuple[int, str] | None:
        """Fetch the logs of block `ranges` again and compare them with the stored rows; return the
        first block that differs and how, or None. Long ranges go in spans the node accepts."""
        slots = {addresses[0].lower(): LEDGER, addresses[1].lower(): ATTESTATIONS}
        spans: list[tuple[int, int]] = []
        for a, z in ranges:
            spans.extend((lo, min(lo + _LOG_SPAN - 1, z)) for lo in range(a, z + 1, _LOG_SPAN))
        pos = 0
        while pos < len(spans):
            part = spans[pos : pos + 100]  # one batch: single blocks of `every_block`, or long spans
            reqs = [("eth_getLogs", [{"address": list(addresses), "fromBlock": hex(a), "toBlock": hex(z)}]) for a, z in part]
            try:
                answers = batch(w3, reqs)
            except errors.ConnectionFailed:
                raise
            except errors.ChainError as exc:
                # A node's result limit ("query returned more than 10000 results", "block range too
                # large"): every span of the batch split in four, down to single blocks.
                if all(a == z for a, z in part) or not any(w in str(exc).lower() for w in _LIMIT_WORDS):
                    raise
                smaller: list[tuple[int, int]] = []
                for a, z in part:
                    step = max(1, (z - a + 1) // 4)
                    smaller.extend((lo, min(lo + step - 1, z)) for lo in range(a, z + 1, step))
                spans[pos : pos + len(part)] = smaller
                continue
            for (a, z), logs in zip(part, answers):
                chain: list[tuple[Any, ...]] = []
                for log in logs:
                    slot = slots.get(str(log["address"]).lower())
                    if log.get("removed") or slot is None:
                        continue
                    tx = log.get("transactionHash")
                    chain.append((
                        int(log["blockNumber"], 16), int(log["logIndex"], 16), bytes.fromhex(log["blockHash"][2:]),
                        bytes.fromhex(tx[2:]) if tx else None, slot,
                        bytes.fromhex("".join(t[2:] for t in log["topics"])), bytes.fromhex(log["data"][2:]),
                    ))
                chain.sort(key=lambda r: (r[0], r[1]))
                mine = [
                    (blk, li, hashes.get(blk), tx, contract, topics, data)
                    for blk, li, tx, contract, topics, data in self.conn.execute(
                        "SELECT block, log_index, tx_hash, contract, topics, data FROM events WHERE id >= ? AND id < ? ORDER BY id",
                        (a << _LOG_BITS, (z + 1) << _LOG_BITS),
                    )
                ]
                if mine != chain:
                    return _first_difference(mine, chain)
            pos += len(part)
        return None

    # --------------------------------------------------------------------------- reading

    def raw_events(self, *, where: str = "", params: Sequence[Any] = ()) -> Iterator[RawEvent]:
        """Yield stored events in chain order (optionally filtered by an SQL condition on `e`)."""
        sql = (
            "SELECT e.id, e.block, e.log_index, e.contract, e.name, e.topics, e.data, COALESCE(b.timestamp, 0) "
            "FROM events e LEFT JOIN blocks b ON b.number = e.block " + (f"WHERE {where} " if where else "") + "ORDER BY e.id"
        )
        for row in self.conn.execute(sql, params).rows():
            if not _row_ok(row[0], row[1], row[2], row[3], row[5], row[6]) or type(row[7]) is not int:
                raise _damaged(self.path, f"event row {row[0]!r} is malformed")
            yield RawEvent(row[0], row[1], row[2], row[3], row[4], split_topics(row[5]), row[6], row[7])

    def state(self) -> LedgerState:
        """Replay every stored event into a fresh :class:`LedgerState` (cached until the next sync)."""
        count = self.event_count()
        if self._state_cache is not None and self._state_cache[0] == count:
            return self._state_cache[1]
        st = replay(self.raw_events(), strict=True)
        self._state_cache = (count, st)
        return st

    def upstream_lots(self, lot_id: str | bytes) -> list[bytes]:
        """Return the lot and every lot it was made from, transitively."""
        return self.graph().upstream(_b32(lot_id))

    def downstream_lots(self, lot_id: str | bytes) -> list[bytes]:
        """Return the lot and every lot made from it, transitively."""
        return self.graph().downstream(_b32(lot_id))

    def lot_rows(self, lot_ids: Sequence[bytes]) -> list[tuple[Any, ...]]:
        """Return (lot_id, material, mass, origin, creator, kind, event) of the given lots that exist."""
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(lot_ids), 900):
            part = lot_ids[start : start + 900]
            out.extend(
                self.conn.execute(
                    "SELECT lot_id, material, mass, origin, holder, kind, event FROM lots WHERE lot_id IN (" + ",".join("?" * len(part)) + ")",
                    part,
                )
            )
        return out

    def lots(
        self,
        *,
        holder: str | None = None,
        material: str | bytes | None = None,
        country: str | None = None,
        state: LotState | str | None = None,
        kind: LotKind | str | None = None,
        minted_from: int | None = None,
        minted_to: int | None = None,
        limit: int | None = None,
    ) -> list["LotRow"]:
        """Return the lots as they stand at the last synced block, in creation order, filtered.

        Read-only: the answer comes from the replayed state (:meth:`state`, cached until the next
        sync), so holder, mass and state are current, not as minted. Filters combine with AND:
        `holder` an address (any case); `material` a code or its bytes32; `country` an ISO 3166
        alpha-2 code (lots made by an operation carry none); `state` and `kind` an enum member or its
        name in any case (another name raises ValueError); `minted_from`/`minted_to` unix seconds,
        both inclusive; `limit` at most that many rows.
        """
        want_holder = holder.lower() if holder else None
        want_material = _b32(material) if material is not None else None
        want_country = country.upper().encode() if country else None
        want_state = _enum_member(LotState, state, "state")
        want_kind = _enum_member(LotKind, kind, "kind")
        out: list[LotRow] = []
        st = self.state()
        for rec in st.creation_order():
            if want_holder is not None and rec.holder != want_holder:
                continue
            if want_material is not None and rec.material != want_material:
                continue
            if want_country is not None and rec.origin[:2] != want_country:
                continue
            if want_state is not None and rec.state != want_state:
                continue
            if want_kind is not None and rec.kind != want_kind:
                continue
            if minted_from is not None and rec.timestamp < minted_from:
                continue
            if minted_to is not None and rec.timestamp > minted_to:
                continue
            out.append(LotRow.of(rec))
            if limit is not None and len(out) >= limit:
                break
        return out

    def frozen_lots(self) -> set[bytes]:
        """Return the lots whose last freeze event froze them."""
        state: dict[bytes, bool] = {}
        for key, name in self.conn.execute("SELECT key, name FROM events WHERE name IN ('LotFrozen','LotUnfrozen') ORDER BY id"):
            state[key] = name == "LotFrozen"
        return {k for k, v in state.items() if v}

    def has_lot(self, lot_id: str | bytes) -> bool:
        """Whether the index knows the lot."""
        if self._graph is not None:
            return _b32(lot_id) in self._graph.lots
        return self.conn.execute("SELECT 1 FROM lots WHERE lot_id=?", (_b32(lot_id),)).fetchone() is not None

    def substate(self, lot_ids: Iterable[bytes]) -> LedgerState:
        """Replay only the events about `lot_ids` (their lots, the operations creating them, their
        attestations and revocations, and the registry) into a non-strict :class:`LedgerState`."""
        c = self.conn
        c.execute("CREATE TEMP TABLE IF NOT EXISTS sel(lot_id BLOB PRIMARY KEY) WITHOUT ROWID")
        c.execute("DELETE FROM sel")
        c.executemany("INSERT OR IGNORE INTO sel VALUES(?)", ((i,) for i in lot_ids))
        # Sibling outputs of the creating operations: their masses set each output's allocation share.
        c.execute(
            "INSERT OR IGNORE INTO sel SELECT o2.lot_id FROM op_out o2 WHERE o2.op IN "
            "(SELECT o.op FROM sel s CROSS JOIN op_out o ON o.lot_id = s.lot_id)"
        )
        # A union of indexed lookups (an OR of the same conditions made SQLite scan every event).
        where = (
            "e.id IN (SELECT id FROM events WHERE key IN (SELECT lot_id FROM sel)"
            " UNION SELECT o.op FROM sel s CROSS JOIN op_out o ON o.lot_id = s.lot_id"
            " UNION SELECT id FROM events WHERE name = 'Revoked' AND key IN (SELECT a.uid FROM sel s CROSS JOIN attested a ON a.lot_id = s.lot_id)"
            " UNION SELECT id FROM events WHERE contract = 0 AND name IN (" + ",".join(f"'{n}'" for n in _REGISTRY_EVENTS) + "))"
        )
        st = replay(self.raw_events(where=where), strict=False)
        c.execute("DELETE FROM sel")
        return st


_HEAD_FN = contract_abi("RinneLedger").fn("ledgerHead")


#: Blocks an eth_getLogs of the check asks for at once (a node's result limit splits a span further).
_LOG_SPAN = 10_000
_LIMIT_WORDS = ("too many", "limit", "range", "exceed", "too large", "response size", "more than")


class _NoHistory(Exception):
    """The node refused ``eth_call`` at an old block (it keeps no historical state)."""


def _ledger_heads(w3: Any, addresses: tuple[str, str], blocks: list[int], *, history: bool = False) -> list[tuple[int, int]]:
    """Both contracts' packed head words (running hash ‖ sequence) at the end of each of `blocks`.
    With `history`, a node's refusal (not a lost connection) is raised as :class:`_NoHistory`."""
    data = "0x" + _HEAD_FN.selector.hex()
    out: list[tuple[int, int]] = []
    for start in range(0, len(blocks), 250):  # 500 eth_calls a batch
        part = blocks[start : start + 250]
        reqs = [("eth_call", [{"to": a, "data": data}, hex(b)]) for b in part for a in addresses]
        try:
            raw = [bytes.fromhex(r[2:]) for r in batch(w3, reqs)]
        except errors.ConnectionFailed:
            raise
        except errors.ChainError:
            if not history:
                raise
            raise _NoHistory() from None
        for k in range(len(part)):
            out.append((_head_word(raw[2 * k]), _head_word(raw[2 * k + 1])))
    return out


def _head_word(raw: bytes) -> int:
    # ledgerHead() returns (uint64 sequence, bytes32 head); the head word carries the sequence in its
    # low 64 bits, so it alone is compared. No code (a block before the deployment) reads as 0.
    if not raw:
        return 0
    if len(raw) != 64:
        raise errors.NotDeployed(f"ledgerHead() returned {len(raw)} bytes, not 64: is this a Rinne contract?")
    word = int.from_bytes(raw[32:64], "big")
    if word & ((1 << 64) - 1) != int.from_bytes(raw[:32], "big"):
        raise errors.NotDeployed("ledgerHead() returned a sequence its head word does not carry: is this a Rinne contract?")
    return word


def _first_difference(mine: list[tuple[Any, ...]], chain: list[tuple[Any, ...]]) -> tuple[int, str]:
    """The first block where stored rows (block, log index, block hash, tx, contract, topics, data)
    and the chain's differ, and what differs."""
    fields = ("block", "log index", "block hash", "transaction", "contract", "topics", "data")
    for m, c in zip(mine, chain):
        if m == c:
            continue
        if m[:2] == c[:2]:
            what = next(f for f, x, y in zip(fields, m, c) if x != y)
            return m[0], f"the event at log index {m[1]}: its {what} is not the chain's"
        if c[:2] < m[:2]:
            return c[0], f"the chain's event at log index {c[1]} is missing from the index"
        return m[0], f"the index holds an event at log index {m[1]} the chain does not"
    if len(mine) > len(chain):
        return mine[len(chain)][0], f"the index holds an event at log index {mine[len(chain)][1]} the chain does not"
    return chain[len(mine)][0], f"the chain's event at log index {chain[len(mine)][1]} is missing from the index"


class _RangeTooLarge(Exception):
    pass


class _ReorgDuringChunk(errors.ChainError):
    """The blocks of a chunk changed while it was being fetched; nothing of it was stored."""


def _meta_int(path: str, key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _damaged(path, f"unreadable {key}") from None


def _row_ok(eid: Any, block: Any, li: Any, contract: Any, topics: Any, data: Any) -> bool:
    """Whether a stored event row has the shape ingest gives it."""
    return (
        type(eid) is int and type(block) is int and type(li) is int and eid == (block << _LOG_BITS) | li
        and contract in (LEDGER, ATTESTATIONS) and type(topics) is bytes and 0 < len(topics) <= 128
        and len(topics) % 32 == 0 and type(data) is bytes
    )


def _derive(
    eid: int, layout: EventLayout | None, topics: list[bytes], data: bytes, lots: list[Any], ins: list[Any],
    outs: list[Any], atts: list[Any], units: list[Any],
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


def replay(events: Iterable[RawEvent], *, strict: bool = True) -> LedgerState:
    """Decode stored events and replay them, in the order given, into a :class:`LedgerState`."""
    lay = layouts()
    st = LedgerState(strict=strict)
    for ev in events:
        layout = lay.get((ev.contract, ev.topics[0])) if ev.topics else None
        if layout is None:
            st.events += 1
            continue
        try:
            args = layout.decode(ev.topics, ev.data)
        except (ValueError, IndexError, TypeError):
            raise errors.IndexCorrupt(f"stored event {ev.id} ({layout.name}) cannot be decoded: delete the index and sync again") from None
        st.apply(layout.name, args, ev.block, ev.timestamp, ev.id)
    return st
