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

import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from typing_extensions import Self

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer is the user's business there
    fcntl = None  # type: ignore[assignment]

from ledger import errors
from ledger.chain.logs import ATTESTATIONS, LEDGER
from ledger.domain.models import Deployment
from ledger.index.graph import MaterialGraph
from ledger.replay.state import LedgerState

if TYPE_CHECKING:
    from ledger.index._postgres import PgIndex

SCHEMA_VERSION = "1"
#: Event ids are (block << 24) | log index: chain order, and a block's events form one id range.
_LOG_BITS = 24
_REGISTRY_EVENTS = (
    "AdminTransferred",
    "AdminTransferStarted",
    "ParticipantRegistered",
    "RolesChanged",
    "ParticipantSuspended",
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


# Operational errors that say the file is in use or unreachable, not that it is damaged. Any other
# (e.g. "no such column" after a flipped byte in the schema text) means the file cannot be trusted.
_TRANSIENT_WORDS = ("locked", "busy", "readonly", "read-only", "unable to open", "disk i/o", "interrupted")


def _damaged(path: str, what: object) -> errors.IndexCorrupt:
    if path.startswith(("postgresql://", "postgres://")):  # a shared index: its schema is what to rebuild
        return errors.IndexCorrupt(f"{path}: the index is damaged ({what}): drop its schema and sync again")
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

    def execute(self, *args: Any) -> _Cursor:
        try:
            return super().execute(*args)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            _reraise(exc, self._path())
            raise

    def executemany(self, *args: Any) -> _Cursor:
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

    def fetchmany(self, size: int | None = 1) -> list[Any]:
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

    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)

    def execute(self, *args: Any) -> _Cursor:
        cur: _Cursor = self.cursor()
        return cur.execute(*args)

    def executemany(self, *args: Any) -> _Cursor:
        cur: _Cursor = self.cursor()
        return cur.executemany(*args)

    def executescript(self, script: str) -> sqlite3.Cursor:
        try:
            return super().executescript(script)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            _reraise(exc, self.index_path)
            raise


