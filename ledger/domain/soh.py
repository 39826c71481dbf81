"""State-of-health values and their physical bounds: one source for the client's check and the audit's.

The contract used to refuse an SOH record out of these bounds; the values are now behind a salted commitment
(Annex XIII point 4, docs/confidentiality.md), so the honest client refuses them before committing
(:meth:`ledger.Ledger.record_soh`) and the authority's audit re-checks every opened record
(:mod:`ledger.auditor.soh`) with the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.errors import DisclosureError

#: State of certified energy at most 100 %.
MAX_SOCE_BP = 10_000
#: Full cycles a day at most (a fast-charged bus does about 2), plus one for the cycle under way.
MAX_CYCLES_PER_DAY = 4
_DAY = 86_400


@dataclass(frozen=True, slots=True)
class SohValues:
    """The values of one SOH record, from an opening verified against the record's on-chain root."""

    soce_bp: int  # state of certified energy, basis points
    capacity_wh: int  # remaining energy capacity, Wh
    cycles: int  # full equivalent cycles so far
    throughput_wh: int  # cumulative energy throughput so far, Wh
    document: str | None  # the diagnosis report's content hash (0x-hex), when one was committed


def soh_values(fields: dict[str, Any]) -> SohValues:
    """Build :class:`SohValues` from the verified fields of a whole SOH record (:func:`ledger.domain.identity.open_soh`)."""
    doc = fields["document"]
    return SohValues(
        soce_bp=int(fields["soceBp"]),
        capacity_wh=int(fields["capacityWh"]),
        cycles=int(fields["cycles"]),
        throughput_wh=int(fields["throughputWh"]),
        document=str(doc) if doc is not None else None,
    )


def soh_problems(
    soce_bp: int,
    capacity_wh: int,
    cycles: int,
    throughput_wh: int,
    *,
    rated_wh: int,
    last: tuple[int, int] | None,
    elapsed: int | None = None,
    correction: bool = False,
) -> list[str]:
    """Return what breaks the physical bounds of an SOH record (empty: none), in the contract's former rules.

    State of certified energy at most 100 %; remaining capacity at most the rating; throughput at most
    (cycles + 1) x rated x 2 (every full cycle charges and discharges the rated energy once; the + 1 covers
    the cycle under way). `last` is (cycles, throughput) of the record before (for a correction: of the record
    it supersedes), None for a unit's first record. A new record runs no counter backwards and, when
    `elapsed` (seconds since the previous record, or since the unit was made) is given, adds at most 4 full
    cycles a day plus one; a correction may only lower its record's counters.
    """
    out = []
    if soce_bp > MAX_SOCE_BP:
        out.append(f"state of certified energy {soce_bp / 100:g} % is above 100 %")
    if capacity_wh > rated_wh:
        out.append(f"remaining capacity {capacity_wh} Wh is above the rating {rated_wh} Wh")
    if throughput_wh > (cycles + 1) * rated_wh * 2:
        out.append(f"throughput {throughput_wh} Wh is beyond (cycles + 1) x rating x 2 = {(cycles + 1) * rated_wh * 2} Wh")
    before_cycles, before_thr = last if last is not None else (0, 0)
    if correction:
        if last is not None and (cycles > before_cycles or throughput_wh > before_thr):
            out.append(
                f"a correction raises the counters of the record it corrects ({before_cycles} -> {cycles} cycles, "
                f"{before_thr} -> {throughput_wh} Wh): raising them is what a new record is for"
            )
        return out
    if cycles < before_cycles or throughput_wh < before_thr:
        out.append(f"counters run backwards ({before_cycles} -> {cycles} cycles, {before_thr} -> {throughput_wh} Wh)")
    if elapsed is not None and cycles > before_cycles + MAX_CYCLES_PER_DAY * max(0, elapsed) // _DAY + 1:
        out.append(
            f"{cycles - before_cycles} cycles in {max(0, elapsed) / _DAY:.1f} days: more than {MAX_CYCLES_PER_DAY} a day plus one"
        )
    return out


def believable(values: SohValues, rated_wh: int) -> None:
    """Raise :class:`DisclosureError` when opened values break a record's own physical bounds.

    The root binds the values to the record, not to physics: the contract no longer sees them, so a recorder
    past the honest client can commit SOCE 120 % (tests/integration/test_soh_commitments.py). A reader never
    shows such a record as the battery's state; the bounds between records are the audit's
    (:mod:`ledger.auditor.soh`).
    """
    problems = soh_problems(values.soce_bp, values.capacity_wh, values.cycles, values.throughput_wh, rated_wh=rated_wh, last=None)
    if problems:
        raise DisclosureError(f"the opened values are not believable: {problems[0]}")
