"""Recycled content (Art. 8): the recycled share of Co, Li, Ni and Pb a lot holds, against the Art. 8(2) targets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ledger import errors
from ledger.domain.composition import ELEMENTS
from ledger.domain.enums import LotKind
from ledger.domain.ids import hex_of, id_bytes, label_of
from ledger.figures.footprint import use_factors
from ledger.figures.source import FROZEN, Report, Source, upstream_state
from ledger.replay.state import LedgerState

#: EU Battery Regulation Art. 8(2) minimum recycled content, share of the element in active material.
ART8_TARGETS: dict[int, dict[str, float]] = {2031: {"Co": 0.16, "Li": 0.06, "Ni": 0.06}, 2036: {"Co": 0.26, "Li": 0.12, "Ni": 0.15}}


class ElementShare(BaseModel):
    """Recycled content of one element."""

    model_config = FROZEN

    element: str
    total_g: int
    pre_consumer_g: int
    post_consumer_g: int
    pre_consumer_share: float | None
    post_consumer_share: float | None
    recycled_share: float | None


class TargetCheck(BaseModel):
    """One Art. 8 minimum recycled-content target against the lot's share."""

    model_config = FROZEN

    element: str
    year: int
    target: float
    share: float | None
    met: bool | None = Field(description="None when the lot holds none of the element")


class RecycledContent(Report):
    """Pre- and post-consumer recycled shares per element, and the Art. 8 targets."""

    lot_id: str
    label: str
    kind: Literal["material", "unit"]
    elements: list[ElementShare]
    targets: list[TargetCheck]
    meets: dict[int, bool | None]
    assurance: str = Field(
        description="verified: every recycled gram comes from recycling on the ledger or from a lot minted with an "
        "accredited attestation; self-declared: some rests on a minter's word alone; n/a: no recycled content"
    )
    declared_at_mint: list[str] = Field(description="minted lots whose declared recycled grams reach this lot")


def recycled_content_of(st: LedgerState, lot_id: bytes) -> RecycledContent:
    """Compute recycled content from a replayed state (pure; see :func:`recycled_content`)."""
    lot = st.lots.get(lot_id)
    if lot is None:
        raise errors.InvalidInput(f"no lot {label_of(lot_id)} in the replayed ledger")
    total, pre, post = lot.comp if lot.mass > 0 and any(lot.comp[0]) else lot.comp0
    shares = []
    by_el: dict[str, float | None] = {}
    for e, t, p, q in zip(ELEMENTS, total, pre, post):
        rs = (p + q) / t if t else None
        by_el[e] = rs
        shares.append(
            ElementShare(
                element=e,
                total_g=t,
                pre_consumer_g=p,
                post_consumer_g=q,
                pre_consumer_share=p / t if t else None,
                post_consumer_share=q / t if t else None,
                recycled_share=rs,
            )
        )
    targets = []
    meets: dict[int, bool | None] = {}
    for year, goals in ART8_TARGETS.items():
        results = []
        for e, goal in goals.items():
            share = by_el[e]
            met = None if share is None else share + 1e-12 >= goal
            targets.append(TargetCheck(element=e, year=year, target=goal, share=share, met=met))
            results.append(met)
        known = [r for r in results if r is not None]
        meets[year] = None if not known else all(known)
    declared = [
        x for x in use_factors(st, lot_id) if st.lots[x].made_by is None and (any(st.lots[x].comp0[1]) or any(st.lots[x].comp0[2]))
    ]
    if declared:
        assurance = "verified" if all(_mint_verified(st, x) for x in declared) else "self-declared"
    else:
        assurance = "verified" if any(p + q for p, q in zip(pre, post)) else "n/a"
    return RecycledContent(
        lot_id=hex_of(lot_id),
        label=label_of(lot_id),
        kind="unit" if lot.kind == LotKind.UNIT else "material",
        elements=shares,
        targets=targets,
        meets=meets,
        assurance=assurance,
        declared_at_mint=sorted(hex_of(x) for x in declared),
    )


def _mint_verified(st: LedgerState, lot_id: bytes) -> bool:
    """Whether a minted lot's record (its composition commitment, recycled grams included) carries an
    attestation of an accredited verifier that was not revoked."""
    return any(not a.self_declared and a.revoked is None for a in st.attestations_of(lot_id))


def recycled_content(source: Source, lot_id: str | bytes) -> RecycledContent:
    """Return pre- and post-consumer recycled shares per element of a lot or unit (from its mass-balance
    composition) and how they compare with the EU Art. 8 targets for 2031 and 2036."""
    lid = id_bytes(lot_id)
    return recycled_content_of(upstream_state(source, lid), lid)
