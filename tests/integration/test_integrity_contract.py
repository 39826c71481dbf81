"""Issue 11 on a real Anvil through the public library: each attack on the figures played as a cheating
participant would, refused by the contracts with a named error, and the honest variant beside it."""

from __future__ import annotations

import pytest
from chain_support import CELL_COMP, KG, honest_pack

from ledger import (
    Composition,
    GwpAttestation,
    LifeCycleStage,
    LotSpec,
    LotState,
    PassportStatus,
    SohRecord,
    Use,
    audit,
    errors,
    sign_attestation,
    to_bytes32,
)

# ---------------------------------------------------------------- class 8: offers die on a passport change


def test_offer_of_an_original_unit_dies_when_the_seller_sets_waste(chain):
    unit = honest_pack(chain)
    chain["oem"].record_soh(unit, SohRecord(soce_bp=10_000, capacity_wh=75_000, cycles=0, throughput_wh=0))
    chain["oem"].offer(unit, chain.addr("second_life"))
    assert chain.base.offer_of(unit).current
    chain["oem"].set_status(unit, PassportStatus.WASTE, "scrapped")
    assert not chain.base.offer_of(unit).current
    with pytest.raises(errors.revert_class("RinneLedgerNoCurrentOffer")):
        chain["second_life"].accept(unit)
    # Honest: the buyer accepts a fresh offer of the unit as it now is.
    chain["oem"].offer(unit, chain.addr("second_life"))
    chain["second_life"].accept(unit)
    assert chain.base.lot(unit, with_composition=False).holder == chain.addr("second_life")


def test_offer_dies_when_a_new_soh_record_lowers_the_passport(chain):
    unit = honest_pack(chain)
    chain["oem"].record_soh(unit, SohRecord(soce_bp=10_000, capacity_wh=75_000, cycles=0, throughput_wh=0))
    chain["oem"].offer(unit, chain.addr("second_life"))
    chain.rpc("evm_increaseTime", [30 * 86_400])
    chain["oem"].record_soh(unit, SohRecord(soce_bp=6_000, capacity_wh=45_000, cycles=90, throughput_wh=6_000_000))
    with pytest.raises(errors.revert_class("RinneLedgerNoCurrentOffer")):
        chain["second_life"].accept(unit)


# ----------------------------------------------------------------------- class 3: retroactive claims


def _signed(chain, signer: str, lot_id: str, grams: int, nonce: int):
    now = chain.now()
    att = GwpAttestation(
        lot_id=to_bytes32(lot_id),
        emissions_grams=grams,
        stage=LifeCycleStage.MainProduction,
        methodology="ISO14067:2018",
        evidence=to_bytes32("report"),
        issued_at=now - 10,
        valid_until=now + 10 * 365 * 86_400,
        nonce=nonce,
        deadline=now + 3_600,
    )
    d = chain.base.deployment
    return sign_attestation(att, chain.accounts[signer], d.chain_id, d.attestations)


def test_last_holder_cannot_self_declare_on_a_consumed_lot(chain):
    chain["miner"].mint(LotSpec(lot_id="ORE-1", material="ORE-NI", mass=100 * KG, composition=Composition.of({"Ni": 2 * KG})))
    chain["miner"].split("ORE-1", [("ORE-1A", 50 * KG), ("ORE-1B", 50 * KG)])
    assert chain.base.lot("ORE-1", with_composition=False).state == LotState.CONSUMED
    # 10^12 kg CO2e, self-declared by the lot's last holder after it was used.
    late = _signed(chain, "miner", "ORE-1", 10**15, 1)
    with pytest.raises(errors.revert_class("GwpAttestationsSelfDeclarationClosed")):
        chain["miner"].submit_attestation(late)
    # Honest: an accredited verifier may still attest it; the record is not self-declared.
    uid = chain["miner"].submit_attestation(_signed(chain, "verifier", "ORE-1", 2_000_000, 1))
    assert chain.base.attestation(uid)["self_declared"] is False
    # And the holder of the active part self-declares as before.
    uid = chain["miner"].submit_attestation(_signed(chain, "miner", "ORE-1A", 1_000, 2))
    assert chain.base.attestation(uid)["self_declared"] is True


# ------------------------------------------------------- class 1b: a part of a homogeneous lot is pro rata


