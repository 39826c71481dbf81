"""Incremental audits (issue 15) on a real Anvil: an audit writes a checkpoint signed by its auditor; a later
audit starts from it, replays only the new events, and reports what a full audit reports. A checkpoint that
someone else signed, that was edited, that names heads the chain never had, or that belongs to another
deployment is refused before its state is read."""

from __future__ import annotations

import json
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Composition, EventIndex, LotSpec, audit, footprint, to_bytes32
from ledger.auditor.checkpoint import AuditCheckpoint, CheckpointError, state_path, write_checkpoint
from ledger.domain.hashing import keccak
from ledger.domain.ids import hex_of

KG = 1000
ORE = Composition.of({"Ni": 20 * KG, "Co": 2 * KG})


def _mint(chain, *ids: str) -> None:
    chain["miner"].mint_many([LotSpec(lot_id=i, material="ORE-NI", mass=1_000 * KG, composition=ORE) for i in ids])


@pytest.fixture()
def index(chain) -> Iterator[EventIndex]:
    ix = EventIndex.open(":memory:")
    yield ix
    ix.close()


@pytest.fixture()
def checkpointed(chain, index, tmp_path: Path) -> Path:
    """A first audit of 40 lots, with its checkpoint written by the auditor."""
    _mint(chain, *(f"CP-{i:03d}" for i in range(40)))
    index.sync(chain.base, confirmations=0)
    path = tmp_path / "audit.checkpoint"
    assert audit(chain["auditor"], index, save_checkpoint=path).passed
    return path


def test_an_incremental_audit_reports_what_a_full_one_does(chain, index, checkpointed: Path) -> None:
    assert stat.S_IMODE(os.stat(checkpointed).st_mode) == 0o600 and stat.S_IMODE(os.stat(state_path(checkpointed)).st_mode) == 0o600
    _mint(chain, "NEW-1", "NEW-2")
    chain.give("CP-000", "miner", "refiner")
    chain["refiner"].transform(["CP-000"], [LotSpec(lot_id="NISO4-CP", material="NiSO4", mass=400 * KG, composition=ORE)])
    index.sync(chain.base, confirmations=0)
    full = audit(chain["auditor"], index)
    part = audit(chain["auditor"], index, checkpoint=checkpointed)
    assert part.passed and full.passed and full.checkpoint_block is None
    assert part.checkpoint_block == AuditCheckpoint.model_validate_json(checkpointed.read_text()).block
    assert (part.events, part.lots, part.operations, part.heads) == (full.events, full.lots, full.operations, full.heads)
    # Only what the new events touched is read from storage: the new lots, the used ore, the sulphate.
    assert part.storage_checked == 4 < full.storage_checked
    assert footprint(index, "NISO4-CP").kg_co2e == 0


def test_an_edited_state_file_is_refused(chain, index, checkpointed: Path) -> None:
    sp = state_path(checkpointed)
    data = bytearray(sp.read_bytes())
    data[-10] ^= 1
    sp.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="not the one its auditor signed"):
        audit(chain["auditor"], index, checkpoint=checkpointed)


def test_an_edited_claims_file_is_refused(chain, index, checkpointed: Path) -> None:
    # The cheat: turn a weak claim into a verified one in the claims a later audit takes over unjudged.
    from ledger.auditor.checkpoint import ClaimBlock, claims_path, pack_claims
    from ledger.auditor.report import ClaimCheck, ClaimList

    block = ClaimBlock(claims_path(checkpointed).read_bytes())
    rows = [ClaimCheck(**{**block.claim(i).model_dump(), "level": "verified"}) for i in range(len(block))]
    assert rows and pack_claims(ClaimList(), pickle.loads(state_path(checkpointed).read_bytes()))  # packs at all
    claims_path(checkpointed).write_bytes(pack_claims(ClaimList.of(rows), pickle.loads(state_path(checkpointed).read_bytes())))
    with pytest.raises(CheckpointError, match="claims file is not the one its auditor signed"):
        audit(chain["auditor"], index, checkpoint=checkpointed)


