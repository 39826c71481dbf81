"""Triage of a diagnosed unit: reuse, repurpose or recycle, by state of health and the passport's allowed transitions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ledger import errors
from ledger.domain.enums import PASSPORT_MOVES, LotState, PassportStatus
from ledger.domain.ids import hex_of, label_of, origin_country
from ledger.domain.models import SohRecord
from ledger.domain.soh import SohValues
from ledger.figures.source import FROZEN, Report
from ledger.replay.state import LedgerState


class TriageThresholds(BaseModel):
    """SOCE thresholds (fractions of certified energy) for the triage decision."""

    model_config = FROZEN

    reuse: float = Field(default=0.80, ge=0, le=1)
    repurpose: float = Field(default=0.60, ge=0, le=1)


class TriageDecision(Report):
    """The recommended next life of a diagnosed unit and the passport status to record for it."""

    recommendation: Literal["reuse", "repurpose", "recycle"]
    soce: float
    status: PassportStatus | None = Field(description="status to record with set_status (None: no change now)")
    reason: str
    evidence: str | None = None


def triage(
    soh: SohRecord | SohValues | float,
    *,
    thresholds: TriageThresholds | None = None,
    current_status: PassportStatus | int | None = None,
) -> TriageDecision:
    """Recommend reuse, repurpose or recycle from a diagnosis (a SOH record, or SOCE as a fraction).

    A recorded unit's values are Annex XIII point 4, behind a commitment: pass the verified values of its
    latest record (:meth:`ledger.Ledger.soh`, which is None when this party holds no opening: then there is
    nothing to triage on, and no decision is made from nothing).

    SOCE at or above ``thresholds.reuse`` → reuse (status Reused); at or above ``thresholds.repurpose``
    → repurpose (no status now: the second-life operator's ``repurpose`` sets Repurposed); else
    recycle (status Waste). With `current_status`, a status the passport cannot move to is not proposed.
    """
    th = thresholds or TriageThresholds()
    if th.repurpose > th.reuse:
        raise errors.InvalidInput("the repurpose threshold must not exceed the reuse threshold")
    evidence: str | None
    if isinstance(soh, SohRecord):
        soce, evidence = soh.soce_bp / 10_000, soh.document or soh.evidence
    elif isinstance(soh, SohValues):
        soce, evidence = soh.soce_bp / 10_000, soh.document
    else:
        soce, evidence = float(soh), None
    if not 0 <= soce <= 1:
        raise errors.InvalidInput(f"SOCE must lie between 0 and 1, got {soce}")
    if soce >= th.reuse:
        rec, status = "reuse", PassportStatus.REUSED
        reason = f"SOCE {soce:.1%} ≥ {th.reuse:.0%}: fit for reuse in its original application"
    elif soce >= th.repurpose:
        rec, status = "repurpose", None
        reason = f"SOCE {soce:.1%} ≥ {th.repurpose:.0%} and < {th.reuse:.0%}: repurpose (e.g. stationary storage)"
    else:
        rec, status = "recycle", PassportStatus.WASTE
        reason = f"SOCE {soce:.1%} < {th.repurpose:.0%}: end of life, send to recycling"
    if current_status is not None and status is not None:
        cur = PassportStatus(current_status)
        if status == cur:
            status = None
            reason += f" (already {cur.name.lower()})"
        elif status not in PASSPORT_MOVES.get(cur, {}):
            reason += f" (but status {cur.name.lower()} cannot move to {status.name.lower()})"
            status = None
    return TriageDecision(recommendation=rec, soce=soce, status=status, reason=reason, evidence=evidence)


def lot_summary(st: LedgerState, lot_id: bytes) -> dict[str, Any]:
    """Return a plain summary of a replayed lot (for reports)."""
    lot = st.lots[lot_id]
    return {
        "lot_id": hex_of(lot_id),
        "label": label_of(lot_id),
        "material": label_of(lot.material),
        "mass_g": lot.mass0,
        "state": LotState(lot.state).name.lower(),
        "holder": lot.holder,
        "origin_country": origin_country(lot.origin),
    }