class IndexBase:
    """The database, its metadata and lifecycle; :class:`ledger.index.store.EventIndex` adds sync, checks and queries."""

    def __init__(self, conn: _Connection, path: str, pg: PgIndex | None = None) -> None:
        self.conn = conn
        self.path = path
        #: The URL, schema and locks of a PostgreSQL index (ledger/index/_postgres.py); None for SQLite.
        self.pg = pg
        self._state_cache: tuple[int, LedgerState] | None = None
        self._graph: MaterialGraph | None = None
        self._graph_block: int | None = None  # the synced block the graph was loaded or kept up at

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
            self._graph, self._graph_block = g, self.synced_block
        return self._graph

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the index's writer lock: one process at a time syncs or rolls back one index file.

        Two commands syncing the same index at once (``rinne lot history`` beside ``rinne gwp list``)
        would both store the same events. The lock is an advisory ``flock`` on a file beside the index
        (none for ``:memory:``, nor where the platform has no flock). Once it is held, what this object
        cached from the file is dropped if another process moved the file on meanwhile. On PostgreSQL
        the lock is a session-level ``pg_advisory_lock`` on the index's schema: it elects the one
        syncing writer among every process and machine that uses the database.
        """
        if self.pg is not None:
            with self.pg.writer_lock(cast(Any, self.conn)):
                if self._graph is not None and self._graph_block != self.synced_block:
                    self._graph = None
                self._state_cache = None
                yield
                self._graph_block = self.synced_block
            return
        if self.path == ":memory:" or fcntl is None:
            yield
            return
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self._graph is not None and self._graph_block != self.synced_block:
                self._graph = None
            self._state_cache = None
            yield
            self._graph_block = self.synced_block
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # ------------------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, path: str | Path, *, deployment: Deployment | None = None) -> Self:
        """Open (creating when absent) the index at `path`; ``":memory:"`` gives a throwaway one.

        A ``postgresql://`` URL opens the shared index in that database instead: one schema per
        deployment, named after `deployment` (chain id and contract addresses) unless the URL says
        ``?schema=NAME``. Raises IndexUnavailable when the server cannot be reached, ConfigError for a
        URL it refuses.
        """
        p = str(path)
        if p.startswith(("postgresql://", "postgres://")):
            return cls._open_pg(p, deployment)
        if p != ":memory:":
            Path(p).parent.mkdir(parents=True, exist_ok=True)
        # Several commands opening one new file at once (a shell's `&`): switching it to WAL and creating the
        # schema need a write lock that SQLite may refuse at once ("database is locked") instead of waiting
        # for, so a locked open is tried again for a while; anything else is a file that is not an index.
        deadline = time.monotonic() + 30.0
        while True:
            conn: _Connection | None = None
            try:
                conn = sqlite3.connect(
                    p, timeout=30.0, isolation_level=None, check_same_thread=False, factory=_Connection
                )  # waits for another opener
                conn.index_path = p
                # 16 kB pages for a new file: an event row is ~600 bytes, and bulk inserts run ~15 % faster.
                conn.execute("PRAGMA page_size=16384")
                conn.execute("PRAGMA journal_mode=WAL" if p != ":memory:" else "PRAGMA journal_mode=MEMORY")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA temp_store=MEMORY")
                conn.execute("PRAGMA cache_size=-65536")
                # Every open runs the whole schema: it also rebuilds the secondary indexes of a first sync
                # that dropped them and did not get to its end (IndexBase._drop_secondary_indexes).
                conn.executescript(_SCHEMA)
                version = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if version is None:  # a new file (another opener may write the same row: either's is the version)
                    conn.execute("INSERT OR IGNORE INTO meta VALUES('schema', ?)", (SCHEMA_VERSION,))
                    version = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                break
            except (sqlite3.DatabaseError, errors.IndexCorrupt) as exc:
                if conn is not None:
                    conn.close()
                locked = isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in ("locked", "busy"))
                if locked and time.monotonic() < deadline:
                    time.sleep(0.02 + random.random() * 0.08)
                    continue
                raise errors.IndexCorrupt(f"{p}: not a usable event index ({str(exc).split(': ')[-1]})") from None
        if version is None or version[0] != SCHEMA_VERSION:
            conn.close()
            raise errors.IndexCorrupt(
                f"{p}: index schema {version[0] if version else None}, this library reads {SCHEMA_VERSION}: delete it and sync again"
            )
        return cls(conn, p)

    @classmethod
    def _open_pg(cls, url: str, deployment: Deployment | None) -> Self:
        from ledger.index._postgres import open_pg

        raw, pg = open_pg(url, deployment)
        # The PostgreSQL connection speaks the part of sqlite3's API the index uses (and its SQL, translated).
        conn = cast(_Connection, raw)
        try:
            version = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if version is None:  # a new schema (another opener may be writing the same row: either is it)
                conn.execute("INSERT OR IGNORE INTO meta VALUES('schema', ?)", (SCHEMA_VERSION,))
                version = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except BaseException:
            conn.close()
            raise
        if version is None or version[0] != SCHEMA_VERSION:
            conn.close()
            raise errors.IndexCorrupt(
                f"{pg.where}: index schema {version[0] if version else None}, this library reads {SCHEMA_VERSION}: "
                "drop the schema and sync again"
            )
        return cls(conn, pg.where, pg)

    def reopen(self) -> Self:
        """Open the same index again on a connection of its own (a reader beside this object's writer)."""
        if self.pg is not None:
            return self._open_pg(self.pg.target(), None)
        return self.open(self.path)

    def close(self) -> None:
        """Close the database."""
        self.conn.close()

    def __enter__(self) -> Self:
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

    def _drop_secondary_indexes(self) -> None:
        """Drop every index of :data:`_SCHEMA` (not the tables' keys): a bulk load builds them once at its end."""
        if self.pg is not None:
            self.pg.drop_secondary_indexes(cast(Any, self.conn))
            return
        names = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
        for (name,) in names:
            quoted = str(name).replace('"', '""')
            self.conn.execute(f'DROP INDEX IF EXISTS "{quoted}"')

    def _build_secondary_indexes(self) -> None:
        """Create the indexes :meth:`_drop_secondary_indexes` dropped (a sorted build of each)."""
        if self.pg is not None:
            self.pg.build_secondary_indexes(cast(Any, self.conn))
            return
        # Each build sorts every row's key. SQLite sorts in memory up to the cache size, then in sorted
        # runs it writes to temporary files: kept in memory too under temp_store=MEMORY, so the build of
        # a 1M-event index held ~65 MB more than the whole sync before it. On disk here (the OS caches
        # them, outside this process), with the runs a quarter of the cache: the build's memory no
        # longer grows with the index.
        c = self.conn
        cache = c.execute("PRAGMA cache_size").fetchone()[0]
        c.execute("PRAGMA temp_store=FILE")
        c.execute(f"PRAGMA cache_size={int(cache) // 4}")
        try:
            c.executescript(_SCHEMA)
        finally:
            c.execute(f"PRAGMA cache_size={int(cache)}")
            c.execute("PRAGMA temp_store=MEMORY")

    # --------------------------------------------------------------------------- reading


def _meta_int(path: str, key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _damaged(path, f"unreadable {key}") from None


def _row_ok(eid: Any, block: Any, li: Any, contract: Any, topics: Any, data: Any) -> bool:
    """Whether a stored event row has the shape ingest gives it."""
    return (
        type(eid) is int
        and type(block) is int
        and type(li) is int
        and eid == (block << _LOG_BITS) | li
        and contract in (LEDGER, ATTESTATIONS)
        and type(topics) is bytes
        and 0 < len(topics) <= 128
        and len(topics) % 32 == 0
        and type(data) is bytes
    )
