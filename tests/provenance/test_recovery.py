"""Yields and a recycler's recovery against EU 2023/1542 Annex XII, worked out by hand on a small graph
(no chain): a pack recycled into black mass, the black mass refined by the recycler itself (with losses),
one refined lot handed on, and a second recycling outside the period."""

from __future__ import annotations

import pytest
from prov_synth import Synth, account

from ledger import errors
from ledger.domain.composition import Composition
from ledger.domain.enums import OpKind, PassportStatus, Role
from ledger.figures.recovery import recycling_report, yields_of

MINER, REFINER, OEM, RECYCLER = (account(i) for i in range(11, 15))
approx = lambda x: pytest.approx(x, rel=1e-12, abs=1e-12)  # noqa: E731


def _story() -> tuple[Synth, int]:
    s = Synth()
    s.register(REFINER, Role.REFINER | Role.CELL_MAKER | Role.PACK_ASSEMBLER)
    s.register(OEM, Role.OEM)
    s.register(RECYCLER, Role.RECYCLER)
    cells = Composition.of({"Ni": 10_000, "Co": 2_000, "Li": 1_000})
    for n in (1, 2):
        s.mint(REFINER, f"CELLS-{n}", "CELL-NMC811", 50_000, cells)
        s.op(OpKind.BUILD, REFINER, [(f"CELLS-{n}", 0)], [(f"PACK-{n}", "PACK", 50_000, cells)], unit=(60_000, []))
        s.transfer(f"PACK-{n}", OEM)
        s.soh(f"PACK-{n}", OEM, 5_000_000)
        s.status(f"PACK-{n}", PassportStatus.WASTE)
        s.transfer(f"PACK-{n}", RECYCLER)
    s.mine()
    start = s.ts
    # Recycling: 30 kg of black mass, losing 500 g Ni, 100 g Co, 200 g Li.
    bm = Composition.of({"Ni": 9_500, "Co": 1_900, "Li": 800}, post={"Ni": 9_500, "Co": 1_900, "Li": 800})
    s.op(
        OpKind.RECYCLE,
        RECYCLER,
        [("PACK-1", 0)],
        [("BM-1", "BLACK-MASS", 30_000, bm)],
        loss=Composition.of({"Ni": 500, "Co": 100, "Li": 200}),
    )
    # The recycler's own refining: sulphates and carbonate, losing another 500 g Ni, 100 g Co, 200 g Li.
    s.op(
        OpKind.TRANSFORM,
        RECYCLER,
        [("BM-1", 0)],
        [
            ("R-NI", "NiSO4", 40_000, Composition.of({"Ni": 9_000}, post={"Ni": 9_000})),
            ("R-CO", "CoSO4", 9_000, Composition.of({"Co": 1_800}, post={"Co": 1_800})),
            ("R-LI", "Li2CO3", 3_200, Composition.of({"Li": 600}, post={"Li": 600})),
        ],
        loss=Composition.of({"Ni": 500, "Co": 100, "Li": 200}),
    )
    s.transfer("R-CO", REFINER)  # handed on: recovered as it left
    end = s.ts
    s.mine(30 * 86_400)
    s.op(OpKind.RECYCLE, RECYCLER, [("PACK-2", 0)], [("BM-2", "BLACK-MASS", 40_000, cells.all_post_consumer())])
    return s, (start, end)


def test_recovery_and_efficiency_against_annex_xii_by_hand() -> None:
    s, (start, end) = _story()
    st = s.ingest().state()
    r = recycling_report(st, RECYCLER.address, start=start, end=end)
    assert r.units == ["PACK-1"]  # PACK-2 was recycled after the period
    assert r.input_mass_g == 50_000 and r.output_mass_g == 30_000 and r.recycling_efficiency == approx(0.6)
    assert r.input_g == {"Li": 1_000, "Ni": 10_000, "Co": 2_000}
    # What finally came out of the recycler's hands: 9 kg Ni, 1.8 kg Co, 0.6 kg Li (both steps' losses count).
    assert r.recovered_g == {"Li": 600, "Ni": 9_000, "Co": 1_800}
    assert r.recovery == {"Li": approx(0.6), "Ni": approx(0.9), "Co": approx(0.9)}
    assert sorted(r.recovered_lots) == ["R-CO", "R-LI", "R-NI"]
    met = {(t.what, t.deadline): t.met for t in r.targets}
    assert met[("recycling efficiency (lithium-based)", "2025-12-31")] is False  # 60 % < 65 %
    assert met[("material recovery Ni", "2027-12-31")] is True and met[("material recovery Ni", "2031-12-31")] is False
    assert met[("material recovery Li", "2027-12-31")] is True and met[("material recovery Li", "2031-12-31")] is False
    assert met[("material recovery Cu", "2027-12-31")] is None  # no copper taken in


def test_yields_per_element_and_a_period_that_ends_before_it_starts() -> None:
    s, (start, end) = _story()
    st = s.ingest().state()
    refine = next(op for op in st.ops if op.kind == OpKind.TRANSFORM)
    assert yields_of(st, refine) == {"Li": approx(600 / 800), "Ni": approx(9_000 / 9_500), "Co": approx(1_800 / 1_900)}
    with pytest.raises(errors.InvalidInput, match="ends before it starts"):
        recycling_report(st, RECYCLER.address, start=end, end=start)


