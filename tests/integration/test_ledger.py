"""The library against a real Anvil: every operation, its errors, and the invariants it relies on."""

from __future__ import annotations

import threading

import pytest

from ledger import (
    Composition,
    ConnectionFailed,
    ContractRevert,
    InvalidInput,
    Ledger,
    LotKind,
    LotSpec,
    LotState,
    PassportStatus,
    SohRecord,
    UnitSpec,
    Use,
    WrongChain,
    errors,
    origin_code,
)
from ledger.chain import node as _node

KG = 1000


def ore(lot_id: str, ni_kg: int = 1500, co_kg: int = 150, mass_t: int = 100) -> LotSpec:
    return LotSpec(
        lot_id=lot_id,
        material="ORE-NI",
        mass=mass_t * 1000 * KG,
        composition=Composition.of({"Ni": ni_kg * KG, "Co": co_kg * KG}),
        origin=origin_code("AU", "Kambalda"),
    )


def head_seq(ledger: Ledger) -> int:
    return ledger.ledger_head()[0]


def test_deployment_is_recorded_and_found_again(chain):
    d = chain.base.check_deployment()
    again = Ledger.connect(chain.base.w3.provider.endpoint_uri, data_dir=chain.data_dir)
    assert again.deployment == d
    assert chain.base.admin() == chain.addr("admin")


def test_wrong_chain_id_is_refused(chain):
    with pytest.raises(WrongChain):
        Ledger.connect(chain.base.w3.provider.endpoint_uri, chain_id=1, data_dir=chain.data_dir)


def test_nothing_listening_is_a_connection_error(tmp_path):
    port = _node.free_port()
    with pytest.raises(ConnectionFailed):
        Ledger.connect(f"http://127.0.0.1:{port}", data_dir=tmp_path)


def test_mint_then_read_back_material_and_composition(chain):
    spec = ore("ORE-1")
    receipt = chain["miner"].mint(spec)
    assert receipt is not None and receipt.gas_used > 21_000
    lot = chain.base.lot("ORE-1")
    assert lot.holder == chain.addr("miner")
    assert lot.state == LotState.ACTIVE and lot.kind == LotKind.MATERIAL
    assert lot.mass == spec.mass
    assert lot.composition == spec.composition
    assert lot.material_label == "ORE-NI"


def test_retried_mint_is_idempotent_but_conflicting_content_is_refused(chain):
    spec = ore("ORE-1")
    chain["miner"].mint(spec)
    seq = head_seq(chain.base)
    assert chain["miner"].mint(spec) is None
    assert head_seq(chain.base) == seq
    with pytest.raises(errors.revert_class("RinneLedgerLotExists")):
        chain["miner"].mint(ore("ORE-1", ni_kg=1))


def test_unregistered_and_wrong_role_cannot_mint(chain):
    with pytest.raises(ContractRevert) as exc:
        chain["outsider"].mint(ore("X"))
    assert exc.value.error_name == "ParticipantRegistryUnauthorized"
    with pytest.raises(ContractRevert):
        chain["cathode"].mint(ore("Y"))
    assert chain.base.lot("X", with_composition=False).state == LotState.NONE


def test_offer_accept_moves_custody(chain):
    chain["miner"].mint(ore("ORE-1"))
    chain["miner"].offer("ORE-1", chain.addr("refiner"))
    offer = chain.base.offer_of("ORE-1")
    assert offer is not None and offer.to == chain.addr("refiner") and offer.current
    chain["refiner"].accept("ORE-1")
    lot = chain.base.lot("ORE-1")
    assert lot.holder == chain.addr("refiner")
    assert chain.base.offer_of("ORE-1") is None


def test_cancelled_offer_cannot_be_accepted(chain):
    # Hyperledger Grid's predecessor applied a cancelled proposal: the test to write.
    chain["miner"].mint(ore("ORE-1"))
    chain["miner"].offer("ORE-1", chain.addr("refiner"))
    chain["miner"].cancel("ORE-1")
    with pytest.raises(errors.revert_class("RinneLedgerNoCurrentOffer")):
        chain["refiner"].accept("ORE-1")
    assert chain.base.lot("ORE-1").holder == chain.addr("miner")


