"""SOH records behind salted commitments (issue 17, Annex XIII point 4) on a real Anvil, played as a cheater.

The chain holds a salted root and one bit (``used``) per record; the values are in the vault, wrapped to the
recorder and to the authority tier's vault key of the deployment record. The contract can no longer refuse an
absurd record, so each attack below is accepted on-chain and must fail the authority's audit, naming the
recorder; the honest variant beside it passes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from chain_support import CELL_COMP, KG, honest_pack
from eth_abi import encode

from ledger import (
    AuditReport,
    EventIndex,
    LotSpec,
    PassportStatus,
    SohRecord,
    Vault,
    audit,
    battery_passport,
    commit_soh,
    errors,
    keccak,
    lifetime_carbon,
    soh_vault_id,
    to_bytes32,
)
from ledger.domain.disclosure import canonical_json

DAY = 86_400


@dataclass
class Sealed:
    """The session chain with an authority vault key in its deployment record and a vault for the parties."""

    chain: object
    authority: Vault  # the authority tier's view of the shared vault folder
    authority_key: bytes  # its public key
    folder: Path

    def __getattr__(self, name: str) -> object:
        return getattr(self.chain, name)

    def __getitem__(self, name: str) -> object:
        return self.chain[name]


@pytest.fixture
def sealed(chain, tmp_path: Path) -> Iterator[Sealed]:
    private = Vault.new_key()
    public = Vault.public_key_of(private)
    before = chain.base.deployment
    chain.base.deployment = before.model_copy(update={"authority_vault_key": "0x" + public.hex()})
    chain.base.use_vault(Vault(tmp_path / "vault", Vault.new_key()))  # the parties' (recorders') key
    try:
        yield Sealed(chain=chain, authority=Vault(tmp_path / "vault", private), authority_key=public, folder=tmp_path)
    finally:
        chain.base.use_vault(None)
        chain.base.deployment = before


def _audit(s: Sealed, name: str) -> AuditReport:
    index = EventIndex.open(s.folder / f"{name}.sqlite")
    try:
        return audit(s.chain.base, index, soh_openings=s.authority)
    finally:
        index.close()


def _codes(report: AuditReport, unit: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in report.flags:
        if f.subject == to_bytes32(unit).lower():
            out.setdefault(f.code, []).append(f.message)
    return out


def _cheat(s: Sealed, party: str, unit: str, root: str, used: bool, opened=None, *, correction: bool = False) -> None:
    """What a cheating recorder sends: a root it made itself, past the honest client's checks; its opening,
    when given, goes to the vault wrapped to the authority (the recorder is honest about the opening only)."""
    s.chain[party].record_soh_root(unit, root, used, correction=correction)
    if opened is not None:
        s.chain.base.vault.put_openings(opened, [s.authority_key])


def test_the_chain_shows_no_soh_value_and_a_grid_search_over_its_root_finds_nothing(sealed):
    s = sealed
    unit = honest_pack(s.chain, "SOH-GRID")
    s.rpc("evm_increaseTime", [200 * DAY])
    s["oem"].record_soh(unit, SohRecord(soce_bp=9_150, capacity_wh=68_600, cycles=412, throughput_wh=30_000_000))
    u = s.chain.base.unit(unit)
    assert u.used and u.soh_root is not None
    index = EventIndex.open(s.folder / "grid.sqlite")
    try:
        index.sync(s.chain.base, confirmations=0)
        topic = keccak(b"SohRecorded(bytes32,address,bytes32,bool)")
        (data,) = [ev.data for ev in index.raw_events() if ev.topics[0] == topic]
    finally:
        index.close()
    # The event carries the root and the bit, nothing else: no value of the record in any word.
    assert data == bytes.fromhex(u.soh_root[2:]) + (1).to_bytes(32, "big")
    # A cheater guesses: every SOCE from 85 % to 95 % and every cycle count from 300 to 500, hashed as the
    # old event words and as the committed record's JSON. Nothing matches the root.
    found = set()
    for soce, cycles in itertools.product(range(8_500, 9_501), range(300, 501, 4)):
        words = encode(["uint16", "uint48", "uint32", "uint64"], [soce, 68_600, cycles, 30_000_000])
        record = {"soceBp": soce, "capacityWh": 68_600, "cycles": cycles, "throughputWh": 30_000_000, "document": None}
        if "0x" + keccak(words).hex() == u.soh_root or "0x" + keccak(canonical_json(record)).hex() == u.soh_root:
            found.add((soce, cycles))
    assert not found
    # The authority opens it and the honest record passes its audit; the values read back only verified.
    report = _audit(s, "grid")
    assert report.passed and report.soh_records_opened == 1
    v = s.chain.base.soh(unit)
    assert v is not None and (v.soce_bp, v.cycles) == (9_150, 412)


def test_a_reader_without_the_opening_sees_not_disclosed_never_a_figure(sealed):
    s = sealed
    unit = honest_pack(s.chain, "SOH-BLIND")
    s.rpc("evm_increaseTime", [100 * DAY])
    s["oem"].record_soh(unit, SohRecord(soce_bp=9_400, capacity_wh=70_000, cycles=100, throughput_wh=8_000_000))
    index = EventIndex.open(s.folder / "blind.sqlite")
    try:
        index.sync(s.chain.base, confirmations=0)
        blind = battery_passport(index, unit, tier="authority")
        ((entry,),) = [blind["extensions"]["rinne"]["stateOfHealthHistory"]]
        assert entry["values"] == "not disclosed to this tier" and "socePercent" not in entry
        assert "batteryCondition" not in blind["performanceAndDurability"]
        assert lifetime_carbon(index, unit).delivered_kwh is None
        # With the authority's key: every value, verified against the root.
        seen = battery_passport(index, unit, tier="authority", soh_openings=s.authority)
        cond = seen["performanceAndDurability"]["batteryCondition"]
        assert cond["stateOfCertifiedEnergy"]["stateOfCertifiedEnergyValue"] == 94.0
        assert lifetime_carbon(index, unit, openings=s.authority).delivered_kwh == 8_000.0
        # The public tier sees neither, whoever's vault the exporter holds.
        public = battery_passport(index, unit, tier="public", soh_openings=s.authority)
        assert (
            "stateOfHealthHistory" not in public["extensions"]["rinne"]
            and "batteryCondition" not in public["performanceAndDurability"]
        )
    finally:
        index.close()


def test_an_opening_moved_to_another_unit_or_record_fails_the_audit(sealed):
    s = sealed
    good, bad = honest_pack(s.chain, "SOH-GOOD"), honest_pack(s.chain, "SOH-BAD")
    s.rpc("evm_increaseTime", [100 * DAY])
    s["oem"].record_soh(good, SohRecord(soce_bp=9_900, capacity_wh=74_000, cycles=50, throughput_wh=4_000_000))
    good_root = s.chain.base.unit(good).soh_root
    # The cheater passes the good unit's record off as the bad unit's: it sends the same root.
    _cheat(s, "oem", bad, good_root, True)
    # And on the good unit, a new record whose word an older record's opening is planted under.
    older = s.chain.base.vault.openings(soh_vault_id(good_root))
    planted = "0x" + keccak(b"a commitment to nothing").hex()
    s["oem"].record_soh_root(good, planted, True)
    s.chain.base.vault.put(soh_vault_id(planted), older.to_json(), [s.authority_key])
    report = _audit(s, "moved")
    assert not report.passed
    moved = _codes(report, bad)["soh-opening-invalid"]
    assert "not an SOH record of" in moved[0] and s.addr("oem").lower() in moved[0]
    (again,) = _codes(report, good)["soh-opening-invalid"]
    assert "does not verify" in again and s.addr("oem").lower() in again
    # A reader holding the moved openings shows the records as not disclosed, never the good unit's values.
    assert s.chain.base.soh(bad) is None and s.chain.base.soh(good) is None


def test_an_out_of_bounds_record_is_accepted_on_chain_and_fails_the_audit_naming_the_recorder(sealed):
    s = sealed
    unit = honest_pack(s.chain, "SOH-ABSURD")
    s["oem"].authorise_diagnostician(unit, s.addr("diagnostician"))
    s.rpc("evm_increaseTime", [100 * DAY])
    # The honest client refuses what the contract used to: SOCE above 100 %.
    with pytest.raises(errors.InvalidInput, match="above 100 %"):
        s["diagnostician"].record_soh(
            unit, SohRecord.model_construct(soce_bp=12_000, capacity_wh=70_000, cycles=300, throughput_wh=20_000_000)
        )
    # The cheater commits it anyway: the contract cannot see the values and takes the root.
    root, opened = commit_soh(unit, 12_000, 70_000, 300, 20_000_000)
    _cheat(s, "diagnostician", unit, root, True, opened)
    assert s.chain.base.unit(unit).soh_root == root
    # Its opening verifies against the root, but no reader shows SOCE 120 % as the battery's state.
    assert s.chain.base.soh(unit) is None
    index = EventIndex.open(s.folder / "absurd-reader.sqlite")
    try:
        index.sync(s.chain.base, confirmations=0)
        seen = battery_passport(index, unit, tier="authority", soh_openings=s.authority)
        assert "batteryCondition" not in seen["performanceAndDurability"]
        assert "120" not in json.dumps(seen["extensions"]["rinne"]["stateOfHealthHistory"])
    finally:
        index.close()
    # And a later one with the counters running backwards (fewer cycles, less throughput).
    s.rpc("evm_increaseTime", [10 * DAY])
    back_root, back = commit_soh(unit, 9_000, 68_000, 120, 9_000_000)
    _cheat(s, "diagnostician", unit, back_root, True, back)
    report = _audit(s, "absurd")
    assert not report.passed and report.soh_records_opened == 2
    found = _codes(report, unit)["soh-out-of-bounds"]
    who = s.addr("diagnostician").lower()
    assert any("above 100 %" in m and who in m for m in found)
    assert any("counters run backwards" in m and who in m for m in found)


def test_too_many_cycles_for_the_time_fail_the_audit(sealed):
    s = sealed
    unit = honest_pack(s.chain, "SOH-FAST")
    s.rpc("evm_increaseTime", [10 * DAY])
    # 10 days allow 4 x 10 + 1 = 41 cycles; the record claims 300 (a fleet counter read from another pack).
    root, opened = commit_soh(unit, 9_500, 70_000, 300, 20_000_000)
    _cheat(s, "oem", unit, root, True, opened)
    (msg,) = _codes(_audit(s, "fast"), unit)["soh-out-of-bounds"]
    assert "more than 4 a day" in msg


def test_used_claimed_on_a_never_used_unit_to_make_recycled_content_post_consumer_is_caught(sealed):
    s = sealed
    unit = honest_pack(s.chain, "SOH-NEVER")  # held by the OEM (an end user), never driven
    s["oem"].set_status(unit, PassportStatus.WASTE, "damaged in the yard")
    s.give(unit, "oem", "recycler")
    assert not s.chain.base.unit(unit).post_consumer
    # The recycler, now the holder, records "used" over a record that opens to no throughput at all.
    root, opened = commit_soh(unit, 10_000, 75_000, 0, 0)
    _cheat(s, "recycler", unit, root, True, opened)
    assert s.chain.base.unit(unit).post_consumer  # the contract believes the bit ...
    s["recycler"].recycle(unit, [LotSpec(lot_id="BM-NEVER", material="BLACK-MASS", mass=200 * KG, composition=CELL_COMP)])
    bm = s.chain.base.lot("BM-NEVER").composition
    assert bm.post == bm.total  # ... and the recovered lot claims post-consumer content
    (msg,) = _codes(_audit(s, "never"), unit)["soh-used-mismatch"]
    assert "throughput is 0 Wh" in msg and s.addr("recycler").lower() in msg


def test_a_withheld_opening_fails_the_audit(sealed):
    s = sealed
    unit = honest_pack(s.chain, "SOH-HIDDEN")
    s.rpc("evm_increaseTime", [100 * DAY])
    # The recorder commits a record and keeps the opening to itself (in its own memory, not the vault).
    root, _ = commit_soh(unit, 9_000, 68_000, 300, 20_000_000)
    _cheat(s, "oem", unit, root, True)
    (msg,) = _codes(_audit(s, "hidden"), unit)["soh-withheld"]
    assert s.addr("oem").lower() in msg
    # The honest client wraps every opening to the authority: its records open.
    other = honest_pack(s.chain, "SOH-SHOWN")
    s["oem"].record_soh(other, SohRecord(soce_bp=9_000, capacity_wh=68_000, cycles=30, throughput_wh=2_000_000))
    assert s.authority.openings(soh_vault_id(s.chain.base.unit(other).soh_root)).record_id.startswith("soh:")


def test_a_correction_that_raises_counters_fails_the_audit_and_one_that_lowers_them_passes(sealed):
    s = sealed
    unit, fixed = honest_pack(s.chain, "SOH-RAISE"), honest_pack(s.chain, "SOH-FIX")
    s.rpc("evm_increaseTime", [100 * DAY])
    for u in (unit, fixed):
        s["oem"].record_soh(u, SohRecord(soce_bp=9_000, capacity_wh=68_000, cycles=100, throughput_wh=7_000_000))
    at = s.chain.base.unit(unit).soh_at
    s.rpc("evm_increaseTime", [30 * DAY])
    # The honest client refuses a correction that raises the counters ...
    with pytest.raises(errors.InvalidInput, match="a correction raises the counters"):
        s["oem"].correct_soh(unit, SohRecord(soce_bp=9_000, capacity_wh=68_000, cycles=300, throughput_wh=7_000_000))
    # ... the cheater sends it anyway (more cycles without the time a new record would need).
    root, opened = commit_soh(unit, 9_000, 68_000, 300, 20_000_000)
    _cheat(s, "oem", unit, root, True, opened, correction=True)
    assert s.chain.base.unit(unit).soh_at == at  # a correction keeps the record's time
    s["oem"].correct_soh(fixed, SohRecord(soce_bp=9_000, capacity_wh=68_000, cycles=90, throughput_wh=6_500_000))
    report = _audit(s, "raise")
    (msg,) = _codes(report, unit)["soh-out-of-bounds"]
    assert "a correction raises the counters" in msg and s.addr("oem").lower() in msg
    assert not _codes(report, fixed)


def test_a_withdrawn_claim_of_use_is_refused_on_chain(sealed):
    s = sealed
    unit = honest_pack(s.chain, "SOH-UNUSE")
    s.rpc("evm_increaseTime", [100 * DAY])
    s["oem"].record_soh(unit, SohRecord(soce_bp=9_000, capacity_wh=68_000, cycles=100, throughput_wh=7_000_000))
    root, _ = commit_soh(unit, 9_000, 68_000, 100, 0)
    with pytest.raises(errors.revert_class("RinneLedgerInvalidSoh")):
        s["oem"].record_soh_root(unit, root, False)
    with pytest.raises(errors.revert_class("RinneLedgerInvalidSoh")):
        s["oem"].record_soh_root(unit, "0x" + "00" * 32, True)
