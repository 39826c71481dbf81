"""The vault: plaintext that must not go on-chain (a record's openings), encrypted to the parties entitled to it.

Each record gets one random 256-bit data key; its data is encrypted once with AES-256-GCM and stored under its
content address (the keccak of the stored ciphertext). The data key is wrapped for each recipient as age's
X25519 recipients do: an ephemeral X25519 key agreement with the recipient's public key, HKDF-SHA256 over the
shared secret, AES-256-GCM over the data key. Granting a party access wraps the data key once more; the data is
never re-encrypted. Associated data binds the ciphertext to its record and each wrap to the record and the
ciphertext, so neither can be moved to another record.

The vault gives confidentiality, not authenticity: whoever can write the folder can replace an entry. What a
vault returns is believed only after it verifies against its on-chain commitment
(:func:`ledger.domain.disclosure.verify_disclosure`).

Two stores hold the same bytes (ciphertexts by content address, entries by the keccak of their record id): a
local folder (:class:`FolderStore`: folders 0700, files 0600, every write atomic, :mod:`ledger.local.files`),
and the shared PostgreSQL database of a PostgreSQL index (:class:`ledger.local._vault_pg.PgStore`). Encryption
and key wrapping happen here, before a store sees anything; the private keys never leave their owners' files.

Many records at once (:meth:`Vault.put_many`: the openings of one transaction, or of one landed chunk of a bulk
import, issue 16) are one store batch: in a folder one SQLite transaction in ``batches.sqlite`` beside the
record files (write-ahead log, ``synchronous=FULL``: one fsync of the log per batch instead of four per
record), in PostgreSQL one transaction. A batch lands whole or not at all, ciphertexts with their entries.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, ValidationError

from ledger.domain.disclosure import Hex32, Openings
from ledger.domain.hashing import keccak
from ledger.domain.identity import vault_id
from ledger.errors import ConfigError, DisclosureError, InvalidInput
from ledger.local.files import ensure_private_folder, fsync_folder, write_atomic

_DATA_TAG = b"rinne.vault.v1/data"
_WRAP_TAG = b"rinne.vault.v1/wrap"
_KDF_INFO = b"rinne.vault.v1/x25519"
_NONCE = 12
_KEY = 32


class _Wrap(BaseModel):
    """The data key of one record, encrypted to one recipient."""

    model_config = ConfigDict(frozen=True)

    ephemeral: str  # hex of the ephemeral X25519 public key
    nonce: str
    key: str  # hex of AES-GCM(kek, data key)


class _Entry(BaseModel):
    """A record in the vault: its content address and the wraps of its data key, by recipient public key (hex)."""

    model_config = ConfigDict(frozen=True)

    version: int = 1
    record_id: str
    address: Hex32
    wraps: dict[str, _Wrap]


def _public_bytes(key: bytes | X25519PublicKey) -> bytes:
    if isinstance(key, X25519PublicKey):
        return key.public_bytes_raw()
    if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
        raise InvalidInput("an X25519 public key has 32 bytes")
    return bytes(key)


def _record_key(record_id: str) -> bytes:
    if not isinstance(record_id, str) or not record_id:
        raise InvalidInput("a vault record needs a non-empty id")
    return keccak(record_id.encode("utf-8"))


def _kek(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_KEY, salt=ephemeral + recipient, info=_KDF_INFO).derive(shared)


def _wrap_aad(record_key: bytes, address: str) -> bytes:
    return _WRAP_TAG + record_key + bytes.fromhex(address[2:])


class VaultStore(Protocol):
    """Where a vault keeps its bytes: ciphertexts by content address, entries by record key. It sees no plaintext."""

    #: Where the store is, for messages (a folder, or a database URL without its password).
    where: str

    def put_object(self, address: str, blob: bytes) -> None:
        """Store a ciphertext under its content address (the same address again: nothing to do)."""

    def get_object(self, address: str) -> bytes | None:
        """The ciphertext stored under an address, or None."""

    def read_entry(self, rkey: bytes) -> bytes | None:
        """The raw entry of a record key, or None."""

    def create_entry(self, rkey: bytes, raw: bytes) -> bool:
        """Store a new entry; False (and nothing written) when the record key has one already."""

    def update_entry(self, rkey: bytes, change: Callable[[bytes | None], bytes | None]) -> None:
        """Replace an entry with ``change(old)`` (None: leave it), with no other writer in between."""

    def entries(self) -> Iterator[bytes]:
        """Every raw entry of the store."""

    def put_batch(self, objects: Sequence[tuple[str, bytes]], entries: Sequence[tuple[bytes, bytes]]) -> list[bool]:
        """Store ciphertexts and new entries at once, all or nothing; per entry, False when its key had one already."""


#: The SQLite file of a folder vault's batches, beside ``objects/`` and ``records/``.
BATCH_FILE = "batches.sqlite"
# Rows appended by rowid, looked up through a unique index: keyed by the random keccak itself, each batch would
# rewrite a page per row of a 60 MB tree (100,000 lots: 18.6 s of batch writes against 8.6 s, /tmp driver).
_BATCH_TABLES = (
    "CREATE TABLE IF NOT EXISTS objects (address TEXT NOT NULL UNIQUE, blob BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (rkey BLOB NOT NULL UNIQUE, entry BLOB NOT NULL)",
)
# Checkpoints (which fsync the database) every 20,000 log pages, not 1,000: the log stays under about 80 MB.
_BATCH_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA wal_autocheckpoint=20000", "PRAGMA cache_size=-65536")


class FolderStore:
    """A vault in a local folder: ``objects/<address>`` and ``records/<record key>.json``, 0700 and 0600.

    Batches go to ``batches.sqlite`` (0600; SQLite gives its log files the database's mode): one transaction
    per batch, so a crash leaves a batch whole or absent. A record file, where there is one, comes first (a
    grant rewrites the entry as a file); folders written before batches existed read as they did.
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.where = str(self.folder)
        self._objects = self.folder / "objects"
        self._records = self.folder / "records"
        self._batch_path = self.folder / BATCH_FILE
        self._local = threading.local()  # a SQLite connection is for the thread that opened it

    def _prepare(self) -> None:
        for folder in (self.folder, self._objects, self._records):
            ensure_private_folder(folder, what="vault folder")

    def _entry_path(self, rkey: bytes) -> Path:
        return self._records / f"{rkey.hex()}.json"

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None

    def put_object(self, address: str, blob: bytes) -> None:
        """Store a ciphertext under its content address (the same address again: nothing to do)."""
        self._prepare()
        try:
            write_atomic(self._objects / address[2:], blob, replace=False)
        except FileExistsError:
            pass  # the same ciphertext, by its address

    def get_object(self, address: str) -> bytes | None:
        """The ciphertext stored under an address, or None."""
        blob = self._read(self._objects / address[2:])
        return blob if blob is not None else self._batched("SELECT blob FROM objects WHERE address = ?", address)

    def read_entry(self, rkey: bytes) -> bytes | None:
        """The raw entry of a record key, or None."""
        raw = self._read(self._entry_path(rkey))
        return raw if raw is not None else self._batched("SELECT entry FROM records WHERE rkey = ?", rkey)

    def create_entry(self, rkey: bytes, raw: bytes) -> bool:
        """Store a new entry; False (and nothing written) when the record key has one already."""
        # The creation lock: a batch writing the same record at once must see this file, or this writer its row.
        with self._locked(rkey), self._creating():
            if self._batched("SELECT 1 FROM records WHERE rkey = ?", rkey) is not None:
                return False
            try:
                write_atomic(self._entry_path(rkey), raw, replace=False)
            except FileExistsError:
                return False
        return True

    def put_batch(self, objects: Sequence[tuple[str, bytes]], entries: Sequence[tuple[bytes, bytes]]) -> list[bool]:
        """Store ciphertexts and new entries in one SQLite transaction; per entry, False when its key had one already."""
        with self._creating():
            db = self._batch_db(create=True)
            assert db is not None
            try:
                with db:  # one transaction: committed whole (one log fsync) or rolled back
                    # IMMEDIATE: the write lock from the start, so what the SELECT finds stays true until COMMIT.
                    db.execute("BEGIN IMMEDIATE")
                    taken: set[bytes] = set()
                    keys = [rkey for rkey, _ in entries]
                    for at in range(0, len(keys), 500):
                        chunk = keys[at : at + 500]
                        marks = ",".join("?" * len(chunk))
                        taken.update(bytes(r[0]) for r in db.execute(f"SELECT rkey FROM records WHERE rkey IN ({marks})", chunk))
                    # A record file: an earlier single write, or (before batches existed) any write. One listing
                    # under the creation lock, not a stat per entry (a tenth of a batch's cost on this disk).
                    files = self._record_files()
                    created = []
                    for rkey, _ in entries:
                        new = rkey not in taken and rkey.hex() not in files
                        created.append(new)
                        taken.add(rkey)
                    db.executemany("INSERT OR IGNORE INTO objects (address, blob) VALUES (?, ?)", objects)
                    db.executemany(
                        "INSERT INTO records (rkey, entry) VALUES (?, ?)", [e for e, new in zip(entries, created, strict=True) if new]
                    )
            except sqlite3.Error as e:
                raise ConfigError(f"cannot write {self._batch_path}: {e}") from None
        return created

    def _record_files(self) -> set[str]:
        try:
            return {name[:-5] for name in os.listdir(self._records) if name.endswith(".json")}
        except FileNotFoundError:
            return set()
        except OSError as e:
            raise ConfigError(f"cannot read {self._records}: {e.strerror or e}") from None

    def _batch_db(self, *, create: bool) -> sqlite3.Connection | None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        if not self._batch_path.exists():
            if not create:
                return None
            self._prepare()
            # Made 0600 before SQLite opens it: its -wal and -shm files take the database's mode.
            os.close(os.open(self._batch_path, os.O_RDWR | os.O_CREAT, 0o600))
            fsync_folder(self.folder)  # the new file's name is durable before a batch in it is said to be
        try:
            db = sqlite3.connect(self._batch_path, timeout=60, isolation_level=None, check_same_thread=True)
            # synchronous=FULL: a committed batch is on disk before put_batch returns (NORMAL could lose the last ones).
            for statement in (*_BATCH_PRAGMAS, *_BATCH_TABLES):
                db.execute(statement)
        except sqlite3.Error as e:
            raise ConfigError(f"cannot open {self._batch_path}: {e}") from None
        self._local.db = db
        return db

    def _batched(self, sql: str, key: str | bytes) -> bytes | None:
        db = self._batch_db(create=False)
        if db is None:
            return None
        try:
            row = db.execute(sql, (key,)).fetchone()
        except sqlite3.Error as e:
            raise ConfigError(f"cannot read {self._batch_path}: {e}") from None
        return bytes(row[0]) if row is not None else None

    def update_entry(self, rkey: bytes, change: Callable[[bytes | None], bytes | None]) -> None:
        """Replace an entry with ``change(old)`` (None: leave it), with no other writer in between."""
        with self._locked(rkey):
            new = change(self.read_entry(rkey))
            if new is not None:
                write_atomic(self._entry_path(rkey), new)

    def entries(self) -> Iterator[bytes]:
        """Every raw entry of the store."""
        seen = set()
        if self._records.is_dir():
            for path in sorted(self._records.glob("*.json")):
                raw = self._read(path)
                if raw is not None:
                    seen.add(path.stem)
                    yield raw
        db = self._batch_db(create=False)
        if db is None:
            return
        try:
            rows = db.execute("SELECT rkey, entry FROM records ORDER BY rkey").fetchall()
        except sqlite3.Error as e:
            raise ConfigError(f"cannot read {self._batch_path}: {e}") from None
        for rkey, raw in rows:
            if bytes(rkey).hex() not in seen:  # a grant's record file stands for its batched entry
                yield bytes(raw)

    @contextmanager
    def _locked(self, rkey: bytes) -> Iterator[None]:
        # Two grants at once must not both read the old entry and drop one another's wrap.
        self._prepare()
        with self._flock(self._records / f".{rkey.hex()}.lock"):
            yield

    @contextmanager
    def _creating(self) -> Iterator[None]:
        # One creator of new entries at a time (files or batch): a record id is stored once across both.
        self._prepare()
        with self._flock(self._records / ".create.lock"):
            yield

    @staticmethod
    @contextmanager
    def _flock(path: Path) -> Iterator[None]:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


class Vault:
    """An encrypted, content-addressed store of records, opened with one party's X25519 private key.

    Every party entitled to a record opens the same folder with its own key (:meth:`new_key` makes one;
    :meth:`public_key_of` gives the public half to hand out). The holder of the plaintext stores a record
    with :meth:`put`, wrapped to itself and to its recipients; any party that can open a record can
    :meth:`grant` it to another without re-encrypting it.
    """

    def __init__(self, store: Path | str | VaultStore, private_key: bytes | X25519PrivateKey) -> None:
        #: The store: a folder path makes a :class:`FolderStore`, a ``postgresql://`` URL a PostgreSQL store.
        self.store: VaultStore = _store(store)
        #: Where the vault is, for messages.
        self.where = self.store.where
        #: The folder of a folder vault (None for a database).
        self.folder: Path | None = self.store.folder if isinstance(self.store, FolderStore) else None
        if isinstance(private_key, X25519PrivateKey):
            self._key = private_key
        elif isinstance(private_key, (bytes, bytearray)) and len(private_key) == 32:
            self._key = X25519PrivateKey.from_private_bytes(bytes(private_key))
        else:
            raise InvalidInput("an X25519 private key has 32 bytes")
        #: This party's public key, 32 bytes.
        self.public_key = self._key.public_key().public_bytes_raw()

    @staticmethod
    def new_key() -> bytes:
        """Return a fresh X25519 private key (32 bytes: keep it secret, like a keystore)."""
        return X25519PrivateKey.generate().private_bytes_raw()

    @staticmethod
    def public_key_of(private_key: bytes) -> bytes:
        """Return the public key (32 bytes) of an X25519 private key."""
        if not isinstance(private_key, (bytes, bytearray)) or len(private_key) != 32:
            raise InvalidInput("an X25519 private key has 32 bytes")
        return X25519PrivateKey.from_private_bytes(bytes(private_key)).public_key().public_bytes_raw()

    # ------------------------------------------------------------------------ writing

    def put(self, record_id: str, data: bytes, recipients: Iterable[bytes | X25519PublicKey] = ()) -> str:
        """Encrypt a record's data once, wrap its key to this party and each recipient; return its content address.

        A record's data never changes once stored (its commitment is on-chain): storing a record id twice is
        refused with :class:`DisclosureError`; use :meth:`grant` to add a recipient.
        """
        rkey = _record_key(record_id)
        wrappers = _wrappers(list(dict.fromkeys([self.public_key, *(_public_bytes(r) for r in recipients)])))
        address, blob, entry = self._seal(record_id, rkey, bytes(data), wrappers)
        stored_once = DisclosureError(
            f"record {record_id!r} is in the vault already (its data never changes; grant to add a recipient)"
        )
        if self.store.read_entry(rkey) is not None:
            raise stored_once
        # The ciphertext first: an entry never points at nothing. Of two writers of one record, one entry wins.
        self.store.put_object(address, blob)
        if not self.store.create_entry(rkey, entry):
            raise stored_once
        return address

    def put_many(
        self, records: Iterable[tuple[str, bytes]], recipients: Iterable[bytes | X25519PublicKey] = ()
    ) -> dict[str, str | None]:
        """Store many records at once, as :meth:`put` each, in one store batch (a crash keeps all or none).

        Returns each record id's content address, or None for a record the vault held already (kept as it was:
        a record's data never changes) or given twice (the first stays).
        """
        wrappers = _wrappers(list(dict.fromkeys([self.public_key, *(_public_bytes(r) for r in recipients)])))
        out: dict[str, str | None] = {}
        objects: list[tuple[str, bytes]] = []
        entries: list[tuple[bytes, bytes]] = []
        ids: list[str] = []
        for record_id, data in records:
            rkey = _record_key(record_id)
            if record_id in out:
                continue
            address, blob, entry = self._seal(record_id, rkey, bytes(data), wrappers)
            out[record_id] = address
            objects.append((address, blob))
            entries.append((rkey, entry))
            ids.append(record_id)
        if not entries:
            return out
        batch = getattr(self.store, "put_batch", None)
        if batch is None:  # a store without batches: one record at a time, ciphertext first
            created = []
            for (address, blob), (rkey, entry) in zip(objects, entries, strict=True):
                self.store.put_object(address, blob)
                created.append(self.store.create_entry(rkey, entry))
        else:
            created = batch(objects, entries)
        for record_id, new in zip(ids, created, strict=True):
            if not new:
                out[record_id] = None
        return out

    def put_openings_many(
        self, openings: Iterable[Openings], recipients: Iterable[bytes | X25519PublicKey] = ()
    ) -> dict[str, str | None]:
        """Store many committed records' openings in one batch (:meth:`put_many`), each under its record id."""
        return self.put_many(((vault_id(o), o.to_json()) for o in openings), recipients)

    def put_openings(self, openings: Openings, recipients: Iterable[bytes | X25519PublicKey] = ()) -> str:
        """Store a committed record's openings (:func:`ledger.domain.disclosure.commit`) under its record id.

        Evidence and reason openings go under their word (``word:0x...``, :func:`ledger.domain.identity.vault_id`):
        a reader knows the word from the chain, not the nonce in their record id.
        """
        return self.put(vault_id(openings), openings.to_json(), recipients)

    def grant(self, record_id: str, recipient_public_key: bytes | X25519PublicKey) -> None:
        """Let another party open a record: unwrap its data key with this party's key, wrap it for the recipient.

        The ciphertext is not touched: its bytes and its content address stay the same. Granting a party that
        has access already changes nothing. Raises :class:`DisclosureError` when this party cannot open the record.
        """
        rkey = _record_key(record_id)
        recipient = _public_bytes(recipient_public_key)

        def add(raw: bytes | None) -> bytes | None:
            entry = self._parse(record_id, raw)
            if recipient.hex() in entry.wraps:
                return None
            data_key = self._unwrap(entry, rkey)
            wraps = {**entry.wraps, recipient.hex(): _wrap(data_key, recipient, rkey, entry.address)}
            return entry.model_copy(update={"wraps": wraps}).model_dump_json().encode()

        self.store.update_entry(rkey, add)

    # ------------------------------------------------------------------------ reading

    def get(self, record_id: str) -> bytes:
        """Decrypt a record's data with this party's key.

        Raises :class:`DisclosureError` when the record is not in the vault, this party holds no grant for it,
        or the stored ciphertext or its wraps were altered or moved from another record.
        """
        rkey = _record_key(record_id)
        entry = self._entry(record_id, rkey)
        data_key = self._unwrap(entry, rkey)
        blob = self.store.get_object(entry.address)
        if blob is None:
            raise DisclosureError(f"the ciphertext of record {record_id!r} is missing from the vault")
        if "0x" + keccak(blob).hex() != entry.address:
            raise DisclosureError(f"the ciphertext of record {record_id!r} does not match its content address")
        try:
            return AESGCM(data_key).decrypt(blob[:_NONCE], blob[_NONCE:], _DATA_TAG + rkey)
        except InvalidTag:
            raise DisclosureError(f"the ciphertext stored for record {record_id!r} is not that record's") from None

    def openings(self, record_id: str) -> Openings:
        """Decrypt and parse a record's openings (verify what you disclose from them against the on-chain root)."""
        return Openings.from_json(self.get(record_id))

    def address(self, record_id: str) -> str:
        """Return a record's content address: the keccak of its stored ciphertext (0x-hex)."""
        return self._entry(record_id, _record_key(record_id)).address

    def recipients(self, record_id: str) -> list[bytes]:
        """Return the public keys that can open a record (this party's included if it can)."""
        return [bytes.fromhex(k) for k in self._entry(record_id, _record_key(record_id)).wraps]

    def records(self) -> list[str]:
        """Return the ids of the records this party's key can open (granted to it, or stored by it), sorted.

        Record ids are public (unit, lot and party ids, on-chain words); what they hold is not. A damaged entry
        is skipped here and reported when its record is read.
        """
        mine = self.public_key.hex()
        out = []
        for raw in self.store.entries():
            try:
                entry = _Entry.model_validate_json(raw)
            except ValidationError:
                continue
            if mine in entry.wraps:
                out.append(entry.record_id)
        return sorted(out)

    def __contains__(self, record_id: object) -> bool:
        return isinstance(record_id, str) and bool(record_id) and self.store.read_entry(_record_key(record_id)) is not None

    # ------------------------------------------------------------------------ internals

    @staticmethod
    def _seal(record_id: str, rkey: bytes, data: bytes, wrappers: dict[str, _Wrapper]) -> tuple[str, bytes, bytes]:
        """A record's ciphertext, content address and raw entry (its data key wrapped to each recipient)."""
        # One read of the operating system's generator for the record: its data key, its nonce, a nonce per wrap
        # (three system calls a record were a fifth of a bulk import's vault time on a loaded machine, issue 16).
        fresh = secrets.token_bytes(_KEY + _NONCE * (1 + len(wrappers)))
        data_key, nonce = fresh[:_KEY], fresh[_KEY : _KEY + _NONCE]
        blob = nonce + AESGCM(data_key).encrypt(nonce, data, _DATA_TAG + rkey)
        address = "0x" + keccak(blob).hex()
        nonces = [fresh[k : k + _NONCE] for k in range(_KEY + _NONCE, len(fresh), _NONCE)]
        wraps = {public: w.wrap(data_key, rkey, address, n) for (public, w), n in zip(wrappers.items(), nonces, strict=True)}
        entry = _Entry(record_id=record_id, address=address, wraps=wraps)
        return address, blob, entry.model_dump_json().encode()

    def _entry(self, record_id: str, rkey: bytes) -> _Entry:
        return self._parse(record_id, self.store.read_entry(rkey))

    def _parse(self, record_id: str, raw: bytes | None) -> _Entry:
        if raw is None:
            raise DisclosureError(f"record {record_id!r} is not in the vault {self.where}")
        try:
            entry = _Entry.model_validate_json(raw)
        except ValidationError:
            raise DisclosureError(f"the vault entry of record {record_id!r} is damaged") from None
        if entry.record_id != record_id:
            raise DisclosureError(f"the vault entry of record {record_id!r} is not that record's")
        return entry

    def _unwrap(self, entry: _Entry, rkey: bytes) -> bytes:
        wrap = entry.wraps.get(self.public_key.hex())
        if wrap is None:
            raise DisclosureError(f"record {entry.record_id!r} is not granted to this key")
        try:
            ephemeral = bytes.fromhex(wrap.ephemeral)
            shared = self._key.exchange(X25519PublicKey.from_public_bytes(ephemeral))
            kek = _kek(shared, ephemeral, self.public_key)
            return AESGCM(kek).decrypt(bytes.fromhex(wrap.nonce), bytes.fromhex(wrap.key), _wrap_aad(rkey, entry.address))
        except (InvalidTag, ValueError):
            raise DisclosureError(f"the key of record {entry.record_id!r} does not open for this key (altered or moved)") from None


class _Wrapper:
    """Wraps data keys for one recipient: one ephemeral X25519 agreement, then AES-GCM per data key.

    A batch shares one agreement per recipient (issue 16: the agreement is most of a record's cost): the key
    encryption key it derives opens only for that recipient's private key, which opens each of those records
    anyway; every wrap has its own random nonce and is bound to its record and ciphertext (associated data).
    Grants and readers see the same wrap format as before.
    """

    def __init__(self, recipient: bytes) -> None:
        ephemeral = X25519PrivateKey.generate()
        eph_public = ephemeral.public_key().public_bytes_raw()
        try:
            shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
        except ValueError:
            raise InvalidInput("not a usable X25519 public key (a low-order point)") from None
        self._ephemeral = eph_public.hex()
        self._aead = AESGCM(_kek(shared, eph_public, recipient))

    def wrap(self, data_key: bytes, rkey: bytes, address: str, nonce: bytes | None = None) -> _Wrap:
        # `nonce`: 12 fresh random bytes read by the caller with the record's other randomness; else read here.
        nonce = secrets.token_bytes(_NONCE) if nonce is None else nonce
        key = self._aead.encrypt(nonce, data_key, _wrap_aad(rkey, address))
        return _Wrap(ephemeral=self._ephemeral, nonce=nonce.hex(), key=key.hex())


def _wrap(data_key: bytes, recipient: bytes, rkey: bytes, address: str) -> _Wrap:
    return _Wrapper(recipient).wrap(data_key, rkey, address)


def _wrappers(publics: list[bytes]) -> dict[str, _Wrapper]:
    return {p.hex(): _Wrapper(p) for p in publics}


#: The file, in the data directory, that holds this machine's vault key (X25519 private key, 0600).
VAULT_KEY_FILE = "vault.key"
#: The vault folder in the data directory.
VAULT_FOLDER = "vault"


def local_vault(data_dir: Path | str, *, create: bool = True, url: str | None = None) -> Vault | None:
    """Open the vault of a data directory with its key (``vault.key``), making the key when `create`.

    The vault is ``<data_dir>/vault`` (folders 0700, files 0600); with `url` a ``postgresql://`` index URL, the
    vault tables of that database instead (:class:`ledger.local._vault_pg.PgStore`: only ciphertexts and
    wrapped keys go there), shared by every party that uses the index. Either way the key stays in the data
    directory, 0600. Without `create`, a data directory that has no key yet gives None (a reader that never
    wrote a commitment holds no openings). The key is a secret like a keystore: whoever reads it opens every
    record granted to it.
    """
    home = Path(data_dir)
    path = home / VAULT_KEY_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if not create:
            return None
        ensure_private_folder(home, what="data folder")
        try:
            write_atomic(path, Vault.new_key(), replace=False)
        except FileExistsError:
            pass  # another process made it first: use that one
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
    if len(raw) != _KEY:
        raise ConfigError(f"{path} is not a vault key (32 bytes)")
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"a shared vault lives in a PostgreSQL index: {url!r} is no postgresql:// URL")
        return Vault(url, raw)
    return Vault(home / VAULT_FOLDER, raw)


def _store(store: Path | str | VaultStore) -> VaultStore:
    if isinstance(store, str) and store.startswith(("postgresql://", "postgres://")):
        from ledger.local._vault_pg import PgStore  # psycopg only for a PostgreSQL vault

        return PgStore(store)
    if isinstance(store, (str, Path)):
        return FolderStore(store)
    return store