def test_a_checkpoint_signed_by_anyone_else_is_refused(chain, index, checkpointed: Path, tmp_path: Path) -> None:
    # The cheat: the refiner doctors the state (its lot heavier) and signs a checkpoint of it itself.
    st = pickle.loads(state_path(checkpointed).read_bytes())
    lot = next(iter(st.lots.values()))
    lot.mass *= 10
    cp = json.loads(checkpointed.read_text())
    forged = tmp_path / "forged.checkpoint"
    heads = (int(cp["ledger_head"], 16), int(cp["attestations_head"], 16))
    write_checkpoint(forged, chain["refiner"], st, block=cp["block"], block_hash=cp["block_hash"], heads=heads)
    with pytest.raises(CheckpointError, match="not among the auditors trusted here"):
        audit(chain["auditor"], index, checkpoint=forged)
    # Named as trusted, it is still no AUDITOR of this ledger.
    with pytest.raises(CheckpointError, match="not an active AUDITOR"):
        audit(chain["auditor"], index, checkpoint=forged, trusted=[chain.addr("refiner")])
    # And the auditor's own checkpoint with the doctored state swapped in fails its digest.
    state_path(checkpointed).write_bytes(pickle.dumps(st))
    with pytest.raises(CheckpointError, match="not the one its auditor signed"):
        audit(chain["auditor"], index, checkpoint=checkpointed)


def test_heads_the_chain_never_had_are_refused(chain, index, checkpointed: Path, tmp_path: Path) -> None:
    # Even the auditor's own signature cannot vouch for a history the contracts do not count.
    cp = AuditCheckpoint.model_validate_json(checkpointed.read_text())
    st = pickle.loads(state_path(checkpointed).read_bytes())
    bad = tmp_path / "bad.checkpoint"
    wrong = int(cp.ledger_head, 16) ^ (1 << 100)
    write_checkpoint(bad, chain["auditor"], st, block=cp.block, block_hash=cp.block_hash, heads=(wrong, int(cp.attestations_head, 16)))
    with pytest.raises(CheckpointError, match="ledger head at block .* is not the checkpoint's"):
        audit(chain["auditor"], index, checkpoint=bad)
    moved = tmp_path / "moved.checkpoint"
    write_checkpoint(moved, chain["auditor"], st, block=cp.block, block_hash=hex_of(keccak(b"other")), heads=(0, 0))
    with pytest.raises(CheckpointError, match="no longer on this chain"):
        audit(chain["auditor"], index, checkpoint=moved)


def test_a_checkpoint_of_another_deployment_or_garbage_is_refused(chain, index, checkpointed: Path, tmp_path: Path) -> None:
    cp = json.loads(checkpointed.read_text())
    cp["ledger"] = "0x" + "11" * 20
    other = tmp_path / "other.checkpoint"
    other.write_text(json.dumps(cp))
    with pytest.raises(CheckpointError, match="another deployment"):
        audit(chain["auditor"], index, checkpoint=other)
    junk = tmp_path / "junk.checkpoint"
    junk.write_text("{}")
    with pytest.raises(CheckpointError, match="not an audit checkpoint"):
        audit(chain["auditor"], index, checkpoint=junk)


def test_a_doctored_event_after_the_checkpoint_is_caught(chain, index, checkpointed: Path) -> None:
    from ledger import errors

    _mint(chain, "NEW-9")
    index.sync(chain.base, confirmations=0)
    # The cheat: the index's copy of the new lot's creation says another holder.
    (eid, data) = index.conn.execute("SELECT id, data FROM events WHERE name = 'LotCreated' ORDER BY id DESC LIMIT 1").fetchone()
    index.conn.execute("UPDATE events SET data = ? WHERE id = ?", (bytes(len(data)), eid))
    with pytest.raises(errors.IndexCorrupt):
        audit(chain["auditor"], index, checkpoint=checkpointed)


# ------------------------------------------------------------ claims taken over from a checkpoint


def _attest(chain, lot: str, kg: float, *, nonce: int, valid_for: int = 10 * 365 * 86_400) -> str:
    from ledger import GwpAttestation, LifeCycleStage, sign_attestation, to_bytes32

    now = chain.now()
    att = GwpAttestation(
        lot_id=to_bytes32(lot),
        emissions_grams=round(kg * KG),
        stage=LifeCycleStage.MainProduction,
        methodology="ISO14067:2018",
        evidence="0x" + "ab" * 32,
        issued_at=now,
        valid_until=now + valid_for,
        nonce=nonce,
        deadline=now + 3600,
    )
    d = chain.base.deployment
    return chain["admin"].submit_attestation(sign_attestation(att, chain.accounts["verifier"], d.chain_id, d.attestations))


