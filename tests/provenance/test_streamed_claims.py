"""The full audit's claims packed as they are judged, and its liveness kept as the set of lots that do not live on
(issue 16): on multi-generation graphs (refining, cells, packs, repurposing, dismantling, recycling), with revoked,
late and expiring attestations and a frozen lot, the report must be the one the claim objects gave."""

from __future__ import annotations

import pickle

import pytest
from prov_synth import AUDITOR, VERIFIER, Synth, b32, build_reference

from ledger.auditor.checkpoint import ClaimBlock, pack_claims
from ledger.auditor.claims import _live_and_products, claims_of, end_products, packed_claims
from ledger.auditor.report import ClaimList
from ledger.domain.enums import LotState, OpKind
from ledger.replay import lots as lots_module
from ledger.replay.events import replay
from ledger.replay.lots import LotStore, frozen_lots
from ledger.replay.records import ZERO_COMP, LotRec
from ledger.replay.state import LedgerState


def _graphs() -> list[Synth]:
    plain = build_reference()
    busy = build_reference()
    uid = busy.attest("ORE-CO", 1, 0, VERIFIER)
    busy.revoke(uid, AUDITOR)
    busy.attest("NISO4-X", 2, 1, VERIFIER, valid_for=60)  # late (after its merge), and expiring a minute later
    busy.attest("NISO4-B", 3, 1, VERIFIER, valid_for=60)  # a live lot's own figure, expired by the time judged
    busy.freeze("NISO4-B", AUDITOR)
    busy.mine(3600)
    return [plain, busy]


def _lives_on(st: LedgerState, lot_id: bytes) -> bool:
    """The definition, walked downstream for each lot on its own: live, or something live made from it (not by
    recycling)."""
    lot = st.lots[lot_id]
    if lot.state in (LotState.ACTIVE, LotState.FROZEN):
        return True
    return any(
        o in st.lots and _lives_on(st, o) for op in lot.used_by if st.ops[op].kind != OpKind.RECYCLE for o in st.ops[op].outputs
    )


@pytest.mark.parametrize("graph", _graphs(), ids=["reference", "revoked-late-expired-frozen"])
def test_packed_claims_are_the_claims_judged_one_object_each(graph: Synth) -> None:
    index = graph.ingest()
    try:
        st, at = index.state(), index.chain_timestamp
        assert any(op.kind == OpKind.RECYCLE for op in st.ops) and any(lot.made_by is not None for lot in st.lots.values())
        live, products = _live_and_products(st)
        assert {k: live[k] for k in st.lots} == {k: _lives_on(st, k) for k in st.lots}
        assert live.get(b32("NOT-A-LOT")) is None and b32("NOT-A-LOT") not in live
        assert products == end_products(st, live) and len(products) > 3
        objects = claims_of(st, at=at, live=live, products=products)
        packed = packed_claims(st, at=at, products=products)
        assert isinstance(packed, ClaimList) and len(packed) == len(objects)
        assert {c.level for c in objects} >= {"missing", "verified"}
        assert [c.model_dump_json() for c in packed] == [c.model_dump_json() for c in objects]
        assert packed == objects and packed[-1] == objects[-1]
        # Written into a checkpoint, the rows are copied as they are: the bytes encoding each claim gives.
        data = pack_claims(packed, st)
        assert data == pack_claims(ClaimList.of(objects), st)
        assert list(ClaimList([(ClaimBlock(data), 0, len(objects))])) == objects
    finally:
        index.close()


@pytest.mark.parametrize("hot", [1, 3, 1 << 15])
@pytest.mark.parametrize("graph", _graphs(), ids=["reference", "revoked-late-expired-frozen"])
def test_lots_replayed_into_columns_are_the_lots_replayed(graph: Synth, hot: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Written back every `hot` records (every event or so: a lot read, changed, dropped and read again), the
    # columns must give back each lot as the plain replay has it, and the audit's views of them with it.
    monkeypatch.setattr(lots_module, "_HOT_MAX", hot)
    index = graph.ingest()
    try:
        plain = replay(index.raw_events(), strict=True)
        compact = replay(index.raw_events(), strict=True, state=LedgerState(strict=True, compact=True))
        assert isinstance(compact.lots, LotStore) and not isinstance(plain.lots, LotStore)
        compact.seal()
        at = index.chain_timestamp
        assert list(compact.lots) == list(plain.lots) and len(compact.lots) == len(plain.lots)
        assert [compact.lots[k] for k in plain.lots] == list(plain.lots.values())
        assert list(compact.lots.values()) == list(plain.lots.values()) and compact.lots == plain.lots
        assert [i.code for i in compact.issues] == [i.code for i in plain.issues]
        frozen = frozen_lots(plain.lots)
        assert frozen_lots(compact.lots) == frozen and (frozen != []) == (plain.lots[b32("NISO4-B")].state == LotState.FROZEN)
        first = compact.lots[b32("NISO4-B")]
        assert compact.lots[b32("ORE-NI")] is not compact.lots[b32("NISO4-B")] is not first  # sealed: read, not kept
        assert b32("NOT-A-LOT") not in compact.lots and compact.lots.get(b32("NOT-A-LOT")) is None
        live, products = _live_and_products(plain)
        live_c, products_c = _live_and_products(compact)
        assert products_c == products and dict(live_c.items()) == dict(live.items())
        assert packed_claims(compact, at=at, products=products) == claims_of(plain, at=at, live=live, products=products)
        # Checkpointed, the columns load as the lots of the plain replay do.
        assert pickle.loads(pickle.dumps(compact)).lots == pickle.loads(pickle.dumps(plain)).lots == plain.lots
    finally:
        index.close()


def test_lot_columns_widen_for_numbers_that_do_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lots_module, "_HOT_MAX", 1)
    store = LotStore()
    recs = [
        LotRec(bytes([k]) * 32, b"m", b"o", b"e", "0xa", mass, ZERO_COMP, k, 1, 2, mass=mass)
        for k, mass in enumerate((1, 300, 1 << 40))
    ]
    for rec in recs:
        store[rec.lot_id] = rec
        store.settle()
    store.seal()
    assert list(store.values()) == recs
    with pytest.raises(ValueError):
        store[b"\x09" * 32] = LotRec(b"\x09" * 32, b"m", b"o", b"e", "0xa", 1 << 64, ZERO_COMP, 9, 1, 2)
