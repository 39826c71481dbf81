"""The one event query a write needs up to the chain head: the lineage a freeze covers.

Listings (participants, a lot's history, pending offers, attestations, a unit's parents) answer from
the event index (:mod:`ledger.queries.registry`). A freeze cannot wait for an index: it must see the
split made a block ago, so :func:`descendants` reads the LotsTransformed logs straight from
``eth_getLogs``, chunked from the deployment block to the head, and decodes them with the same
layouts as the index (:mod:`ledger.chain.logs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.chain.logs import LEDGER, get_logs_chunked, layout_by_name
from ledger.chain.rpc import call
from ledger.domain.ids import hex_of

if TYPE_CHECKING:
    from ledger.client.ledger import Ledger

__all__ = ["descendants"]


def descendants(ledger: Ledger, lot_id: bytes) -> list[bytes]:
    """Return `lot_id` and every lot made from it, transitively, from the LotsTransformed events up to the
    chain head (not an index: a freeze must see the split made a block ago)."""
    layout = layout_by_name(LEDGER, "LotsTransformed")
    consumers: dict[bytes, list[list[bytes]]] = {}
    d = ledger._deployment()
    head = int(call(ledger.w3, "eth_blockNumber", []), 16)
    for log in get_logs_chunked(ledger.w3, [d.ledger], d.block, head, topics=[hex_of(layout.topic0)]):
        fields = layout.decode([bytes.fromhex(t[2:]) for t in log["topics"]], bytes.fromhex(log["data"][2:]))
        outputs = list(fields["outputs"])
        for lot in fields["inputs"]:
            consumers.setdefault(lot, []).append(outputs)
    seen, order, stack = {lot_id}, [lot_id], [lot_id]
    while stack:
        for outputs in consumers.get(stack.pop(), ()):
            for lot in outputs:
                if lot not in seen:
                    seen.add(lot)
                    order.append(lot)
                    stack.append(lot)
    return order