def _cam(
    chain, tag: str, *, attest_input: bool, nonce: int, cam_valid_for: int = 10 * 365 * 86_400, from_ore: bool = False
) -> str | None:
    """NiSO4-tag (attested or not; refined from an attested ORE-tag with `from_ore`) made into CAM-tag
    (attested); returns the uid of the first lot's attestation."""
    uid = None
    if from_ore:
        _mint(chain, f"ORE-{tag}")
        uid = _attest(chain, f"ORE-{tag}", 900, nonce=nonce + 5)
        chain.give(f"ORE-{tag}", "miner", "refiner")
        chain["refiner"].transform([f"ORE-{tag}"], [LotSpec(lot_id=f"NISO4-{tag}", material="NiSO4", mass=900 * KG, composition=ORE)])
    else:
        chain["refiner"].mint(LotSpec(lot_id=f"NISO4-{tag}", material="NiSO4", mass=1_000 * KG, composition=ORE))
    if attest_input:
        first = _attest(chain, f"NISO4-{tag}", 3_800, nonce=nonce)
        uid = uid or first
    chain.give(f"NISO4-{tag}", "refiner", "cathode")
    chain["cathode"].transform([f"NISO4-{tag}"], [LotSpec(lot_id=f"CAM-{tag}", material="CAM-NMC811", mass=800 * KG, composition=ORE)])
    _attest(chain, f"CAM-{tag}", 1_200, nonce=nonce + 1, valid_for=cam_valid_for)
    return uid


def test_claims_taken_over_from_a_checkpoint_are_those_a_full_audit_judges(chain, index, tmp_path: Path, monkeypatch) -> None:
    # The cheat it rules out: a figure that was verified when the checkpoint was written, then expired,
    # was revoked upstream or gained a late attestation, still reported as the checkpoint judged it.
    import ledger.auditor.claims as claims_module

    _mint(chain, *(f"CL-{i:03d}" for i in range(30)))  # end products nothing later touches
    _cam(chain, "T", attest_input=True, nonce=101, cam_valid_for=600)  # its own figure expires
    revoked = _cam(chain, "R", attest_input=True, nonce=111, from_ore=True)  # its ore's figure is revoked, two steps up
    _cam(chain, "L", attest_input=False, nonce=121)  # its input's figure comes late
    chain.rpc("evm_increaseTime", [60])  # so that no figure's validity starts at the checkpoint's time
    chain.rpc("evm_mine", [])
    index.sync(chain.base, confirmations=0)
    path = tmp_path / "claims.checkpoint"
    before = {c.label: c.level for c in audit(chain["auditor"], index, save_checkpoint=path).claims}
    assert (before["CAM-T"], before["CAM-R"], before["CAM-L"]) == ("verified", "verified", "missing")

    chain.rpc("evm_increaseTime", [3_600])
    chain.rpc("evm_mine", [])
    assert revoked is not None
    chain["auditor"].revoke_attestation(revoked, "figures withdrawn")
    _attest(chain, "NISO4-L", 3_800, nonce=131)
    index.sync(chain.base, confirmations=0)

    judged: list[bytes] = []
    real = claims_module.claim_assurance

    def counted(st, lot_id, *, at):
        judged.append(lot_id)
        return real(st, lot_id, at=at)

    monkeypatch.setattr(claims_module, "claim_assurance", counted)
    part = audit(chain["auditor"], index, checkpoint=path)
    judged_again = len(judged)
    full = audit(chain["auditor"], index)
    assert part.passed and full.passed
    assert [c.model_dump() for c in part.claims] == [c.model_dump() for c in full.claims]
    after = {c.label: c.level for c in part.claims}
    assert (after["CAM-T"], after["CAM-R"], after["CAM-L"]) == ("expired", "revoked", "verified")
    # Only the changed ones were judged again; the untouched ores were taken over.
    assert 3 <= judged_again < len(part.claims) - 25
    # The revocation two steps up and the late attestation of NISO4-L touched neither CAM-R nor CAM-L, whose
    # claims the checkpoint's block holds: both were judged again all the same.
    assert {bytes.fromhex(to_bytes32(x)[2:]) for x in ("CAM-R", "CAM-L")} <= set(judged)


def _claims(report) -> list[dict]:
    return [c.model_dump() for c in report.claims]