def test_offer_made_before_a_split_goes_stale(chain):
    chain["miner"].mint(ore("ORE-1"))
    chain["miner"].offer("ORE-1", chain.addr("refiner"))
    chain["miner"].split("ORE-1", [("ORE-1b", 10_000 * KG)])
    assert chain.base.offer_of("ORE-1").current is False
    with pytest.raises(errors.revert_class("RinneLedgerNoCurrentOffer")):
        chain["refiner"].accept("ORE-1")


def test_reject_clears_the_offer(chain):
    chain["miner"].mint(ore("ORE-1"))
    chain["miner"].offer("ORE-1", chain.addr("refiner"))
    chain["refiner"].reject("ORE-1")
    assert chain.base.offer_of("ORE-1") is None


def test_offer_to_unregistered_party_is_refused(chain):
    chain["miner"].mint(ore("ORE-1"))
    with pytest.raises(errors.revert_class("RinneLedgerInvalidRecipient")):
        chain["miner"].offer("ORE-1", chain.addr("outsider"))


def test_suspended_holders_pending_offer_cannot_complete(chain):
    chain["miner"].mint(ore("ORE-1"))
    chain["miner"].offer("ORE-1", chain.addr("refiner"))
    chain["admin"].suspend(chain.addr("miner"), "key leaked")
    with pytest.raises(ContractRevert):
        chain["refiner"].accept("ORE-1")
    chain["admin"].reinstate(chain.addr("miner"))
    chain["refiner"].accept("ORE-1")
    assert chain.base.lot("ORE-1").holder == chain.addr("refiner")


def test_whole_split_conserves_mass_and_every_element(chain):
    spec = ore("ORE-1", ni_kg=1501, co_kg=151)
    chain["miner"].mint(spec)
    chain["miner"].split("ORE-1", [("A", 33_000 * KG), ("B", 33_000 * KG), ("C", 34_000 * KG)])
    parts = [chain.base.lot(i) for i in "ABC"]
    assert sum(p.mass for p in parts) == spec.mass
    assert sum((p.composition for p in parts), Composition()) == spec.composition
    assert chain.base.lot("ORE-1").state == LotState.CONSUMED


def test_partial_split_leaves_a_valid_remainder(chain):
    spec = ore("ORE-1")
    chain["miner"].mint(spec)
    chain["miner"].split("ORE-1", [("A", 25_000 * KG)])
    rest, part = chain.base.lot("ORE-1"), chain.base.lot("A")
    assert rest.state == LotState.ACTIVE and rest.mass + part.mass == spec.mass
    assert rest.composition + part.composition == spec.composition


def test_merge_requires_one_material(chain):
    chain["miner"].mint(ore("A"))
    chain["miner"].mint(ore("B"))
    chain["miner"].merge(["A", "B"], "AB")
    ab = chain.base.lot("AB")
    assert ab.mass == 200_000 * KG and ab.composition.as_dict() == {"Ni": 3000 * KG, "Co": 300 * KG}
    chain["miner"].mint(LotSpec(lot_id="Z", material="ORE-CO", mass=1000, composition=Composition()))
    with pytest.raises(InvalidInput):
        chain["miner"].merge(["AB", "Z"], "ABZ")


def _refine(chain) -> None:
    chain["miner"].mint(ore("ORE-1"))
    chain["miner"].offer("ORE-1", chain.addr("refiner"))
    chain["refiner"].accept("ORE-1")


def test_transform_computes_loss_and_conserves(chain):
    _refine(chain)
    out = LotSpec(lot_id="NISO4-1", material="NiSO4", mass=6_000 * KG, composition=Composition.of({"Ni": 1400 * KG, "Co": 140 * KG}))
    chain["refiner"].transform(["ORE-1"], [out])
    assert chain.base.lot("ORE-1").state == LotState.CONSUMED
    assert chain.base.lot("NISO4-1").composition == out.composition


