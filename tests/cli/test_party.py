"""`rinne party`: registry writes by the admin, and reads from events."""

from __future__ import annotations

import pytest

from ledger import Role

pytestmark = pytest.mark.chain


def test_session_registry_was_made_with_the_cli(rinne):
    listed = rinne.json("party", "list")
    by_address = {p["address"]: p for p in listed}
    assert by_address[rinne.addr("cam")]["roles"] == ["PRECURSOR_MAKER", "CATHODE_MAKER"]
    assert rinne.addr("outsider") not in by_address and rinne.addr("admin") not in by_address
    assert len(listed) == 10
    verifiers = rinne.json("party", "list", "--role", "gwp-verifier")
    assert [p["address"] for p in verifiers] == [rinne.addr("verifier")]


def test_register_grant_revoke_show(rinne):
    out = rinne.write("party", "register", rinne.addr("outsider"), "--roles", "miner", "--name", "Outsider Mining", account="admin")
    assert out["roles"] == ["MINER"] and out["tx_hash"].startswith("0x")
    assert rinne.ledger().participant(rinne.addr("outsider")).roles == Role.MINER
    out = rinne.write("party", "grant", "outsider", "REFINER", "recycler", account="admin")
    assert out["roles"] == ["MINER", "REFINER", "RECYCLER"]
    out = rinne.write("party", "revoke", "outsider", "MINER", account="admin")
    assert out["roles"] == ["REFINER", "RECYCLER"]
    shown = rinne.json("party", "show", "outsider")
    assert shown == {**shown, "registered": True, "suspended": False, "roles": ["REFINER", "RECYCLER"]}
    assert rinne.ledger().participant(rinne.addr("outsider")).roles == Role.REFINER | Role.RECYCLER
    human = rinne.run("party", "show", rinne.addr("outsider")).stdout
    assert "REFINER, RECYCLER" in human and "active" in human


def test_suspend_and_reinstate(rinne):
    rinne.write("party", "suspend", "refiner", "--reason", "key leak", account="admin")
    assert rinne.json("party", "show", "refiner")["suspended"] is True
    line = rinne.fail("lot", "mint", "SUSP-1", "--material", "NiSO4", "--mass", "1t", "--account", "refiner", "--yes")
    assert "suspended" in line
    rinne.write("party", "reinstate", "refiner", account="admin")
    assert rinne.ledger().participant(rinne.addr("refiner")).suspended is False


def test_only_the_admin_registers(rinne):
    line = rinne.fail("party", "register", "outsider", "--roles", "MINER", "--name", "x", "--account", "refiner", "--yes")
    assert "not the registry admin" in line
    assert rinne.ledger().participant(rinne.addr("outsider")).registered is False


def test_usage_errors(rinne):
    assert "unknown role 'WIZARD'" in rinne.fail("party", "grant", "refiner", "WIZARD", "--account", "admin", "--yes", code=2)
    assert "neither an address" in rinne.fail("party", "show", "nobody-here", code=2)
    assert "not a registered participant" in rinne.fail("party", "show", "outsider")
    assert "registered already" in rinne.fail(
        "party", "register", "refiner", "--roles", "MINER", "--name", "x", "--account", "admin", "--yes"
    )
