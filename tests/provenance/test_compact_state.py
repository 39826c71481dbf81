"""The replayed state in compact form (issue 16) and the checkpoint that pickles it (issue 15).

Equal values are kept once and the history lists of a lot start as one shared empty default, so the attack
to test is a leak between lots: one lot's use, hand-over or freeze showing up in another's history, or a
composition changed through a neighbour that shares it. The prefetched contract storage is kept as digests:
a digest must never vouch for a lot whose replay differs from the chain, nor for one it never read."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from ledger.auditor.checkpoint import VERSION, AuditCheckpoint, CheckpointError, read_checkpoint
from ledger.auditor.report import ClaimCheck, claim_of
from ledger.auditor.storage import _lot_digest, _replayed_lot_words, _StoragePrefetch
from ledger.domain.composition import Composition
from ledger.domain.enums import OpKind, Role
from ledger.replay.state import LedgerState

MINER = "0x" + "11" * 20
REFINER = "0x" + "22" * 20
COMP = Composition.of({"Ni": 20_000, "Co": 2_500}).words()


def _id(name: str) -> bytes:
    return name.encode().ljust(32, b"\0")


def _world() -> LedgerState:
    st = LedgerState()
    for pos, (who, roles) in enumerate(((MINER, Role.MINER), (REFINER, Role.REFINER))):
        st.apply("ParticipantRegistered", {"account": who.upper().replace("0X", "0x"), "roles": int(roles)}, 1, 10, pos)
    for k, name in enumerate(("A", "B", "C")):
        lot = {"lotId": _id(name), "holder": MINER, "material": _id("ORE"), "origin": bytes(32), "evidence": bytes(32)}
        st.apply("LotCreated", {**lot, "mass": 100_000, "composition": [list(w) for w in COMP]}, 2, 20, 10 + k)
    return st


def _hand_over(st: LedgerState, name: str, pos: int) -> None:
    st.apply("OfferMade", {"lotId": _id(name), "from": MINER, "to": REFINER}, 3, 30, pos)
    st.apply("OfferAccepted", {"lotId": _id(name), "from": MINER, "to": REFINER}, 3, 30, pos + 1)


def test_lots_share_equal_values_and_nothing_leaks_between_them() -> None:
    st = _world()
    a, b, c = (st.lots[_id(n)] for n in "ABC")
    assert a.comp0 is b.comp0 is c.comp0 and a.material is b.material and a.holder is b.holder
    _hand_over(st, "A", 20)
    st.apply("LotFrozen", {"lotId": _id("B")}, 4, 40, 22)
    st.apply("LotsTransformed", _consume("A"), 5, 50, 23)
    assert (a.used_by, len(a.custody), a.freezes) == ([0], 1, ())
    assert (b.used_by, b.custody, len(b.freezes)) == ((), (), 1)
    assert (c.used_by, c.custody, c.freezes) == ((), (), ())  # the shared default is never written to
    assert c.holder == MINER and a.holder == REFINER and b.comp0 is c.comp0
    assert not st.issues


def _consume(name: str) -> dict[str, Any]:
    """The refiner uses all of a lot up, every gram of it lost (a balanced operation)."""
    loss = list(COMP[0])
    return {"kind": int(OpKind.TRANSFORM), "operator": REFINER, "inputs": [_id(name)], "usedMasses": [0], "outputs": [], "loss": loss}


def test_a_state_pickled_midway_replays_on_to_the_same_state() -> None:
    whole, part = _world(), _world()
    part = pickle.loads(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
    assert part._shared == {}  # the pool of shared values is a cache, not part of a checkpoint
    for st in (whole, part):
        _hand_over(st, "A", 20)
        st.apply("LotsTransformed", _consume("A"), 5, 50, 22)
    assert whole.lots == part.lots and whole.ops == part.ops and whole.issues == part.issues
    loaded = pickle.loads(pickle.dumps(whole))
    assert loaded.lots[_id("B")].comp0 is loaded.lots[_id("C")].comp0  # the sharing survives the pickle


def _prefetched(st: LedgerState, ids: list[bytes]) -> _StoragePrefetch:
    """A prefetch as its thread leaves it, with the chain's lot() words for `ids` taken from the replay."""
    pf = _StoragePrefetch.__new__(_StoragePrefetch)
    pf.ids, pf.digests, pf.units = bytearray(), bytearray(), {}
    for lot_id in ids:
        words = _replayed_lot_words(st.lots[lot_id])
        assert words is not None
        pf.ids += lot_id
        pf.digests += _lot_digest(words)
    return pf


