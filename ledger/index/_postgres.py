"""The event index on PostgreSQL (issue 15): the same tables, checks and reorg handling as the SQLite file.

Nothing here is imported for a SQLite index (``psycopg`` loads only when a ``postgresql://`` index is
opened), and the SQLite path keeps its own connection classes: the index's code is written once, in
SQLite's SQL, and :class:`_PgConnection` translates each statement once (cached) into PostgreSQL's:

- ``?`` placeholders become ``%s``; ``INSERT OR REPLACE`` an ``ON CONFLICT … DO UPDATE`` that sets
  every column (the columns not given back to their default, as SQLite's delete-and-insert does);
  ``INSERT OR IGNORE`` an ``ON CONFLICT DO NOTHING``; ``CROSS JOIN … ON`` (SQLite's join-order hint)
  a ``JOIN``; BLOB columns BYTEA, INTEGER ones BIGINT;
- plain multi-row inserts (events, op_in, op_out) go by ``COPY``;
- psycopg's errors become the ones the SQLite path raises: a duplicate or constraint violation
  :class:`sqlite3.IntegrityError` (the sync maps it to IndexCorrupt), a lost or refused connection
  :class:`ledger.errors.IndexUnavailable`, a role without write rights IndexReadOnly, anything else (a dropped table, a column of the wrong type)
  :class:`ledger.errors.IndexCorrupt`, since the database then no longer holds what ingest wrote.

One PostgreSQL schema per deployment (:func:`schema_name`: chain id and both contract addresses),
as the SQLite index keeps one file per deployment. The one syncing writer is elected by a
session-level ``pg_advisory_lock`` on the schema (a second syncer waits for it, then finds the index
synced and returns); each ingested batch is one transaction, so readers never see half of one.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ledger import errors

if TYPE_CHECKING:
    from ledger.domain.models import Deployment

#: URL schemes that open a PostgreSQL index instead of a SQLite file.
SCHEMES = ("postgresql://", "postgres://")

# The schema of ledger/index/base.py in PostgreSQL's types: the same tables, keys and indexes.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks(number BIGINT PRIMARY KEY, hash BYTEA NOT NULL, timestamp BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
    id BIGINT PRIMARY KEY, block BIGINT NOT NULL, log_index BIGINT NOT NULL, tx_hash BYTEA, contract BIGINT NOT NULL,
    name TEXT NOT NULL, key BYTEA, topics BYTEA NOT NULL, data BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS events_key ON events(key);
CREATE INDEX IF NOT EXISTS events_freeze ON events(name, id) WHERE name IN ('LotFrozen', 'LotUnfrozen');
CREATE INDEX IF NOT EXISTS events_registry ON events(id) WHERE contract = 0 AND name IN (
    'AdminTransferred', 'AdminTransferStarted', 'ParticipantRegistered', 'RolesChanged', 'ParticipantSuspended',
    'ParticipantReinstated');
CREATE TABLE IF NOT EXISTS lots(
    lot_id BYTEA PRIMARY KEY, event BIGINT NOT NULL, material BYTEA NOT NULL, mass BIGINT NOT NULL,
    origin BYTEA NOT NULL, holder TEXT NOT NULL, kind BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS lots_event ON lots(event);
CREATE TABLE IF NOT EXISTS op_in(op BIGINT NOT NULL, pos BIGINT NOT NULL, lot_id BYTEA NOT NULL, used BIGINT NOT NULL,
    PRIMARY KEY(op, pos));
CREATE INDEX IF NOT EXISTS op_in_lot ON op_in(lot_id);
CREATE TABLE IF NOT EXISTS op_out(op BIGINT NOT NULL, pos BIGINT NOT NULL, lot_id BYTEA NOT NULL, PRIMARY KEY(op, pos));
CREATE INDEX IF NOT EXISTS op_out_lot ON op_out(lot_id);
CREATE TABLE IF NOT EXISTS attested(uid BYTEA PRIMARY KEY, lot_id BYTEA NOT NULL, event BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS attested_lot ON attested(lot_id);
"""

_TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", _SCHEMA))
_INDEXES = frozenset(re.findall(r"CREATE INDEX IF NOT EXISTS (\w+)", _SCHEMA))

#: Each table's key and all its columns in order (what an INSERT OR REPLACE needs to become an upsert).
_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "meta": (("key",), ("key", "value")),
    "blocks": (("number",), ("number", "hash", "timestamp")),
    "lots": (("lot_id",), ("lot_id", "event", "material", "mass", "origin", "holder", "kind")),
    "attested": (("uid",), ("uid", "lot_id", "event")),
    "sel": (("lot_id",), ("lot_id",)),
}

