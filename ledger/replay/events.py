"""Replaying stored events into a :class:`LedgerState`: the one decoder path from raw logs to state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ledger import errors
from ledger.chain.logs import layouts
from ledger.replay.state import LedgerState


@dataclass(frozen=True)
class RawEvent:
    """One stored log."""

    id: int
    block: int
    log_index: int
    contract: int
    name: str
    topics: list[bytes]
    data: bytes
    timestamp: int


def replay(events: Iterable[RawEvent], *, strict: bool = True, state: LedgerState | None = None) -> LedgerState:
    """Decode stored events and replay them, in the order given, into a :class:`LedgerState` (a fresh one,
    or `state`, replayed up to the events given, which goes on from there)."""
    lay = layouts()
    st = LedgerState(strict=strict) if state is None else state
    for ev in events:
        layout = lay.get((ev.contract, ev.topics[0])) if ev.topics else None
        if layout is None:
            st.events += 1
            continue
        try:
            args = layout.decode(ev.topics, ev.data)
        except (ValueError, IndexError, TypeError):
            raise errors.IndexCorrupt(
                f"stored event {ev.id} ({layout.name}) cannot be decoded: delete the index and sync again"
            ) from None
        st.apply(layout.name, args, ev.block, ev.timestamp, ev.id)
    return st