def test_partial_use_declaring_only_the_nickel_is_refused(chain):
    niso4 = Composition.of({"Ni": 223 * KG})
    chain["refiner"].mint(LotSpec(lot_id="NISO4-1", material="NiSO4", mass=1_000 * KG, composition=niso4))
    # The cheat: "use" 223 kg of the lot, declaring that they carry all of its nickel.
    cheat = LotSpec(lot_id="PCAM-X", material="pCAM", mass=223 * KG, composition=niso4)
    with pytest.raises(errors.revert_class("RinneLedgerNotProRata")):
        chain["refiner"].transform([Use(lot_id="NISO4-1", mass=223 * KG, composition=niso4)], [cheat])
    # The same cut as a split into a light, nickel-rich lot and a heavy, nickel-free one.
    with pytest.raises(errors.revert_class("RinneLedgerNotProRata")):
        chain["refiner"]._send(
            "ledger",
            "split",
            chain["refiner"]._input(Use(lot_id="NISO4-1"), chain.base.lot("NISO4-1"))[0],
            [
                LotSpec(lot_id="RICH", material="NiSO4", mass=223 * KG, composition=niso4).abi(),
                LotSpec(lot_id="POOR", material="NiSO4", mass=777 * KG).abi(),
            ],
        )
    # Honest: the library takes 300 kg pro rata (66.9 kg Ni), and splits pro rata.
    honest = LotSpec(lot_id="PCAM-1", material="pCAM", mass=300 * KG, composition=niso4.take(300 * KG, 1_000 * KG))
    chain["refiner"].transform([Use(lot_id="NISO4-1", mass=300 * KG)], [honest])
    assert chain.base.lot("NISO4-1").composition.total[1] == 223 * KG - 66_900
    chain["refiner"].split("NISO4-1", [("PART-A", 123 * KG), ("PART-B", 577 * KG)])
    assert chain.base.lot("PART-A").composition.total[1] == 123 * KG * 156_100 // (700 * KG)


# ------------------------------------------------------------ class 2: recycled-content laundering


def test_recycling_a_never_used_unit_yields_pre_consumer_material(chain):
    unit = honest_pack(chain, "LF-SCRAP", holder="packs")
    chain["packs"].set_status(unit, PassportStatus.WASTE, "scrapped at once")
    chain.give(unit, "packs", "recycler")
    u = chain.base.unit(unit)
    assert not u.reached_end_user and not u.post_consumer
    black = LotSpec(lot_id="BM-SCRAP", material="BLACK-MASS", mass=200 * KG, composition=CELL_COMP)
    # The laundering claim: 100 % post-consumer, sent straight to the contract.
    claim = black.model_copy(update={"composition": CELL_COMP.all_post_consumer()})
    used = chain["recycler"]._input(Use(lot_id=unit), chain.base.lot(unit))[0]
    with pytest.raises(errors.revert_class("RinneLedgerInvalidRecovered")):
        chain["recycler"]._send("ledger", "recycle", used, [claim.abi()], [0, 0])
    # Honest: the library asks the contract and declares the recovered nickel pre-consumer.
    chain["recycler"].recycle(unit, [black])
    bm = chain.base.lot("BM-SCRAP").composition
    assert bm.pre == bm.total and not any(bm.post)


def test_used_unit_at_the_end_of_its_life_yields_post_consumer_material(chain):
    unit = honest_pack(chain, "LF-USED")
    chain.rpc("evm_increaseTime", [365 * 86_400])
    chain["oem"].record_soh(unit, SohRecord(soce_bp=6_800, capacity_wh=51_000, cycles=350, throughput_wh=24_000_000))
    assert chain.base.unit(unit).post_consumer
    chain["oem"].set_status(unit, PassportStatus.WASTE)
    chain.give(unit, "oem", "recycler")
    chain["recycler"].recycle(unit, [LotSpec(lot_id="BM-USED", material="BLACK-MASS", mass=200 * KG, composition=CELL_COMP)])
    bm = chain.base.lot("BM-USED").composition
    assert bm.post == bm.total and not any(bm.pre)


def test_declared_loss_cannot_concentrate_the_recycled_share(chain):
    lot = Composition.of({"Ni": 223 * KG}, post={"Ni": 22_300})  # 10 % post-consumer nickel
    chain["refiner"].mint(LotSpec(lot_id="R-NISO4", material="NiSO4", mass=1_000 * KG, composition=lot))
    # "Lose" 200 kg of (virgin) nickel and claim all 22.3 kg of recycled nickel on the 23 kg left: 97 %.
    greedy = LotSpec(lot_id="PCAM-G", material="pCAM", mass=100 * KG, composition=Composition.of({"Ni": 23 * KG}, post={"Ni": 22_300}))
    with pytest.raises(errors.revert_class("RinneLedgerRecycledShareExceeded")):
        chain["refiner"].transform(["R-NISO4"], [greedy])
    fair = greedy.model_copy(update={"composition": lot.blend(greedy.composition.total)})
    assert fair.composition.post[1] == 2_300
    chain["refiner"].transform(["R-NISO4"], [fair])


# ------------------------------------------------------------- class 4: state-of-health poisoning


