"""`rinne transfer`: two-phase custody, pending offers from events."""

from __future__ import annotations

import pytest
from cli_support import mint

from ledger import to_bytes32

pytestmark = pytest.mark.chain


def test_offer_pending_accept(rinne):
    mint(rinne, "TR-1", mass="3t")
    out = rinne.write("transfer", "offer", "TR-1", rinne.addr("cam"), account="refiner")
    assert out["to"] == rinne.addr("cam")
    offer = rinne.ledger().offer_of("TR-1")
    assert offer.to == rinne.addr("cam") and offer.current
    pending = rinne.json("transfer", "pending", "--account", "cam")
    assert [(p["lot_id"], p["from"], p["to"], p["mass_g"]) for p in pending] == [
        (to_bytes32("TR-1"), rinne.addr("refiner"), rinne.addr("cam"), 3_000_000)
    ]
    assert rinne.json("transfer", "pending", "--account", "refiner", "--sent")[0]["lot_id"] == to_bytes32("TR-1")
    assert rinne.json("transfer", "pending", "--address", rinne.addr("oem")) == []
    out = rinne.write("transfer", "accept", "TR-1", account="cam")
    assert out["previous_holder"] == rinne.addr("refiner") and out["holder"] == rinne.addr("cam")
    assert rinne.ledger().lot("TR-1").holder == rinne.addr("cam")
    assert rinne.json("transfer", "pending", "--account", "cam") == []


def test_a_new_offer_replaces_the_old_and_only_current_offers_are_pending(rinne):
    mint(rinne, "TR-2", mass="1t")
    rinne.write("transfer", "offer", "TR-2", "cam", account="refiner")
    rinne.write("transfer", "offer", "TR-2", "oem", account="refiner")
    assert rinne.json("transfer", "pending", "--account", "cam") == []
    assert [p["to"] for p in rinne.json("transfer", "pending", "--account", "oem")] == [rinne.addr("oem")]
    line = rinne.fail("transfer", "accept", "TR-2", "--account", "cam", "--yes")
    assert "no current offer of lot TR-2" in line and rinne.addr("cam") in line
    # A split kills the offer: the stale offer can neither be listed nor accepted.
    rinne.write("lot", "split", "TR-2", "TR-2a=500kg", account="refiner")
    assert rinne.json("transfer", "pending", "--account", "oem") == []
    assert "no current offer" in rinne.fail("transfer", "accept", "TR-2", "--account", "oem", "--yes")
    assert rinne.ledger().lot("TR-2").holder == rinne.addr("refiner")


def test_reject_and_cancel(rinne):
    mint(rinne, "TR-3", mass="1t")
    rinne.write("transfer", "offer", "TR-3", "cam", account="refiner")
    rinne.write("transfer", "reject", "TR-3", account="cam")
    assert rinne.ledger().offer_of("TR-3") is None
    rinne.write("transfer", "offer", "TR-3", "cam", account="refiner")
    assert "does not hold" in rinne.fail("transfer", "cancel", "TR-3", "--account", "cam", "--yes")
    rinne.write("transfer", "cancel", "TR-3", account="refiner")
    assert rinne.ledger().offer_of("TR-3") is None
    assert "no current offer" in rinne.fail("transfer", "accept", "TR-3", "--account", "cam", "--yes")
    events = [e["event"] for e in rinne.json("lot", "history", "TR-3")]
    assert events == ["LotCreated", "OfferMade", "OfferRejected", "OfferMade", "OfferCancelled"]


def test_offer_to_an_unregistered_party_is_refused(rinne):
    mint(rinne, "TR-4", mass="1t")
    line = rinne.fail("transfer", "offer", "TR-4", "outsider", "--account", "refiner", "--yes")
    assert "cannot receive lots" in line
    assert "no lot NOPE" in rinne.fail("transfer", "offer", "NOPE", "cam", "--account", "refiner", "--yes")
    assert "--account" in rinne.fail("transfer", "pending", code=2)


def test_declining_the_prompt_sends_nothing(rinne):
    mint(rinne, "TR-5", mass="1t")
    result = rinne.run("transfer", "offer", "TR-5", "cam", "--account", "refiner", input="n\n", code=1)
    assert "Offer lot TR-5" in result.stderr and "not confirmed" in result.stderr
    assert rinne.ledger().offer_of("TR-5") is None
    result = rinne.run("transfer", "offer", "TR-5", "cam", "--account", "refiner", input="y\n", code=0)
    assert "offered TR-5" in result.stdout
    assert rinne.ledger().offer_of("TR-5").to == rinne.addr("cam")


def test_an_offer_from_a_since_suspended_holder_is_flagged_not_hidden(rinne):
    mint(rinne, "TR-6", mass="1t")
    rinne.write("transfer", "offer", "TR-6", "cam", account="refiner")
    assert [p["from_active"] for p in rinne.json("transfer", "pending", "--account", "cam")] == [True]
    rinne.write("party", "suspend", "refiner", "--reason", "key leak", account="admin")
    try:
        (offer,) = rinne.json("transfer", "pending", "--account", "cam")
        assert offer["lot_id"] == to_bytes32("TR-6") and offer["from_active"] is False and offer["time"].endswith("Z")
        assert "offerer suspended: cannot complete" in rinne.run("transfer", "pending", "--account", "cam").stdout
        assert "suspended" in rinne.fail("transfer", "accept", "TR-6", "--account", "cam", "--yes")
    finally:
        rinne.write("party", "reinstate", "refiner", account="admin")
