"""SOH values of replayed records, read only through openings verified against their on-chain roots.

An SOH record on-chain is a salted root and one bit (``used``); its values (Annex XIII point 4) live in the
vaults of the recorder, the holder and the authority tier (docs/confidentiality.md). Every reader of SOH
values (lifetime figures, triage, the passport, the service, the CLI) gets them here: the opening is looked
up by the record's root, verified against that root and the unit (a vault gives confidentiality, not
authenticity), and only then believed. A record whose opening is missing or does not verify stays
``opened is None``: "not disclosed to this tier", never a figure computed from nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from ledger.domain.disclosure import Openings
from ledger.domain.identity import open_soh, soh_vault_id
from ledger.domain.soh import SohValues, believable, soh_values
from ledger.errors import DisclosureError
from ledger.replay.records import SohRec
from ledger.replay.state import LedgerState

log = logging.getLogger("ledger")

#: What a reader shows in place of an SOH value it holds no verified opening for.
NOT_DISCLOSED = "not disclosed to this tier"


class OpeningsSource(Protocol):
    """Where openings come from: a :class:`ledger.local.vault.Vault` or a :class:`ledger.Ledger` (its memory, then its vault)."""

    def openings(self, record_id: str) -> Openings:
        """Return a record's openings; raise :class:`DisclosureError` when this party holds none."""
        ...


def open_record(unit_id: bytes, rec: SohRec, source: OpeningsSource, *, rated_wh: int | None = None) -> SohValues:
    """Open one record with `source` and verify it against its root and unit; return its values.

    Raises :class:`DisclosureError` when `source` holds no opening for it (withheld, or not granted) or the
    opening does not verify (another record's, or altered); with `rated_wh`, also when the values break a
    record's own physical bounds (:func:`ledger.domain.soh.believable`).
    """
    openings = source.openings(soh_vault_id(rec.root))
    values = soh_values(open_soh(rec.root, openings, unit_id))
    if rated_wh is not None:
        believable(values, rated_wh)
    return values


def open_records(st: LedgerState, source: OpeningsSource | None, units: Iterable[bytes] | None = None) -> int:
    """Fill ``opened`` of every SOH record (and every record a correction superseded) of `units` (default: all)
    that `source` opens and that verifies; return how many records are opened.

    Idempotent: a record opened already is kept. Without a source nothing is opened. An opening that does not
    verify is logged and left closed: it may be a redeployed chain's, or planted in a shared vault.
    """
    if source is None:
        return 0
    opened = 0
    for uid in st.units if units is None else units:
        unit = st.units.get(uid)
        if unit is None:
            continue
        for top in unit.soh:
            rec: SohRec | None = top
            while rec is not None:
                if rec.opened is None:
                    try:
                        rec.opened = open_record(uid, rec, source, rated_wh=unit.rated_wh)
                    except DisclosureError as e:
                        if "not in the vault" not in str(e) and "no openings" not in str(e):
                            log.warning("SOH record 0x%s of unit 0x%s not opened: %s", rec.root.hex(), uid.hex(), e)
                if rec.opened is not None:
                    opened += 1
                rec = rec.corrected
    return opened
