"""The vault: only granted keys decrypt, a grant never re-encrypts, nothing is moved between records unnoticed,
and nothing stored is readable by other users or in the clear (issue 17, docs/confidentiality.md).

Every test that is not about files on disk runs on both stores: a local folder, and the vault tables of a
PostgreSQL database (a fresh schema per test; skipped, saying why, without a server: tests/index_backends.py).
A cheater with write access to the store tampers with the same bytes on either.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from index_backends import pg_url

from ledger.domain.disclosure import commit, disclose, verify_disclosure
from ledger.domain.hashing import keccak
from ledger.errors import DisclosureError, InvalidInput
from ledger.local.vault import Vault, _record_key, local_vault

SECRET = b'{"serialNumber":"SN-LF003-2026","site":"Kolwezi"}'


class Store:
    """One vault store, and raw access to its bytes as someone who can write the folder or the database."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.folder = tmp_path / "vault"
        if backend == "folder":
            self.location: str | Path = self.folder
        else:
            self.schema = f"v{secrets.token_hex(4)}"
            self.url = pg_url()
            self.location = f"{self.url}?schema={self.schema}"

    def _sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(statement.replace("{s}", f'"{self.schema}_vault"'), params)
            return list(cur.fetchall()) if cur.description else []

    def _batched(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        import sqlite3

        with sqlite3.connect(self.folder / "batches.sqlite") as db:
            return list(db.execute(statement, params).fetchall())

    def dump(self) -> dict[str, bytes]:
        """Every byte the store holds, by name."""
        if self.backend == "folder":
            if not self.folder.exists():
                return {}
            return {str(p.relative_to(self.folder)): p.read_bytes() for p in sorted(self.folder.rglob("*")) if p.is_file()}
        try:
            objects = self._sql("SELECT address, blob FROM {s}.vault_objects ORDER BY address")
            records = self._sql("SELECT rkey, entry FROM {s}.vault_records ORDER BY rkey")
        except Exception:  # no tables yet: nothing stored
            return {}
        return {**{f"objects/{a}": bytes(b) for a, b in objects}, **{f"records/{bytes(k).hex()}": bytes(e) for k, e in records}}

    def objects(self) -> list[str]:
        return [n.removeprefix("objects/").removeprefix("0x") for n in self.dump() if n.startswith("objects/")]

    def object(self, address: str) -> bytes:
        if self.backend == "folder":
            return (self.folder / "objects" / address[2:]).read_bytes()
        return bytes(self._sql("SELECT blob FROM {s}.vault_objects WHERE address = %s", (address,))[0][0])

    def set_object(self, address: str, blob: bytes) -> None:
        if self.backend == "folder":
            (self.folder / "objects" / address[2:]).write_bytes(blob)
        else:
            self._sql("UPDATE {s}.vault_objects SET blob = %s WHERE address = %s", (blob, address))

    def entry(self, record_id: str) -> dict[str, Any]:
        rkey = keccak(record_id.encode())
        if self.backend == "folder":
            path = self.folder / "records" / f"{rkey.hex()}.json"
            if not path.exists():  # a batched record
                return dict(json.loads(self._batched("SELECT entry FROM records WHERE rkey = ?", (rkey,))[0][0]))
            return dict(json.loads(path.read_text()))
        return dict(json.loads(bytes(self._sql("SELECT entry FROM {s}.vault_records WHERE rkey = %s", (rkey,))[0][0])))

    def set_entry(self, record_id: str, raw: str) -> None:
        rkey = keccak(record_id.encode())
        if self.backend == "folder":
            path = self.folder / "records" / f"{rkey.hex()}.json"
            if not path.exists():  # a batched record
                self._batched("UPDATE records SET entry = ? WHERE rkey = ?", (raw.encode(), rkey))
                return
            path.write_text(raw)
        else:
            self._sql("UPDATE {s}.vault_records SET entry = %s WHERE rkey = %s", (raw.encode(), rkey))

    def drop(self) -> None:
        if self.backend == "postgresql":
            self._sql("DROP SCHEMA IF EXISTS {s} CASCADE")


class Party:
    def __init__(self, store: Store | Path) -> None:
        self.key = Vault.new_key()
        self.public = Vault.public_key_of(self.key)
        self.vault = Vault(store.location if isinstance(store, Store) else store, self.key)


@pytest.fixture(params=["folder", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = Store(request.param, tmp_path)
    yield made
    made.drop()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "vault"


@pytest.fixture
def maker(store: Store) -> Party:
    return Party(store)


@pytest.fixture
def recycler(store: Store) -> Party:
    return Party(store)


@pytest.fixture
def competitor(store: Store) -> Party:
    return Party(store)


# ----------------------------------------------------------------------------- who can decrypt


def test_the_owner_and_its_recipients_decrypt_a_stranger_does_not(maker: Party, recycler: Party, competitor: Party) -> None:
    maker.vault.put("LF003", SECRET, [recycler.public])
    assert maker.vault.get("LF003") == SECRET
    assert recycler.vault.get("LF003") == SECRET
    with pytest.raises(DisclosureError, match="not granted"):
        competitor.vault.get("LF003")
    assert set(maker.vault.recipients("LF003")) == {maker.public, recycler.public}


def test_a_party_without_a_grant_cannot_grant_itself(store: Store, maker: Party, competitor: Party) -> None:
    maker.vault.put("LF003", SECRET)
    before = store.dump()
    with pytest.raises(DisclosureError):
        competitor.vault.grant("LF003", competitor.public)
    assert store.dump() == before
    with pytest.raises(DisclosureError):
        competitor.vault.get("LF003")


def test_a_copied_wrap_does_not_open_for_another_key(store: Store, maker: Party, recycler: Party, competitor: Party) -> None:
    # The competitor, who can write the folder or the database, files the recycler's wrap under its own public key.
    maker.vault.put("LF003", SECRET, [recycler.public])
    entry = store.entry("LF003")
    entry["wraps"][competitor.public.hex()] = entry["wraps"][recycler.public.hex()]
    store.set_entry("LF003", json.dumps(entry))
    with pytest.raises(DisclosureError, match="does not open"):
        competitor.vault.get("LF003")


# --------------------------------------------------------------------------- grants re-wrap only


def test_a_grant_adds_a_recipient_without_touching_the_ciphertext(store: Store, maker: Party, recycler: Party) -> None:
    address = maker.vault.put("LF003", SECRET)
    before = store.object(address)
    if store.backend == "folder":
        obj = store.folder / "objects" / address[2:]
        before_stat = obj.stat()
    with pytest.raises(DisclosureError):
        recycler.vault.get("LF003")
    maker.vault.grant("LF003", recycler.public)
    assert recycler.vault.get("LF003") == SECRET
    assert store.object(address) == before
    if store.backend == "folder":
        after = obj.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before_stat.st_ino, before_stat.st_mtime_ns)
    assert maker.vault.address("LF003") == address
    assert store.objects() == [address[2:]]  # no second ciphertext
    # A recipient passes it on with its own key, and granting twice changes nothing.
    third = Party(store)
    recycler.vault.grant("LF003", third.public)
    entry = store.dump()
    recycler.vault.grant("LF003", third.public)
    assert store.dump() == entry
    assert third.vault.get("LF003") == SECRET


def test_concurrent_grants_keep_every_recipient(store: Store, maker: Party) -> None:
    maker.vault.put("LF003", SECRET)
    parties = [Party(store) for _ in range(8)]
    # Eight writers at once, each with its own connection or file handle: a grant lost to a race would show.
    threads = [threading.Thread(target=Vault(store.location, maker.key).grant, args=("LF003", p.public)) for p in parties]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(p.vault.get("LF003") == SECRET for p in parties)


# ------------------------------------------------------------------------ content address, tampering


def test_concurrent_writers_of_one_record_store_it_once(store: Store) -> None:
    parties = [Party(store) for _ in range(6)]
    outcomes: list[str] = []

    def put(p: Party) -> None:
        try:
            p.vault.put("LF003", SECRET + p.public)
            outcomes.append("stored")
        except DisclosureError:
            outcomes.append("refused")

    threads = [threading.Thread(target=put, args=(p,)) for p in parties]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["stored"]
    (winner,) = [p for p in parties if p.public in p.vault.recipients("LF003")]
    assert winner.vault.get("LF003") == SECRET + winner.public


def test_the_content_address_is_the_keccak_of_the_ciphertext(store: Store, maker: Party) -> None:
    address = maker.vault.put("LF003", SECRET)
    assert "0x" + keccak(store.object(address)).hex() == address
    # The same data stored for another record is another ciphertext (fresh key, nonce and record binding).
    assert maker.vault.put("LF004", SECRET) != address


def test_nothing_is_stored_in_the_clear(store: Store, maker: Party, recycler: Party) -> None:
    maker.vault.put("LF003", SECRET, [recycler.public])
    maker.vault.grant("LF003", Party(store).public)
    stored = store.dump()
    assert len(stored) >= 2
    for name, data in stored.items():
        for needle in (b"SN-LF003-2026", b"Kolwezi", b"serialNumber"):
            assert needle not in data, name


def test_a_flipped_ciphertext_byte_is_refused(store: Store, maker: Party) -> None:
    address = maker.vault.put("LF003", SECRET)
    raw = bytearray(store.object(address))
    raw[-1] ^= 1
    store.set_object(address, bytes(raw))
    with pytest.raises(DisclosureError, match="content address"):
        maker.vault.get("LF003")


def test_a_record_moved_under_another_id_is_refused(store: Store, maker: Party) -> None:
    maker.vault.put("LF003", SECRET)
    maker.vault.put("LF004", b'{"serialNumber":"SN-LF004-2026"}')
    a, b = store.entry("LF003"), store.entry("LF004")
    # LF003's ciphertext and wraps filed as LF004's (the id rewritten to match): neither the wrap nor the data opens.
    store.set_entry("LF004", json.dumps({**a, "record_id": "LF004"}))
    with pytest.raises(DisclosureError):
        maker.vault.get("LF004")
    # LF004's own wraps pointed at LF003's ciphertext: the wraps are bound to their ciphertext.
    store.set_entry("LF004", json.dumps({**b, "address": a["address"]}))
    with pytest.raises(DisclosureError):
        maker.vault.get("LF004")
    # An entry copied whole over another record's key: it says which record it is.
    store.set_entry("LF004", json.dumps(a))
    with pytest.raises(DisclosureError, match="not that record's"):
        maker.vault.get("LF004")


@pytest.mark.parametrize("damage", ["{", '{"record_id": "LF003", "address": "0x../../etc/passwd", "wraps": {}}'])
def test_a_damaged_entry_is_one_error(store: Store, maker: Party, damage: str) -> None:
    maker.vault.put("LF003", SECRET)
    store.set_entry("LF003", damage)
    with pytest.raises(DisclosureError, match="damaged"):
        maker.vault.get("LF003")


def test_a_record_is_stored_once(maker: Party) -> None:
    maker.vault.put("LF003", SECRET)
    with pytest.raises(DisclosureError, match="already"):
        maker.vault.put("LF003", b"other openings")
    assert maker.vault.get("LF003") == SECRET
    assert "LF003" in maker.vault and "LF009" not in maker.vault
    with pytest.raises(DisclosureError, match="not in the vault"):
        maker.vault.get("LF009")


@pytest.mark.parametrize("bad", [b"\x01" * 31, b"\x00" * 32, "ab" * 16])
def test_a_bad_recipient_key_is_refused_and_nothing_written(store: Store, maker: Party, bad: bytes) -> None:
    with pytest.raises(InvalidInput):
        maker.vault.put("LF003", SECRET, [bad])
    assert "LF003" not in maker.vault
    assert store.dump() == {}
    with pytest.raises(InvalidInput):
        Vault(store.location, b"short")


# ------------------------------------------------------------------------------ modes on disk


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)  # the most permissive umask: modes must not depend on the caller's
    try:
        yield
    finally:
        os.umask(old)


def test_files_are_0600_and_folders_0700(folder: Path, open_umask: None) -> None:
    maker, recycler = Party(folder), Party(folder)
    maker.vault.put("LF003", SECRET)
    maker.vault.grant("LF003", recycler.public)
    paths = [folder, *folder.rglob("*")]
    assert len([p for p in paths if p.is_file()]) >= 3  # ciphertext, entry, lock
    for p in paths:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), f"{p} has mode {mode:04o}"


