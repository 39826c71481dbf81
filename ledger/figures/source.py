"""What every figure starts from: a replayed ledger, or an index to replay the needed part of.

Every figure is a pure function of the ledger as replayed from events (:class:`ledger.replay.state.LedgerState`);
the public functions accept either such a state or an :class:`ledger.index.store.EventIndex`, from which
they replay only the subgraph they need.

Allocation (docs/methodology.md §1, :func:`ledger.figures.footprint.op_shares`): an operation takes
``grams used / minted mass`` of each input's footprint and its outputs share that burden by
tracked-element mass; declared loss carries none. Every figure describes what a lot holds now.
Recycling a post-consumer unit is cut off (recovered lots carry only the recycling burden); a
never-used unit's burden and origin pass on. Claims are judged at the time they were used.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ledger import errors
from ledger.domain.ids import label_of
from ledger.index.store import EventIndex
from ledger.replay.state import LedgerState

Source = EventIndex | LedgerState


#: Every figure's records are immutable.
FROZEN = ConfigDict(frozen=True)


class Report(BaseModel):
    """Base of the figure reports: frozen, with a JSON form."""

    model_config = ConfigDict(frozen=True)

    def to_json(self, indent: int | None = 2) -> str:
        """Return the report as JSON."""
        return self.model_dump_json(indent=indent)


# ------------------------------------------------------------------------------------ sources


def upstream_state(source: Source, lot_id: bytes) -> LedgerState:
    """The replayed ledger a figure of `lot_id` needs: its whole upstream and the operations that used it."""
    if isinstance(source, LedgerState):
        if lot_id not in source.lots:
            raise errors.InvalidInput(f"no lot {label_of(lot_id)} in the replayed ledger")
        return source
    if not source.has_lot(lot_id):
        raise errors.UnknownLot(f"no lot {label_of(lot_id)} on this ledger (the index is synced to block {source.synced_block})")
    # The operations that used the lot itself are replayed too: they say what it holds now and when its
    # own claim was used (their outputs come along; nothing upstream depends on them).
    g = source.graph()
    used_by = [o for op, _ in g.consumers.get(lot_id, ()) for o in g.outputs.get(op, ())]
    return source.substate([*source.upstream_lots(lot_id), *used_by])


def judged_at(source: Source, st: LedgerState, at: int | None) -> int:
    """The time claims are judged at: `at`, else the chain's time the index last saw, else the last event's."""
    if at is not None:
        return at
    if isinstance(source, EventIndex):
        return source.chain_timestamp or st.last_timestamp
    return st.last_timestamp


# -------------------------------------------------------------------------------------- trace


# ---------------------------------------------------------------------------------- footprint


# ---------------------------------------------------------------------------- recycled content


# --------------------------------------------------------------------------------- origin mix


# ---------------------------------------------------------------------------- lifetime carbon


# ------------------------------------------------------------------------------------- triage


# ---------------------------------------------------------------------------------- helpers