def test_transform_that_creates_metal_is_stopped_before_sending(chain):
    _refine(chain)
    seq = head_seq(chain.base)
    out = LotSpec(lot_id="N", material="NiSO4", mass=9_000 * KG, composition=Composition.of({"Ni": 1600 * KG}))
    with pytest.raises(InvalidInput, match="more Ni"):
        chain["refiner"].transform(["ORE-1"], [out])
    # An explicit (dishonest) loss reaches the contract, which refuses it.
    with pytest.raises(errors.revert_class("RinneLedgerConservationViolated")):
        chain["refiner"].transform(["ORE-1"], [out], loss=Composition())
    assert head_seq(chain.base) == seq
    assert chain.base.lot("ORE-1").state == LotState.ACTIVE


def test_recycled_credit_cannot_grow(chain):
    _refine(chain)
    out = LotSpec(
        lot_id="N",
        material="NiSO4",
        mass=6_000 * KG,
        composition=Composition.of({"Ni": 1500 * KG}, post={"Ni": 100 * KG}),
    )
    with pytest.raises(errors.revert_class("RinneLedgerRecycledCreditExceeded")):
        chain["refiner"].transform(["ORE-1"], [out])


def test_only_the_holder_consumes_a_lot(chain):
    _refine(chain)
    out = LotSpec(lot_id="N", material="NiSO4", mass=6_000 * KG, composition=Composition.of({"Ni": 1400 * KG}))
    with pytest.raises(errors.revert_class("RinneLedgerNotHolder")):
        chain["cathode"].transform(["ORE-1"], [out])


def test_frozen_lot_does_not_move_and_old_offers_stay_dead(chain):
    chain["miner"].mint(ore("ORE-1"))
    chain["miner"].offer("ORE-1", chain.addr("refiner"))
    chain["auditor"].freeze("ORE-1", "assay dispute")
    with pytest.raises(errors.revert_class("RinneLedgerLotNotActive")):
        chain["refiner"].accept("ORE-1")
    chain["auditor"].unfreeze("ORE-1")
    with pytest.raises(errors.revert_class("RinneLedgerNoCurrentOffer")):
        chain["refiner"].accept("ORE-1")


def _pack(chain, unit_id: str = "LF001", cells_id: str = "CELLS-1") -> LotSpec:
    cells = LotSpec(
        lot_id=cells_id,
        material="CELL-NMC811",
        mass=300 * KG,
        composition=Composition.of({"Li": 7 * KG, "Ni": 30 * KG, "Co": 4 * KG, "Mn": 4 * KG}),
    )
    chain["admin"].grant_roles(chain.addr("packs"), "REFINER")  # lets the pack maker bring cells in for the test
    chain["packs"].mint(cells)
    pack = LotSpec(lot_id=unit_id, material="PACK-75KWH", mass=450 * KG, composition=cells.composition)
    chain["packs"].build_unit([cells_id], pack, UnitSpec(serial="SN-" + unit_id, rated_wh=75_000))
    return pack


def test_unit_life_from_build_to_recycling(chain):
    pack = _pack(chain)
    unit = chain.base.unit("LF001")
    assert unit.status == PassportStatus.ORIGINAL and unit.rated_wh == 75_000
    assert not unit.reached_end_user and not unit.post_consumer
    chain["packs"].offer("LF001", chain.addr("oem"))
    chain["oem"].accept("LF001")
    chain.rpc("evm_increaseTime", [200 * 86_400])  # 400 cycles take time
    chain["oem"].record_soh("LF001", SohRecord(soce_bp=9100, capacity_wh=68_000, cycles=400, throughput_wh=27_000_000))
    unit = chain.base.unit("LF001")
    assert unit.reached_end_user and unit.post_consumer  # an end user used it
    # Counters never run backwards: the client refuses it (the values are behind a commitment; the audit re-checks).
    with pytest.raises(errors.InvalidInput, match="counters run backwards"):
        chain["oem"].record_soh("LF001", SohRecord(soce_bp=9000, capacity_wh=67_000, cycles=300, throughput_wh=28_000_000))
    with pytest.raises(errors.revert_class("RinneLedgerInvalidTransition")):
        chain["oem"].set_status("LF001", PassportStatus.RECYCLED)
    chain["oem"].set_status("LF001", PassportStatus.WASTE)
    chain["oem"].offer("LF001", chain.addr("recycler"))
    chain["recycler"].accept("LF001")
    recovered = [
        LotSpec(
            lot_id="BM-1",
            material="BLACK-MASS",
            mass=200 * KG,
            composition=Composition.of({"Li": 6 * KG, "Ni": 28 * KG, "Co": 4 * KG, "Mn": 3 * KG}),
        ),
    ]
    chain["recycler"].recycle("LF001", recovered)
    bm = chain.base.lot("BM-1")
    assert bm.composition.post == bm.composition.total  # all post-consumer
    assert chain.base.unit("LF001").status == PassportStatus.RECYCLED
    assert chain.base.lot("LF001").state == LotState.CONSUMED
    assert pack.composition.total[1] - bm.composition.total[1] == 2 * KG  # declared Ni loss


