"""The full audit's claims packed as they are judged, and its liveness kept as the set of lots that do not live on
(issue 16): on multi-generation graphs (refining, cells, packs, repurposing, dismantling, recycling), with revoked,
late and expiring attestations and a frozen lot, the report must be the one the claim objects gave."""

from __future__ import annotations

import pytest
from prov_synth import AUDITOR, VERIFIER, Synth, b32, build_reference

from ledger.auditor.checkpoint import ClaimBlock, pack_claims
from ledger.auditor.claims import _live_and_products, claims_of, end_products, packed_claims
from ledger.auditor.report import ClaimList
from ledger.domain.enums import LotState, OpKind
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
