"""Shared fixtures: the hand-computed reference graph (no chain)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import Synth, account  # noqa: E402

from ledger.models import Composition, OpKind, PassportStatus, Role, origin_code  # noqa: E402

MINER, REFINER, VERIFIER, OEM, RECYCLER, AUDITOR = (account(i) for i in range(1, 7))


def ni(g: int, post: int = 0) -> Composition:
    return Composition.of({"Ni": g}, post={"Ni": post} if post else None)


def build_reference() -> Synth:
    """The reference story of DESIGN §2 in miniature; every figure is worked out in test_known_answers."""
    s = Synth()
    s.register(MINER, Role.MINER)
    s.register(REFINER, Role.REFINER | Role.CATHODE_MAKER | Role.CELL_MAKER | Role.PACK_ASSEMBLER)
    s.register(VERIFIER, Role.GWP_VERIFIER)
    s.register(OEM, Role.OEM | Role.SECOND_LIFE | Role.DIAGNOSTICIAN)
    s.register(RECYCLER, Role.RECYCLER)
    s.register(AUDITOR, Role.AUDITOR)
    # Mines.
    s.mint(MINER, "ORE-NI", "ORE-NI", 1_000_000, ni(20_000), origin_code("AU", "Ravensthorpe"))
    s.mint(MINER, "ORE-CO", "ORE-CO", 500_000, Composition.of({"Co": 10_000}), origin_code("CD", "Kolwezi"))
    s.mint(MINER, "LI-BRINE", "LI-BRINE", 200_000, Composition.of({"Li": 4_000}), origin_code("CL", "Atacama"))
    s.attest("ORE-NI", 100, 0, VERIFIER)
    s.attest("ORE-CO", 50, 0, VERIFIER)
    s.attest("LI-BRINE", 10, 0, VERIFIER)
    for lot in ("ORE-NI", "ORE-CO", "LI-BRINE"):
        s.transfer(lot, REFINER)
    # Refining: one ore lot into sulphate and slag (multi-output transform).
    s.op(OpKind.TRANSFORM, REFINER, [("ORE-NI", 0)], [("NISO4", "NiSO4", 400_000, ni(18_000)), ("SLAG", "SLAG", 600_000, Composition())])
    s.attest("NISO4", 20, 1, VERIFIER)
    # A partial split: 100 kg of the 400 kg, in two parts.
    s.op(OpKind.SPLIT, REFINER, [("NISO4", 100_000)], [("NISO4-A", "NiSO4", 60_000, ni(2_700)), ("NISO4-B", "NiSO4", 40_000, ni(1_800))])
    # Purchased sulphate entering the ledger, merged with part A.
    s.mint(REFINER, "NISO4-X", "NiSO4", 40_000, ni(1_800), origin_code("FI", "Harjavalta"))
    s.attest("NISO4-X", 8, 1, VERIFIER)
    s.op(OpKind.MERGE, REFINER, [("NISO4-A", 0), ("NISO4-X", 0)], [("NISO4-M", "NiSO4", 100_000, ni(4_500))])
    # Cathode: the merged sulphate, a fifth of the cobalt ore, all the brine.
    cam = Composition.of({"Ni": 4_500, "Co": 2_000, "Li": 4_000})
    s.op(OpKind.TRANSFORM, REFINER, [("NISO4-M", 0), ("ORE-CO", 100_000), ("LI-BRINE", 0)], [("CAM", "CAM-NMC811", 50_000, cam)])
    s.attest("CAM", 30, 1, VERIFIER)
    # Packs.
    s.op(OpKind.BUILD, REFINER, [("CAM", 0)], [("PACK1", "PACK-60KWH", 50_000, cam)], unit=(60_000, []))
    s.attest("PACK1", 13, 1, VERIFIER)
    s.attest("PACK1", 2, 2, VERIFIER)
    s.mint(REFINER, "CELL2", "CELL-NMC", 30_000, ni(3_000), origin_code("AU", "Kambalda"))
    s.attest("CELL2", 24, 0, VERIFIER)
    s.op(OpKind.BUILD, REFINER, [("CELL2", 0)], [("PACK2", "PACK-40KWH", 30_000, ni(3_000))], unit=(40_000, []))
    s.attest("PACK2", 6, 1, VERIFIER)
    s.transfer("PACK1", OEM)
    s.transfer("PACK2", OEM)
    # First life, reuse, and the ESS built from all of PACK1 and half of PACK2.
    s.soh("PACK1", OEM, 10_000_000, soce_bp=8_500)
    s.status("PACK1", PassportStatus.REUSED)
    s.soh("PACK1", OEM, 14_000_000, soce_bp=7_000)
    s.soh("PACK2", OEM, 8_000_000, soce_bp=6_500)
    s.op(
        OpKind.REPURPOSE, OEM, [("PACK1", 0), ("PACK2", 15_000)],
        [("ESS1", "ESS-70KWH", 65_000, Composition.of({"Ni": 6_000, "Co": 2_000, "Li": 4_000}))], unit=(70_000, ["PACK1", "PACK2"]),
    )
    s.attest("ESS1", 5, 1, VERIFIER)
    s.soh("ESS1", OEM, 6_000_000, soce_bp=9_000)
    # End of life for the rest of PACK2: recycling into two recovered lots.
    s.status("PACK2", PassportStatus.WASTE)
    s.transfer("PACK2", RECYCLER)
    s.op(
        OpKind.RECYCLE, RECYCLER, [("PACK2", 0)],
        [("REC-NI", "NiSO4", 5_000, ni(1_200, post=1_200)), ("REC-BM", "BLACK-MASS", 8_000, ni(200, post=200))],
    )
    s.attest("REC-NI", 4, 1, VERIFIER)
    s.transfer("REC-NI", REFINER)
    # New cathode with recovered nickel and a third of the remaining fresh sulphate.
    s.op(OpKind.TRANSFORM, REFINER, [("REC-NI", 0), ("NISO4", 100_000)], [("CAM3", "CAM-NMC811", 30_000, ni(5_700, post=1_200))])
    s.attest("CAM3", 7, 1, REFINER, self_declared=True)
    return s


@pytest.fixture(scope="session")
def reference() -> Synth:
    return build_reference()


@pytest.fixture()
def ref_index(reference: Synth):  # type: ignore[no-untyped-def]
    index = reference.ingest()
    yield index
    index.close()
