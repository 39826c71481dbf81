"""The vault's store in the shared PostgreSQL database of a PostgreSQL index (issue 17).

The same bytes as the folder store, in two tables of their own schema: ``vault_objects`` (the ciphertexts, by
content address) and ``vault_records`` (the entries: content address and per-recipient wrapped data keys, by
the keccak of the record id). Encryption and wrapping happen in :class:`ledger.local.vault.Vault` before
anything is sent: the database, and anyone who reads it, sees ciphertexts and wrapped keys only, as a reader
of the folder would. The private keys stay in their owners' data directories (0600).

Concurrent writers are safe: a new entry is one ``INSERT … ON CONFLICT DO NOTHING`` (of two writers of one
record, one wins and the other is told), a ciphertext the same by its address, and a grant reads and
rewrites its entry in one transaction holding the row (``SELECT … FOR UPDATE``), so two grants at once keep
both recipients. A batch (:meth:`PgStore.put_batch`, the openings of one transaction or one landed chunk) is
one transaction of two set-wise inserts: committed whole, or not at all. The schema is ``rinne_vault``, or ``<schema>_vault`` when the index URL names its schema
(``?schema=``); its tables are made on first use, under a transaction-level advisory lock.

psycopg loads only when a PostgreSQL vault is opened.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ledger import errors

_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.vault_objects (address TEXT PRIMARY KEY, blob BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.vault_records (rkey BYTEA PRIMARY KEY, entry BYTEA NOT NULL);
"""


def _split(url: str) -> tuple[str, str]:
    """The URL without ``schema=`` (libpq does not know it) and the vault's schema."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode([(k, v) for k, v in query if k != "schema"]), parts.fragment))
    name = f"{schema}_vault" if schema else "rinne_vault"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise errors.ConfigError(f"{name!r} is not a schema name the vault takes (letters, digits, _; at most 63)")
    return base, name


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PgStore:
    """A vault store in PostgreSQL: see the module's description. One connection per store, opened on first use."""

    def __init__(self, url: str) -> None:
        self._url, self.schema = _split(url)
        self.where = _redact(self._url) + f" (schema {self.schema})"
        self._lock_key = int.from_bytes(hashlib.sha256(f"rinne-vault:ddl:{self.schema}".encode()).digest()[:8], "big", signed=True)
        self._conn: Any = None

    # ------------------------------------------------------------------ connection

    def _connection(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is a dependency
            raise errors.ConfigError("a PostgreSQL vault needs psycopg 3: pip install 'psycopg[binary]'") from None
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=10, application_name="rinne-vault")
        except psycopg.ProgrammingError as exc:
            raise errors.ConfigError(f"{self.where}: not a usable PostgreSQL URL ({_first_line(exc)})") from None
        except psycopg.Error as exc:
            raise errors.IndexUnavailable(f"{self.where}: cannot reach the vault database ({_first_line(exc)})") from None
        try:
            quoted = '"' + self.schema + '"'
            with conn.transaction():
                # Several parties may open a new vault at once: CREATE … IF NOT EXISTS races without a lock.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
                for statement in _TABLES.format(s=quoted).strip().splitlines():
                    conn.execute(statement)
        except psycopg.Error as exc:
            conn.close()
            raise self._error(exc) from None
        self._conn = conn
        return conn

    def _error(self, exc: Exception) -> errors.LedgerError:
        import psycopg

        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return errors.ConfigError(f"{self.where}: this role may not use the vault tables ({_first_line(exc)})")
        if isinstance(exc, psycopg.OperationalError):
            return errors.IndexUnavailable(f"{self.where}: lost the vault database ({_first_line(exc)})")
        return errors.ConfigError(f"{self.where}: the vault tables are not usable ({_first_line(exc)})")

    def _run(self, sql: str, params: tuple[Any, ...]) -> Any:
        import psycopg

        conn = self._connection()
        try:
            return conn.execute(sql.format(s='"' + self.schema + '"'), params)
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        """Close the store's connection (a later use opens another)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ the store

    def put_object(self, address: str, blob: bytes) -> None:
        """Store a ciphertext under its content address (the same address again: nothing to do)."""
        self._run("INSERT INTO {s}.vault_objects (address, blob) VALUES (%s, %s) ON CONFLICT DO NOTHING", (address, blob))

    def get_object(self, address: str) -> bytes | None:
        """The ciphertext stored under an address, or None."""
        row = self._run("SELECT blob FROM {s}.vault_objects WHERE address = %s", (address,)).fetchone()
        return bytes(row[0]) if row else None

    def read_entry(self, rkey: bytes) -> bytes | None:
        """The raw entry of a record key, or None."""
        row = self._run("SELECT entry FROM {s}.vault_records WHERE rkey = %s", (rkey,)).fetchone()
        return bytes(row[0]) if row else None

    def create_entry(self, rkey: bytes, raw: bytes) -> bool:
        """Store a new entry; False (and nothing written) when the record key has one already."""
        cur = self._run("INSERT INTO {s}.vault_records (rkey, entry) VALUES (%s, %s) ON CONFLICT DO NOTHING", (rkey, raw))
        return bool(cur.rowcount == 1)

    def put_batch(self, objects: Sequence[tuple[str, bytes]], entries: Sequence[tuple[bytes, bytes]]) -> list[bool]:
        """Store ciphertexts and new entries in one transaction; per entry, False when its key had one already."""
        import psycopg

        conn = self._connection()
        s = '"' + self.schema + '"'
        try:
            with conn.transaction():
                # One statement per table over arrays: one round trip each, however many records.
                conn.execute(
                    f"INSERT INTO {s}.vault_objects (address, blob) SELECT * FROM unnest(%s::text[], %s::bytea[]) ON CONFLICT DO NOTHING",
                    ([a for a, _ in objects], [b for _, b in objects]),
                )
                rows = conn.execute(
                    f"INSERT INTO {s}.vault_records (rkey, entry) SELECT * FROM unnest(%s::bytea[], %s::bytea[]) "
                    "ON CONFLICT DO NOTHING RETURNING rkey",
                    ([k for k, _ in entries], [e for _, e in entries]),
                ).fetchall()
        except psycopg.Error as exc:
            raise self._error(exc) from None
        made = {bytes(r[0]) for r in rows}
        return [k in made for k, _ in entries]

    def entries(self) -> Iterator[bytes]:
        """Every raw entry of the store."""
        for row in self._run("SELECT entry FROM {s}.vault_records ORDER BY rkey", ()).fetchall():
            yield bytes(row[0])

    def update_entry(self, rkey: bytes, change: Callable[[bytes | None], bytes | None]) -> None:
        """Replace an entry with ``change(old)`` (None: leave it), holding its row so no other writer comes between."""
        import psycopg

        conn = self._connection()
        s = '"' + self.schema + '"'
        try:
            with conn.transaction():
                row = conn.execute(f"SELECT entry FROM {s}.vault_records WHERE rkey = %s FOR UPDATE", (rkey,)).fetchone()
                new = change(bytes(row[0]) if row else None)
                if new is not None:
                    conn.execute(f"UPDATE {s}.vault_records SET entry = %s WHERE rkey = %s", (new, rkey))
        except psycopg.Error as exc:
            raise self._error(exc) from None
