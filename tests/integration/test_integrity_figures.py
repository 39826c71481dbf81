"""Issue 11, library side, on a real Anvil: the figures a cheating participant could steer with allowed
operations (a heavy by-product, a remainder, a never-used unit sent to recycling, a late claim,
recycled content declared at mint) and what Rinne now reports for each, beside the honest variant.
The rules are written down in docs/methodology.md."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import (
    Composition,
    EventIndex,
    GwpAttestation,
    LifeCycleStage,
    LotSpec,
    PassportStatus,
    SohRecord,
    UnitSpec,
    Use,
    audit,
    claim_assurance,
    footprint,
    origin_code,
    origin_mix,
    recycled_content,
    sign_attestation,
    to_bytes32,
)
from ledger.figures.footprint import all_footprints

KG = 1000
CELLS = Composition.of({"Li": 7 * KG, "Ni": 30 * KG, "Co": 4 * KG, "Mn": 4 * KG})


_nonce = iter(range(1, 1 << 30))


def _attest(chain, lot_id: str, kg: float, *, signer: str = "verifier", relayer: str = "verifier", days: int = 3650) -> str:
    now = chain.now()
    att = GwpAttestation(
        lot_id=to_bytes32(lot_id),
        emissions_grams=int(kg * 1000),
        stage=LifeCycleStage.MainProduction,
        methodology="ISO14067:2018",
        evidence=to_bytes32("report"),
        issued_at=now,
        valid_until=now + days * 86_400,
        nonce=next(_nonce),
        deadline=now + 3_600,
    )
    d = chain.base.deployment
    return chain[relayer].submit_attestation(sign_attestation(att, chain.accounts[signer], d.chain_id, d.attestations))


@pytest.fixture()
def index(chain) -> Iterator[EventIndex]:
    """A fresh in-memory index; call ``index.sync(chain.base)`` once the story is on-chain."""
    ix = EventIndex.open(":memory:")
    yield ix
    ix.close()


def _synced(chain, ix: EventIndex) -> EventIndex:
    ix.sync(chain.base, confirmations=0)
    return ix


# ---------------------------------------------------------------- class 1a: a heavy by-product


def _ore(chain, lot_id: str = "ORE-1", kg_co2e: float = 100.0) -> str:
    chain["miner"].mint(
        LotSpec(
            lot_id=lot_id,
            material="ORE-NI",
            mass=1_000 * KG,
            composition=Composition.of({"Ni": 20 * KG}),
            origin=origin_code("AU", "Ravensthorpe"),
        )
    )
    _attest(chain, lot_id, kg_co2e)
    chain.give(lot_id, "miner", "refiner")
    return lot_id


def test_a_zero_element_by_product_takes_no_burden_however_heavy(chain, index):
    _ore(chain)
    # The cheat: 4,000,000 t of "process water" beside 400 kg of sulphate, to take the ore's CO2e by mass.
    chain["refiner"].transform(
        ["ORE-1"],
        [
            LotSpec(lot_id="NISO4-1", material="NiSO4", mass=400 * KG, composition=Composition.of({"Ni": 18 * KG})),
            LotSpec(lot_id="WATER-1", material="PROCESS-WATER", mass=4_000_000 * 1_000 * KG),
        ],
    )
    ix = _synced(chain, index)
    product, water = footprint(ix, "NISO4-1"), footprint(ix, "WATER-1")
    assert product.kg_co2e == pytest.approx(100) and water.kg_co2e == 0
    # Per kg of nickel the product is never below its input: 100 kg / 18 kg ≥ 100 kg / 20 kg.
    assert product.kg_co2e / 18 >= 100 / 20


def test_a_by_product_holding_tracked_element_shares_by_element_mass(chain, index):
    _ore(chain)
    chain["refiner"].transform(
        ["ORE-1"],
        [
            LotSpec(lot_id="NISO4-1", material="NiSO4", mass=400 * KG, composition=Composition.of({"Ni": 18 * KG})),
            LotSpec(lot_id="SLAG-1", material="SLAG", mass=600 * KG, composition=Composition.of({"Ni": 2 * KG})),
        ],
    )
    ix = _synced(chain, index)
    assert footprint(ix, "NISO4-1").kg_co2e == pytest.approx(90)
    assert footprint(ix, "SLAG-1").kg_co2e == pytest.approx(10)  # the same 5 kg CO2e per kg of nickel


# ------------------------------------------------------ class 1b and 12: partial uses and remainders


def test_the_remainder_reports_what_it_holds_now_and_nothing_is_counted_twice(chain, index):
    li = Composition.of({"Li": 809 * KG})  # 4.3 t of Li2CO3 holds 18.8 % lithium
    chain["refiner"].mint(LotSpec(lot_id="LI2CO3-1", material="Li2CO3", mass=4_300 * KG, composition=li))
    _attest(chain, "LI2CO3-1", 43_000)  # 10 kg CO2e per kg
    part = LotSpec(lot_id="CAM-LI", material="CAM-LFP", mass=537_500, composition=li.take(537_500, 4_300 * KG))
    chain["refiner"].transform([Use(lot_id="LI2CO3-1", mass=537_500)], [part])
    ix = _synced(chain, index)
    rest, used = footprint(ix, "LI2CO3-1"), footprint(ix, "CAM-LI")
    assert rest.mass_g == 3_762_500 and rest.minted_mass_g == 4_300 * KG and rest.state == "active"
    assert rest.kg_co2e == pytest.approx(37_625) and rest.kg_co2e_per_kg == pytest.approx(10)
    assert used.kg_co2e == pytest.approx(5_375)
    # Live lots never add up to more than was emitted.
    st = ix.state()
    live = sum(g for lot_id, g in all_footprints(st, ix.chain_timestamp).items() if st.lots[lot_id].state != 2)
    assert live / 1000 == pytest.approx(43_000)


# --------------------------------------------------- class 2: recycling a unit that was never used


def _pack(chain, unit_id: str, holder: str) -> str:
    cam, cells = f"CAM-{unit_id}", f"CELLS-{unit_id}"
    chain["refiner"].mint(
        LotSpec(lot_id=cam, material="CAM-NMC811", mass=150 * KG, composition=CELLS, origin=origin_code("FI", "Harjavalta"))
    )
    _attest(chain, cam, 2_000)
    chain.give(cam, "refiner", "cells")
    chain["cells"].transform([cam], [LotSpec(lot_id=cells, material="CELL-NMC811", mass=300 * KG, composition=CELLS)])
    chain.give(cells, "cells", "packs")
    chain["packs"].build_unit(
        [cells],
        LotSpec(lot_id=unit_id, material="PACK-75KWH", mass=450 * KG, composition=CELLS),
        UnitSpec(serial="SN-" + unit_id, rated_wh=75_000),
    )
    if holder != "packs":
        chain.give(unit_id, "packs", holder)
    return unit_id


def test_a_never_used_unit_recycled_keeps_its_footprint_and_mines(chain, index):
    unit = _pack(chain, "LF-SCRAP", "packs")
    chain["packs"].set_status(unit, PassportStatus.WASTE, "scrapped at once")
    chain.give(unit, "packs", "recycler")
    chain["recycler"].recycle(unit, [LotSpec(lot_id="BM-SCRAP", material="BLACK-MASS", mass=200 * KG, composition=CELLS)])
    _attest(chain, "BM-SCRAP", 50)
    ix = _synced(chain, index)
    bm = footprint(ix, "BM-SCRAP")
    # Laundering would have left 50 kg (the recycling step alone); the cathode's 2,000 kg come along.
    assert bm.kg_co2e == pytest.approx(2_050)
    assert origin_mix(ix, "BM-SCRAP").shares["Ni"] == {"FI": pytest.approx(1.0)}
    rc = recycled_content(ix, "BM-SCRAP")
    ni = next(e for e in rc.elements if e.element == "Ni")
    assert ni.pre_consumer_share == 1.0 and ni.post_consumer_share == 0.0


def test_a_used_unit_recycled_is_cut_off_and_its_material_counts_as_recycled(chain, index):
    unit = _pack(chain, "LF-USED", "oem")
    chain.rpc("evm_increaseTime", [365 * 86_400])
    chain["oem"].record_soh(unit, SohRecord(soce_bp=6_800, capacity_wh=51_000, cycles=350, throughput_wh=24_000_000))
    chain["oem"].set_status(unit, PassportStatus.WASTE)
    chain.give(unit, "oem", "recycler")
    chain["recycler"].recycle(unit, [LotSpec(lot_id="BM-USED", material="BLACK-MASS", mass=200 * KG, composition=CELLS)])
    _attest(chain, "BM-USED", 50)
    ix = _synced(chain, index)
    assert footprint(ix, "BM-USED").kg_co2e == pytest.approx(50)  # cut-off: the first life keeps its burden
    assert origin_mix(ix, "BM-USED").shares["Ni"] == {"recycled": pytest.approx(1.0)}
    assert next(e for e in recycled_content(ix, "BM-USED").elements if e.element == "Ni").post_consumer_share == 1.0


# ------------------------------------------------------------------ class 3: claims made after use


def test_a_claim_made_after_use_does_not_reach_the_product_and_a_late_verifier_is_shown(chain, index):
    _ore(chain, "ORE-L", 100)
    niso4 = Composition.of({"Ni": 20 * KG})
    chain["refiner"].transform(["ORE-L"], [LotSpec(lot_id="NISO4-L", material="NiSO4", mass=1_000 * KG, composition=niso4)])
    _attest(chain, "NISO4-L", 20)
    part = LotSpec(lot_id="PCAM-L", material="pCAM", mass=500 * KG, composition=niso4.take(500 * KG, 1_000 * KG))
    chain["refiner"].transform([Use(lot_id="NISO4-L", mass=500 * KG)], [part])
    _attest(chain, "PCAM-L", 1)
    # The cheat: the holder of the remainder self-declares 10^12 kg on the lot after half of it was used.
    _attest(chain, "NISO4-L", 1e12, signer="refiner", relayer="refiner")
    # An accredited verifier attests the consumed ore later still: it counts, and shows as late.
    late_uid = _attest(chain, "ORE-L", 10)
    ix = _synced(chain, index)
    product = footprint(ix, "PCAM-L")
    # Half of (ore 100 + 10 late-but-accredited + sulphate 20) + its own 1, nothing of the retroactive 10^12 kg.
    assert product.kg_co2e == pytest.approx(66)
    assert product.assurance == "verified"
    claim = claim_assurance(ix.state(), bytes.fromhex(to_bytes32("PCAM-L")[2:]), at=ix.chain_timestamp)
    assert claim.level == "verified" and claim.late == [late_uid]
    niso4_refs = next(c for c in product.contributions if c.label == "NISO4-L").attestations
    assert sorted(a.status for a in niso4_refs) == ["late", "verified"]
    # The remainder is the holder's to declare on: there the figure counts, as self-declared.
    rest = footprint(ix, "NISO4-L")
    assert rest.assurance == "self-declared" and rest.kg_co2e > 1e11


# ------------------------------------------------- class 2: recycled content declared when minted


def test_recycled_content_declared_at_mint_is_self_declared_until_an_accredited_verifier_attests(chain, index):
    rec = Composition.of({"Ni": 20 * KG}, post={"Ni": 20 * KG})
    # Recycled sulphate bought outside the ledger: its recycled grams rest on the minter's word.
    chain["refiner"].mint(LotSpec(lot_id="REC-EXT", material="NiSO4", mass=100 * KG, composition=rec))
    chain["refiner"].mint(LotSpec(lot_id="NISO4-V", material="NiSO4", mass=100 * KG, composition=Composition.of({"Ni": 20 * KG})))
    out = Composition.of({"Ni": 40 * KG}, post={"Ni": 20 * KG})
    chain["refiner"].transform(["REC-EXT", "NISO4-V"], [LotSpec(lot_id="PCAM-R", material="pCAM", mass=200 * KG, composition=out)])
    ix = _synced(chain, index)
    rc = recycled_content(ix, "PCAM-R")
    assert rc.assurance == "self-declared" and rc.declared_at_mint == [to_bytes32("REC-EXT")]
    assert next(e for e in rc.elements if e.element == "Ni").recycled_share == pytest.approx(0.5)
    _attest(chain, "REC-EXT", 5)
    assert recycled_content(_synced(chain, index), "PCAM-R").assurance == "verified"


# ------------------------------------------- class 2: a "unit" built from what no unit is made of


def test_a_unit_built_from_sulphate_and_laundered_through_a_colluding_oem_fails_the_audit(chain, index):
    """The pack assembler builds a 'unit' from a NiSO4 lot (no cells), an OEM drives it for a day so that it
    counts as used, and the recycler recovers '100 % post-consumer' nickel. The contract cannot tell a cell
    from sulphate; the replay can (docs/methodology.md §5): cells are what a cell maker makes."""
    niso4 = Composition.of({"Ni": 90 * KG})
    chain["refiner"].mint(
        LotSpec(lot_id="NISO4-LAUNDER", material="NiSO4", mass=400 * KG, composition=niso4, origin=origin_code("AU", "Ravensthorpe"))
    )
    chain.give("NISO4-LAUNDER", "refiner", "packs")
    chain["packs"].build_unit(
        ["NISO4-LAUNDER"],
        LotSpec(lot_id="FAKE-PACK", material="PACK-75KWH", mass=400 * KG, composition=niso4),
        UnitSpec(serial="SN-FAKE", rated_wh=75_000),
    )
    chain.give("FAKE-PACK", "packs", "oem")
    chain.rpc("evm_increaseTime", [86_400])
    chain["oem"].record_soh("FAKE-PACK", SohRecord(soce_bp=9_000, capacity_wh=67_500, cycles=4, throughput_wh=600_000))
    chain["oem"].set_status("FAKE-PACK", PassportStatus.WASTE)
    chain.give("FAKE-PACK", "oem", "recycler")
    chain["recycler"].recycle("FAKE-PACK", [LotSpec(lot_id="NI-LAUNDERED", material="NiSO4", mass=390 * KG, composition=niso4)])
    assert chain.base.lot("NI-LAUNDERED").composition.post[1] == 90 * KG  # the contract's view: post-consumer
    report = audit(chain.base, index)
    assert not report.passed and report.flag_codes() == {"not-cells"}
    assert [f.label for f in report.flags] == ["FAKE-PACK"]


def test_units_built_from_cells_a_cell_maker_made_pass_the_audit(chain, index):
    _pack(chain, "LF-HONEST", "oem")
    report = audit(chain.base, index)
    assert report.passed, report.flags