def test_an_open_vault_folder_is_made_private(folder: Path) -> None:
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    Party(folder).vault.put("LF003", SECRET)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


# --------------------------------------------------------------------------- with the commitments


def test_openings_from_the_vault_disclose_fields_that_verify(maker: Party, recycler: Party, competitor: Party) -> None:
    record = {"serialNumber": "SN-LF003-2026", "stateOfCertifiedEnergyBp": 9_120, "fullCycles": 412}
    root, openings = commit(record, {"serialNumber": 1, "stateOfCertifiedEnergyBp": 4, "fullCycles": 4}, record_id="LF003")
    maker.vault.put_openings(openings, [recycler.public])
    # The recycler (legitimate interest, point 4) opens the record, and anyone checks what it discloses.
    disclosed = disclose(recycler.vault.openings("LF003"), ["stateOfCertifiedEnergyBp"])
    assert verify_disclosure(root, disclosed, record_id="LF003") == {"stateOfCertifiedEnergyBp": 9_120}
    with pytest.raises(DisclosureError):
        competitor.vault.openings("LF003")


# ------------------------------------------------------------------------------ the shared database


def test_a_data_directory_opens_the_shared_vault_with_its_own_key(tmp_path: Path) -> None:
    url = f"{pg_url()}?schema=v{secrets.token_hex(4)}"
    maker_home, recycler_home = tmp_path / "maker", tmp_path / "recycler"
    maker = local_vault(maker_home, url=url)
    recycler = local_vault(recycler_home, url=url)
    assert maker is not None and recycler is not None
    try:
        maker.put("LF003", SECRET)
        maker.grant("LF003", recycler.public_key)
        assert recycler.get("LF003") == SECRET
        # The keys stay with their owners, 0600; nothing of the vault is written to the data directories.
        for home in (maker_home, recycler_home):
            assert stat.S_IMODE((home / "vault.key").stat().st_mode) == 0o600
            assert not (home / "vault").exists()
        assert "***" not in maker.where and "schema" in maker.where
    finally:
        cleanup = Store("postgresql", tmp_path)
        cleanup.schema = url.rsplit("=", 1)[1]
        cleanup.drop()


