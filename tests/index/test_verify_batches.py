"""verify_heads re-fetches the chain's logs in batches sized by the events the index holds, so that no
answer holds the whole ledger (a bulk-mined chain puts 100,000s of events in a few blocks: one batch of
100 long spans held 1M events, 4 GB in the audit); a difference in the last batch is still found."""

from __future__ import annotations

from typing import Any

import pytest
from index_backends import Targets, sql

from ledger import Composition, LotSpec, errors
from ledger.index import verify as verify_module
from ledger.index.store import EventIndex

pytestmark = pytest.mark.chain


def _history(chain: Any) -> None:
    ore = [LotSpec(lot_id=f"VB-{k}", material="ORE-NI", mass=1_000 + k, composition=Composition.of({"Ni": 10 + k})) for k in range(60)]
    chain["miner"].mint_many(ore, batch_size=20)  # three blocks of 20 events


def _answers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record, for every batch verify sends, how many logs its answers held together."""
    sizes: list[int] = []
    real = verify_module.fetch_logs_batch

    def counting(w3: Any, addresses: Any, spans: list[tuple[int, int]]) -> list[Any]:
        out = real(w3, addresses, spans)
        sizes.append(sum(len(a) for a in out))
        return out

    monkeypatch.setattr(verify_module, "fetch_logs_batch", counting)
    return sizes


def test_no_batch_holds_more_than_its_budget_unless_one_block_does(
    chain: Any, index_at: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    _history(chain)
    ix = EventIndex.open(index_at())
    ix.sync(chain.base)
    sizes = _answers(monkeypatch)
    ix.verify_heads(chain.base.w3)
    whole = sum(sizes)
    assert whole >= 60 and len(sizes) == 1  # the default budget: a small ledger is one batch
    sizes.clear()
    monkeypatch.setattr(verify_module, "_SPAN_EVENTS", 8)
    monkeypatch.setattr(verify_module, "_BATCH_EVENTS", 10)
    ix.verify_heads(chain.base.w3)
    assert sum(sizes) == whole  # every log compared, in pieces
    biggest_block = max(n for (n,) in ix.conn.execute("SELECT COUNT(*) FROM events GROUP BY block"))
    assert len(sizes) >= 3 and max(sizes) <= max(10, biggest_block)


def test_a_difference_in_the_last_batch_is_found(chain: Any, index_at: Targets, monkeypatch: pytest.MonkeyPatch) -> None:
    _history(chain)
    ix = EventIndex.open(index_at())
    ix.sync(chain.base)
    monkeypatch.setattr(verify_module, "_SPAN_EVENTS", 8)
    monkeypatch.setattr(verify_module, "_BATCH_EVENTS", 10)
    # The transaction hash is not in the ledger heads: only the log comparison can see it changed.
    (last,) = ix.conn.execute("SELECT MAX(id) FROM events").fetchone()
    ix.conn.execute("UPDATE events SET tx_hash = ? WHERE id = ?", (b"\x11" * 32, last))
    with pytest.raises(errors.IndexCorrupt, match="differs from the chain's logs"):
        ix.verify_heads(chain.base.w3)


_LOT_MUTATIONS = {
    "one column of the last batch's last lot": "UPDATE lots SET mass = mass + 1 WHERE event = (SELECT MAX(event) FROM lots)",
    "the first lot missing": "DELETE FROM lots WHERE event = (SELECT MIN(event) FROM lots)",
    "an extra lot after every event": (
        "INSERT INTO lots(lot_id, event, material, mass, origin, holder, kind) SELECT ?, event + 1000, material, mass, "
        "origin, holder, kind FROM lots WHERE event = (SELECT MAX(event) FROM lots)"
    ),
    "a lot moved into the next batch": "UPDATE lots SET event = event + 1 WHERE event = (SELECT MIN(event) FROM lots)",
    "a lot given a unit it has not": "UPDATE lots SET kind = 1 WHERE event = (SELECT MIN(event) FROM lots)",
}


def _whole_comparisons(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the falls back of verify to comparing the whole tables at once."""
    calls: list[int] = []
    real = verify_module.VerifyMixin._compare_tables

    def counting(self: Any, first: int) -> None:
        calls.append(first)
        real(self, first)

    monkeypatch.setattr(verify_module.VerifyMixin, "_compare_tables", counting)
    return calls


def test_an_honest_index_passes_batch_by_batch(chain: Any, index_at: Targets, monkeypatch: pytest.MonkeyPatch) -> None:
    _history(chain)
    ix = EventIndex.open(index_at())
    ix.sync(chain.base)
    calls = _whole_comparisons(monkeypatch)
    monkeypatch.setattr(verify_module, "_TABLE_EVENTS", 7)
    ix.verify()
    ix.verify(after_block=int(ix.conn.execute("SELECT MIN(block) FROM events").fetchone()[0]))
    assert calls == []  # every batch matched: the whole tables were never held


@pytest.mark.parametrize("what", sorted(_LOT_MUTATIONS))
def test_a_lot_row_differing_in_any_batch_is_found(what: str, chain: Any, index_at: Targets, monkeypatch: pytest.MonkeyPatch) -> None:
    _history(chain)
    target = index_at.fresh()
    ix = EventIndex.open(target)
    ix.sync(chain.base)
    ix.close()
    statement = _LOT_MUTATIONS[what]
    sql(target, statement, (b"\x42" * 32,) if "?" in statement else ())
    calls = _whole_comparisons(monkeypatch)
    monkeypatch.setattr(verify_module, "_TABLE_EVENTS", 7)
    ix = EventIndex.open(target)
    with pytest.raises(errors.IndexCorrupt, match="table lots does not follow from the stored events"):
        ix.verify()
    assert len(calls) == 1
