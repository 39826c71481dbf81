"""The replay's rule for units made from units (issue 14, modules): a dismantled pack's modules, or a unit
rebuilt from units, are rated together at most what their parents were. The contract refuses an inflated
rating; the replay must catch one in a history it did not make (a forged or buggy deployment), because an
inflated kWh would shrink every per-kWh figure downstream."""

from __future__ import annotations

import pytest
from prov_synth import LEDGER_ADDR, REFINER, Synth, b32, keccak

from ledger.domain.composition import Composition
from ledger.domain.enums import OpKind, PassportStatus, Role

CELLS = Composition.of({"Ni": 3_000, "Co": 400, "Li": 700})


def _story(module_wh: tuple[int, int]) -> Synth:
    s = Synth()
    s.register(REFINER, Role.CELL_MAKER | Role.PACK_ASSEMBLER)
    s.mint(REFINER, "CELLS", "CELL-NMC", 30_000, CELLS)
    s.op(OpKind.BUILD, REFINER, [("CELLS", 0)], [("PACK", "PACK-60KWH", 30_000, CELLS)], unit=(60_000, []))
    # The dismantling, in the contract's event order: each module's lot and unit, then the operation.
    halves = CELLS.divide([15_000, 15_000], 30_000)
    for k, (wh, comp) in enumerate(zip(module_wh, halves), start=1):
        s._create(REFINER, f"M{k}", "MODULE", 15_000, comp)
        s._emit(
            LEDGER_ADDR,
            "UnitCreated",
            unitId=b32(f"M{k}"),
            serialHash=keccak(f"M{k}".encode()),
            ratedWh=wh,
            status=int(PassportStatus.ORIGINAL),
            parents=[b32("PACK")],
        )
    s._emit(
        LEDGER_ADDR,
        "LotsTransformed",
        kind=int(OpKind.DISMANTLE),
        operator=REFINER.address,
        inputs=[b32("PACK")],
        usedMasses=[0],
        outputs=[b32("M1"), b32("M2")],
        loss=Composition().words()[0],
    )
    s.mine()
    return s


@pytest.mark.parametrize(("module_wh", "flagged"), [((30_000, 30_000), False), ((30_000, 30_001), True), ((60_000, 60_000), True)])
def test_modules_rated_above_their_pack_are_an_issue(module_wh: tuple[int, int], flagged: bool) -> None:
    ix = _story(module_wh).ingest()
    try:
        issues = [i for i in ix.state().issues if i.code == "rating"]
        assert bool(issues) is flagged
        if flagged:
            assert f"rated {sum(module_wh)} Wh from units rated 60000 Wh" in issues[0].message
    finally:
        ix.close()