_REPLACE = re.compile(r"^\s*INSERT OR REPLACE INTO (\w+)\s*(?:\(([^)]*)\))?\s*(VALUES.*)$", re.S | re.I)
_IGNORE = re.compile(r"^\s*INSERT OR IGNORE INTO ", re.I)
_COPY = re.compile(r"^\s*INSERT INTO (events|op_in|op_out) VALUES\s*\(\s*\?(?:\s*,\s*\?)*\s*\)\s*$", re.I)


def is_url(path: str) -> bool:
    """Whether an index location names a PostgreSQL database rather than a SQLite file."""
    return path.startswith(SCHEMES)


def schema_name(deployment: Deployment) -> str:
    """The PostgreSQL schema of one deployment's index: chain id and a digest of both contract addresses
    (two deployments never share one, as they never share a SQLite file)."""
    digest = hashlib.sha256(f"{deployment.ledger.lower()}:{deployment.attestations.lower()}".encode()).hexdigest()
    return f"rinne_{deployment.chain_id}_{deployment.ledger.lower()[2:14]}_{digest[:12]}"


def _placeholders(sql: str) -> str:
    """``?`` → ``%s`` and ``%`` → ``%%``, outside quoted literals."""
    out: list[str] = []
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if not quoted and ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """One statement of the index's SQLite SQL in PostgreSQL's (cached: the index runs a few dozen distinct ones)."""
    m = _REPLACE.match(sql)
    if m:
        table, given, values = m.group(1), m.group(2), m.group(3)
        key, columns = _COLUMNS[table]
        cols = tuple(c.strip() for c in given.split(",")) if given else columns
        sets = [f"{c} = EXCLUDED.{c}" for c in cols if c not in key]
        sets += [f"{c} = DEFAULT" for c in columns if c not in cols]
        action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
        sql = f"INSERT INTO {table}({', '.join(cols)}) {values} ON CONFLICT ({', '.join(key)}) {action}"
    elif _IGNORE.match(sql):
        sql = _IGNORE.sub("INSERT INTO ", sql) + " ON CONFLICT DO NOTHING"
    # SQLite's CROSS JOIN … ON fixes the join order; PostgreSQL plans an inner JOIN itself.
    sql = re.sub(r"\bCROSS JOIN\b", "JOIN", sql)
    sql = re.sub(r"\bWITHOUT ROWID\b", "", sql)
    sql = re.sub(r"\bBLOB\b", "BYTEA", sql)
    return _placeholders(sql)


def redact(url: str) -> str:
    """The URL without its password (it appears in messages and ``EventIndex.path``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def split_schema(url: str) -> tuple[str, str | None]:
    """The URL without a ``schema=`` query parameter (libpq does not know it), and that parameter."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), schema


