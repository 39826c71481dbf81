"""The audit compares the attestation contract's stored records with the replayed events, on a real Anvil.

Consumers on-chain call ``isValid(uid)`` and read ``attestation(uid)``; the replay judges claims from the
Attested, InventoryAttested and Revoked events. A competitor who could make the two disagree (a record
revoked in storage whose Revoked event nobody saw, or the reverse; a stored signer, lot or self-declared
flag other than the event's; an inventory record likewise), or a node answering these reads falsely, is
flagged ``attestation-storage-mismatch``. An honest ledger passes, in full and from a checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chain_support import sign_inventory_for

from ledger import Composition, EventIndex, LotSpec, audit
from ledger.auditor import storage
from ledger.domain.hashing import keccak

KG = 1000
ORE = Composition.of({"Ni": 20 * KG, "Co": 2 * KG})
CODE = "attestation-storage-mismatch"
_nonce = iter(range(7_000, 1 << 30))


@pytest.fixture()
def index(chain) -> Iterator[EventIndex]:
    ix = EventIndex.open(":memory:")
    yield ix
    ix.close()


def _attest(chain, lot: str, *, valid_for: int = 10 * 365 * 86_400) -> str:
    from ledger import GwpAttestation, LifeCycleStage, sign_attestation, to_bytes32

    now = chain.now()
    att = GwpAttestation(
        lot_id=to_bytes32(lot),
        emissions_grams=900 * KG,
        stage=LifeCycleStage.MainProduction,
        methodology="ISO14067:2018",
        evidence="0x" + "ab" * 32,
        issued_at=now,
        valid_until=now + valid_for,
        nonce=next(_nonce),
        deadline=now + 3600,
    )
    d = chain.base.deployment
    return chain["admin"].submit_attestation(sign_attestation(att, chain.accounts["verifier"], d.chain_id, d.attestations))


def _world(chain, tag: str = "") -> tuple[str, str, str]:
    """Two attested ore lots (one attestation revoked by its verifier) and a self-declared inventory; their uids."""
    lots = [f"AR{tag}-{i}" for i in range(2)]
    chain["miner"].mint_many([LotSpec(lot_id=i, material="ORE-NI", mass=1_000 * KG, composition=ORE) for i in lots])
    kept, revoked = _attest(chain, lots[0]), _attest(chain, lots[1])
    chain["verifier"].revoke_attestation(revoked, "withdrawn")
    signed = sign_inventory_for(chain["miner"], chain.accounts["miner"], lots[0], nonce=next(_nonce), kwh=500, renewable=0.2)
    inventory = chain["miner"].submit_inventory(signed)
    return kept, revoked, inventory


def _synced(chain, ix: EventIndex) -> EventIndex:
    ix.sync(chain.base, confirmations=0)
    return ix


def _lie(monkeypatch, fn: str, uid: str, alter) -> None:
    """A node answering `fn`(uid) of the attestation contract falsely (the reader the audit reads through)."""
    real = storage._read_all
    sel = storage.ATTESTATIONS_ABI.fn(fn).selector
    target = bytes.fromhex(uid[2:])

    def lying(w3, address, selector, size, ids, block):
        out = real(w3, address, selector, size, ids, block)
        if selector == sel:
            out = [alter(r) if i == target else r for i, r in zip(ids, out)]
        return out

    monkeypatch.setattr(storage, "_read_all", lying)


def _flags(report, uid: str) -> list[str]:
    return [f.message for f in report.flags if f.code == CODE and f.subject.lower() == uid.lower()]


def test_an_honest_ledger_passes_and_every_record_is_compared(chain, index) -> None:
    _world(chain)
    report = audit(chain.base, _synced(chain, index))
    assert report.passed, report.flags
    assert report.records_checked == report.attestation_count + 1  # both GWP attestations and the inventory


def test_a_node_answering_a_revoked_attestation_as_standing_is_flagged(chain, index, monkeypatch) -> None:
    _kept, revoked, _inv = _world(chain)
    ix = _synced(chain, index)
    _lie(monkeypatch, "attestation", revoked, lambda r: r[:128] + bytes(32) + r[160:])  # revoked word cleared
    report = audit(chain.base, ix)
    assert not report.passed and report.flag_codes() == {CODE}
    (msg,) = _flags(report, revoked)
    assert "Revoked event was replayed, storage says not revoked" in msg and "AR-1" in msg


def test_a_node_answering_is_valid_falsely_is_flagged(chain, index, monkeypatch) -> None:
    _kept, revoked, inventory = _world(chain)
    ix = _synced(chain, index)
    _lie(monkeypatch, "isValid", revoked, lambda r: (1).to_bytes(32, "big"))
    report = audit(chain.base, ix)
    (msg,) = _flags(report, revoked)
    assert "isValid() says valid" in msg and "the replay says not valid" in msg
    assert report.flag_codes() == {CODE}


def test_a_stored_signer_lot_or_flag_other_than_the_events_is_flagged(chain, index, monkeypatch) -> None:
    kept, _revoked, _inv = _world(chain)
    ix = _synced(chain, index)
    other = bytes.fromhex(chain.addr("miner")[2:])
    # A different signer, the self-declared flag set, and another lot, all at once.
    _lie(monkeypatch, "attestation", kept, lambda r: bytes(12) + other + r[32:96] + (1).to_bytes(32, "big") + r[128:160] + b"X" * 32)
    report = audit(chain.base, ix)
    (msg,) = _flags(report, kept)
    assert "signer" in msg and "self-declared yes stored, no in the event" in msg and "lot XXXX" in msg


def test_a_contract_whose_storage_disagrees_with_its_events_is_flagged(chain, index) -> None:
    # Real storage, not a lying reader: the revoked bit of one record and of the inventory set with no Revoked
    # event (what a faulty or altered contract would do); the audit reads the block after.
    kept, _revoked, inventory = _world(chain)
    attestations = chain.base.deployment.attestations
    for uid, slot, bit in ((kept, 3, 240), (inventory, 4, 232)):
        key = int.from_bytes(keccak(bytes.fromhex(uid[2:]) + slot.to_bytes(32, "big")), "big")
        word = int(chain.rpc("eth_getStorageAt", [attestations, hex(key), "latest"]), 16) | 1 << bit
        chain.rpc("anvil_setStorageAt", [attestations, hex(key), "0x" + word.to_bytes(32, "big").hex()])
    chain.rpc("anvil_mine", ["0x1"])
    report = audit(chain.base, _synced(chain, index))
    (msg,) = _flags(report, kept)
    assert "revoked in storage, but no Revoked event was replayed" in msg and "isValid() says not valid" in msg
    (inv_msg,) = _flags(report, inventory)
    assert inv_msg.startswith("process inventory of lot AR-0") and "revoked 1" in inv_msg
    assert report.flag_codes() == {CODE}


def test_an_inventory_record_read_falsely_is_flagged(chain, index, monkeypatch) -> None:
    _kept, _revoked, inventory = _world(chain)
    ix = _synced(chain, index)
    real = storage._storage_at

    def lying(w3, address, slots, block):
        return [bytes(32) for _ in real(w3, address, slots, block)]  # no such record

    monkeypatch.setattr(storage, "_storage_at", lying)
    report = audit(chain.base, ix)
    (msg,) = _flags(report, inventory)
    assert "stored (signer 0x0000000000000000000000000000000000000000, validUntil 0" in msg and "in the events (signer 0x" in msg


def test_an_incremental_audit_compares_the_new_and_revoked_records_only(chain, index, tmp_path: Path, monkeypatch) -> None:
    kept, _revoked, _inv = _world(chain)
    short = _attest(chain, "AR-0", valid_for=120)  # lapses after the checkpoint, with no event
    path = tmp_path / "audit.checkpoint"
    assert audit(chain["auditor"], _synced(chain, index), save_checkpoint=path).passed
    new, _, _ = _world(chain, "N")
    chain["verifier"].revoke_attestation(kept, "withdrawn later")
    chain.rpc("evm_increaseTime", [600])
    chain.rpc("anvil_mine", ["0x1"])
    ix = _synced(chain, index)
    part = audit(chain["auditor"], ix, checkpoint=path)
    assert part.passed, part.flags
    # The three new records, the one revoked since and the one whose validity lapsed since; not the other two.
    assert part.records_checked == 5 < audit(chain["auditor"], ix).records_checked == 7
    # A node lying about a record relayed after the checkpoint is caught from the checkpoint too.
    _lie(monkeypatch, "isValid", new, lambda r: bytes(32))
    assert _flags(audit(chain["auditor"], ix, checkpoint=path), new)
    # And about the lapsed one: isValid changed with no event, so the checkpoint cannot vouch for it.
    monkeypatch.undo()
    _lie(monkeypatch, "isValid", short, lambda r: (1).to_bytes(32, "big"))
    assert _flags(audit(chain["auditor"], ix, checkpoint=path), short)
