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
  ``party:<account>`` (name and metadata);
- every evidence word (a lot's, a status change's, an attestation's or inventory's) and every reason word
  (freeze, suspend, revoke) is the root of record ``evidence:<kind>:<subjects>:<nonce>``: a document's content
  hash or a reason's text, bound to the lot, unit, account or attestation it is written for;
- every state-of-health record (Annex XIII point 4: legitimate interest and authorities only) is the root of
  record ``soh:<unit id>:<nonce>`` (state of certified energy, capacity, cycles, throughput, the diagnosis
  report's hash), the only SOH word on-chain beside the one clear bit ``used`` (throughput > 0).

No I/O: the openings are secrets for :class:`ledger.local.vault.Vault`.
"""

from __future__ import annotations

import secrets
from typing import Any

from ledger.domain.disclosure import Disclosure, Openings, commit, commit_raw, disclose, folded_root, verify_disclosure
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
    root, openings = commit_raw({"country": country, "site": site}, IDENTITY_POINTS, record_id=lot_record_id(lot_id))
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


# ------------------------------------------------------------------------------ evidence and reasons

#: What each kind of evidence or reason word commits, and the Annex XIII point of its one field. A document
#: (assay certificate, process record, LCA report, test report) goes in as its content hash, never the
#: document itself (it stays off-chain); a reason goes in as its text. Test reports and the records behind a
#: declaration are point 3 (notified bodies and authorities); the record behind a battery's status or state of
#: health is point 4 (legitimate interest); a freeze, suspension or revocation reason is an authority matter
#: (point 3).
EVIDENCE_KINDS: dict[str, tuple[str, int]] = {
    "lot": ("document", 3),  # LotSpec.evidence: assay certificate, process record
    "status": ("document", 4),  # setStatus evidence: grading or decision record, Annex XIII point 4(c)
    "soh": ("document", 4),  # SohRecord.evidence: diagnosis report, Annex XIII point 4(a)
    "attestation": ("document", 3),  # a GWP attestation's LCA report (Art. 7)
    "inventory": ("document", 3),  # a process inventory's report
    "freeze": ("reason", 3),  # freeze / freezeBatch reason
    "suspend": ("reason", 3),  # a participant's suspension reason
    "revoke": ("reason", 3),  # an attestation's revocation reason
}
#: Prefix of every evidence record id, and of the vault id an evidence word is kept under.
EVIDENCE_PREFIX = "evidence:"
WORD_PREFIX = "word:"
_NONCE_BYTES = 16


def _subject(kind: str, subject: str | bytes) -> str:
    # One spelling per subject, so the verifier's record id matches the committer's: accounts lower case,
    # lot, unit and attestation ids as 0x-hex bytes32.
    if kind == "suspend":
        if not isinstance(subject, str) or not subject.startswith("0x") or len(subject) != 42:
            raise InvalidInput(f"a suspension is of an account (0x and 40 hex digits), got {subject!r}")
        return subject.lower()
    return hex_of(id_bytes(subject))


def evidence_record_id(kind: str, subjects: str | bytes | list[str | bytes] | tuple[str | bytes, ...], nonce: str) -> str:
    """Return the record id of an evidence or reason commitment: kind, the subjects it is about, a nonce.

    The subjects (the lot, unit, account or attestation the word is written for; several for a batch freeze)
    are bound into the root, so a word copied to another subject does not verify there. The nonce (fresh per
    commitment) keeps two commitments about one subject apart: a unit changes status more than once.
    """
    if kind not in EVIDENCE_KINDS:
        raise InvalidInput(f"unknown evidence kind {kind!r}: one of {', '.join(EVIDENCE_KINDS)}")
    many = list(subjects) if isinstance(subjects, (list, tuple)) else [subjects]
    if not many:
        raise InvalidInput("an evidence commitment is about at least one subject")
    return f"{EVIDENCE_PREFIX}{kind}:{','.join(_subject(kind, s) for s in many)}:{nonce}"


def evidence_subjects(record_id: str) -> tuple[str, list[str]]:
    """Split an evidence record id into its kind and its subjects; raise :class:`DisclosureError` if it is none."""
    kind, _, rest = record_id.removeprefix(EVIDENCE_PREFIX).partition(":")
    subjects, _, nonce = rest.rpartition(":")
    if not record_id.startswith(EVIDENCE_PREFIX) or kind not in EVIDENCE_KINDS or not subjects or not nonce:
        raise DisclosureError(f"{record_id!r} is no evidence record id (evidence:KIND:SUBJECT:NONCE)")
    return kind, subjects.split(",")


def commit_evidence(
    kind: str, subjects: str | bytes | list[str | bytes] | tuple[str | bytes, ...], value: str | bytes
) -> tuple[str, Openings]:
    """Commit a document's content hash or a reason's text for a subject; return the bytes32 word and the openings.

    `kind` is one of :data:`EVIDENCE_KINDS`; for a document kind `value` is the document's keccak (bytes32,
    0x-hex or 32 bytes), for a reason kind its text. A guessed reason or a known document does not confirm
    against the word (a fresh salt); the opening, disclosed, verifies with :func:`verify_evidence`.
    """
    if kind not in EVIDENCE_KINDS:
        raise InvalidInput(f"unknown evidence kind {kind!r}: one of {', '.join(EVIDENCE_KINDS)}")
    field, point = EVIDENCE_KINDS[kind]
    if field == "document":
        raw = id_bytes(value) if isinstance(value, str) and value.startswith("0x") else value
        if not isinstance(raw, bytes) or len(raw) != 32:
            raise InvalidInput(f"a {kind} document is committed as its 32-byte content hash, got {value!r}")
        committed: str = hex_of(raw)
    else:
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"a {kind} reason is a non-empty text")
        committed = value
    nonce = secrets.token_bytes(_NONCE_BYTES).hex()
    return commit({field: committed}, {field: point}, record_id=evidence_record_id(kind, subjects, nonce))


def evidence_vault_id(word: str | bytes) -> str:
    """Return the vault id an evidence or reason word's openings are kept under: ``word:`` and the 0x word.

    A reader knows the word from the chain, not the commitment's nonce: the vault finds the opening by the word.
    """
    return WORD_PREFIX + hex_of(id_bytes(word))


def vault_id(openings: Openings) -> str:
    """Return the vault id of a record's openings: its record id, or for evidence and SOH records its word."""
    if openings.record_id.startswith((EVIDENCE_PREFIX, SOH_PREFIX)):
        return evidence_vault_id(openings.root())
    return openings.record_id