def _lock_key(schema: str, purpose: str) -> int:
    # A signed 64-bit key per (schema, purpose): pg_advisory_lock's key space is the whole database.
    return int.from_bytes(hashlib.sha256(f"rinne-index:{purpose}:{schema}".encode()).digest()[:8], "big", signed=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_SELECT = re.compile(r"^\s*SELECT\b", re.I)
_NAMES = itertools.count()


class _PgCursor:
    """A psycopg cursor that takes SQLite's SQL and raises the errors the SQLite index raises.

    A SELECT runs when its rows are first asked for: by ``fetchone``/``fetchall``/``fetchmany`` as one
    query (the small lookups), by iteration or :meth:`rows` through a server-side cursor read in
    batches, so that a scan of every event (verify, replay, the audit) holds one batch in memory, as
    SQLite's stepping does, not the whole result. Other statements run at once."""

    __slots__ = ("_cur", "_where", "_pending")

    def __init__(self, cur: Any, where: str) -> None:
        self._cur = cur
        self._where = where
        self._pending: tuple[str, tuple[Any, ...]] | None = None

    def _fail(self, exc: Exception) -> None:
        import psycopg

        if isinstance(exc, psycopg.IntegrityError):
            raise sqlite3.IntegrityError(_first_line(exc)) from None
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):  # the role's rights, not damage
            raise errors.IndexReadOnly(f"{self._where}: the database role may not write the index ({_first_line(exc)})") from None
        if isinstance(exc, (psycopg.OperationalError, psycopg.errors.QueryCanceled)) or self._cur.connection.closed:
            raise errors.IndexUnavailable(
                f"{self._where}: the index database is unreachable or busy ({_first_line(exc)}): retry"
            ) from None
        if isinstance(exc, UnicodeDecodeError):
            raise errors.IndexCorrupt(
                f"{self._where}: the index is damaged (text that is not UTF-8): drop its schema and sync again"
            ) from None
        raise errors.IndexCorrupt(
            f"{self._where}: the index is damaged ({_first_line(exc)}): drop its schema and sync again"
        ) from None

    def execute(self, sql: str, params: Any = ()) -> _PgCursor:
        query = translate(sql)
        if _SELECT.match(query):
            self._pending = (query, tuple(params))
            return self
        try:
            self._cur.execute(query, tuple(params))  # () too: %% must become %
        except Exception as exc:
            self._fail(exc)
        return self

    def _run(self) -> None:
        if self._pending is None:
            return
        query, params = self._pending
        self._pending = None
        try:
            self._cur.execute(query, params)
        except Exception as exc:
            self._fail(exc)

    def executemany(self, sql: str, rows: Any) -> _PgCursor:
        try:
            bulk = _COPY.match(sql)
            if bulk:
                # COPY is several times faster than an INSERT per row; a duplicate key still fails it whole.
                with self._cur.copy(f"COPY {bulk.group(1)} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                self._cur.executemany(translate(sql), rows)
        except Exception as exc:
            self._fail(exc)
        return self

    def fetchone(self) -> Any:
        self._run()
        try:
            return self._cur.fetchone()
        except Exception as exc:
            self._fail(exc)

    def fetchall(self) -> list[Any]:
        self._run()
        try:
            return list(self._cur.fetchall())
        except Exception as exc:
            self._fail(exc)
            raise

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        self._run()
        try:
            return list(self._cur.fetchmany(size or 1))
        except Exception as exc:
            self._fail(exc)
            raise

    def __iter__(self) -> Iterator[Any]:
        return self.rows()

    def rows(self, size: int = 2_000) -> Iterator[Any]:
        """Iterate the result in batches of `size` rows (a server-side cursor: one batch in memory)."""
        if self._pending is None:  # already run as one query
            while True:
                batch_ = self.fetchmany(size)
                if not batch_:
                    return
                yield from batch_
            return
        query, params = self._pending
        self._pending = None
        # WITH HOLD: the connection is in autocommit, and the scan may outlive the statement's transaction
        # (other statements run between its batches, as they do between SQLite's steps).
        # Rows in binary: an event's topics and data come as they are, not hex-escaped text parsed back
        # (a scan of every event ran 1.6x faster, as fast as SQLite's).
        named = self._cur.connection.cursor(name=f"rinne_scan_{next(_NAMES)}", withhold=True, binary=True)
        try:
            named.execute(query, params)
            while True:
                batch_ = named.fetchmany(size)
                yield from batch_
                if len(batch_) < size:  # the last one: no round trip for an empty FETCH
                    return
        except Exception as exc:
            self._fail(exc)
        finally:
            if not named.closed and not named.connection.closed:
                try:
                    named.close()
                except Exception:  # the connection broke: the server drops the cursor with it
                    pass


class _PgConnection:
    """The part of :class:`sqlite3.Connection` the index uses, on a psycopg connection in autocommit mode
    (``BEGIN``/``COMMIT`` are sent as the SQLite path sends them)."""

    def __init__(self, conn: Any, where: str) -> None:
        self.raw = conn
        self.index_path = where

    def cursor(self) -> _PgCursor:
        # Binary results (the same Python types: bytes, int, str), as the scans read them.
        return _PgCursor(self.raw.cursor(binary=True), self.index_path)

    def execute(self, sql: str, params: Any = ()) -> _PgCursor:
        return self.cursor().execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> _PgCursor:
        return self.cursor().executemany(sql, rows)

    def executescript(self, script: str) -> None:
        cur = self.cursor()
        try:
            self.raw.execute(script)
        except Exception as exc:
            cur._fail(exc)

    def close(self) -> None:
        self.raw.close()


class PgIndex:
    """What a PostgreSQL index adds to :class:`ledger.index.base.IndexBase`: the URL, schema and locks."""

    def __init__(self, url: str, schema: str, where: str) -> None:
        self.url = url  # with its password: to open another connection (never shown)
        self.schema = schema
        self.where = where
        self.writer_key = _lock_key(schema, "writer")
        self.ddl_key = _lock_key(schema, "ddl")

    def target(self) -> str:
        """The URL with the schema, as :meth:`EventIndex.open` takes it again."""
        base, _ = split_schema(self.url)
        sep = "&" if urlsplit(base).query else "?"
        return f"{base}{sep}schema={self.schema}"

    def connect(self) -> _PgConnection:
        """Open a connection to the index's schema, creating the schema and its tables when absent."""
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is a dependency
            raise errors.ConfigError("a PostgreSQL index needs psycopg 3: pip install 'psycopg[binary]'") from None
        base, _ = split_schema(self.url)
        try:
            raw = psycopg.connect(base, autocommit=True, connect_timeout=10, application_name="rinne-index")
        except psycopg.ProgrammingError as exc:  # a malformed URL or option
            raise errors.ConfigError(f"{self.where}: not a usable PostgreSQL URL ({_first_line(exc)})") from None
        except psycopg.Error as exc:
            raise errors.IndexUnavailable(f"{self.where}: cannot reach the index database ({_first_line(exc)})") from None
        conn = _PgConnection(raw, self.where)
        try:
            quoted = '"' + self.schema.replace('"', '""') + '"'
            tables, indexes = self._present(raw)
            if not (tables and indexes):
                # Several processes may open a new index at once: DDL under a lock, in one transaction.
                conn.execute("BEGIN")
                try:
                    conn.execute("SELECT pg_advisory_xact_lock(?)", (self.ddl_key,)).fetchone()  # (a SELECT runs when fetched)
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
                    conn.execute(f"SET LOCAL search_path TO {quoted}")
                    conn.executescript(_SCHEMA)
                    conn.execute("COMMIT")
                except errors.IndexReadOnly:
                    conn.execute("ROLLBACK")
                    if not tables:
                        raise
                    # Only indexes missing (a first sync's bulk load under way) and a role that may not make
                    # them: it reads without them.
            conn.execute(f"SET search_path TO {quoted}")
            # A WITH HOLD cursor declared in autocommit is computed whole when its statement commits, and every
            # scan is read to its end: a plan that is quick to its first rows (the default assumes a tenth of
            # them is read) gains nothing. With it, the freeze-event scan behind every trace walked the primary
            # key through all events (about 16 ms on 100k events) instead of using events_freeze.
            conn.execute("SET cursor_tuple_fraction = 1.0")
        except BaseException:
            raw.close()
            raise
        return conn

    def _present(self, raw: Any) -> tuple[bool, bool]:
        """Whether every table, and every secondary index, of the schema is there.

        Both there (the usual open): no DDL, whose locks would queue behind a sync's open transaction.
        Missing indexes are those a first sync's bulk load dropped and has not built again yet."""
        rows = raw.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
            (self.schema,),
        ).fetchall()
        have = {r[0] for r in rows}
        return _TABLES <= have, _INDEXES <= have

    @contextmanager
    def writer_lock(self, conn: _PgConnection) -> Iterator[None]:
        """Hold the schema's advisory writer lock (waiting for another holder) on `conn`'s session."""
        conn.execute("SELECT pg_advisory_lock(?)", (self.writer_key,)).fetchone()  # (a SELECT runs when fetched)
        try:
            yield
        finally:
            if not conn.raw.closed:
                conn.execute("SELECT pg_advisory_unlock(?)", (self.writer_key,)).fetchone()

    def drop_secondary_indexes(self, conn: _PgConnection) -> None:
        """Drop the schema's secondary indexes (not the tables' keys) before a bulk load."""
        for name in sorted(_INDEXES):
            conn.execute(f"DROP INDEX IF EXISTS {name}")

    def build_secondary_indexes(self, conn: _PgConnection) -> None:
        """Create the indexes :meth:`drop_secondary_indexes` dropped, and gather the tables' statistics."""
        conn.executescript(_SCHEMA)
        # Right after a first sync autovacuum has not analysed the tables yet, and without statistics the
        # planner guesses: it sorted every event through a hash join for the audit's scan instead of walking
        # the primary key. A sample of each table, well under a second at 1M events.
        conn.execute(f"ANALYZE {', '.join(sorted(_TABLES))}")


def open_pg(url: str, deployment: Deployment | None) -> tuple[_PgConnection, PgIndex]:
    """Connect to a PostgreSQL index: schema from the URL's ``schema=``, else from `deployment`, else ``rinne``."""
    base, schema = split_schema(url)
    if schema is None:
        schema = schema_name(deployment) if deployment is not None else "rinne"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise errors.ConfigError(f"{schema!r} is not a schema name this index takes (letters, digits, _; at most 63)")
    where = redact(f"{base}{'&' if urlsplit(base).query else '?'}schema={schema}")
    pg = PgIndex(url, schema, where)
    return pg.connect(), pg
