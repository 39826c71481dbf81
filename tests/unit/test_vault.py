"""The vault: only granted keys decrypt, a grant never re-encrypts, nothing is moved between records unnoticed,
and nothing on disk is readable by other users or in the clear (issue 17, docs/confidentiality.md)."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.domain.disclosure import commit, disclose, verify_disclosure
from ledger.domain.hashing import keccak
from ledger.errors import DisclosureError, InvalidInput
from ledger.local.vault import Vault

SECRET = b'{"serialNumber":"SN-LF003-2026","site":"Kolwezi"}'


class Party:
    def __init__(self, folder: Path) -> None:
        self.key = Vault.new_key()
        self.public = Vault.public_key_of(self.key)
        self.vault = Vault(folder, self.key)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "vault"


@pytest.fixture
def maker(folder: Path) -> Party:
    return Party(folder)


@pytest.fixture
def recycler(folder: Path) -> Party:
    return Party(folder)


@pytest.fixture
def competitor(folder: Path) -> Party:
    return Party(folder)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def object_path(folder: Path, address: str) -> Path:
    return folder / "objects" / address[2:]


# ----------------------------------------------------------------------------- who can decrypt


def test_the_owner_and_its_recipients_decrypt_a_stranger_does_not(maker: Party, recycler: Party, competitor: Party) -> None:
    maker.vault.put("LF003", SECRET, [recycler.public])
    assert maker.vault.get("LF003") == SECRET
    assert recycler.vault.get("LF003") == SECRET
    with pytest.raises(DisclosureError, match="not granted"):
        competitor.vault.get("LF003")
    assert set(maker.vault.recipients("LF003")) == {maker.public, recycler.public}


def test_a_party_without_a_grant_cannot_grant_itself(maker: Party, competitor: Party) -> None:
    maker.vault.put("LF003", SECRET)
    before = files(maker.vault.folder)
    with pytest.raises(DisclosureError):
        competitor.vault.grant("LF003", competitor.public)
    assert files(maker.vault.folder) == before
    with pytest.raises(DisclosureError):
        competitor.vault.get("LF003")


def test_a_copied_wrap_does_not_open_for_another_key(folder: Path, maker: Party, recycler: Party, competitor: Party) -> None:
    # The competitor, who can write the folder, files the recycler's wrap under its own public key.
    maker.vault.put("LF003", SECRET, [recycler.public])
    entry_path = next((folder / "records").glob("*.json"))
    entry = json.loads(entry_path.read_text())
    entry["wraps"][competitor.public.hex()] = entry["wraps"][recycler.public.hex()]
    entry_path.write_text(json.dumps(entry))
    with pytest.raises(DisclosureError, match="does not open"):
        competitor.vault.get("LF003")


# --------------------------------------------------------------------------- grants re-wrap only


def test_a_grant_adds_a_recipient_without_touching_the_ciphertext(folder: Path, maker: Party, recycler: Party) -> None:
    address = maker.vault.put("LF003", SECRET)
    obj = object_path(folder, address)
    before, before_stat = obj.read_bytes(), obj.stat()
    with pytest.raises(DisclosureError):
        recycler.vault.get("LF003")
    maker.vault.grant("LF003", recycler.public)
    assert recycler.vault.get("LF003") == SECRET
    after = obj.stat()
    assert obj.read_bytes() == before and (after.st_ino, after.st_mtime_ns) == (before_stat.st_ino, before_stat.st_mtime_ns)
    assert maker.vault.address("LF003") == address
    assert list((folder / "objects").iterdir()) == [obj]  # no second ciphertext
    # A recipient passes it on with its own key, and granting twice changes nothing.
    third = Party(folder)
    recycler.vault.grant("LF003", third.public)
    entry = files(folder)
    recycler.vault.grant("LF003", third.public)
    assert files(folder) == entry
    assert third.vault.get("LF003") == SECRET


def test_concurrent_grants_keep_every_recipient(folder: Path, maker: Party) -> None:
    maker.vault.put("LF003", SECRET)
    parties = [Party(folder) for _ in range(8)]
    threads = [threading.Thread(target=Vault(folder, maker.key).grant, args=("LF003", p.public)) for p in parties]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(p.vault.get("LF003") == SECRET for p in parties)


# ------------------------------------------------------------------------ content address, tampering


def test_the_content_address_is_the_keccak_of_the_ciphertext(folder: Path, maker: Party) -> None:
    address = maker.vault.put("LF003", SECRET)
    assert "0x" + keccak(object_path(folder, address).read_bytes()).hex() == address
    # The same data stored for another record is another ciphertext (fresh key, nonce and record binding).
    assert maker.vault.put("LF004", SECRET) != address


def test_nothing_is_stored_in_the_clear(folder: Path, maker: Party, recycler: Party) -> None:
    maker.vault.put("LF003", SECRET, [recycler.public])
    maker.vault.grant("LF003", Party(folder).public)
    for name, data in files(folder).items():
        for needle in (b"SN-LF003-2026", b"Kolwezi", b"serialNumber"):
            assert needle not in data, name


def test_a_flipped_ciphertext_byte_is_refused(folder: Path, maker: Party) -> None:
    address = maker.vault.put("LF003", SECRET)
    obj = object_path(folder, address)
    raw = bytearray(obj.read_bytes())
    raw[-1] ^= 1
    obj.write_bytes(bytes(raw))
    with pytest.raises(DisclosureError, match="content address"):
        maker.vault.get("LF003")


def test_a_record_moved_under_another_id_is_refused(folder: Path, maker: Party) -> None:
    maker.vault.put("LF003", SECRET)
    maker.vault.put("LF004", b'{"serialNumber":"SN-LF004-2026"}')
    entries = {json.loads(p.read_text())["record_id"]: p for p in (folder / "records").glob("*.json")}
    a = json.loads(entries["LF003"].read_text())
    b = json.loads(entries["LF004"].read_text())
    # LF003's ciphertext and wraps filed as LF004's (the id rewritten to match): neither the wrap nor the data opens.
    entries["LF004"].write_text(json.dumps({**a, "record_id": "LF004"}))
    with pytest.raises(DisclosureError):
        maker.vault.get("LF004")
    # LF004's own wraps pointed at LF003's ciphertext: the wraps are bound to their ciphertext.
    entries["LF004"].write_text(json.dumps({**b, "address": a["address"]}))
    with pytest.raises(DisclosureError):
        maker.vault.get("LF004")
    # An entry file copied whole over another record's name: it says which record it is.
    entries["LF004"].write_text(json.dumps(a))
    with pytest.raises(DisclosureError, match="not that record's"):
        maker.vault.get("LF004")


@pytest.mark.parametrize("damage", ["{", '{"record_id": "LF003", "address": "0x../../etc/passwd", "wraps": {}}'])
def test_a_damaged_entry_is_one_error(folder: Path, maker: Party, damage: str) -> None:
    maker.vault.put("LF003", SECRET)
    next((folder / "records").glob("*.json")).write_text(damage)
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
def test_a_bad_recipient_key_is_refused_and_nothing_written(folder: Path, maker: Party, bad: bytes) -> None:
    with pytest.raises(InvalidInput):
        maker.vault.put("LF003", SECRET, [bad])
    assert "LF003" not in maker.vault
    with pytest.raises(InvalidInput):
        Vault(folder, b"short")


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