def test_a_prefetched_digest_vouches_only_for_a_lot_that_replays_the_same() -> None:
    st = _world()
    ids = sorted(st.lots)  # the table's key order
    pf = _prefetched(st, ids)
    assert pf.to_read(st) == []
    # The replay differs from what the chain holds: that lot, and only it, is read again and compared.
    st.lots[_id("B")].mass -= 1
    assert pf.to_read(st) == [_id("B")]
    st.lots[_id("B")].mass += 1
    st.lots[_id("C")].holder = REFINER
    assert pf.to_read(st) == [_id("C")]


def test_a_lot_the_prefetch_never_read_is_read_even_when_another_is_listed_twice() -> None:
    st = _world()
    a, b, c = sorted(st.lots)
    # The cheat: a doctored index lists A twice and leaves C out, so that the count of lots still adds up.
    pf = _prefetched(st, [a, a, b])
    assert pf.to_read(st) == [_id("C")]
    assert _prefetched(st, [a, b]).to_read(st) == [_id("C")]


def test_a_claim_rebuilt_from_a_checkpoint_is_the_claim_validated() -> None:
    fields = {
        "lot_id": "0x" + "ab" * 32,
        "label": "R-1",
        "kind": "material",
        "level": "missing",
        "weakest": ["0x" + "ab" * 32],
        "by_level": {"missing": 1.5},
        "late": [],
        "message": "rests on steps nobody attested: R-1",
    }
    validated = ClaimCheck(**fields)
    rebuilt = claim_of(dict(fields))
    assert rebuilt == validated and rebuilt.model_dump() == validated.model_dump()
    assert rebuilt.model_dump_json() == validated.model_dump_json()
    with pytest.raises(ValueError):
        rebuilt.level = "verified"  # type: ignore[misc]  # frozen, as the validated model


def test_a_checkpoint_of_an_older_format_is_refused(tmp_path: Path) -> None:
    cp = AuditCheckpoint(
        version=VERSION - 1,
        chain_id=1,
        ledger="0x" + "00" * 20,
        attestations="0x" + "00" * 20,
        deployment_block=1,
        block=2,
        block_hash="0x" + "00" * 32,
        ledger_head="0x" + "00" * 32,
        attestations_head="0x" + "00" * 32,
        events=3,
        state_digest="0x",
        claims_at=0,
        claims_digest="0x",
        auditor="0x" + "00" * 20,
    )
    path = tmp_path / "old.checkpoint"
    path.write_text(json.dumps(cp.model_dump()))
    with pytest.raises(CheckpointError, match=f"format {VERSION - 1}; this Rinne reads format {VERSION}"):
        read_checkpoint(path)


def test_end_products_in_one_pass_are_those_of_the_two() -> None:
    from ledger.auditor.claims import _live_and_products, end_products

    st = _world()
    _hand_over(st, "A", 20)
    out = {"lotId": _id("D"), "holder": REFINER, "material": _id("NISO4"), "origin": bytes(32), "evidence": bytes(32)}
    st.apply("LotCreated", {**out, "mass": 100_000, "composition": [list(w) for w in COMP]}, 5, 50, 22)
    made = {**_consume("A"), "outputs": [_id("D")], "loss": [0, 0]}
    st.apply("LotsTransformed", made, 5, 50, 23)
    st.apply("LotFrozen", {"lotId": _id("B")}, 6, 60, 24)
    live, products = _live_and_products(st)
    assert products == end_products(st, live) == [_id("B"), _id("C"), _id("D")]
    assert live == {_id(n): True for n in "DCBA"}  # A lives on in D


# ------------------------------------------------------------ the claims block of checkpoint format 4


