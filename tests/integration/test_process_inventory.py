"""Issue 19 on a real Anvil: process inventories (energy, renewable share, water, route) rolled up cradle-to-gate,
by hand-computed known answers, and the allowed operations a competitor could use to fake them: signing for
another's lot, a by-product carrying the step's energy, a bought by-product, a replayed nonce, an expired
deadline, a revoked inventory. Each attack states what it does not achieve. docs/methodology.md §10."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chain_support import sign_inventory_for

from ledger import (
    Composition,
    EventIndex,
    GradeError,
    LotSpec,
    ProcessRoute,
    SohRecord,
    UnitSpec,
    Use,
    audit,
    battery_passport,
    errors,
    lot_grade,
    lot_history,
    pact_footprint_v3,
    process_inventory,
    to_bytes32,
)

KG = 1000
_nonce = iter(range(1, 1 << 30))


@pytest.fixture()
def index(chain) -> Iterator[EventIndex]:
    ix = EventIndex.open(":memory:")
    yield ix
    ix.close()


def _synced(chain, ix: EventIndex) -> EventIndex:
    ix.sync(chain.base, confirmations=0)
    return ix


def _relay(chain, signer: str, lot_id: str, *, relayer: str = "verifier", **figures) -> str:
    signed = sign_inventory_for(chain[relayer], chain.accounts[signer], lot_id, nonce=next(_nonce), **figures)
    return chain[relayer].submit_inventory(signed)


def _ore(chain, lot_id: str = "ORE-1") -> None:
    """1 t of ore with 20 kg Ni; the miner self-declares its step: 500 kWh, 20 % renewable, 10 m³ withdrawn, 4 m³ consumed."""
    chain["miner"].mint(LotSpec(lot_id=lot_id, material="ORE-NI", mass=1_000 * KG, composition=Composition.of({"Ni": 20 * KG})))
    _relay(chain, "miner", lot_id, relayer="miner", kwh=500, renewable=0.2, withdrawn_m3=10, consumed_m3=4)
    chain.give(lot_id, "miner", "refiner")


# ------------------------------------------------------------------------------ known answers


def test_known_answer_two_step_chain_energy_renewable_share_and_water(chain, index):
    _ore(chain)
    chain["refiner"].transform(
        ["ORE-1"],
        [
            LotSpec(lot_id="NISO4-1", material="NiSO4.6H2O", mass=400 * KG, composition=Composition.of({"Ni": 18 * KG})),
            LotSpec(lot_id="SLAG-1", material="SLAG", mass=600 * KG, composition=Composition.of({"Ni": 2 * KG})),
        ],
    )
    # The refinery step, verified: 1,000 kWh at 50 % renewable, 20 m³ withdrawn, 5 m³ consumed, hydrometallurgy.
    _relay(chain, "verifier", "NISO4-1", kwh=1000, renewable=0.5, withdrawn_m3=20, consumed_m3=5, route=ProcessRoute.HYDROMETALLURGY)
    ix = _synced(chain, index)
    inv = process_inventory(ix, "NISO4-1")
    # By hand: the sulphate carries 18/20 = 0.9 of the ore and of the refinery step (the slag 0.1).
    assert inv.energy_kwh == pytest.approx(0.9 * 500 + 0.9 * 1000)  # 1,350 kWh
    assert inv.renewable_kwh == pytest.approx(0.9 * 100 + 0.9 * 500)  # 540 kWh
    assert inv.renewable_share == pytest.approx(540 / 1350)  # 40 %
    assert inv.water_withdrawn_m3 == pytest.approx(0.9 * 10 + 0.9 * 20)  # 27 m³
    assert inv.water_consumed_m3 == pytest.approx(0.9 * 4 + 0.9 * 5)  # 8.1 m³
    assert inv.routes == {"hydrometallurgy": pytest.approx(900)}
    assert inv.assurance == "self-declared"  # the miner's own figure is the weakest link, and it shows
    slag = process_inventory(ix, "SLAG-1")
    assert slag.energy_kwh == pytest.approx(150) and slag.water_consumed_m3 == pytest.approx(0.9)
    # Nothing is counted twice: product and slag together carry both steps once.
    assert inv.energy_kwh + slag.energy_kwh == pytest.approx(1500)


def test_known_answer_per_kwh_of_a_unit_rated_and_delivered(chain, index):
    cells = Composition.of({"Li": 7 * KG, "Ni": 30 * KG, "Co": 4 * KG, "Mn": 4 * KG})
    chain["refiner"].mint(LotSpec(lot_id="CAM-1", material="CAM-NMC811", mass=300 * KG, composition=cells))
    chain.give("CAM-1", "refiner", "cells")
    chain["cells"].transform(["CAM-1"], [LotSpec(lot_id="CELLS-1", material="CELL-NMC811", mass=300 * KG, composition=cells)])
    _relay(chain, "verifier", "CELLS-1", kwh=3000, renewable=1.0, withdrawn_m3=30, consumed_m3=15)
    chain.give("CELLS-1", "cells", "packs")
    chain["packs"].build_unit(
        ["CELLS-1"],
        LotSpec(lot_id="PACK-1", material="PACK-75KWH", mass=300 * KG, composition=cells),
        UnitSpec(serial="SN-PACK-1", rated_wh=75_000),
    )
    _relay(chain, "verifier", "PACK-1", kwh=750, withdrawn_m3=0, consumed_m3=0)
    chain.give("PACK-1", "packs", "oem")
    chain.rpc("evm_increaseTime", [30 * 86_400])
    chain["oem"].record_soh("PACK-1", SohRecord(soce_bp=9_800, capacity_wh=73_500, cycles=20, throughput_wh=1_500_000))
    ix = _synced(chain, index)
    inv = process_inventory(ix, "PACK-1", openings=chain.base)  # the delivered kWh: from the SOH record's opening
    assert inv.energy_kwh == pytest.approx(3750) and inv.renewable_share == pytest.approx(3000 / 3750)
    assert inv.per_kwh is not None
    assert inv.per_kwh.energy_kwh_per_kwh == pytest.approx(3750 / 75)  # 50 kWh per rated kWh
    assert inv.per_kwh.water_consumed_m3_per_kwh == pytest.approx(15 / 75)
    assert inv.per_kwh.delivered_kwh == pytest.approx(1500)
    assert inv.per_kwh.energy_kwh_per_kwh_delivered == pytest.approx(3750 / 1500)
    doc = battery_passport(ix, "PACK-1", tier="legitimate-interest")
    pi = doc["extensions"]["rinne"]["processInventory"]
    assert pi["energyKwhPerRatedKwh"] == pytest.approx(50) and pi["renewableEnergySharePercent"] == pytest.approx(80)
    assert "renewableContent" not in doc["circularity"]  # renewable *material*, which the ledger does not hold
    assert "processInventory" not in battery_passport(ix, "PACK-1", tier="public")["extensions"]["rinne"]
    assert pi["energyKwhPerKwhLifetimeEnergy"] is None  # no service years declared: no Art. 7 lifetime energy
    # Art. 7 functional unit: 75 kWh x 60 cycles a year (M1) x 8 years = 36,000 kWh.
    art7 = {"art7": {"vehicleCategory": "M1", "serviceYears": 8}}
    pi7 = battery_passport(ix, "PACK-1", declarations=art7)["extensions"]["rinne"]["processInventory"]
    assert pi7["energyKwhPerKwhLifetimeEnergy"] == pytest.approx(3750 / 36_000)


def test_known_answer_a_partial_use_takes_its_share_and_the_remainder_keeps_the_rest(chain, index):
    _ore(chain)
    # A quarter of the ore (250 kg, 5 kg Ni pro rata) into sulphate: a quarter of the ore's inventory goes with it.
    chain["refiner"].transform(
        [Use(lot_id="ORE-1", mass=250 * KG)],
        [LotSpec(lot_id="NISO4-Q", material="NiSO4.6H2O", mass=23 * KG, composition=Composition.of({"Ni": 5 * KG}))],
    )
    ix = _synced(chain, index)
    part, rest = process_inventory(ix, "NISO4-Q"), process_inventory(ix, "ORE-1")
    assert part.energy_kwh == pytest.approx(125) and part.water_withdrawn_m3 == pytest.approx(2.5)
    assert rest.energy_kwh == pytest.approx(375) and rest.water_consumed_m3 == pytest.approx(3)
    assert part.energy_kwh + rest.energy_kwh == pytest.approx(500)  # nothing counted twice, nothing lost


# ------------------------------------------------------------------------------------ attacks


def test_a_competitor_cannot_sign_an_inventory_for_anothers_lot(chain, index):
    _ore(chain)
    # miner2 is registered but neither accredited nor the holder: the contract refuses it.
    with pytest.raises(errors.revert_class("GwpAttestationsUnauthorizedSigner")):
        _relay(chain, "miner2", "ORE-1", relayer="miner2", kwh=1)
    # Nor can the miner, once the lot left it, change what its step declared.
    with pytest.raises(errors.revert_class("GwpAttestationsUnauthorizedSigner")):
        _relay(chain, "miner", "ORE-1", relayer="miner", kwh=1)
    assert process_inventory(_synced(chain, index), "ORE-1").energy_kwh == pytest.approx(500)


def test_declaring_a_by_product_does_not_take_the_steps_energy_off_the_product(chain, index):
    _ore(chain)
    # The cheat: 4,000 t of "process water" beside the sulphate, and the step's inventory attested on the water.
    chain["refiner"].transform(
        ["ORE-1"],
        [
            LotSpec(lot_id="NISO4-1", material="NiSO4.6H2O", mass=400 * KG, composition=Composition.of({"Ni": 20 * KG})),
            LotSpec(lot_id="WATER-1", material="PROCESS-WATER", mass=4_000_000 * KG),
        ],
    )
    _relay(chain, "refiner", "WATER-1", relayer="refiner", kwh=1000, renewable=0.1, withdrawn_m3=50, consumed_m3=20)
    ix = _synced(chain, index)
    product, water = process_inventory(ix, "NISO4-1"), process_inventory(ix, "WATER-1")
    assert product.energy_kwh == pytest.approx(1500) and product.water_consumed_m3 == pytest.approx(24)
    assert water.energy_kwh == 0 and water.water_consumed_m3 == 0


def test_a_bought_by_product_cannot_load_a_figure_onto_the_product(chain, index):
    _ore(chain)
    chain["refiner"].transform(
        ["ORE-1"],
        [
            LotSpec(lot_id="NISO4-1", material="NiSO4.6H2O", mass=400 * KG, composition=Composition.of({"Ni": 18 * KG})),
            LotSpec(lot_id="SLAG-1", material="SLAG", mass=600 * KG, composition=Composition.of({"Ni": 2 * KG})),
        ],
    )
    chain.give("SLAG-1", "refiner", "miner2")
    # The competitor holds the slag and may self-declare on it (the contract allows a holder), but it did not
    # run the refinery step: its figure reaches neither the product nor the slag.
    _relay(chain, "miner2", "SLAG-1", relayer="miner2", kwh=1_000_000, withdrawn_m3=9_000, consumed_m3=9_000)
    ix = _synced(chain, index)
    product = process_inventory(ix, "NISO4-1")
    assert product.energy_kwh == pytest.approx(450)  # the ore's 500 kWh × 0.9, nothing else
    slag = process_inventory(ix, "SLAG-1")
    assert slag.energy_kwh == pytest.approx(50)
    assert any(r.status == "not-producer" for c in slag.contributions for r in c.inventories)


def test_a_replayed_inventory_and_an_expired_deadline_are_refused(chain, index):
    _ore(chain)
    signed = sign_inventory_for(chain["verifier"], chain.accounts["verifier"], "ORE-1", kwh=100, nonce=next(_nonce))
    chain["verifier"].submit_inventory(signed)
    with pytest.raises(errors.revert_class("GwpAttestationsNonceUsed")):
        chain["refiner"].submit_inventory(signed)  # anyone may relay; nobody twice
    late = sign_inventory_for(chain["verifier"], chain.accounts["verifier"], "ORE-1", kwh=1, nonce=next(_nonce), deadline_s=60)
    chain.rpc("evm_increaseTime", [3_600])
    with pytest.raises(errors.revert_class("GwpAttestationsExpiredDeadline")):
        chain["verifier"].submit_inventory(late)
    assert process_inventory(_synced(chain, index), "ORE-1").energy_kwh == pytest.approx(600)


def test_a_revoked_inventory_no_longer_counts(chain, index):
    _ore(chain)
    uid = _relay(chain, "verifier", "ORE-1", kwh=100)
    chain["verifier"].revoke_attestation(uid, "superseded")
    inv = process_inventory(_synced(chain, index), "ORE-1")
    assert inv.energy_kwh == pytest.approx(500) and inv.excluded_energy_kwh == pytest.approx(100)
    assert {r.status for c in inv.contributions for r in c.inventories} == {"self-declared", "revoked"}


# ------------------------------------------------------------------------------------- grades


def test_grade_is_derived_where_the_material_says_what_it_is_and_required_by_a_transform(chain, index):
    # 1 t of Li2CO3 holding 187.2 kg Li: 99.64 % of pure Li2CO3's Li, battery grade; 180 kg Li is 95.8 %.
    chain["refiner"].mint(LotSpec(lot_id="LI2CO3-BG", material="Li2CO3", mass=1_000 * KG, composition=Composition.of({"Li": 187_200})))
    chain["refiner"].mint(LotSpec(lot_id="LI2CO3-TG", material="Li2CO3", mass=1_000 * KG, composition=Composition.of({"Li": 180_000})))
    out = [LotSpec(lot_id="LI-INT", material="LI-INTERMEDIATE", mass=100 * KG, composition=Composition.of({"Li": 18_000}))]
    with pytest.raises(GradeError, match="below Li2CO3-battery"):
        chain["refiner"].transform(["LI2CO3-TG"], out, require_grade="Li2CO3-battery")
    chain["refiner"].transform(["LI2CO3-BG"], out, require_grade={"LI2CO3-BG": "Li2CO3-battery"})
    ix = _synced(chain, index)
    good, poor = lot_grade(ix, "LI2CO3-BG"), lot_grade(ix, "LI2CO3-TG")
    assert good is not None and good.grade == "Li2CO3-battery" and good.basis == "derived"
    assert poor is not None and poor.grade is None and poor.purity == pytest.approx(0.958, abs=1e-3)


def test_grade_is_attested_where_it_cannot_be_derived_and_an_attestation_cannot_override_a_derived_one(chain, index):
    chain["refiner"].mint(LotSpec(lot_id="CAM-1", material="CAM-NMC811", mass=100 * KG, composition=Composition.of({"Ni": 48 * KG})))
    _relay(chain, "verifier", "CAM-1", kwh=10, grade="CAM-battery")
    chain["refiner"].mint(LotSpec(lot_id="LI2CO3-TG", material="Li2CO3", mass=1_000 * KG, composition=Composition.of({"Li": 180_000})))
    _relay(chain, "refiner", "LI2CO3-TG", relayer="refiner", kwh=10, grade="Li2CO3-battery")  # a flattering claim
    ix = _synced(chain, index)
    cam = lot_grade(ix, "CAM-1")
    assert cam is not None and (cam.grade, cam.basis, cam.assurance) == ("CAM-battery", "attested", "verified")
    li = lot_grade(ix, "LI2CO3-TG")
    assert li is not None and li.basis == "derived" and li.grade is None
    with pytest.raises(GradeError, match="cannot be graded"):
        chain["refiner"].transform(
            ["CAM-1"],
            [LotSpec(lot_id="X", material="X", mass=100 * KG, composition=Composition.of({"Ni": 48 * KG}))],
            require_grade="Ni-class1",
        )


# ------------------------------------------------------------------------- audit and exports


def test_the_audit_re_verifies_inventory_signatures_and_the_exports_carry_the_roll_up(chain, index):
    _ore(chain)
    chain["refiner"].transform(
        ["ORE-1"],
        [LotSpec(lot_id="NISO4-1", material="NiSO4.6H2O", mass=400 * KG, composition=Composition.of({"Ni": 20 * KG}))],
    )
    _relay(chain, "verifier", "NISO4-1", kwh=1000, renewable=0.5, withdrawn_m3=20, consumed_m3=5)
    ix = _synced(chain, index)
    report = audit(chain.base, ix)
    assert report.passed, report.flags
    assert report.signatures_checked == report.attestation_count + 2  # no GWP figure here: the two inventories
    pact = pact_footprint_v3(ix, "NISO4-1")
    ext = next(e["data"] for e in pact["extensions"] if e["dataSchema"] == "urn:rinne:pact-extension:process-inventory:1")
    assert ext["energyKwhPerDeclaredUnit"] == pytest.approx(1500 / 400)  # per kg of the 400 kg lot
    assert ext["renewableEnergySharePercent"] == pytest.approx(100 * 600 / 1500)
    assert ext["waterConsumedM3PerDeclaredUnit"] == pytest.approx(9 / 400)


def test_lot_history_lists_the_inventory_with_its_signed_fields(chain, index):
    _ore(chain)
    history = lot_history(_synced(chain, index), "ORE-1")
    inv = next(e for e in history if e["event"] == "InventoryAttested")
    assert (inv["energy_wh"], inv["renewable_bps"], inv["water_withdrawn_litres"], inv["water_consumed_litres"]) == (
        500_000,
        2_000,
        10_000,
        4_000,
    )
    assert inv["self_declared"] is True and inv["lot_id"] == to_bytes32("ORE-1")