def verify_evidence(word: str | bytes, disclosure: Disclosure, kind: str, subject: str | bytes) -> dict[str, Any]:
    """Verify a disclosure of an evidence or reason commitment against its on-chain word; return the fields.

    The disclosure must be of `kind` and about `subject` (one of its subjects, for a batch freeze): the word of
    another lot, unit, account or attestation, or of another kind of record, is refused. Raises
    :class:`DisclosureError` for an altered document hash, reason, salt or proof.
    """
    got_kind, subjects = evidence_subjects(disclosure.record_id)
    if got_kind != kind:
        raise DisclosureError(f"the disclosure is of {got_kind} evidence, not {kind}")
    if _subject(kind, subject) not in subjects:
        raise DisclosureError(f"the disclosure of record {disclosure.record_id!r} is not about {_subject(kind, subject)}")
    return verify_disclosure(word, disclosure, record_id=disclosure.record_id)


# ------------------------------------------------------------------------------ state of health

#: The fields of an SOH record, all Annex XIII point 4 (state of health and usage: legitimate interest and
#: authorities). Values in the contract's former units: basis points, Wh, full cycles, Wh; `document` is the
#: diagnosis report's content hash (0x-hex bytes32) or null.
SOH_POINTS: dict[str, int] = {"soceBp": 4, "capacityWh": 4, "cycles": 4, "throughputWh": 4, "document": 4}
#: The numeric fields of an SOH record, in the order of :class:`ledger.domain.models.SohRecord`.
SOH_VALUES = ("soceBp", "capacityWh", "cycles", "throughputWh")
SOH_PREFIX = "soh:"


def soh_record_id(unit_id: str | bytes, nonce: str) -> str:
    """Return the record id of an SOH commitment: ``soh:``, the unit's 0x id and a nonce."""
    return f"{SOH_PREFIX}{hex_of(id_bytes(unit_id))}:{nonce}"


