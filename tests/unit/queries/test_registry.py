"""ledger.queries.registry over an in-memory index of synthetic events (no chain)."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "provenance"))

from prov_synth import (
    AUDITOR,
    LEDGER_ADDR,
    MINER,
    OEM,
    RECYCLER,
    REFINER,
    VERIFIER,
    ZERO32,
    Synth,
    b32,
    build_reference,
    ni,
)

from ledger import (
    Composition,
    EventIndex,
    OpKind,
    Role,
    attestation_list,
    lot_history,
    participants,
    pending_offers,
    to_bytes32,
    unit_parents,
)


def _unix(iso: str) -> int:
    """An ISO 8601 UTC time of the records back as Unix seconds (they print times, never integers)."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", iso), iso
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


@pytest.fixture(scope="module")
def reference() -> Synth:
    return build_reference()


@pytest.fixture()
def index(reference: Synth) -> Any:
    idx = reference.ingest()
    yield idx
    idx.close()


def _offer(s: Synth, lot: str, frm: Any, to: Any, epoch: int = 0) -> None:
    s._emit(LEDGER_ADDR, "OfferMade", lotId=b32(lot), **{"from": frm.address}, to=to.address, epoch=epoch)
    s.mine()


def test_participants_in_registration_order_with_their_roles_now(reference: Synth, index: EventIndex) -> None:
    found = participants(index)
    assert [p.address for p in found] == [a.address for a in (MINER, REFINER, VERIFIER, OEM, RECYCLER, AUDITOR)]
    assert found[3].roles == Role.OEM | Role.SECOND_LIFE | Role.DIAGNOSTICIAN
    assert all(p.registered and not p.suspended for p in found)
    assert found[0].since < found[1].since
    # The replayed state answers the same.
    assert participants(index.state()) == found


def test_participants_follow_role_changes_and_suspensions() -> None:
    s = Synth()
    s.register(MINER, Role.MINER)
    s.set_roles(MINER, Role.MINER | Role.REFINER)
    s._emit(LEDGER_ADDR, "ParticipantSuspended", account=MINER.address, reason=ZERO32)
    s.mine()
    with s.ingest() as idx:
        (p,) = participants(idx)
    assert p.roles == Role.MINER | Role.REFINER and p.suspended and p.registered
    assert p.since == s.ts - 3 * 12  # the registration's block time, not the latest change's


def test_lot_history_covers_every_event_of_the_lot(index: EventIndex) -> None:
    hist = lot_history(index, "ORE-NI")
    assert [e["event"] for e in hist] == ["LotCreated", "Attested", "OfferMade", "OfferAccepted", "LotsTransformed"]
    created = hist[0]
    assert created["lot_id"] == to_bytes32("ORE-NI") and created["holder"] == MINER.address
    assert created["mass_g"] == 1_000_000 and created["composition"]["total"] == {"Ni": 20_000}
    assert created["composition"]["pre_consumer"] == {} and created["tx_hash"] == "0x" + "ab" * 32
    assert _unix(created["time"]) > 0
    att = hist[1]
    assert att["issued_at"].endswith("Z") and att["valid_until"] > att["issued_at"]  # ISO 8601 UTC sorts as time does
    att = hist[1]
    assert att["signer"] == VERIFIER.address and att["emissions_grams"] == 100_000 and att["self_declared"] is False
    assert att["lot_id"] == to_bytes32("ORE-NI") and att["uid"].startswith("0x") and len(att["uid"]) == 66
    op = hist[-1]
    assert op["kind"] == "transform" and op["role"] == "input" and op["used_masses_g"] == [0]
    assert op["outputs"] == [to_bytes32("NISO4"), to_bytes32("SLAG")]
    assert [e["block"] for e in hist] == sorted(e["block"] for e in hist)
    assert all(k == k.lower() for e in hist for k in e)  # snake_case keys throughout
    out = lot_history(index, "SLAG")
    assert [e["event"] for e in out] == ["LotCreated", "LotsTransformed"] and out[-1]["role"] == "output"
    assert lot_history(index, "NEVER") == []


