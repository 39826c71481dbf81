"""On a real Anvil: index sync (resume, progress), figures from the index, the audit of a clean
history, one tamper scenario per audit flag, and a replay after a reorg."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from index_backends import Targets
from prov_chain import World, start_world, stop_world, story

from ledger import errors
from ledger.auditor.run import audit
from ledger.chain import node as _node
from ledger.chain.logs import layout_by_name
from ledger.chain.rpc import call
from ledger.domain.composition import Composition
from ledger.domain.enums import Role
from ledger.domain.ids import to_bytes32
from ledger.domain.models import LotSpec
from ledger.exports.passport import battery_passport
from ledger.exports.pcf import pact_footprint, pact_footprint_v3
from ledger.figures.footprint import footprint
from ledger.index.store import EventIndex
from ledger.index.sync import SyncProgress
from ledger.queries.trace import trace

pytestmark = pytest.mark.chain

try:
    _node.find_anvil()
except Exception as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"anvil is not installed ({exc}): run `npm ci`", allow_module_level=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = start_world(tmp_path_factory.mktemp("anvil"))
    story(w)
    yield w
    stop_world(w)


@pytest.fixture()
def fresh(world: World) -> Iterator[World]:
    """The story as it stands; whatever the test does on-chain is rolled back afterwards."""
    snap = call(world.admin.w3, "evm_snapshot", [])
    yield world
    call(world.admin.w3, "evm_revert", [snap])
    world.admin.resync(every_account=True)


def _index(tmp_path: Path, w: World) -> EventIndex:
    ix = EventIndex.open(tmp_path / "index.sqlite")
    ix.sync(w.admin)
    return ix


def test_sync_counts_every_event_and_resumes(world: World, tmp_path: Path) -> None:
    seen: list[SyncProgress] = []
    ix = EventIndex.open(tmp_path / "index.sqlite")
    result = ix.sync(world.admin, seen.append, chunk_blocks=7)
    ledger_seq, _ = world.admin.ledger_head("ledger")
    gwp_seq, _ = world.admin.ledger_head("attestations")
    assert ix.event_count() == result.events == ledger_seq + gwp_seq
    assert len(seen) > 3 and seen[-1].fraction == 1.0 and seen[-1].events == result.events
    assert [p.block for p in seen] == sorted(p.block for p in seen)
    # Nothing new: an incremental sync reads no events.
    again = ix.sync(world.admin)
    assert again.events == 0 and again.reorged_from is None
    ix.close()
    # Reopened from disk, the index still knows where it stopped.
    ix2 = EventIndex.open(tmp_path / "index.sqlite")
    assert ix2.synced_block == result.to_block and ix2.event_count() == result.events
    ix2.close()


def test_sync_resumes_after_new_events(fresh: World, tmp_path: Path) -> None:
    ix = _index(tmp_path, fresh)
    before, synced = ix.event_count(), ix.synced_block
    fresh.miner.mint(LotSpec(lot_id="ORE-LATE", material="ORE-NI", mass=1_000, composition=Composition.of({"Ni": 10})))
    r = ix.sync(fresh.admin)
    assert r.events == 1 and ix.event_count() == before + 1
    assert r.from_block == synced + 1 and ix.has_lot("ORE-LATE")


def test_confirmation_depth_holds_back_recent_blocks(fresh: World, tmp_path: Path) -> None:
    ix = EventIndex.open(tmp_path / "index.sqlite")
    head = int(call(fresh.admin.w3, "eth_blockNumber", []), 16)
    ix.sync(fresh.admin, confirmations=3)
    assert ix.synced_block == head - 3
    ix.sync(fresh.admin, confirmations=0)
    assert ix.synced_block == head


def test_figures_from_the_chain_index(world: World, tmp_path: Path) -> None:
    ix = _index(tmp_path, world)
    # NISO4 holds all the refinery's nickel, so it takes ORE-NI's 100 kg (the heavier slag none): with its
    # own 20 kg, 120/400 kg/kg. CAM = 60 kg of NISO4 (18) + a fifth of ORE-CO (10) + own 30 = 58; PACK1 = 73.
    fp = footprint(ix, "PACK1")
    assert fp.kg_co2e == pytest.approx(73) and fp.per_kwh is not None and fp.per_kwh.kg_co2e_per_kwh == pytest.approx(73 / 60)
    pack2 = footprint(ix, "PACK2")
    assert pack2.assurance == "missing"  # built without an attestation: the weakest link shows
    assert pack2.kg_co2e == pytest.approx(120 * 40_000 / 400_000)
    t = trace(ix, "ESS1")
    assert {m.label for m in t.mines} == {"ORE-NI", "ORE-CO"}
    t2 = trace(ix, "PACK2", direction="down")
    assert {lot.label for lot in t2.lots} == {"PACK2", "ESS1", "REC-NI", "REC-BM"}


def test_audit_of_a_clean_history_passes(world: World, tmp_path: Path) -> None:
    ix = EventIndex.open(tmp_path / "index.sqlite")
    report = audit(world.admin, ix, declared={"PACK1": 73.0})
    assert report.passed, report.flags
    assert all(h.ok for h in report.heads)
    assert report.heads[0].replayed_sequence > 20 and report.heads[1].replayed_sequence == 6
    assert report.storage_checked == report.lots + report.units
    assert report.signatures_checked == 6 and report.transforms_checked == 7 and report.declared_checked == 1
    data = json.loads(report.to_json())
    assert data["passed"] is True and data["heads"][0]["ok"] is True


# ------------------------------------------------------------------ tamper: real on-chain deeds


def test_revoked_attestation_is_a_weak_claim_not_an_integrity_failure(fresh: World, tmp_path: Path) -> None:
    ix = _index(tmp_path, fresh)
    uid = next(u for u, a in ix.state().attestations.items() if a.lot_id == bytes.fromhex(to_bytes32("CAM")[2:]))
    fresh.auditor.revoke_attestation("0x" + uid.hex(), "figures withdrawn")
    report = audit(fresh.admin, ix)
    assert report.passed and not report.flags and not report.strict_passed
    claim = next(c for c in report.claims if c.label == "ESS1")  # ESS1 was repurposed from PACK1, built from CAM
    assert claim.level == "revoked" and claim.weakest == [to_bytes32("CAM")] and claim.by_level["revoked"] == 0
    report.raise_for_flags()  # integrity holds
    with pytest.raises(errors.AuditFailed, match="strict check.*revoked \\(.*ESS1"):
        report.raise_for_flags(strict=True)


def test_expired_attestation_of_an_unused_unit_is_a_weak_claim(fresh: World, tmp_path: Path) -> None:
    fresh.attest("ESS1", 3, 1, valid_for=30)
    call(fresh.admin.w3, "evm_increaseTime", [3600])
    call(fresh.admin.w3, "evm_mine", [])
    report = audit(fresh.admin, EventIndex.open(tmp_path / "i.sqlite"))
    assert report.passed and report.flag_codes() == set()
    ess1 = next(c for c in report.claims if c.label == "ESS1")
    assert ess1.kind == "unit" and ess1.level == "expired" and not report.strict_passed


def test_flag_signer_not_accredited_when_it_signed(fresh: World, tmp_path: Path) -> None:
    """A verifier accredited today relays a figure it dated before its accreditation."""
    late = fresh.admin.with_account(Account.create())
    fresh.admin.fund(late.address)
    registered_at = fresh.now()
    fresh.admin.register(late.address, Role.GWP_VERIFIER, "late verifier")
    fresh.attest("PACK1", 1, 2, signer=late, issued_at=registered_at - 86_400)
    report = audit(fresh.admin, EventIndex.open(tmp_path / "i.sqlite"))
    assert report.flag_codes() == {"unaccredited-signer"}
    assert "issuedAt" in report.flags[0].message


def test_flag_signer_suspended_when_it_signed(fresh: World, tmp_path: Path) -> None:
    """Signed while the verifier was suspended, relayed after reinstatement: the contract accepts it."""
    fresh.admin.suspend(fresh.verifier.address, "key leak")
    issued = fresh.now() + 1
    call(fresh.admin.w3, "evm_increaseTime", [5])
    call(fresh.admin.w3, "evm_mine", [])
    call(fresh.admin.w3, "evm_increaseTime", [5])
    fresh.admin.reinstate(fresh.verifier.address)
    fresh.attest("ESS1", 2, 1, issued_at=issued)
    report = audit(fresh.admin, EventIndex.open(tmp_path / "i.sqlite"))
    assert report.flag_codes() == {"unaccredited-signer"}


def test_flag_frozen_lot_used_downstream(fresh: World, tmp_path: Path) -> None:
    """NISO4 fed CAM (and so PACK1 and ESS1) before an auditor froze what is left of it."""
    fresh.auditor.freeze("NISO4", "assay disputed")
    report = audit(fresh.admin, EventIndex.open(tmp_path / "i.sqlite"))
    assert report.flag_codes() == {"frozen-lot-used"}
    assert report.flags[0].label == "NISO4" and "NISO4-A" in report.flags[0].message


def test_flag_declared_footprint_mismatch(fresh: World, tmp_path: Path) -> None:
    ix = _index(tmp_path, fresh)
    assert audit(fresh.admin, ix, declared={"PACK1": 73.0}).passed
    report = audit(fresh.admin, ix, declared={"PACK1": 60.0, "ESS1": 1.0})
    assert report.flag_codes() == {"footprint-mismatch"} and len(report.flags) == 2


def test_exported_claims_audit_until_an_attestation_under_them_is_revoked(fresh: World, tmp_path: Path) -> None:
    """A PACT footprint and a passport exported today hold; after a revocation upstream they no longer do."""
    ix = _index(tmp_path, fresh)
    claims = [pact_footprint(ix, "CAM"), pact_footprint_v3(ix, "CAM"), battery_passport(ix, "PACK1")]
    assert claims[0]["pcf"]["pCfExcludingBiogenic"] == pytest.approx(58 / 50)
    assert float(claims[1]["pcf"]["pcfExcludingBiogenicUptake"]) == pytest.approx(58 / 50)  # 3.0: per kilogram, a string
    report = audit(fresh.admin, ix, declared=claims)
    assert report.passed and report.declared_checked == 2  # the two PACT versions name the same lot
    uid = next(u for u, a in ix.state().attestations.items() if a.lot_id == bytes.fromhex(to_bytes32("ORE-CO")[2:]))
    fresh.verifier.revoke_attestation("0x" + uid.hex())
    report = audit(fresh.admin, ix, declared=claims)
    assert report.flag_codes() == {"footprint-mismatch"}  # the revoked figure itself is a weak claim, not a flag
    assert {f.label for f in report.flags if f.code == "footprint-mismatch"} == {"CAM", "PACK1"}


# ------------------------------------------------------- tamper: a doctored index (contracts prevent it)


def _doctor(ix: EventIndex, sql: str, *params: Any) -> None:
    ix.conn.execute(sql, params)


def _audit_doctored(w: World, ix: EventIndex) -> Any:
    """A doctored index is refused before it is audited; behind that check, the audit's own replay
    (heads, storage, signatures, balances) still flags the doctoring: two lines of defence."""
    with pytest.raises(errors.IndexCorrupt):
        audit(w.admin, ix, sync=False)
    return audit(w.admin, ix, sync=False, index_checked=True)


def test_flag_missing_event_breaks_the_head(world: World, tmp_path: Path) -> None:
    ix = _index(tmp_path, world)
    _doctor(ix, "DELETE FROM events WHERE id = (SELECT MIN(id) FROM events WHERE name = 'OfferMade')")
    report = _audit_doctored(world, ix)
    assert "head-mismatch" in report.flag_codes()
    assert not report.heads[0].ok and report.heads[1].ok
    assert report.heads[0].replayed_sequence == report.heads[0].chain_sequence - 1


def test_flag_custody_gap(world: World, tmp_path: Path) -> None:
    """Drop the hand-over of ORE-NI: the refiner then consumes a lot the replay says the miner holds."""
    ix = _index(tmp_path, world)
    _doctor(ix, "DELETE FROM events WHERE name = 'OfferAccepted' AND key = ?", bytes.fromhex(to_bytes32("ORE-NI")[2:]))
    report = _audit_doctored(world, ix)
    assert {"custody-gap", "head-mismatch"} <= report.flag_codes()
    gap = next(f for f in report.flags if f.code == "custody-gap")
    assert gap.label == "ORE-NI"


def test_flag_storage_mismatch(world: World, tmp_path: Path) -> None:
    """Drop the LotUpdated of the partial split: the replayed NISO4 keeps its old mass."""
    ix = _index(tmp_path, world)
    _doctor(ix, "DELETE FROM events WHERE name = 'LotUpdated' AND key = ?", bytes.fromhex(to_bytes32("NISO4")[2:]))
    report = _audit_doctored(world, ix)
    assert {"storage-mismatch", "head-mismatch"} <= report.flag_codes()
    assert any(f.code == "storage-mismatch" and f.label == "NISO4" and "mass" in f.message for f in report.flags)


def test_flag_bad_signature(world: World, tmp_path: Path) -> None:
    """Alter the emissions figure inside a stored Attested event: the signature no longer matches."""
    ix = _index(tmp_path, world)
    eid, data = ix.conn.execute("SELECT id, data FROM events WHERE name = 'Attested' ORDER BY id LIMIT 1").fetchone()
    # Word 1 of the data is the attestation's emissionsGrams.
    doctored = data[:32] + (10**9).to_bytes(32, "big") + data[64:]
    _doctor(ix, "UPDATE events SET data = ? WHERE id = ?", doctored, eid)
    report = _audit_doctored(world, ix)
    assert {"bad-signature", "head-mismatch"} <= report.flag_codes()


def test_flag_conservation(world: World, tmp_path: Path) -> None:
    """Inflate the nickel of a transform output in the index: the recomputed balance fails."""
    ix = _index(tmp_path, world)
    lay = layout_by_name(0, "LotCreated")
    eid, topics, data = ix.conn.execute(
        "SELECT id, topics, data FROM events WHERE name = 'LotCreated' AND key = ?", (bytes.fromhex(to_bytes32("NISO4")[2:]),)
    ).fetchone()
    assert lay.decode([topics[i : i + 32] for i in range(0, len(topics), 32)], data)["mass"] == 400_000
    # Data: mass, origin, evidence, then composition total[0] (Li lane 0, Ni lane 1): add 1 kg of Ni.
    word = int.from_bytes(data[96:128], "big") + (1_000 << 64)
    _doctor(ix, "UPDATE events SET data = ? WHERE id = ?", data[:96] + word.to_bytes(32, "big") + data[128:], eid)
    report = _audit_doctored(world, ix)
    assert {"conservation", "head-mismatch"} <= report.flag_codes()


# --------------------------------------------------------------------------------------- reorg


def test_replay_after_reorg(fresh: World, index_at: Targets) -> None:
    """Index a branch, revert the chain to before it and build a different one: the next sync finds
    the fork, drops the orphaned blocks, and the audit's heads match the new branch (on SQLite and
    on the shared PostgreSQL index)."""
    w3 = fresh.admin.w3
    snap = call(w3, "evm_snapshot", [])
    fork_block = int(call(w3, "eth_blockNumber", []), 16) + 1
    fresh.miner.mint(LotSpec(lot_id="BRANCH-A", material="ORE-NI", mass=1_000, composition=Composition.of({"Ni": 10})))
    fresh.miner.mint(LotSpec(lot_id="BRANCH-A2", material="ORE-NI", mass=1_000, composition=Composition.of({"Ni": 10})))
    ix = EventIndex.open(index_at())
    ix.sync(fresh.admin)
    assert ix.has_lot("BRANCH-A")
    call(w3, "evm_revert", [snap])
    fresh.admin.resync(every_account=True)
    call(w3, "evm_mine", [])  # a different block at the same height
    fresh.miner.mint(LotSpec(lot_id="BRANCH-B", material="ORE-CO", mass=2_000, composition=Composition.of({"Co": 20})))
    result = ix.sync(fresh.admin)
    assert result.reorged_from is not None and result.reorged_from <= fork_block
    assert not ix.has_lot("BRANCH-A") and not ix.has_lot("BRANCH-A2") and ix.has_lot("BRANCH-B")
    report = audit(fresh.admin, ix, sync=False)
    assert report.passed, report.flags


@pytest.mark.browser
def test_real_audit_report_in_chromium(fresh: World, tmp_path: Path) -> None:
    """A real failing audit (a frozen lot under live packs) rendered by headless Chromium."""
    from prov_render import CHROMIUM, MISSING, count, render

    if CHROMIUM is None:
        pytest.skip(MISSING)

    fresh.auditor.freeze("NISO4", "assay disputed")
    report = audit(fresh.admin, EventIndex.open(tmp_path / "i.sqlite"))
    dom, pixels = render(report.to_html(), "audit-frozen", tmp_path)
    assert '<div id="verdict" class="fail">FAIL: 1 flag</div>' in dom
    assert re.search(r'<tr class="flag" data-code="frozen-lot-used"><td>frozen-lot-used</td><td>NISO4</td>', dom)
    assert dom.count("✔") == 2  # both ledger heads match: the index is complete, the deed is real
    assert count(pixels, "#c0392b") > 500
