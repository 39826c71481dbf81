"""Origin mix: which mines (country and site) the elements a lot holds came from, recycled material apart."""

from __future__ import annotations

import heapq

from pydantic import BaseModel, Field

from ledger import errors
from ledger.domain.composition import ELEMENTS
from ledger.domain.ids import hex_of, id_bytes, label_of, origin_country
from ledger.figures.footprint import cut_off
from ledger.figures.source import FROZEN, Report, Source, upstream_state
from ledger.replay.state import LedgerState


class MineShare(BaseModel):
    """Element mass of the target attributed to one mine (minted) lot."""

    model_config = FROZEN

    lot_id: str
    label: str
    country: str
    grams: dict[str, float]


class Concentration(BaseModel):
    """How concentrated the mined supply of one element is in few countries (issue 19)."""

    model_config = FROZEN

    hhi: float = Field(description="Herfindahl-Hirschman index over the countries of the mined part, 0-10,000")
    countries: dict[str, float] = Field(description="country → share of the mined part, largest first")
    top_country: str
    top_share: float
    unknown_share: float = Field(description="share of the mined part with no declared country (in the index as the largest's)")
    recycled_share: float = Field(description="share of the element that came out of recycling (outside the index)")


class OriginMix(Report):
    """Country-of-origin mix per element of a lot or unit, traced to the minted lots by mass share."""

    lot_id: str
    label: str
    grams: dict[str, dict[str, float]] = Field(description="element → country → grams")
    shares: dict[str, dict[str, float]] = Field(description="element → country → share of the element")
    mines: list[MineShare]
    concentration: dict[str, Concentration] = Field(
        default_factory=dict, description="element → supply concentration of its mined part (no entry: all recycled)"
    )


RECYCLED_ORIGIN = "recycled"


UNKNOWN_ORIGIN = "unknown"


def concentration_of(by_country: dict[str, float]) -> Concentration | None:
    """The supply concentration of one element from its grams by origin (:attr:`OriginMix.grams`).

    The Herfindahl-Hirschman index is the sum of the squared percentage shares of the countries the mined
    part came from (0-10,000, as competition authorities and the EU's critical raw materials assessment
    use it; above 2,500 is highly concentrated). Recycled material has no mining country and is left out
    (its share is given beside). Material of no declared origin is counted in the largest country's share,
    the worst case: the index is then an upper bound, never flattered by hiding where material came from.
    None when nothing was mined.
    """
    recycled = by_country.get(RECYCLED_ORIGIN, 0.0)
    total = sum(by_country.values())
    mined = {c: g for c, g in by_country.items() if c != RECYCLED_ORIGIN and g > 0}
    mined_total = sum(mined.values())
    if mined_total <= 0:
        return None
    shares = dict(sorted(((c, g / mined_total) for c, g in mined.items()), key=lambda kv: (-kv[1], kv[0])))
    top = next(iter(shares))
    unknown = shares.get(UNKNOWN_ORIGIN, 0.0)
    known = [v for c, v in shares.items() if c != UNKNOWN_ORIGIN]
    if known:
        known[0] += unknown  # shares are largest first: the worst case puts the unknown part there
    else:
        known = [unknown]
    return Concentration(
        hhi=sum((100 * v) ** 2 for v in known),
        countries=shares,
        top_country=top,
        top_share=shares[top],
        unknown_share=unknown,
        recycled_share=recycled / total if total else 0.0,
    )


def origin_mix_of(st: LedgerState, lot_id: bytes, *, through_recycling: bool = False) -> OriginMix:
    """Compute the origin mix from a replayed state (pure; see :func:`origin_mix`)."""
    lots = st.lots
    target = lots.get(lot_id)
    if target is None:
        raise errors.InvalidInput(f"no lot {label_of(lot_id)} in the replayed ledger")
    n = len(ELEMENTS)
    weight: dict[bytes, list[float]] = {lot_id: [float(g) for g in target.comp0[0]]}
    heap = [(-target.pos, lot_id)]
    grams: dict[str, dict[str, float]] = {e: {} for e in ELEMENTS}
    mines: dict[bytes, list[float]] = {}

    def credit(country: str, w: list[float], mine: bytes | None) -> None:
        for k, e in enumerate(ELEMENTS):
            if w[k]:
                grams[e][country] = grams[e].get(country, 0.0) + w[k]
        if mine is not None:
            acc = mines.setdefault(mine, [0.0] * n)
            for k in range(n):
                acc[k] += w[k]

    while heap:
        _, x = heapq.heappop(heap)
        lot = lots[x]
        w = weight[x]
        if lot.made_by is None:
            credit(origin_country(lot.origin) or UNKNOWN_ORIGIN, w, x)
            continue
        op = st.ops[lot.made_by]
        if not through_recycling and any(cut_off(st, op, i) for i in op.inputs):
            credit(RECYCLED_ORIGIN, w, None)
            continue
        # Every output of an operation has the same element mix: the inputs' used element masses.
        used_tot = [sum(c[0][k] for c in op.used_comps) for k in range(n)]
        for i, comp in zip(op.inputs, op.used_comps):
            src = lots.get(i)
            if src is None:
                continue
            add = [w[k] * comp[0][k] / used_tot[k] if used_tot[k] else 0.0 for k in range(n)]
            if not any(add):
                continue
            if i not in weight:
                weight[i] = [0.0] * n
                heapq.heappush(heap, (-src.pos, i))
            acc = weight[i]
            for k in range(n):
                acc[k] += add[k]
    shares = {}
    for e, by_country in grams.items():
        tot = sum(by_country.values())
        shares[e] = {c: g / tot for c, g in sorted(by_country.items())} if tot else {}
    mine_list = [
        MineShare(
            lot_id=hex_of(m),
            label=label_of(m),
            country=origin_country(lots[m].origin) or UNKNOWN_ORIGIN,
            grams={e: g for e, g in zip(ELEMENTS, w) if g},
        )
        for m, w in sorted(mines.items(), key=lambda kv: lots[kv[0]].pos)
    ]
    concentration = {e: c for e, v in grams.items() if v and (c := concentration_of(v)) is not None}
    return OriginMix(
        lot_id=hex_of(lot_id),
        label=label_of(lot_id),
        grams={e: dict(sorted(v.items())) for e, v in grams.items() if v},
        shares={e: v for e, v in shares.items() if v},
        mines=mine_list,
        concentration=concentration,
    )


def origin_mix(source: Source, lot_id: str | bytes, *, through_recycling: bool = False) -> OriginMix:
    """Return the country-of-origin mix per element of a lot or unit, tracing element mass back
    through every operation by mass share to the minted (mine) lots. Material that came out of
    recycling counts as "recycled" unless `through_recycling` follows it back to its first mines."""
    lid = id_bytes(lot_id)
    st = upstream_state(source, lid)
    return origin_mix_of(st, lid, through_recycling=through_recycling)