def test_lot_history_of_a_unit_has_its_passport_events(index: EventIndex) -> None:
    hist = lot_history(index, "PACK2")
    events = [e["event"] for e in hist]
    assert events[:3] == ["LotCreated", "UnitCreated", "LotsTransformed"]
    assert "SohRecorded" in events and "StatusChanged" in events and events.count("LotsTransformed") == 3
    unit = hist[1]
    assert unit["unit_id"] == to_bytes32("PACK2") and unit["rated_wh"] == 40_000 and unit["status"] == "original"
    soh = next(e for e in hist if e["event"] == "SohRecorded")
    # The record is a salted root and the claim of use: its values are not in the history.
    assert soh["root"].startswith("0x") and soh["used"] is True and soh["recorder"] == OEM.address and "soh" not in soh
    status = next(e for e in hist if e["event"] == "StatusChanged")
    assert (status["from"], status["to"]) == ("original", "waste")
    recycle = hist[-1]
    assert recycle["kind"] == "recycle" and recycle["role"] == "input" and recycle["loss_g"] == {"Ni": 100}


def test_lot_history_has_revocations_of_its_attestations() -> None:
    s = Synth()
    s.register(MINER, Role.MINER)
    s.register(VERIFIER, Role.GWP_VERIFIER)
    s.mint(MINER, "L1", "ORE-NI", 1_000, ni(10))
    uid = s.attest("L1", 1, 0, VERIFIER)
    s.revoke(uid, VERIFIER)
    with s.ingest() as idx:
        hist = lot_history(idx, "L1")
    assert [e["event"] for e in hist] == ["LotCreated", "Attested", "Revoked"]
    assert hist[-1]["uid"] == "0x" + uid.hex() and hist[-1]["revoker"] == VERIFIER.address


def test_pending_offers_are_the_current_ones() -> None:
    s = Synth()
    s.register(MINER, Role.MINER)
    s.register(REFINER, Role.REFINER)
    s.register(OEM, Role.OEM)
    s.register(AUDITOR, Role.AUDITOR)
    for lot in ("A", "B", "C", "D", "E"):
        s.mint(MINER, lot, "ORE-NI", 1_000, ni(100))
    _offer(s, "A", MINER, REFINER)  # current
    _offer(s, "B", MINER, REFINER)
    _offer(s, "B", MINER, OEM)  # replaces the offer to the refiner
    _offer(s, "C", MINER, REFINER)
    s.freeze("C", AUDITOR)
    s._emit(LEDGER_ADDR, "LotUnfrozen", lotId=b32("C"), auditor=AUDITOR.address)  # active again, but the epoch moved on
    s.mine()
    _offer(s, "D", MINER, REFINER)
    s.op(OpKind.SPLIT, MINER, [("D", 400)], [("D1", "ORE-NI", 400, ni(40))])  # a partial use kills the offer
    _offer(s, "E", MINER, REFINER)
    s._emit(LEDGER_ADDR, "OfferRejected", lotId=b32("E"), to=REFINER.address)
    s.mine()
    with s.ingest() as idx:
        to_refiner = pending_offers(idx, REFINER.address.lower())
        by_miner = pending_offers(idx, sender=MINER.address)
        to_oem = pending_offers(idx, OEM.address)
    assert [o["lot_id"] for o in to_refiner] == [to_bytes32("A")]
    assert to_refiner[0] == {
        **to_refiner[0],
        "from": MINER.address,
        "to": REFINER.address,
        "epoch": 0,
        "mass_g": 1_000,
        "kind": "material",
    }
    assert to_refiner[0]["time"].endswith("Z") and to_refiner[0]["tx_hash"] == "0x" + "ab" * 32
    assert [o["lot_id"] for o in by_miner] == [to_bytes32("A"), to_bytes32("B")]
    assert [o["to"] for o in to_oem] == [OEM.address]
    assert all(o["from_active"] for o in by_miner)


def test_an_offer_from_a_since_suspended_holder_is_flagged() -> None:
    s = Synth()
    s.register(MINER, Role.MINER)
    s.register(REFINER, Role.REFINER)
    s.mint(MINER, "A", "ORE-NI", 1_000, ni(100))
    _offer(s, "A", MINER, REFINER)
    s._emit(LEDGER_ADDR, "ParticipantSuspended", account=MINER.address, reason=ZERO32)
    s.mine()
    with s.ingest() as idx:
        (offer,) = pending_offers(idx, REFINER.address)
    assert offer["lot_id"] == to_bytes32("A") and offer["from_active"] is False