def commit_soh(
    unit_id: str | bytes, soce_bp: int, capacity_wh: int, cycles: int, throughput_wh: int, document: str | bytes | None = None
) -> tuple[str, Openings]:
    """Commit one state-of-health record of a unit; return the bytes32 root that goes on-chain and the openings.

    Every field gets its own salt, and the record id binds the unit and a fresh nonce: SOCE has 10,001 values
    and cycles a few thousand, so an unsalted hash of the record would fall to a grid search, and an opening
    must not verify for another unit or another record of the same unit. No bound is checked here: the
    recorder answers for the values, and the authority's audit re-checks them (``ledger.auditor.soh``).
    """
    for name, v in zip(SOH_VALUES, (soce_bp, capacity_wh, cycles, throughput_wh), strict=True):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise InvalidInput(f"an SOH record's {name} is a non-negative integer, got {v!r}")
    doc: str | None = None
    if document is not None:
        try:
            raw = id_bytes(document) if isinstance(document, str) else document
        except ValueError:
            raw = None
        if not isinstance(raw, bytes) or len(raw) != 32:
            raise InvalidInput(f"an SOH record's document is its 32-byte content hash, got {document!r}")
        doc = hex_of(raw)
    record: dict[str, Any] = {
        "soceBp": soce_bp,
        "capacityWh": capacity_wh,
        "cycles": cycles,
        "throughputWh": throughput_wh,
        "document": doc,
    }
    return commit(record, SOH_POINTS, record_id=soh_record_id(unit_id, secrets.token_bytes(_NONCE_BYTES).hex()))


def soh_vault_id(root: str | bytes) -> str:
    """Return the vault id an SOH record's openings are kept under: ``word:`` and its on-chain root."""
    return evidence_vault_id(root)


def soh_unit(record_id: str) -> str:
    """Return the 0x unit id an SOH record id names; raise :class:`DisclosureError` if it is no SOH record id."""
    unit, _, nonce = record_id.removeprefix(SOH_PREFIX).partition(":")
    if not record_id.startswith(SOH_PREFIX) or len(unit) != 66 or not nonce:
        raise DisclosureError(f"{record_id!r} is no SOH record id (soh:UNIT:NONCE)")
    return unit


def verify_soh(root: str | bytes, disclosure: Disclosure, unit_id: str | bytes) -> dict[str, Any]:
    """Verify a disclosure of an SOH record against its on-chain root; return the verified fields.

    The disclosure must be of an SOH record of `unit_id` (an opening moved to another unit is refused before
    its proofs are checked; one moved to another record of the same unit does not fold to that record's root)
    and each value of the kind the record holds (non-negative integers, the document a bytes32 or null).
    Raises :class:`DisclosureError` otherwise. The values are not checked against physical bounds here.
    """
    if soh_unit(disclosure.record_id) != hex_of(id_bytes(unit_id)):
        raise DisclosureError(
            f"the disclosure is of record {disclosure.record_id!r}, not an SOH record of {hex_of(id_bytes(unit_id))}"
        )
    fields = verify_disclosure(root, disclosure, record_id=disclosure.record_id)
    for name, v in fields.items():
        if name not in SOH_POINTS:
            raise DisclosureError(f"an SOH record has no field {name!r}")
        if name == "document":
            if v is not None and (not isinstance(v, str) or len(v) != 66):
                raise DisclosureError(f"an SOH record's document is a bytes32 or null, got {v!r}")
        elif not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise DisclosureError(f"an SOH record's {name} is a non-negative integer, got {v!r}")
    return fields


def open_soh(root: str | bytes, openings: Openings, unit_id: str | bytes) -> dict[str, Any]:
    """Verify a whole SOH record's openings (from a vault) against its on-chain root; return every field.

    What every reader calls before it shows or uses an SOH value: a vault gives confidentiality, not
    authenticity. Raises :class:`DisclosureError` when the openings do not verify or lack a field.
    """
    missing = [n for n in SOH_POINTS if n not in openings.fields]
    if missing:
        raise DisclosureError(f"the SOH record {openings.record_id!r} has no field {missing[0]!r}")
    return verify_soh(root, disclose(openings, list(SOH_POINTS)), unit_id)