def test_repurpose_two_packs_into_an_ess(chain):
    _pack(chain, "LF003", "CELLS-3")
    _pack(chain, "LF004", "CELLS-4")
    for u in ("LF003", "LF004"):
        chain["packs"].offer(u, chain.addr("second_life"))
        chain["second_life"].accept(u)
    a, b = chain.base.lot("LF003"), chain.base.lot("LF004")
    ess = LotSpec(lot_id="ESS001", material="ESS-120KWH", mass=900 * KG, composition=a.composition + b.composition)
    chain["second_life"].repurpose(["LF003", "LF004"], ess, UnitSpec(serial="ESS-SN-1", rated_wh=120_000))
    assert chain.base.unit("ESS001").status == PassportStatus.REPURPOSED
    assert chain.base.unit("LF003").status == PassportStatus.REPURPOSED
    assert chain.base.lot("LF004").state == LotState.CONSUMED


def test_bulk_mint_is_idempotent_across_retries(chain):
    specs = [LotSpec(lot_id=f"B{i}", material="ORE-NI", mass=1000, composition=Composition.of({"Ni": 10 + i})) for i in range(400)]
    first = chain["miner"].mint_many(specs[:250], batch_size=100)
    assert first.done == 250 and first.transactions == 3
    # A "crashed" import is run again with the full list: nothing is doubled, nothing lost.
    second = chain["miner"].mint_many(specs, batch_size=100)
    assert second.skipped == 250 and second.done == 150
    assert chain.base.lot("B399").composition.total[1] == 409


def test_several_transactions_in_flight_from_one_account(chain):
    specs = [ore(f"T{i}") for i in range(12)]
    failures: list[BaseException] = []

    def mint(spec: LotSpec) -> None:
        try:
            chain["miner"].mint(spec)
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=mint, args=(s,)) for s in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert all(chain.base.lot(s.lot_id, with_composition=False).state == LotState.ACTIVE for s in specs)


def test_ledger_head_counts_every_event(chain):
    seq0, head0 = chain.base.ledger_head()
    chain["miner"].mint(ore("ORE-1"))  # LotCreated
    chain["miner"].offer("ORE-1", chain.addr("refiner"))  # OfferMade
    chain["refiner"].accept("ORE-1")  # OfferAccepted
    seq1, head1 = chain.base.ledger_head()
    assert seq1 == seq0 + 3 and head1 != head0


def test_partial_use_with_explicit_composition(chain):
    _refine(chain)
    lot = chain.base.lot("ORE-1")
    part = lot.composition.part(1, 4)
    out = LotSpec(lot_id="N", material="NiSO4", mass=2_000 * KG, composition=part)
    chain["refiner"].transform([Use(lot_id="ORE-1", mass=lot.mass // 4, composition=part)], [out])
    rest = chain.base.lot("ORE-1")
    assert rest.state == LotState.ACTIVE and rest.composition == lot.composition - part


def test_bulk_mint_progress_counts_every_lot_once(chain):
    specs = [LotSpec(lot_id=f"P{i}", material="ORE-NI", mass=1000, composition=Composition.of({"Ni": 10})) for i in range(250)]
    chain["miner"].mint_many(specs[:40])
    seen: list[int] = []
    result = chain["miner"].mint_many(specs, batch_size=100, progress=seen.append)
    # 40 skipped (reported at once), then one step per transaction of up to 100 lots.
    assert result.skipped == 40 and result.done == 210
    assert seen == [40, 100, 100, 10]