def test_end_products_carried_over_follow_what_the_new_events_changed(chain, index, tmp_path: Path, monkeypatch) -> None:
    # The cheats it rules out: a lot that stopped being an end product (consumed since) still reported with the
    # claim its checkpoint judged; one that became an end product again (what was made from it was recycled) left
    # out, though nothing since touched it; a checkpoint written by an incremental audit carrying a stale row on.
    import ledger.auditor.claims as claims_module
    from ledger import PassportStatus, UnitSpec, Use

    _mint(chain, *(f"KEEP-{i:02d}" for i in range(20)), "ORE-GONE")
    half = Composition.of({"Ni": 10 * KG, "Co": 1 * KG})
    chain["refiner"].mint(LotSpec(lot_id="CAM-P", material="CAM-NMC811", mass=600 * KG, composition=ORE))
    chain.give("CAM-P", "refiner", "cells")
    chain["cells"].transform(["CAM-P"], [LotSpec(lot_id="CELLS-P", material="CELL-NMC811", mass=600 * KG, composition=ORE)])
    chain.give("CELLS-P", "cells", "packs")
    chain["packs"].build_unit(
        [Use(lot_id="CELLS-P", mass=300 * KG)],
        LotSpec(lot_id="PACK-P", material="PACK-75KWH", mass=300 * KG, composition=half),
        UnitSpec(serial="SN-P", rated_wh=75_000),
    )
    index.sync(chain.base, confirmations=0)
    first = tmp_path / "first.checkpoint"
    before = audit(chain["auditor"], index, save_checkpoint=first)
    labels = {c.label for c in before.claims}
    assert {"PACK-P", "ORE-GONE"} <= labels and "CELLS-P" not in labels  # the cells live on in the pack

    chain.give("ORE-GONE", "miner", "refiner")
    chain["refiner"].transform(["ORE-GONE"], [LotSpec(lot_id="NISO4-GONE", material="NiSO4", mass=900 * KG, composition=ORE)])
    chain["packs"].set_status("PACK-P", PassportStatus.WASTE, "scrapped")
    chain.give("PACK-P", "packs", "recycler")
    chain["recycler"].recycle("PACK-P", [LotSpec(lot_id="BM-P", material="BLACK-MASS", mass=250 * KG, composition=half)])
    index.sync(chain.base, confirmations=0)

    judged: list[bytes] = []
    real = claims_module.claim_assurance

    def counted(st, lot_id, *, at):
        judged.append(lot_id)
        return real(st, lot_id, at=at)

    monkeypatch.setattr(claims_module, "claim_assurance", counted)
    second = tmp_path / "second.checkpoint"
    part = audit(chain["auditor"], index, checkpoint=first, save_checkpoint=second)
    judged_again = len(judged)
    full = audit(chain["auditor"], index)
    assert part.passed and full.passed
    assert _claims(part) == _claims(full) and part.claims == full.claims
    labels = {c.label for c in part.claims}
    assert {"CELLS-P", "NISO4-GONE", "BM-P"} <= labels and not {"PACK-P", "ORE-GONE"} & labels
    assert judged_again <= 5  # the 20 untouched ores were carried over, not judged again

    # An audit from the checkpoint the incremental audit wrote (its carried rows copied, not decoded) agrees too.
    _mint(chain, "NEW-3")
    chain.give("KEEP-07", "miner", "refiner")
    chain["refiner"].transform(["KEEP-07"], [LotSpec(lot_id="NISO4-07", material="NiSO4", mass=900 * KG, composition=ORE)])
    index.sync(chain.base, confirmations=0)
    again = audit(chain["auditor"], index, checkpoint=second)
    full = audit(chain["auditor"], index)
    assert again.passed and _claims(again) == _claims(full)
    assert {"NEW-3", "NISO4-07"} <= {c.label for c in again.claims} and "KEEP-07" not in {c.label for c in again.claims}
    assert json.loads(again.to_json())["claims"] == json.loads(full.to_json())["claims"]


def test_a_checkpoint_without_claims_has_every_claim_judged_again(chain, index, checkpointed: Path, tmp_path: Path) -> None:
    cp = json.loads(checkpointed.read_text())
    st = pickle.loads(state_path(checkpointed).read_bytes())
    bare = tmp_path / "bare.checkpoint"
    heads = (int(cp["ledger_head"], 16), int(cp["attestations_head"], 16))
    write_checkpoint(bare, chain["auditor"], st, block=cp["block"], block_hash=cp["block_hash"], heads=heads)
    _mint(chain, "NEW-4")
    index.sync(chain.base, confirmations=0)
    part = audit(chain["auditor"], index, checkpoint=bare)
    full = audit(chain["auditor"], index)
    assert len(part.claims) == 41 and _claims(part) == _claims(full)