def test_a_claims_block_gives_back_the_claims_it_packs_one_at_a_time() -> None:
    from ledger.auditor.checkpoint import ClaimBlock, pack_claims
    from ledger.auditor.claims import claims_of
    from ledger.auditor.report import ClaimList

    st = _world()
    claims = claims_of(st, at=100)
    block = ClaimBlock(pack_claims(ClaimList.of(claims), st))
    assert block.judged and len(block) == 3 and [block.claim(i) for i in range(3)] == claims
    assert block.row_of(_id("B"), st.lots[_id("B")].pos) == 1 and block.row_of(_id("B"), st.lots[_id("C")].pos) is None
    lazy = ClaimList([(block, 0, 1), [claims[1]], (block, 2, 3)])
    assert lazy == claims and lazy[-1] == claims[2] and [c.model_dump() for c in lazy] == [c.model_dump() for c in claims]
    assert pack_claims(lazy, st) == pack_claims(ClaimList.of(claims), st)  # carried rows are copied as they were
    assert not ClaimBlock(pack_claims(None, st)).judged  # no claims written: a later audit judges every one


def test_a_claims_block_out_of_order_or_cut_short_is_refused() -> None:
    from ledger.auditor.checkpoint import ClaimBlock, pack_claims
    from ledger.auditor.claims import claims_of
    from ledger.auditor.report import ClaimList

    st = _world()
    data = pack_claims(ClaimList.of(claims_of(st, at=100)), st)
    with pytest.raises(CheckpointError):
        ClaimBlock(data[:-1])
    swapped = bytearray(data)  # the first two positions swapped: a bisection would miss rows
    start = 16 + 32 * 3
    swapped[start : start + 16] = data[start + 8 : start + 16] + data[start : start + 8]
    with pytest.raises(CheckpointError):
        ClaimBlock(bytes(swapped))
    with pytest.raises(CheckpointError):
        pack_claims(ClaimList.of(list(reversed(claims_of(st, at=100)))), st)


def test_claims_carried_over_are_those_judged_in_full() -> None:
    # An end product consumed since, one made since, one made from a lot that lived on only inside it (no end
    # product at the checkpoint, one again once its output is used up): each as the full pass says.
    from ledger.auditor.checkpoint import ClaimBlock, pack_claims
    from ledger.auditor.claims import _live_and_products, carried_claims, claims_of
    from ledger.auditor.report import ClaimList

    st = _world()
    _hand_over(st, "A", 20)
    _hand_over(st, "B", 22)
    out = {
        "holder": REFINER,
        "material": _id("NISO4"),
        "origin": bytes(32),
        "evidence": bytes(32),
        "composition": [list(w) for w in COMP],
    }
    st.apply("LotCreated", {**out, "lotId": _id("D"), "mass": 100_000}, 5, 50, 24)
    st.apply("LotsTransformed", {**_consume("A"), "outputs": [_id("D")], "loss": [0, 0]}, 5, 50, 25)
    block = ClaimBlock(pack_claims(ClaimList.of(claims_of(st, at=100)), st))
    assert [block.lot_id(i) for i in range(len(block))] == [_id("B"), _id("C"), _id("D")]

    st.apply("LotCreated", {**out, "lotId": _id("E"), "mass": 100_000}, 6, 60, 26)
    st.apply("LotsTransformed", {**_consume("B"), "outputs": [_id("E")], "loss": [0, 0]}, 6, 60, 27)
    st.apply("LotsTransformed", {**_consume("D"), "inputs": [_id("D")]}, 6, 60, 28)
    touched = {_id("B"), _id("D"), _id("E")}
    carried = carried_claims(st, block, since=100, at=100, touched=touched)
    assert carried is not None and not st.issues
    claims, lives = carried
    live, products = _live_and_products(st)
    assert products == [_id("C"), _id("E")]
    assert claims == claims_of(st, at=100, live=live, products=products)
    assert all(lives(k) == live[k] for k in (_id("A"), _id("B"), _id("D"), _id("E")))
    assert carried_claims(st, block, since=100, at=99, touched=touched) is None  # time ran backwards: judged again


# ------------------------------------------------------------ the lots of a checkpoint as columns