def test_a_key_lists_only_the_records_it_can_open(store: Store, maker: Party, recycler: Party, competitor: Party) -> None:
    maker.vault.put("LF003", SECRET, [recycler.public])
    maker.vault.put("LF004", SECRET)
    assert maker.vault.records() == ["LF003", "LF004"]
    assert recycler.vault.records() == ["LF003"]
    assert competitor.vault.records() == []
    store.set_entry("LF004", "{")  # a damaged entry is skipped in the listing, and refused when read
    assert maker.vault.records() == ["LF003"]


# ------------------------------------------------------------------------------ batches (issue 16)


def _batch(prefix: str, n: int) -> list[tuple[str, bytes]]:
    return [(f"{prefix}-{i}", SECRET + f"-{prefix}-{i}".encode()) for i in range(n)]


def test_a_batch_stores_every_record_as_put_would(store: Store, maker: Party, recycler: Party, competitor: Party) -> None:
    records = _batch("LF", 20)
    addresses = maker.vault.put_many(records, [recycler.public])
    assert list(addresses) == [r for r, _ in records] and all(addresses.values())
    for record_id, data in records:
        assert maker.vault.get(record_id) == data and recycler.vault.get(record_id) == data
        assert maker.vault.address(record_id) == addresses[record_id]
        with pytest.raises(DisclosureError):
            competitor.vault.get(record_id)
    assert recycler.vault.records() == sorted(r for r, _ in records)
    # A batched record is granted like any other: the ciphertext stays, the new key opens it.
    maker.vault.grant("LF-3", competitor.public)
    assert competitor.vault.get("LF-3") == records[3][1] and maker.vault.address("LF-3") == addresses["LF-3"]
    assert maker.vault.records() == sorted(r for r, _ in records)  # the grant's entry stands for the batched one


