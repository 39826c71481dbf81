"""Event queries straight from ``eth_getLogs``: participants, a lot's history, pending offers, attestations.

The contracts keep no enumerations, so these lists come from events. Each query pulls the logs it
needs in chunked block ranges from the deployment block to the chain head and decodes them with the
artifacts' ABI. This serves the command line and small ledgers; replays at scale belong on the local
event index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from eth_utils import to_checksum_address

from ledger import errors
from ledger._abi import Event, contract_abi
from ledger._rpc import batch, call
from ledger.models import Composition, LotState, OpKind, Participant, PassportStatus, to_bytes32

if TYPE_CHECKING:
    from ledger.client import Ledger

__all__ = ["attestations", "descendants", "get_logs", "lot_history", "participants", "pending_offers", "unit_parents"]

_LEDGER = contract_abi("RinneLedger")
_GWP = contract_abi("GwpAttestations")
#: Blocks per eth_getLogs request; halved on errors (providers cap ranges or result sizes).
CHUNK = 50_000
_MIN_CHUNK = 64

#: Events whose first indexed topic is the lot (or unit) id.
_LOT_TOPIC_EVENTS = (
    "LotCreated", "LotUpdated", "OfferMade", "OfferAccepted", "OfferCancelled", "OfferRejected",
    "LotFrozen", "LotUnfrozen", "UnitCreated", "SohRecorded", "SohCorrected", "DiagnosticianAuthorised", "StatusChanged",
)


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _topic_address(address: str) -> str:
    return "0x" + "00" * 12 + to_checksum_address(address)[2:].lower()


def get_logs(
    ledger: "Ledger", address: str, topics: list[Any], *, from_block: int | None = None, to_block: int | None = None
) -> list[dict[str, Any]]:
    """Return raw logs of `address` matching `topics`, from the deployment block to the head, in order."""
    d = ledger._deployment()
    start = d.block if from_block is None else from_block
    end = int(call(ledger.w3, "eth_blockNumber", []), 16) if to_block is None else to_block
    out: list[dict[str, Any]] = []
    chunk = CHUNK
    lo = start
    while lo <= end:
        hi = min(lo + chunk - 1, end)
        try:
            logs = call(ledger.w3, "eth_getLogs", [{"address": address, "fromBlock": hex(lo), "toBlock": hex(hi), "topics": topics}])
        except errors.ConnectionFailed:
            raise
        except errors.ChainError:
            if chunk <= _MIN_CHUNK:
                raise
            chunk //= 2
            continue
        out.extend(logs)
        lo = hi + 1
    return [log for log in out if not log.get("removed")]


def descendants(ledger: "Ledger", lot_id: bytes) -> list[bytes]:
    """Return `lot_id` and every lot made from it, transitively, from the LotsTransformed events up to the
    chain head (not an index: a freeze must see the split made a block ago)."""
    ev = _LEDGER.events["LotsTransformed"]
    consumers: dict[bytes, list[list[bytes]]] = {}
    for log in get_logs(ledger, ledger._deployment().ledger, [_hex(ev.topic0)]):
        fields = ev.decode([bytes.fromhex(t[2:]) for t in log["topics"]], bytes.fromhex(log["data"][2:]))
        outputs = list(fields["outputs"])
        for lot in fields["inputs"]:
            consumers.setdefault(lot, []).append(outputs)
    seen, order, stack = {lot_id}, [lot_id], [lot_id]
    while stack:
        for outputs in consumers.get(stack.pop(), ()):
            for lot in outputs:
                if lot not in seen:
                    seen.add(lot)
                    order.append(lot)
                    stack.append(lot)
    return order


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return _hex(value)
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return to_checksum_address(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def decode(log: dict[str, Any], events: dict[bytes, Event] | None = None) -> dict[str, Any]:
    """Decode a raw log of either contract into a flat dict: event, block, tx_hash, log_index, fields."""
    topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
    table = events or {**_LEDGER.events_by_topic, **_GWP.events_by_topic}
    ev = table.get(topics[0]) if topics else None
    if ev is None:
        raise errors.ChainError(f"unknown event with topic {log['topics'][0] if topics else '(none)'}")
    fields = ev.decode(topics, bytes.fromhex(log["data"][2:]))
    out: dict[str, Any] = {
        "event": ev.name,
        "block": int(log["blockNumber"], 16),
        "tx_hash": log["transactionHash"],
        "log_index": int(log["logIndex"], 16),
    }
    for name, value in fields.items():
        if name == "composition":
            out[name] = Composition.from_words(value)
        elif name == "loss":
            out[name] = Composition.from_words((value, [0, 0], [0, 0])).as_dict()
        elif name == "soh":
            soce, capacity, cycles, throughput, evidence = value
            out[name] = {"soce_bp": soce, "capacity_wh": capacity, "cycles": cycles, "throughput_wh": throughput, "evidence": _hex(evidence)}
        else:
            out[name] = _plain(value)
    if ev.name == "LotsTransformed":
        out["kind"] = OpKind(out["kind"]).name
    if ev.name == "StatusChanged":
        out["from"] = PassportStatus(out["from"]).name
        out["to"] = PassportStatus(out["to"]).name
    return out


def _order(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (e["block"], e["log_index"]))


def block_times(ledger: "Ledger", blocks: Iterable[int]) -> dict[int, int]:
    """Return block number → unix timestamp for the given blocks (one batch request)."""
    wanted = sorted(set(blocks))
    results = batch(ledger.w3, [("eth_getBlockByNumber", [hex(b), False]) for b in wanted])
    return {b: int(r["timestamp"], 16) for b, r in zip(wanted, results) if r}


# ---------------------------------------------------------------------------------- queries


def participants(ledger: "Ledger") -> list[Participant]:
    """Return every account ever registered, with its current registry record, in registration order."""
    d = ledger._deployment()
    ev = _LEDGER.events["ParticipantRegistered"]
    seen: dict[str, None] = {}
    for log in get_logs(ledger, d.ledger, [_hex(ev.topic0)]):
        seen[to_checksum_address("0x" + log["topics"][1][-40:])] = None
    return [ledger.participant(a) for a in seen]


def lot_history(ledger: "Ledger", lot_id: str) -> list[dict[str, Any]]:
    """Return every event that mentions a lot or unit, oldest first.

    Covers its creation and updates, offers, freezes, passport events, attestations of it, and the
    LotsTransformed events where it is an input or an output (with ``role`` "input" / "output").
    """
    d = ledger._deployment()
    lot = to_bytes32(lot_id)
    topic0s = [_hex(_LEDGER.events[n].topic0) for n in _LOT_TOPIC_EVENTS]
    entries = [decode(log) for log in get_logs(ledger, d.ledger, [topic0s, lot])]
    transformed = _LEDGER.events["LotsTransformed"]
    for log in get_logs(ledger, d.ledger, [_hex(transformed.topic0)]):
        e = decode(log)
        if lot in e["inputs"]:
            entries.append({**e, "role": "input"})
        elif lot in e["outputs"]:
            entries.append({**e, "role": "output"})
    attested, revoked = _GWP.events["Attested"], _GWP.events["Revoked"]
    uids = set()
    for log in get_logs(ledger, d.attestations, [_hex(attested.topic0), None, lot]):
        e = _attested_entry(decode(log))
        uids.add(e["uid"])
        entries.append(e)
    if uids:
        for log in get_logs(ledger, d.attestations, [_hex(revoked.topic0)]):
            e = decode(log)
            if e["uid"] in uids:
                entries.append(e)
    return _order(entries)


def pending_offers(ledger: "Ledger", to: str | None = None, *, sender: str | None = None) -> list[dict[str, Any]]:
    """Return the offers still current (acceptable now) made to `to` and/or by `sender`, oldest first."""
    d = ledger._deployment()
    made = _LEDGER.events["OfferMade"]
    topics: list[Any] = [_hex(made.topic0), None, _topic_address(sender) if sender else None, _topic_address(to) if to else None]
    latest: dict[str, dict[str, Any]] = {}
    for log in get_logs(ledger, d.ledger, topics):
        e = decode(log)
        latest[e["lotId"]] = e  # a later offer of the same lot replaces the earlier one
    out = []
    for lot_id, e in latest.items():
        lot = ledger.lot(lot_id, with_composition=False)
        if lot.state != LotState.ACTIVE or not lot.offer_current or lot.offered_to is None:
            continue
        if to and lot.offered_to != to_checksum_address(to):
            continue
        if sender and lot.holder != to_checksum_address(sender):
            continue
        out.append({
            "lot_id": lot.lot_id, "from": lot.holder, "to": lot.offered_to, "epoch": e["epoch"],
            "mass": lot.mass, "kind": lot.kind.name, "block": e["block"], "tx_hash": e["tx_hash"],
            "log_index": e["log_index"],
        })
    return _order(out)


def _attested_entry(e: dict[str, Any]) -> dict[str, Any]:
    lot_id, grams, stage, methodology, evidence, issued, valid_until, nonce, deadline = e.pop("attestation")
    e.update(
        lotId=_plain(lot_id), emissionsGrams=grams, stage=stage, methodology=_plain(methodology), evidence=_plain(evidence),
        issuedAt=issued, validUntil=valid_until, nonce=nonce, deadline=deadline,
    )
    return e


def attestations(ledger: "Ledger", *, lot_id: str | None = None, signer: str | None = None) -> list[dict[str, Any]]:
    """Return the attestations recorded on-chain (optionally of one lot and/or one signer), oldest first.

    Each entry carries the signed fields, ``selfDeclared``, and the current ``revoked`` / ``valid``.
    """
    d = ledger._deployment()
    attested, revoked = _GWP.events["Attested"], _GWP.events["Revoked"]
    topics = [_hex(attested.topic0), None, to_bytes32(lot_id) if lot_id else None, _topic_address(signer) if signer else None]
    entries = [_attested_entry(decode(log)) for log in get_logs(ledger, d.attestations, topics)]
    if not entries:
        return []
    revocations = {e["uid"]: e for e in (decode(log) for log in get_logs(ledger, d.attestations, [_hex(revoked.topic0)]))}
    valid = _valid_flags(ledger, [e["uid"] for e in entries])
    for e in entries:
        r = revocations.get(e["uid"])
        e["revoked"] = r is not None
        e["revokedBy"] = r["revoker"] if r else None
        e["valid"] = valid[e["uid"]]
    return _order(entries)


def _valid_flags(ledger: "Ledger", uids: list[str]) -> dict[str, bool]:
    d = ledger._deployment()
    f = _GWP.fn("isValid")
    results = batch(ledger.w3, [("eth_call", [{"to": d.attestations, "data": _hex(f.encode(bytes.fromhex(u[2:])))}, "latest"]) for u in uids])
    return {u: bool(f.decode_output(bytes.fromhex(r[2:]))[0]) for u, r in zip(uids, results)}


def unit_parents(ledger: "Ledger", unit_id: str) -> list[str] | None:
    """Return the parent unit ids of a unit (empty for an original build), or None if it has no UnitCreated event."""
    d = ledger._deployment()
    created = _LEDGER.events["UnitCreated"]
    logs = get_logs(ledger, d.ledger, [_hex(created.topic0), to_bytes32(unit_id)])
    if not logs:
        return None
    return list(decode(logs[-1])["parents"])
