"""What the registry and the event history say, answered from the event index: participants, a lot's
history, pending offers, attestations, a unit's parents.

The contracts keep no enumerations, so these lists come from events. They are read from the local
:class:`~ledger.index.store.EventIndex` (one log reader, one decoder: :mod:`ledger.chain.logs`) in
the shapes :mod:`ledger.queries.trace` gives: snake_case keys, ids and hashes as lowercase 0x-hex,
addresses checksummed, masses in grams with ``_g`` in the key, times in ISO 8601 UTC (docs/json.md's
style: these records are what the CLI and the passport service print). The index is a cache: check it
(:meth:`EventIndex.verify_heads`) before answering from it.
"""

from __future__ import annotations

import re
from typing import Any

from eth_utils import to_checksum_address

from ledger.chain.logs import ATTESTATIONS, LEDGER, layout_by_name, layouts
from ledger.domain.composition import ELEMENTS, unpack_lanes
from ledger.domain.enums import LotKind, LotState, OpKind, PassportStatus, Role
from ledger.domain.ids import hex_of, id_bytes
from ledger.domain.models import Participant
from ledger.domain.times import iso_time
from ledger.index.store import EventIndex
from ledger.replay.events import RawEvent
from ledger.replay.state import LedgerState

__all__ = ["attestation_list", "lot_history", "participants", "pending_offers", "unit_parents"]

#: Ledger events whose key (first indexed topic) is the lot or unit they are about.
_LOT_EVENTS = (
    "LotCreated",
    "LotUpdated",
    "OfferMade",
    "OfferAccepted",
    "OfferCancelled",
    "OfferRejected",
    "LotFrozen",
    "LotUnfrozen",
    "UnitCreated",
    "SohRecorded",
    "SohCorrected",
    "DiagnosticianAuthorised",
    "StatusChanged",
)
#: Events after which an offer of the lot can no longer be accepted: they end it, or bump the lot's epoch
#: (a freeze, an unfreeze, a partial use, an SOH record, a status change), as RinneLedger.sol does.
_OFFER_ENDERS = (
    "OfferAccepted",
    "OfferCancelled",
    "OfferRejected",
    "LotFrozen",
    "LotUnfrozen",
    "LotUpdated",
    "SohRecorded",
    "SohCorrected",
    "StatusChanged",
)
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_ATTESTATION_FIELDS = (
    "lot_id",
    "emissions_grams",
    "stage",
    "methodology",
    "evidence",
    "issued_at",
    "valid_until",
    "nonce",
    "deadline",
)
_ATTESTATION_TIMES = ("issued_at", "valid_until", "deadline")
#: Event fields in grams, named with their unit in the records (docs/json.md: the unit in the key).
_GRAMS = {"mass": "mass_g", "usedMasses": "used_masses_g"}

_INVENTORY_FIELDS = (
    "lot_id",
    "energy_wh",
    "renewable_bps",
    "water_withdrawn_litres",
    "water_consumed_litres",
    "route",
    "grade",
    "evidence",
    "issued_at",
    "valid_until",
    "nonce",
    "deadline",
)


def _snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


def _names(names: tuple[str, ...]) -> str:
    return ",".join(f"'{n}'" for n in names)