def test_accepted_offers_are_not_pending(index: EventIndex) -> None:
    assert pending_offers(index, REFINER.address) == [] and pending_offers(index, sender=MINER.address) == []


def test_attestations_with_validity_as_the_chain_judges_it() -> None:
    s = Synth()
    s.register(MINER, Role.MINER)
    s.register(VERIFIER, Role.GWP_VERIFIER)
    s.mint(MINER, "L1", "ORE-NI", 1_000, ni(10))
    s.mint(MINER, "L2", "ORE-NI", 1_000, ni(10))
    good = s.attest("L1", 1.5, 0, VERIFIER)
    revoked = s.attest("L1", 2, 0, VERIFIER)
    short = s.attest("L2", 3, 1, VERIFIER, valid_for=60)
    own = s.attest("L2", 4, 1, MINER, self_declared=True)
    s.revoke(revoked, VERIFIER)
    s.mine(3_600)  # past the short one's valid-until
    s.mine()
    with s.ingest() as idx:
        listed = attestation_list(idx)
        of_l1 = attestation_list(idx, lot_id="L1")
        by_miner = attestation_list(idx, signer=MINER.address.lower())
        earlier = attestation_list(idx, lot_id=to_bytes32("L2"), at=idx.state().attestations[short].issued_at)
        state_view = attestation_list(idx.state(), at=idx.chain_timestamp)
        at_last_event = attestation_list(idx.state())
    assert [a["uid"] for a in listed] == ["0x" + u.hex() for u in (good, revoked, short, own)]
    assert [a["valid"] for a in listed] == [True, False, False, True]
    assert [a["revoked"] for a in listed] == [False, True, False, False]
    assert listed[1]["revoked_by"] == VERIFIER.address and listed[1]["revoked_at"] > listed[1]["time"]
    first = listed[0]
    assert first["lot_id"] == to_bytes32("L1") and first["signer"] == VERIFIER.address and first["emissions_grams"] == 1_500
    assert first["stage"] == 0 and first["self_declared"] is False and first["tx_hash"] == "0x" + "ab" * 32
    assert _unix(first["valid_until"]) - _unix(first["issued_at"]) == 10 * 365 * 86_400
    assert [a["uid"] for a in of_l1] == ["0x" + good.hex(), "0x" + revoked.hex()]
    assert [a["uid"] for a in by_miner] == ["0x" + own.hex()] and by_miner[0]["self_declared"] is True
    assert [a["valid"] for a in earlier] == [True, True]  # before its valid-until the short one was valid
    assert [a["valid"] for a in state_view] == [True, False, False, True]
    assert [a["valid"] for a in at_last_event] == [True, False, True, True]  # a bare state knows no later block
    assert attestation_list(Synth().ingest()) == []


def test_unit_parents(index: EventIndex) -> None:
    assert unit_parents(index, "ESS1") == [to_bytes32("PACK1"), to_bytes32("PACK2")]
    assert unit_parents(index, "PACK1") == []
    assert unit_parents(index, b32("CAM")) is None  # a material lot
    assert unit_parents(index, "NEVER") is None


def test_a_lot_id_that_looks_like_an_account_does_not_pick_up_registry_events() -> None:
    s = Synth()
    s.register(MINER, Role.MINER)
    disguised = "0x" + "00" * 12 + MINER.address[2:].lower()
    s._create(MINER, "X", "ORE-NI", 1_000, Composition())
    s.mine()
    s._emit(LEDGER_ADDR, "LotCreated", lotId=bytes.fromhex(disguised[2:]), holder=MINER.address, material=b32("ORE"), mass=1,
            origin=ZERO32, evidence=ZERO32, composition=Composition().words())  # fmt: skip
    s.mine()
    with s.ingest() as idx:
        assert [e["event"] for e in lot_history(idx, disguised)] == ["LotCreated"]