def test_every_record_of_a_batch_has_its_own_data_key_and_nonces(store: Store, maker: Party, recycler: Party) -> None:
    # A record's data key, its nonce and each wrap's nonce come from one read of the OS generator (issue 16):
    # slices of it, never shared between records or wraps.
    records = _batch("NK", 30)
    maker.vault.put_many(records, [recycler.public])
    keys, nonces = set(), set()
    for record_id, _ in records:
        entry = maker.vault._entry(record_id, _record_key(record_id))
        keys.add(maker.vault._unwrap(entry, _record_key(record_id)))
        keys.add(recycler.vault._unwrap(entry, _record_key(record_id)))
        blob = maker.vault.store.get_object(entry.address)
        assert blob is not None
        nonces.add(blob[:12])
        nonces.update(bytes.fromhex(w.nonce) for w in entry.wraps.values())
        assert len(entry.wraps) == 2
    assert len(keys) == len(records)  # both recipients open the same key; no two records share one
    assert len(nonces) == 3 * len(records) and all(len(n) == 12 for n in nonces)


def test_a_batch_keeps_a_stored_record_as_it_was(store: Store, maker: Party, competitor: Party) -> None:
    maker.vault.put("LF-1", b"first")
    maker.vault.put_many([("LF-0", b"zero"), ("LF-1", b"overwrite?")])
    out = competitor.vault.put_many([("LF-0", b"forged"), ("LF-2", b"two"), ("LF-2", b"two again")])
    # A competitor writing the same record ids cannot replace the stored data: a record's data never changes.
    assert out == {"LF-0": None, "LF-2": out["LF-2"]} and out["LF-2"]
    assert maker.vault.get("LF-0") == b"zero" and maker.vault.get("LF-1") == b"first"
    assert competitor.vault.get("LF-2") == b"two"
    with pytest.raises(DisclosureError, match="in the vault already"):
        maker.vault.put("LF-0", b"again")