def test_lots_loaded_from_columns_are_the_lots_replayed() -> None:
    # The cheat to rule out is a lot read back from a checkpoint that differs from the replayed one (another
    # holder, state, mass, history), or one that is missing, or present though never created.
    from ledger.replay.lots import LotTable, frozen_lots

    st = _world()
    _hand_over(st, "A", 20)
    st.apply("LotFrozen", {"lotId": _id("B")}, 4, 40, 22)
    st.apply("LotsTransformed", _consume("A"), 5, 50, 23)
    st.lots[_id("C")].mass = st.lots[_id("C")].mass0 = 1 << 70  # wider than any column's 64 bits: kept as a list
    st.lots[_id("C")].offered_to = REFINER
    loaded = pickle.loads(pickle.dumps(st, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(loaded.lots, LotTable) and len(loaded.lots) == 3
    assert _id("B") in loaded.lots and _id("Z") not in loaded.lots and loaded.lots.get(_id("Z")) is None
    assert list(loaded.lots) == list(st.lots)
    assert frozen_lots(loaded.lots) == [st.lots[_id("B")]] == frozen_lots(st.lots)
    for lot_id, lot in st.lots.items():
        assert loaded.lots[lot_id] == lot and loaded.lots[lot_id] is loaded.lots[lot_id]  # made once, then kept
    a = loaded.lots[_id("A")]
    assert (a.used_by, a.custody[0][3], a.state) == ([0], REFINER, st.lots[_id("A")].state)
    # A record read and changed is what a checkpoint of it holds, beside a lot added since.
    loaded.lots[_id("B")].state = 1
    loaded.lots[_id("B")].timestamp = 1 << 40  # wider than its column (8 bits): widened when written
    loaded.apply("LotCreated", {**_lot_event("D"), "mass": 5, "composition": [list(w) for w in COMP]}, 6, 60, 30)
    assert loaded.lots.added() == [_id("D")] and len(loaded.lots) == 4 and frozen_lots(loaded.lots) == []
    again = pickle.loads(pickle.dumps(loaded, protocol=pickle.HIGHEST_PROTOCOL))
    assert again.lots == loaded.lots and list(again.lots) == [*st.lots, _id("D")] and again.lots[_id("B")].state == 1
    assert again.lots[_id("B")].timestamp == 1 << 40 and again.lots[_id("C")].mass == 1 << 70
    assert dict(again.lots.items()) == dict(loaded.lots.items())  # every record made at once: the same


def test_a_checkpoint_of_a_checkpoint_finds_every_lot_old_and_new() -> None:
    # Written from a loaded state, the rows nobody read are carried as they were and the new lots merged into
    # the byte order the lookups bisect: a lot sorting first, between two old ones and last is found, and so is
    # every old one, read or not, through three generations of checkpoints.
    st = _world()
    _hand_over(st, "A", 20)  # a history row, written again each time A is read: the third time, all are encoded afresh
    names = ["A", "B", "C"]
    for gen, batch in enumerate((("0", "B1", "Z"), ("00", "C1"), ("ZZ",))):
        st = pickle.loads(pickle.dumps(st, protocol=pickle.HIGHEST_PROTOCOL))
        st.lots[_id(names[gen])].mass -= 1  # a record read and changed
        assert st.lots[_id("A")].custody[0][3] == REFINER
        for k, name in enumerate(batch):
            st.apply("LotCreated", {**_lot_event(name), "mass": 7, "composition": [list(w) for w in COMP]}, 7, 70, 40 + 10 * gen + k)
        names.extend(batch)
        fresh = pickle.loads(pickle.dumps(st, protocol=pickle.HIGHEST_PROTOCOL))
        assert all(_id(x) in fresh.lots for x in names) and _id("Q") not in fresh.lots
        assert [fresh.lots[_id(x)].mass for x in names[: gen + 1]] == [100_000 - 1] * (gen + 1)
        assert list(fresh.lots) == [_id(x) for x in names] and fresh.lots == st.lots


def _lot_event(name: str) -> dict[str, Any]:
    return {"lotId": _id(name), "holder": MINER, "material": _id("ORE"), "origin": bytes(32), "evidence": bytes(32)}
