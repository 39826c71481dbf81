"""What every export shares: the chain an export names, the vector a footprint describes (times: ledger.domain.times)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.figures.source import Source
from ledger.index.store import EventIndex

if TYPE_CHECKING:
    from ledger.replay.records import LotRec


def chain_context(source: Source, chain_id: int | None, ledger_address: str | None) -> tuple[int, str]:
    """The chain id and ledger address an export names: given, else the index's deployment."""
    if isinstance(source, EventIndex) and source.deployment is not None:
        d = source.deployment
        return chain_id or d.chain_id, (ledger_address or d.ledger)
    return chain_id or 0, ledger_address or "0x" + "00" * 20


def held_vector(lot: LotRec) -> tuple[int, ...]:
    """The element vector a lot's footprint describes: what it holds now, or what it was once used up."""
    return lot.comp[0] if lot.mass > 0 and any(lot.comp[0]) else lot.comp0[0]