def test_soh_poisoning_is_refused_and_a_wrong_record_is_corrected(chain):
    unit = honest_pack(chain, "LF-SOH")
    plausible = SohRecord(soce_bp=9_500, capacity_wh=70_000, cycles=30, throughput_wh=2_000_000)
    # Any DIAGNOSTICIAN on any party's unit: not any more.
    with pytest.raises(errors.revert_class("RinneLedgerNotAuthorised")):
        chain["diagnostician"].record_soh(unit, plausible)
    chain["oem"].authorise_diagnostician(unit, chain.addr("diagnostician"))
    chain.rpc("evm_increaseTime", [100 * 86_400])
    # Authorised, but bounded by physics: the values are behind a commitment now, so the honest client refuses
    # them (and the authority's audit re-checks what a cheater sends past it: tests/integration/test_soh_commitments.py).
    absurd = SohRecord(soce_bp=10_000, capacity_wh=75_000, cycles=2**32 - 1, throughput_wh=2**64 - 1)
    with pytest.raises(errors.InvalidInput, match="beyond"):
        chain["diagnostician"].record_soh(unit, absurd)
    with pytest.raises(errors.InvalidInput, match="beyond"):
        chain["diagnostician"].record_soh(unit, SohRecord(soce_bp=9_500, capacity_wh=70_000, cycles=300, throughput_wh=2**64 - 1))
    # A wrong but plausible record (a misread log), then its correction: honest records go on.
    chain["diagnostician"].record_soh(unit, SohRecord(soce_bp=9_000, capacity_wh=68_000, cycles=400, throughput_wh=60_000_000))
    honest = SohRecord(soce_bp=9_400, capacity_wh=70_000, cycles=120, throughput_wh=8_000_000)
    with pytest.raises(errors.InvalidInput, match="counters run backwards"):
        chain["oem"].record_soh(unit, honest)
    chain["oem"].correct_soh(unit, honest)
    chain["diagnostician"].record_soh(unit, SohRecord(soce_bp=9_400, capacity_wh=70_000, cycles=121, throughput_wh=8_100_000))
    latest = chain.base.soh(unit)
    assert latest is not None and latest.cycles == 121
    # The authorisation ends with the custody.
    chain.give(unit, "oem", "second_life")
    with pytest.raises(errors.revert_class("RinneLedgerNotAuthorised")):
        chain["diagnostician"].record_soh(unit, SohRecord(soce_bp=9_400, capacity_wh=70_000, cycles=122, throughput_wh=8_200_000))


def test_replay_keeps_the_correction_and_the_record_it_superseded(chain):
    from ledger import EventIndex

    unit = honest_pack(chain, "LF-CORR")
    chain.rpc("evm_increaseTime", [30 * 86_400])
    chain["oem"].record_soh(unit, SohRecord(soce_bp=9_000, capacity_wh=68_000, cycles=90, throughput_wh=9_000_000))
    chain["oem"].correct_soh(unit, SohRecord(soce_bp=9_500, capacity_wh=70_000, cycles=30, throughput_wh=3_000_000))
    index = EventIndex.open(chain.data_dir / "corr.sqlite")
    index.sync(chain.base, confirmations=0)
    from ledger.replay.soh import open_records

    st = index.state()
    assert open_records(st, chain.base) == 2  # the correction and the record it superseded, both verified
    rec = st.units[bytes.fromhex(to_bytes32(unit)[2:])].soh
    assert rec[0].opened is not None and rec[0].corrected is not None and rec[0].corrected.opened is not None
    assert [r.opened.cycles for r in rec if r.opened] == [30] and rec[0].corrected.opened.cycles == 90
    assert rec[0].timestamp == rec[0].corrected.timestamp  # the correction keeps the record's time
    # The new events (DiagnosticianAuthorised, SohCorrected, a freezeBatch's LotFrozen) fold into the heads the
    # audit recomputes, and the on-chain passport matches the corrected replay.
    chain["oem"].authorise_diagnostician(unit, chain.addr("diagnostician"))
    chain["auditor"].freeze_many([unit], "check")
    report = audit(chain.base, index)
    assert report.passed, [f.code for f in report.flags]
    assert all(h.ok for h in report.heads)


# ------------------------------------------------------------------------ class 9: freeze dodged


def test_freeze_lineage_freezes_the_children_of_a_lot_split_just_before(chain):
    chain["refiner"].mint(LotSpec(lot_id="NI-INV", material="NiSO4", mass=1_000 * KG, composition=Composition.of({"Ni": 223 * KG})))
    # The holder front-runs the freeze: a whole split, then a transform of one child.
    chain["refiner"].split("NI-INV", [("NI-INV-A", 300 * KG), ("NI-INV-B", 700 * KG)])
    a = chain.base.lot("NI-INV-A").composition
    chain["refiner"].transform(["NI-INV-A"], [LotSpec(lot_id="PCAM-INV", material="pCAM", mass=250 * KG, composition=a)])
    frozen = chain["auditor"].freeze_lineage("NI-INV", "assay dispute")
    assert sorted(frozen) == sorted(to_bytes32(x) for x in ("NI-INV-B", "PCAM-INV"))
    for lot_id, state in (
        ("NI-INV", LotState.CONSUMED),
        ("NI-INV-A", LotState.CONSUMED),
        ("NI-INV-B", LotState.FROZEN),
        ("PCAM-INV", LotState.FROZEN),
    ):
        assert chain.base.lot(lot_id, with_composition=False).state == state, lot_id
    with pytest.raises(errors.revert_class("RinneLedgerLotNotActive")):
        chain["refiner"].split("NI-INV-B", [("X", 100 * KG)])
    with pytest.raises(errors.revert_class("ParticipantRegistryUnauthorized")):
        chain["refiner"].freeze_lineage("NI-INV")
