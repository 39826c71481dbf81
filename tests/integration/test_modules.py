"""Module-level second life on a real Anvil (issue 14): a pack taken apart into modules, an ESS built from
modules of two packs, a pack remanufactured with a replaced module. What a cheating dismantler could try
with these operations (inflate the rating, pile the recycled credit into one module, launder a never-used
pack's standing) and what the ledger and the audit make of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import (
    Composition,
    EventIndex,
    GwpAttestation,
    LifeCycleStage,
    LotSpec,
    LotState,
    PassportStatus,
    SohRecord,
    UnitSpec,
    audit,
    errors,
    footprint,
    recycled_content,
    sign_attestation,
    to_bytes32,
)

KG = 1000
PACK_WH = 75_000
PACK_KG_CO2E = 2_000 + 100 + 50  # cathode, cells, assembly
CELLS = Composition.of({"Li": 7 * KG, "Ni": 30 * KG, "Co": 4 * KG, "Mn": 4 * KG})
_nonce = iter(range(1, 1 << 30))


def _attest(chain, lot_id: str, kg: float, stage: LifeCycleStage = LifeCycleStage.MainProduction) -> None:
    now = chain.now()
    att = GwpAttestation(
        lot_id=to_bytes32(lot_id),
        emissions_grams=int(kg * 1000),
        stage=stage,
        methodology="ISO14067:2018",
        evidence=to_bytes32("report"),
        issued_at=now,
        valid_until=now + 3650 * 86_400,
        nonce=next(_nonce),
        deadline=now + 3_600,
    )
    d = chain.base.deployment
    chain["verifier"].submit_attestation(sign_attestation(att, chain.accounts["verifier"], d.chain_id, d.attestations))


def _pack(chain, unit_id: str, comp: Composition = CELLS, kg_co2e: float = 2_000) -> str:
    cam, cells = f"CAM-{unit_id}", f"CELLS-{unit_id}"
    chain["refiner"].mint(LotSpec(lot_id=cam, material="CAM-NMC811", mass=150 * KG, composition=comp))
    _attest(chain, cam, kg_co2e)
    chain.give(cam, "refiner", "cells")
    chain["cells"].transform([cam], [LotSpec(lot_id=cells, material="CELL-NMC811", mass=300 * KG, composition=comp)])
    _attest(chain, cells, 100)
    chain.give(cells, "cells", "packs")
    chain["packs"].build_unit(
        [cells],
        LotSpec(lot_id=unit_id, material="PACK-75KWH", mass=450 * KG, composition=comp),
        UnitSpec(serial="SN-" + unit_id, rated_wh=PACK_WH),
    )
    _attest(chain, unit_id, 50)
    return unit_id


def _used(chain, unit_id: str, to: str = "second_life") -> str:
    """A pack that an OEM drove for a year, then passed on."""
    chain.give(unit_id, "packs", "oem")
    chain.rpc("evm_increaseTime", [365 * 86_400])
    chain["oem"].record_soh(unit_id, SohRecord(soce_bp=8_000, capacity_wh=60_000, cycles=300, throughput_wh=20_000_000))
    chain.give(unit_id, "oem", to)
    return unit_id


def _modules(chain, party: str, pack: str, n: int = 4, rated: int = PACK_WH // 4) -> list[str]:
    ids = [f"{pack}-M{k}" for k in range(1, n + 1)]
    lots = chain[party].module_lots(pack, [(m, 110 * KG) for m in ids], "MODULE-NMC811")
    chain[party].dismantle(pack, lots, [UnitSpec(serial=f"SN-{m}", rated_wh=rated) for m in ids])
    return ids


@pytest.fixture()
def index(chain) -> Iterator[EventIndex]:
    ix = EventIndex.open(":memory:")
    yield ix
    ix.close()


def _synced(chain, ix: EventIndex) -> EventIndex:
    ix.sync(chain.base, confirmations=0)
    return ix


def _nothing_recorded(chain, pack: str, holder: str, modules: list[str]) -> None:
    lot = chain.base.lot(pack, with_composition=False)
    assert lot.state == LotState.ACTIVE and lot.holder == chain.accounts[holder].address
    for m in modules:
        assert chain.base.lot(m, with_composition=False).state == LotState.NONE


def test_modules_carry_the_pack_footprint_content_and_passport(chain, index):
    _used(chain, _pack(chain, "LF-A"))
    mods = _modules(chain, "second_life", "LF-A")
    for m in mods:
        _attest(chain, m, 1.5, LifeCycleStage.EndOfLife)
    ix = _synced(chain, index)
    pack = footprint(ix, "LF-A")
    parts = [footprint(ix, m) for m in mods]
    # Nothing of the pack's burden is lost or made up by taking it apart; each module adds its own step.
    assert sum(p.kg_co2e for p in parts) == pytest.approx(pack.kg_co2e + 4 * 1.5)
    assert pack.kg_co2e == pytest.approx(PACK_KG_CO2E) and all(p.assurance == "verified" for p in parts)
    # Per kWh the modules are the pack's figure plus their own share: dismantling does not dilute it.
    assert all(p.per_kwh is not None for p in parts)
    # Element content: every gram of the pack in exactly one module.
    held = sum((chain.base.lot(m).composition for m in mods), Composition())
    assert held == CELLS
    units = [chain.base.unit(m) for m in mods]
    assert {u.status for u in units} == {PassportStatus.ORIGINAL}
    assert sum(u.rated_wh for u in units) == PACK_WH
    st = ix.state()
    pack_id = bytes.fromhex(to_bytes32("LF-A")[2:])
    assert all(st.units[bytes.fromhex(to_bytes32(m)[2:])].parents == [pack_id] for m in mods)
    assert chain.base.lot("LF-A", with_composition=False).state == LotState.CONSUMED
    assert audit(chain.base, ix).passed


def test_a_module_rating_above_the_pack_reverts_and_records_nothing(chain):
    _used(chain, _pack(chain, "LF-R"))
    ids = [f"LF-R-M{k}" for k in range(1, 5)]
    lots = chain["second_life"].module_lots("LF-R", [(m, 110 * KG) for m in ids], "MODULE-NMC811")
    # The cheat: four 20 kWh modules from a 75 kWh pack, so every per-kWh figure downstream shrinks.
    with pytest.raises(errors.ContractRevert) as exc:
        chain["second_life"].dismantle("LF-R", lots, [UnitSpec(serial=f"SN-{m}", rated_wh=20_000) for m in ids])
    assert exc.value.error_name == "RinneLedgerInvalidRating"
    _nothing_recorded(chain, "LF-R", "second_life", ids)


def test_recycled_credit_cannot_be_piled_into_one_module(chain):
    # A pack half of whose nickel is post-consumer recycled.
    rec = Composition.of({"Li": 7 * KG, "Ni": 30 * KG, "Co": 4 * KG, "Mn": 4 * KG}, post={"Ni": 15 * KG})
    chain["refiner"].mint(LotSpec(lot_id="CAM-REC", material="CAM-NMC811", mass=150 * KG, composition=rec))
    chain.give("CAM-REC", "refiner", "packs")
    chain["packs"].build_unit(
        ["CAM-REC"],
        LotSpec(lot_id="LF-S", material="PACK", mass=150 * KG, composition=rec),
        UnitSpec(serial="SN-LF-S", rated_wh=PACK_WH),
    )
    # The cheat: one module gets all the recycled nickel (a "100 % recycled" module to sell), the other none.
    half = Composition.of({"Li": 3_500, "Ni": 15 * KG, "Co": 2 * KG, "Mn": 2 * KG})
    green = Composition.of({"Li": 3_500, "Ni": 15 * KG, "Co": 2 * KG, "Mn": 2 * KG}, post={"Ni": 15 * KG})
    mods = [
        LotSpec(lot_id="LF-S-M1", material="MODULE", mass=75 * KG, composition=green),
        LotSpec(lot_id="LF-S-M2", material="MODULE", mass=75 * KG, composition=half),
    ]
    specs = [UnitSpec(serial="SN-S1", rated_wh=37_500), UnitSpec(serial="SN-S2", rated_wh=37_500)]
    with pytest.raises(errors.ContractRevert) as exc:
        chain["packs"].dismantle("LF-S", mods, specs)
    assert exc.value.error_name == "RinneLedgerRecycledShareExceeded"
    _nothing_recorded(chain, "LF-S", "packs", ["LF-S-M1", "LF-S-M2"])
    # The honest division gives each module the pack's share.
    lots = chain["packs"].module_lots("LF-S", [("LF-S-M1", 75 * KG), ("LF-S-M2", 75 * KG)], "MODULE")
    chain["packs"].dismantle("LF-S", lots, specs)
    for m in ("LF-S-M1", "LF-S-M2"):
        c = chain.base.lot(m).composition
        assert c.as_dict("post")["Ni"] * 2 == c.as_dict("total")["Ni"]


def test_a_never_used_packs_modules_stay_pre_consumer(chain, index):
    _pack(chain, "LF-N")
    chain["packs"].set_status("LF-N", PassportStatus.WASTE, "scrapped at once")
    mods = _modules(chain, "packs", "LF-N", n=2)
    assert {chain.base.unit(m).status for m in mods} == {PassportStatus.WASTE}
    chain.give(mods[0], "packs", "recycler")
    # Laundering a never-sold pack through dismantling into "post-consumer" scrap: the modules do not
    # have that standing, so what is recovered from them is pre-consumer (the contract refuses any other).
    assert not chain.base.unit(mods[0]).post_consumer
    chain["recycler"].recycle(mods[0], [LotSpec(lot_id="BM-N", material="BLACK-MASS", mass=100 * KG, composition=CELLS.part(1, 2))])
    ni = next(e for e in recycled_content(_synced(chain, index), "BM-N").elements if e.element == "Ni")
    assert ni.pre_consumer_share == 1.0 and ni.post_consumer_share == 0.0
    ix = _synced(chain, index)
    # Not cut off: the pre-consumer scrap keeps its share of the pack's burden.
    assert footprint(ix, "BM-N").kg_co2e == pytest.approx(PACK_KG_CO2E / 2)
    assert audit(chain.base, ix).passed


def test_a_used_packs_modules_recycle_as_post_consumer(chain, index):
    _used(chain, _pack(chain, "LF-U"))
    mods = _modules(chain, "second_life", "LF-U", n=2)
    chain["second_life"].set_status(mods[0], PassportStatus.WASTE)
    chain.give(mods[0], "second_life", "recycler")
    comp = chain.base.lot(mods[0]).composition
    chain["recycler"].recycle(
        mods[0], [LotSpec(lot_id="BM-U", material="BLACK-MASS", mass=100 * KG, composition=comp.all_post_consumer())]
    )
    _attest(chain, "BM-U", 20)
    ix = _synced(chain, index)
    assert footprint(ix, "BM-U").kg_co2e == pytest.approx(20)  # cut-off: the first life keeps its burden
    ni = next(e for e in recycled_content(ix, "BM-U").elements if e.element == "Ni")
    assert ni.post_consumer_share == 1.0


def test_an_ess_from_modules_of_two_packs_is_rated_at_most_its_modules(chain, index):
    mods: list[str] = []
    for pack in ("LF-E1", "LF-E2"):
        _used(chain, _pack(chain, pack))
        mods += _modules(chain, "second_life", pack)
    comp = sum((chain.base.lot(m).composition for m in mods), Composition())
    ess = LotSpec(lot_id="ESS-X", material="ESS", mass=900 * KG, composition=comp)
    # The cheat: a 200 kWh store from 150 kWh of modules.
    with pytest.raises(errors.ContractRevert) as exc:
        chain["second_life"].repurpose(mods, ess, UnitSpec(serial="SN-ESS-X", rated_wh=200_000))
    assert exc.value.error_name == "RinneLedgerInvalidRating"
    assert chain.base.lot("ESS-X", with_composition=False).state == LotState.NONE
    chain["second_life"].repurpose(mods, ess, UnitSpec(serial="SN-ESS-X", rated_wh=110_000))
    ix = _synced(chain, index)
    assert footprint(ix, "ESS-X").kg_co2e == pytest.approx(2 * PACK_KG_CO2E)
    assert {chain.base.unit(m).status for m in mods} == {PassportStatus.REPURPOSED}
    assert audit(chain.base, ix).passed


def test_a_pack_remanufactured_with_a_replaced_module(chain, index):
    _used(chain, _pack(chain, "LF-W"), to="packs")
    old = _modules(chain, "packs", "LF-W")
    new = _modules(chain, "packs", _pack(chain, "LF-NEW"))
    parts = [*old[:3], new[0]]  # the weakest module replaced by a new one
    comp = sum((chain.base.lot(m).composition for m in parts), Composition())
    unit = LotSpec(lot_id="LF-W-R", material="PACK-75KWH", mass=440 * KG, composition=comp)
    chain["packs"].remanufacture(parts, unit, UnitSpec(serial="SN-LF-W-R", rated_wh=PACK_WH))
    u = chain.base.unit("LF-W-R")
    assert u.status == PassportStatus.REMANUFACTURED
    ix = _synced(chain, index)
    # Three quarters of the used pack's burden and a quarter of the new one's.
    assert footprint(ix, "LF-W-R").kg_co2e == pytest.approx(PACK_KG_CO2E)
    # A remanufactured pack with a new module has not, as a whole, reached an end user and been used:
    # scrapped at once, its material cannot come back as post-consumer.
    assert not chain.base.unit("LF-W-R").post_consumer
    chain["packs"].set_status("LF-W-R", PassportStatus.WASTE)
    chain.give("LF-W-R", "packs", "recycler")
    chain["recycler"].recycle("LF-W-R", [LotSpec(lot_id="BM-W", material="BLACK-MASS", mass=400 * KG, composition=comp)])
    ni = next(e for e in recycled_content(_synced(chain, index), "BM-W").elements if e.element == "Ni")
    assert ni.post_consumer_share == 0.0
    assert audit(chain.base, _synced(chain, index)).passed