def test_the_yield_of_the_operation_that_made_a_lot_by_hand() -> None:
    from ledger import operation_yields

    s, _ = _story()
    index = s.ingest()
    # The refining gave 9 kg of the black mass's 9.5 kg Ni, whichever output one asks about: a yield is the
    # step's, so naming the carbonate instead of the sulphate cannot improve it.
    for lot in ("R-NI", "R-LI"):
        y = operation_yields(index, lot)
        assert y is not None and y.operation == "transform" and y.operator == RECYCLER.address
        assert y.yields == {"Li": approx(600 / 800), "Ni": approx(9_000 / 9_500), "Co": approx(1_800 / 1_900)}
    bm = operation_yields(index, "BM-1")
    assert bm is not None and bm.operation == "recycle"
    assert bm.yields == {"Li": approx(800 / 1_000), "Ni": approx(9_500 / 10_000), "Co": approx(1_900 / 2_000)}
    assert operation_yields(index, "CELLS-1") is None  # minted: no operation made it


def test_a_phantom_residue_does_not_improve_the_recyclers_recovery() -> None:
    # The cheat: the recycler's refining declares no loss of nickel and books the 500 g as a residue it keeps;
    # Annex XII counts recovered materials, so its nickel recovery must stay what the sulphate holds.
    s = Synth()
    s.register(REFINER, Role.REFINER | Role.CELL_MAKER | Role.PACK_ASSEMBLER)
    s.register(OEM, Role.OEM)
    s.register(RECYCLER, Role.RECYCLER)
    cells = Composition.of({"Ni": 10_000})
    s.mint(REFINER, "CELLS-1", "CELL-NMC811", 50_000, cells)
    s.op(OpKind.BUILD, REFINER, [("CELLS-1", 0)], [("PACK-1", "PACK", 50_000, cells)], unit=(60_000, []))
    s.transfer("PACK-1", OEM)
    s.soh("PACK-1", OEM, 5_000_000)
    s.status("PACK-1", PassportStatus.WASTE)
    s.transfer("PACK-1", RECYCLER)
    s.mine()
    start = s.ts
    s.op(OpKind.RECYCLE, RECYCLER, [("PACK-1", 0)], [("BM-1", "BLACK-MASS", 30_000, cells.all_post_consumer())])
    s.op(
        OpKind.TRANSFORM,
        RECYCLER,
        [("BM-1", 0)],
        [
            ("R-NI", "NiSO4", 40_000, Composition.of({"Ni": 9_500}, post={"Ni": 9_500})),
            ("RESIDUE", "LEACH-RESIDUE", 5_000, Composition.of({"Ni": 500}, post={"Ni": 500})),
        ],
    )
    s.mine()
    r = recycling_report(s.ingest().state(), RECYCLER.address, start=start, end=s.ts)
    assert r.recovery["Ni"] == approx(0.95)


def test_the_report_names_the_routes_the_chains_counted_inventories_attest() -> None:
    # Annex XII Part C is measured per recycling process; a self-declared route says so, and a route nobody
    # may declare (another party's self-declaration, a revoked or expired inventory) is not shown at all.
    from ledger.domain.enums import ProcessRoute
    from ledger.domain.ids import id_bytes
    from ledger.replay.records import InvRec

    s, (start, end) = _story()
    st = s.ingest().state()
    verifier = account(20).address.lower()

    def inv(n: int, lot: str, route: ProcessRoute, signer: str, *, own: bool, revoked: bool = False, until: int = end + 1) -> None:
        uid = n.to_bytes(32, "big")
        st.inventories[uid] = InvRec(
            uid=uid, lot_id=id_bytes(lot), signer=signer, energy_wh=1, renewable_bps=0, water_withdrawn_l=0,
            water_consumed_l=0, route=int(route), grade=b"", evidence=bytes(32), issued_at=start, valid_until=until,
            nonce=n, deadline=end, self_declared=own, signature=b"", pos=0, block=0, timestamp=start,
            revoked=(0, start, verifier, bytes(32)) if revoked else None,
        )  # fmt: skip
        st.inventories_by_lot.setdefault(id_bytes(lot), []).append(uid)

    assert recycling_report(st, RECYCLER.address, start=start, end=end).routes == {}
    inv(1, "BM-1", ProcessRoute.PYROMETALLURGY, verifier, own=False)
    inv(2, "R-NI", ProcessRoute.DIRECT_TO_CATHODE, RECYCLER.address.lower(), own=True)
    inv(3, "R-NI", ProcessRoute.HYDROMETALLURGY, REFINER.address.lower(), own=True)  # not the producer's
    inv(4, "R-CO", ProcessRoute.OTHER, verifier, own=False, revoked=True)
    inv(5, "R-LI", ProcessRoute.OTHER, verifier, own=False, until=end - 1)  # expired by the period's end
    inv(6, "BM-2", ProcessRoute.HYDROMETALLURGY, verifier, own=False)  # recycled after the period
    r = recycling_report(st, RECYCLER.address, start=start, end=end)
    assert r.routes == {"direct-to-cathode": "self-declared", "pyrometallurgy": "verified"}
