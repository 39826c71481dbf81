"""The authority's SOH audit: open every state-of-health record, verify it, re-run the former contract bounds.

The contract holds only each record's salted root and the recorder's claim of use (Annex XIII point 4 is not
for the public, docs/confidentiality.md), so it can no longer refuse an absurd record: the recorder answers
for its values and this check, run with the authority tier's vault (every opening is wrapped to the
authority vault key of the deployment record), catches a cheater at audit time. In event order per unit:

- ``soh-withheld``: the authority holds no opening of a record (the recorder kept it back);
- ``soh-opening-invalid``: the opening it holds does not verify against the record's root and unit;
- ``soh-out-of-bounds``: the opened values break the physical bounds the contract used to check
  (:func:`ledger.domain.soh.soh_problems`: SOCE at most 100 %, capacity at most the rating, throughput at most
  (cycles + 1) x rating x 2, counters never backwards, at most 4 cycles a day since the previous record plus
  one, a correction only lowering its record's counters);
- ``soh-used-mismatch``: the clear ``used`` bit is not ``throughputWh > 0`` of the opened record (a recycler
  claiming use of a never-used unit to make its recycled content post-consumer).

Every finding names the recorder.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.domain.identity import open_soh, soh_vault_id
from ledger.domain.soh import SohValues, soh_problems, soh_values
from ledger.errors import DisclosureError
from ledger.replay.records import SohRec, UnitRec
from ledger.replay.soh import OpeningsSource
from ledger.replay.state import LedgerState

Flagger = Callable[[str, bytes, str, "int | None"], None]


def check_soh(st: LedgerState, source: OpeningsSource, flag: Flagger) -> int:
    """Open and check every SOH record of `st` with the authority's `source`; flag findings; return the records opened."""
    opened = 0
    for uid, unit in st.units.items():
        opened += _check_unit(uid, unit, source, flag)
    return opened


def _history(top: SohRec) -> list[SohRec]:
    """A record and the corrections that superseded it, oldest first (the replay keeps the newest on top)."""
    chain: list[SohRec] = []
    r: SohRec | None = top
    while r is not None:
        chain.append(r)
        r = r.corrected
    return chain[::-1]


def _check_unit(uid: bytes, unit: UnitRec, source: OpeningsSource, flag: Flagger) -> int:
    opened = 0
    # The record in effect before the next one (None: not known, after a finding), and the time the
    # contract counted the cycles from (the unit's creation until its first record).
    last: tuple[int, int] | None = (0, 0)
    since = unit.timestamp
    for top in unit.soh:
        chain = _history(top)
        values: list[SohValues | None] = []
        for rec in chain:
            v = _open(uid, rec, source, flag)
            values.append(v)
            if v is not None:
                opened += 1
                if rec.used != (v.throughput_wh > 0):
                    flag(
                        "soh-used-mismatch",
                        uid,
                        f"SOH record 0x{rec.root.hex()[:12]}… by {rec.recorder} claims the unit {'was' if rec.used else 'was not'} "
                        f"used, but its opened throughput is {v.throughput_wh} Wh",
                        rec.block,
                    )
        first = values[0]
        if first is not None:
            problems = soh_problems(
                first.soce_bp,
                first.capacity_wh,
                first.cycles,
                first.throughput_wh,
                rated_wh=unit.rated_wh,
                last=last,
                elapsed=chain[0].timestamp - since if last is not None else None,
            )
            if last is None:  # the record before is unknown: only its own bounds can be checked
                problems = [p for p in problems if not p.startswith("counters run backwards")]
            _bounds(uid, chain[0], problems, flag)
        for k in range(1, len(chain)):
            v, before = values[k], values[k - 1]
            if v is None:
                continue
            _bounds(
                uid,
                chain[k],
                soh_problems(
                    v.soce_bp,
                    v.capacity_wh,
                    v.cycles,
                    v.throughput_wh,
                    rated_wh=unit.rated_wh,
                    last=(before.cycles, before.throughput_wh) if before is not None else None,
                    correction=True,
                ),
                flag,
            )
        now = values[-1]
        last = (now.cycles, now.throughput_wh) if now is not None else None
        since = chain[0].timestamp
    return opened


def _open(uid: bytes, rec: SohRec, source: OpeningsSource, flag: Flagger) -> SohValues | None:
    where = f"SOH record 0x{rec.root.hex()[:12]}… by {rec.recorder}"
    try:
        openings = source.openings(soh_vault_id(rec.root))
    except DisclosureError as e:
        flag("soh-withheld", uid, f"{where}: no opening the authority can read ({e})", rec.block)
        return None
    try:
        return soh_values(open_soh(rec.root, openings, uid))
    except DisclosureError as e:
        flag("soh-opening-invalid", uid, f"{where}: {e}", rec.block)
        return None


def _bounds(uid: bytes, rec: SohRec, problems: list[str], flag: Flagger) -> None:
    for p in problems:
        flag("soh-out-of-bounds", uid, f"SOH record 0x{rec.root.hex()[:12]}… by {rec.recorder}: {p}", rec.block)