def test_concurrent_batches_and_puts_of_the_same_records_store_each_once(store: Store) -> None:
    parties = [Party(store) for _ in range(6)]
    won: dict[str, list[bytes]] = {}
    lock = threading.Lock()

    def write(i: int, p: Party) -> None:
        mine = [(f"LF-{j}", p.public + bytes([j])) for j in range(12)]
        if i % 2:  # half of the writers one record at a time, half in one batch
            for record_id, data in mine:
                try:
                    p.vault.put(record_id, data)
                    with lock:
                        won.setdefault(record_id, []).append(data)
                except DisclosureError:
                    pass
        else:
            for record_id, address in p.vault.put_many(mine).items():
                if address is not None:
                    with lock:
                        won.setdefault(record_id, []).append(dict(mine)[record_id])

    threads = [threading.Thread(target=write, args=(i, p)) for i, p in enumerate(parties)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == sorted(f"LF-{j}" for j in range(12))
    for record_id, winners in won.items():
        assert len(winners) == 1, record_id  # one writer stored it, every other one was told
        (owner,) = [p for p in parties if p.public == winners[0][:32]]
        assert owner.vault.get(record_id) == winners[0]


class _Crash(Exception):
    pass


def test_a_crash_in_the_middle_of_a_batch_leaves_none_of_it(store: Store, maker: Party, monkeypatch: pytest.MonkeyPatch) -> None:
    maker.vault.put_many(_batch("OLD", 3))
    if store.backend == "folder":
        from ledger.local.vault import FolderStore

        real_db = FolderStore._batch_db

        class HalfWay:
            """The batch's SQLite connection, failing after half of the batch's entries went in."""

            def __init__(self, db: Any) -> None:
                self._db = db

            def __getattr__(self, name: str) -> Any:
                return getattr(self._db, name)

            def __enter__(self) -> Any:
                return self._db.__enter__()

            def __exit__(self, *exc: Any) -> Any:
                return self._db.__exit__(*exc)

            def executemany(self, sql: str, rows: list[Any]) -> Any:
                if "INTO records" in sql:
                    self._db.executemany(sql, rows[: len(rows) // 2])
                    raise _Crash  # ciphertexts and five entries written, in the transaction
                return self._db.executemany(sql, rows)

        monkeypatch.setattr(FolderStore, "_batch_db", lambda self, create: HalfWay(real_db(self, create=create)))
    else:
        from ledger.local._vault_pg import PgStore

        real_conn = PgStore._connection

        class Failing:
            def __init__(self, conn: Any) -> None:
                self._conn = conn

            def __getattr__(self, name: str) -> Any:
                return getattr(self._conn, name)

            def execute(self, sql: str, *args: Any) -> Any:
                if "vault_records" in sql and sql.lstrip().startswith("INSERT"):
                    raise _Crash  # the ciphertexts inserted, the entries not yet
                return self._conn.execute(sql, *args)

        monkeypatch.setattr(PgStore, "_connection", lambda self: Failing(real_conn(self)))
    with pytest.raises(_Crash):
        maker.vault.put_many(_batch("NEW", 10))
    monkeypatch.undo()
    again = Vault(store.location, maker.key)
    assert again.records() == ["OLD-0", "OLD-1", "OLD-2"]
    assert all(f"NEW-{i}" not in again for i in range(10))
    if store.backend == "folder":
        import sqlite3

        with sqlite3.connect(store.folder / "batches.sqlite") as db:
            (objects,) = db.execute("SELECT count(*) FROM objects").fetchone()
    else:
        objects = len(store.objects())
    assert objects == 3  # no ciphertext of the batch left behind
    assert again.put_many(_batch("NEW", 10)) and again.get("NEW-9") == _batch("NEW", 10)[9][1]


_WRITER = """
import sys
from pathlib import Path
from ledger.local.vault import Vault

vault = Vault(Path(sys.argv[1]), bytes.fromhex(sys.argv[2]))
for i in range(10_000):
    vault.put_many([(f"B{i}-{j}", b"%d-%d" % (i, j) * 40) for j in range(50)])
    print(i, flush=True)  # batch i is stored (put_many returned)
"""


def test_a_writer_killed_mid_batch_leaves_each_batch_whole_or_absent(folder: Path) -> None:
    import signal
    import subprocess
    import sys

    key = Vault.new_key()
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(folder), key.hex()], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    landed = [int(child.stdout.readline()) for _ in range(5)]  # five batches returned: kill it in the sixth or later
    child.send_signal(signal.SIGKILL)
    child.wait()
    vault = Vault(folder, key)
    present: dict[int, set[int]] = {}
    for record_id in vault.records():
        i, j = record_id[1:].split("-")
        present.setdefault(int(i), set()).add(int(j))
        assert vault.get(record_id) == b"%d-%d" % (int(i), int(j)) * 40  # whole and readable
    assert set(landed) <= set(present)  # every batch that returned is there
    assert all(js == set(range(50)) for js in present.values())  # and no batch by halves


def test_batch_files_are_0600(folder: Path, open_umask: None) -> None:
    maker, recycler = Party(folder), Party(folder)
    maker.vault.put_many(_batch("LF", 5), [recycler.public])
    maker.vault.grant("LF-1", Party(folder).public)
    paths = [folder, *folder.rglob("*")]
    assert any(p.name.startswith("batches.sqlite") for p in paths)
    for p in paths:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), f"{p} has mode {mode:04o}"
    assert all(b"SN-LF003" not in p.read_bytes() for p in paths if p.is_file())  # ciphertexts only


def test_a_wrap_moved_between_records_of_one_batch_is_refused(store: Store, maker: Party, recycler: Party) -> None:
    # One batch shares one key agreement per recipient: each wrap is still bound to its own record and ciphertext.
    maker.vault.put_many([("LF-A", b"a" * 40), ("LF-B", b"b" * 40)], [recycler.public])
    a, b = store.entry("LF-A"), store.entry("LF-B")
    assert a["wraps"][recycler.public.hex()]["ephemeral"] == b["wraps"][recycler.public.hex()]["ephemeral"]
    b["wraps"][recycler.public.hex()] = a["wraps"][recycler.public.hex()]
    store.set_entry("LF-B", json.dumps(b))
    with pytest.raises(DisclosureError, match="does not open"):
        recycler.vault.get("LF-B")
    assert recycler.vault.get("LF-A") == b"a" * 40 and maker.vault.get("LF-B") == b"b" * 40


_READER = """
import sys
from pathlib import Path
from ledger.local.vault import Vault

vault = Vault(Path(sys.argv[1]), bytes.fromhex(sys.argv[2]))
assert vault.get("B-7") == b"seven" * 20 and "B-0" in vault.records()
"""


def test_a_process_that_only_reads_the_vault_changes_no_file(folder: Path) -> None:
    # A failed or read-only command must leave the data directory as it found it (tests/security): a reader's
    # open (the pragmas, CREATE TABLE IF NOT EXISTS) and its exit write nothing.
    import hashlib
    import subprocess
    import sys

    key = Vault.new_key()
    writer = "from pathlib import Path; import sys; from ledger.local.vault import Vault; " + (
        "Vault(Path(sys.argv[1]), bytes.fromhex(sys.argv[2])).put_many([(f'B-{i}', b'seven' * 20) for i in range(10)])"
    )
    subprocess.run([sys.executable, "-c", writer, str(folder), key.hex()], check=True)

    def files() -> dict[str, str]:
        return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}

    before = files()
    assert "batches.sqlite" in before and not any(name.startswith("batches.sqlite-") for name in before)
    subprocess.run([sys.executable, "-c", _READER, str(folder), key.hex()], check=True)
    assert files() == before