def _plain(value: Any) -> Any:
    """A decoded ABI value as JSON-ready data: bytes as 0x-hex, addresses checksummed."""
    if isinstance(value, (bytes, bytearray)):
        return hex_of(bytes(value))
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return to_checksum_address(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _grams(words: Any) -> dict[str, int]:
    return {e: g for e, g in zip(ELEMENTS, unpack_lanes(list(words))) if g}


def _tx_hashes(index: EventIndex, ids: list[int]) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        for eid, tx in index.conn.execute("SELECT id, tx_hash FROM events WHERE id IN (" + ",".join("?" * len(part)) + ")", part):
            out[eid] = hex_of(tx) if isinstance(tx, bytes) else None
    return out


def _entry(ev: RawEvent, tx_hash: str | None) -> dict[str, Any]:
    """One stored event as a flat record: event, block, time, tx_hash, log_index, then its fields."""
    layout = layouts().get((ev.contract, ev.topics[0])) if ev.topics else None
    out: dict[str, Any] = {
        "event": ev.name,
        "block": ev.block,
        "time": iso_time(ev.timestamp),
        "tx_hash": tx_hash,
        "log_index": ev.log_index,
    }
    if layout is None:
        return out
    for name, value in layout.decode(ev.topics, ev.data).items():
        if name == "composition":
            total, pre, post = value
            out[name] = {"total": _grams(total), "pre_consumer": _grams(pre), "post_consumer": _grams(post)}
        elif name == "loss":
            out["loss_g"] = _grams(value)
        elif name in _GRAMS:
            out[_GRAMS[name]] = _plain(value)
        elif name == "attestation":
            out.update(zip(_ATTESTATION_FIELDS, (_plain(v) for v in value)))
            for k in _ATTESTATION_TIMES:
                out[k] = iso_time(out[k])
        elif name == "inventory":
            out.update(zip(_INVENTORY_FIELDS, (_plain(v) for v in value)))
            for k in _ATTESTATION_TIMES:
                out[k] = iso_time(out[k])
        else:
            out[_snake(name)] = _plain(value)
    if ev.name == "LotsTransformed":
        out["kind"] = OpKind(out["kind"]).name.lower()
    elif ev.name == "UnitCreated":
        out["status"] = PassportStatus(out["status"]).name.lower()
    elif ev.name == "StatusChanged":
        out["from"] = PassportStatus(out["from"]).name.lower()
        out["to"] = PassportStatus(out["to"]).name.lower()
    return out


def _state(source: EventIndex | LedgerState) -> LedgerState:
    return source if isinstance(source, LedgerState) else source.state()


# ------------------------------------------------------------------------------------ queries


def participants(source: EventIndex | LedgerState) -> list[Participant]:
    """Return every account ever registered, as the registry stands at the index's last block, in
    registration order; ``since`` is the time of its registration."""
    out = []
    for rec in _state(source).participants.values():
        since = next((ts for ts, _, _, reg, _ in rec.history if reg), None)
        if since is None:
            continue  # roles changed or suspended without a registration: not a participant
        out.append(
            Participant(
                address=to_checksum_address(rec.account),
                roles=Role(rec.roles),
                registered=rec.registered,
                suspended=rec.suspended,
                since=since,
            )
        )
    return out


def lot_history(index: EventIndex, lot_id: str | bytes) -> list[dict[str, Any]]:
    """Return every event that mentions a lot or unit, oldest first, each with its block and time.

    Covers its creation and updates, offers, freezes, passport events, the attestations and process
    inventories of it and their revocations, and the LotsTransformed events where it is an input or an output (with
    ``role`` "input" / "output"). Field names are the ABI's in snake_case (``lot_id``, ``rated_wh``,
    ``used_masses_g``: a mass field's name carries its unit); an attestation's signed fields sit flat
    beside ``uid`` and ``signer``.
    """
    lot = id_bytes(lot_id)
    where = (
        f"e.id IN (SELECT id FROM events WHERE key = ? AND ((contract = {LEDGER} AND name IN ({_names(_LOT_EVENTS)}))"
        f" OR (contract = {ATTESTATIONS} AND name IN ('Attested', 'InventoryAttested')))"
        " UNION SELECT op FROM op_in WHERE lot_id = ? UNION SELECT op FROM op_out WHERE lot_id = ?"
        f" UNION SELECT id FROM events WHERE contract = {ATTESTATIONS} AND name = 'Revoked'"
        " AND key IN (SELECT uid FROM attested WHERE lot_id = ?))"
    )
    # Plain positional placeholders, the parameter repeated: PostgreSQL has no numbered `?1`.
    events = list(index.raw_events(where=where, params=(lot,) * 4))
    txs = _tx_hashes(index, [ev.id for ev in events])
    out = []
    lot_hex = hex_of(lot)
    for ev in events:
        e = _entry(ev, txs.get(ev.id))
        if ev.name == "LotsTransformed":
            e["role"] = "input" if lot_hex in e["inputs"] else "output"
        out.append(e)
    return out


def pending_offers(index: EventIndex, to: str | None = None, *, sender: str | None = None) -> list[dict[str, Any]]:
    """Return the offers that can be accepted now, made to `to` and/or by `sender` (any case), oldest first.

    An offer is current, as the contract judges it, while the lot is active, its holder is still
    the offerer, and nothing has ended the offer or bumped the lot's epoch since (an acceptance,
    rejection or cancellation, a freeze or unfreeze, a partial use, an SOH record, a status
    change); a later offer of the same lot replaces it. Each offer: ``lot_id``, ``from``, ``to``,
    ``epoch``, ``mass_g`` (the lot's grams now), ``kind`` (material or unit), ``block``, ``time``,
    ``tx_hash``, ``log_index``, and ``from_active``: False when the offerer has since been suspended,
    which makes the contract refuse the acceptance (the offer stays listed, flagged).
    """
    want_to = to.lower() if to else None
    want_from = sender.lower() if sender else None
    offer_made = layout_by_name(LEDGER, "OfferMade")
    latest: dict[bytes, tuple[RawEvent, dict[str, Any]]] = {}
    where = f"e.contract = {LEDGER} AND e.name IN ('OfferMade',{_names(_OFFER_ENDERS)})"
    for ev in index.raw_events(where=where):
        key = ev.topics[1] if len(ev.topics) > 1 else None
        if key is None:
            continue
        if ev.name == "OfferMade":
            latest[key] = (ev, offer_made.decode(ev.topics, ev.data))
        else:
            latest.pop(key, None)
    st = index.state()
    found = []
    for lot_id, (ev, a) in latest.items():
        rec = st.lots.get(lot_id)
        frm, dest = a["from"].lower(), a["to"].lower()
        if rec is None or rec.state != LotState.ACTIVE or rec.holder != frm or rec.offered_to != dest:
            continue
        if (want_to and dest != want_to) or (want_from and frm != want_from):
            continue
        found.append((ev, rec, frm, dest, a["epoch"]))
    found.sort(key=lambda f: f[0].id)
    txs = _tx_hashes(index, [f[0].id for f in found])
    return [
        {
            "lot_id": hex_of(rec.lot_id),
            "from": to_checksum_address(frm),
            "to": to_checksum_address(dest),
            "epoch": epoch,
            "mass_g": rec.mass,
            "kind": LotKind(rec.kind).name.lower(),
            "block": ev.block,
            "time": iso_time(ev.timestamp),
            "tx_hash": txs.get(ev.id),
            "log_index": ev.log_index,
            "from_active": _active(st, frm),
        }
        for ev, rec, frm, dest, epoch in found
    ]


def _active(st: LedgerState, account: str) -> bool:
    p = st.participants.get(account)
    return bool(p and p.registered and not p.suspended)


def attestation_list(
    source: EventIndex | LedgerState, *, lot_id: str | bytes | None = None, signer: str | None = None, at: int | None = None
) -> list[dict[str, Any]]:
    """Return the attestations relayed on-chain (optionally of one lot and/or by one signer), oldest first.

    Each carries its signed fields (``lot_id``, ``emissions_grams``, ``stage``, ``methodology``,
    ``evidence``, ``issued_at``, ``valid_until``, ``nonce``, ``deadline``), ``uid``, ``signer``,
    ``self_declared``, where it was relayed (``block``, ``time``, ``tx_hash`` with an index,
    ``log_index``), its revocation (``revoked``, ``revoked_by``, ``revoked_at``, ``revocation_reason``)
    and ``valid`` as GwpAttestations.isValid judges it at time `at` (default: the index's last
    synced block; for a bare LedgerState, its last event): recorded, not revoked, and `at` not past
    ``valid_until``.
    """
    st = _state(source)
    if at is None:
        at = source.chain_timestamp if isinstance(source, EventIndex) else st.last_timestamp
    want_lot = id_bytes(lot_id) if lot_id is not None else None
    want_signer = signer.lower() if signer else None
    recs = [
        r
        for r in st.attestations.values()
        if (want_lot is None or r.lot_id == want_lot) and (want_signer is None or r.signer == want_signer)
    ]
    recs.sort(key=lambda r: r.pos)
    txs = _tx_hashes(source, [r.pos for r in recs]) if isinstance(source, EventIndex) else {}
    out = []
    for r in recs:
        revoked = r.revoked
        out.append(
            {
                "uid": hex_of(r.uid),
                "lot_id": hex_of(r.lot_id),
                "signer": to_checksum_address(r.signer),
                "emissions_grams": r.emissions_grams,
                "stage": r.stage,
                "methodology": hex_of(r.methodology),
                "evidence": hex_of(r.evidence),
                "issued_at": iso_time(r.issued_at),
                "valid_until": iso_time(r.valid_until),
                "nonce": r.nonce,
                "deadline": iso_time(r.deadline),
                "self_declared": r.self_declared,
                "block": r.block,
                "time": iso_time(r.timestamp),
                "tx_hash": txs.get(r.pos),
                "log_index": r.pos & 0xFFFFFF if isinstance(source, EventIndex) else None,
                "revoked": revoked is not None,
                "revoked_by": to_checksum_address(revoked[2]) if revoked else None,
                "revoked_at": iso_time(revoked[1]) if revoked else None,
                "revocation_reason": hex_of(revoked[3]) if revoked else None,
                "valid": revoked is None and at <= r.valid_until,
            }
        )
    return out


def unit_parents(index: EventIndex, unit_id: str | bytes) -> list[str] | None:
    """Return the parent unit ids of a unit (empty for an original build), or None when the index
    holds no UnitCreated event for it."""
    created = list(
        index.raw_events(where=f"e.key = ? AND e.contract = {LEDGER} AND e.name = 'UnitCreated'", params=(id_bytes(unit_id),))
    )
    if not created:
        return None
    return [hex_of(p) for p in layout_by_name(LEDGER, "UnitCreated").decode(created[-1].topics, created[-1].data)["parents"]]
