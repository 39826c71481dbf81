"""Identity records: the salted commitments the library writes where it used to write plain hashes.

A plain ``keccak(serial)``, ``keccak(site)`` or ``keccak(name)`` on-chain is confirmed by guessing (a
dictionary of serials of one pattern, of the world's mines, of company names). Each is replaced by the root
of a record committed with :func:`ledger.domain.disclosure.commit` (a fresh 32-byte salt per field), bound
to the on-chain thing it describes (a unit, a lot, an account), so a root copied to another unit, lot or
account does not verify there (docs/confidentiality.md):

- a unit's ``serialHash`` is the root of record ``unit:<unit id>`` (serial number and, when declared, the
  ISO/IEC 15459 unique identifier; Art. 77(3) of Regulation (EU) 2023/1542, Annex XIII point 1);
- a lot's ``origin`` keeps the ISO 3166 country in clear (first 2 bytes: it feeds the public origin mix)
  and the first 30 bytes of the root of record ``lot:<lot id>`` (country and site: due-diligence evidence,
  Art. 52, for the parties and the authority);
- a participant's ``nameHash`` (and ``metadataHash`` when there is metadata) is the root of record
  ``party:<account>`` (name and metadata).

No I/O: the openings are secrets for :class:`ledger.local.vault.Vault`.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.disclosure import Disclosure, Openings, commit, folded_root, verify_disclosure
from ledger.domain.ids import hex_of, id_bytes
from ledger.errors import DisclosureError, InvalidInput

#: Annex XIII point of each identity field (the serial and identifier are point 1: printed on the battery;
#: a mine or plant site is due-diligence evidence for the authority, point 3; the name of a participant
#: is the manufacturer information of Annex VI Part A, point 1).
IDENTITY_POINTS: dict[str, int] = {
    "serialNumber": 1,
    "uniqueIdentifier": 1,
    "country": 1,
    "site": 3,
    "name": 1,
    "metadata": 1,
}
#: Bytes of a lot's record root the origin word keeps (the first two carry the country).
ORIGIN_ROOT_BYTES = 30


def unit_record_id(unit_id: str | bytes) -> str:
    """Return the record id of a unit's identity record (``unit:`` and the unit's 0x id)."""
    return "unit:" + hex_of(id_bytes(unit_id))


def lot_record_id(lot_id: str | bytes) -> str:
    """Return the record id of a lot's origin record (``lot:`` and the lot's 0x id)."""
    return "lot:" + hex_of(id_bytes(lot_id))


def party_record_id(account: str) -> str:
    """Return the record id of a participant's identity record (``party:`` and the lower-case address)."""
    return "party:" + account.lower()


def commit_unit(unit_id: str | bytes, serial: str, unique_identifier: str | None = None) -> tuple[str, Openings]:
    """Commit a unit's serial number (and unique identifier); return the ``serialHash`` root and the openings."""
    record: dict[str, Any] = {"serialNumber": serial}
    if unique_identifier:
        record["uniqueIdentifier"] = unique_identifier
    return commit(record, IDENTITY_POINTS, record_id=unit_record_id(unit_id))


def commit_site(lot_id: str | bytes, country: str, site: str) -> tuple[str, Openings]:
    """Commit a lot's origin site; return the origin word (country in clear, 30 bytes of the root) and the openings."""
    if len(country) != 2 or not country.isascii() or not country.isupper():
        raise InvalidInput(f"country must be an ISO 3166 alpha-2 code such as AU or CD, got {country!r}")
    if not site:
        raise InvalidInput("a site name is not empty")
    root, openings = commit({"country": country, "site": site}, IDENTITY_POINTS, record_id=lot_record_id(lot_id))
    return origin_word(country, root), openings


def commit_party(account: str, name: str, metadata: str = "") -> tuple[str, Openings]:
    """Commit a participant's name (and metadata); return the ``nameHash`` root and the openings."""
    record: dict[str, Any] = {"name": name}
    if metadata:
        record["metadata"] = metadata
    return commit(record, IDENTITY_POINTS, record_id=party_record_id(account))


def origin_word(country: str, root: str | bytes) -> str:
    """Pack a country and the first 30 bytes of a record root into the bytes32 origin field."""
    raw = id_bytes(root)
    return hex_of(country.encode() + raw[:ORIGIN_ROOT_BYTES])


def verify_unit(serial_hash: str | bytes, disclosure: Disclosure, unit_id: str | bytes) -> dict[str, Any]:
    """Verify a disclosure of a unit's identity record against its on-chain ``serialHash``; return the fields.

    Raises :class:`DisclosureError` for an altered value, salt or proof, or a disclosure of another record.
    """
    return verify_disclosure(serial_hash, disclosure, record_id=unit_record_id(unit_id))


def verify_party(name_hash: str | bytes, disclosure: Disclosure, account: str) -> dict[str, Any]:
    """Verify a disclosure of a participant's identity record against its on-chain ``nameHash``."""
    return verify_disclosure(name_hash, disclosure, record_id=party_record_id(account))


def verify_origin(origin: str | bytes, disclosure: Disclosure, lot_id: str | bytes) -> dict[str, Any]:
    """Verify a disclosure of a lot's origin record against the lot's on-chain origin word; return the fields.

    The word keeps 30 bytes of the root (240 bits: a forged record matching them costs 2^240 hashes); the
    disclosed country, if disclosed, must be the one the word shows in clear.
    """
    word = id_bytes(origin)
    if disclosure.record_id != lot_record_id(lot_id):
        raise DisclosureError(f"the disclosure is of record {disclosure.record_id!r}, not {lot_record_id(lot_id)!r}")
    root = folded_root(disclosure)
    if root[:ORIGIN_ROOT_BYTES] != word[2:]:
        raise DisclosureError(f"the disclosure of record {disclosure.record_id!r} does not verify against the origin {hex_of(word)}")
    fields = verify_disclosure(root, disclosure, record_id=lot_record_id(lot_id))
    if "country" in fields and str(fields["country"]).encode() != word[:2]:
        raise DisclosureError(f"the disclosed country {fields['country']!r} is not the origin's {word[:2].decode(errors='replace')!r}")
    return fields
