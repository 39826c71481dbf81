"""Carbon over a battery's lives: first life, reuse, repurposing and recycling, per kWh delivered in each."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ledger import errors
from ledger.domain.enums import UNIT_FROM_UNITS, PassportStatus
from ledger.domain.ids import hex_of, id_bytes, label_of
from ledger.figures.footprint import footprint_of
from ledger.figures.source import FROZEN, Report, Source, judged_at, upstream_state
from ledger.replay.soh import OpeningsSource, open_records
from ledger.replay.state import LedgerState


class LifePoint(BaseModel):
    """Embodied carbon per kWh delivered, after one SOH record."""

    model_config = FROZEN

    timestamp: int
    unit_id: str
    delivered_kwh: float
    kg_co2e_per_kwh: float | None


class LineageUnit(BaseModel):
    """A unit whose use counts towards the target's lives."""

    model_config = FROZEN

    unit_id: str
    label: str
    weight: float = Field(description="share of this unit's mass that ended up in the target")
    throughput_kwh: float | None = Field(description="None when an SOH record is not disclosed to this reader")
    life: str


class LifetimeCarbon(Report):
    """Embodied kg CO2e per kWh delivered so far across first life, reuse and second life."""

    unit_id: str
    label: str
    embodied_kg_co2e: float
    delivered_kwh: float | None = Field(description="None when an SOH record of the lineage is not disclosed to this reader")
    kg_co2e_per_kwh_delivered: float | None
    undisclosed_records: int = Field(
        default=0, description="SOH records of the lineage this reader holds no verified opening for (then no figure)"
    )
    lives: dict[str, float] = Field(description="kWh delivered in each life (weighted by mass share)")
    lineage: list[LineageUnit]
    series: list[LifePoint]


_LIFE = {
    PassportStatus.ORIGINAL: "first_life",
    PassportStatus.REUSED: "reuse",
    PassportStatus.REMANUFACTURED: "reuse",
    PassportStatus.REPURPOSED: "second_life",
    PassportStatus.WASTE: "end_of_life",
}


def lifetime_carbon_of(st: LedgerState, unit_id: bytes, *, at: int) -> LifetimeCarbon:
    """Compute carbon over a unit's lives from a replayed state (pure; see :func:`lifetime_carbon`).

    Throughput comes only from opened SOH records (``SohRec.opened``, filled by
    :func:`ledger.replay.soh.open_records`); when any record of the lineage is not opened, no delivered
    energy and no per-kWh figure is given ("not disclosed to this tier"), never one from part of the records.
    """
    if unit_id not in st.units:
        raise errors.InvalidInput(f"{label_of(unit_id)} is not a battery unit")
    embodied = footprint_of(st, unit_id, at=at).kg_co2e
    # Lineage: the unit and, through repurposing, dismantling and remanufacturing, every ancestor unit with the
    # mass share it gave.
    weight: dict[bytes, float] = {unit_id: 1.0}
    cutoff: dict[bytes, int | None] = {unit_id: None}
    order = [unit_id]
    k = 0
    while k < len(order):
        u = order[k]
        k += 1
        lot = st.lots.get(u)
        if lot is None or lot.made_by is None:
            continue
        op = st.ops[lot.made_by]
        if op.kind not in UNIT_FROM_UNITS:
            continue
        out_mass = sum(st.lots[o].mass0 for o in op.outputs if o in st.lots) or 1
        for parent, used in zip(op.inputs, op.used):
            p = st.lots.get(parent)
            if p is None or parent not in st.units or p.mass0 <= 0:
                continue
            share = weight[u] * lot.mass0 / out_mass * used / p.mass0
            if parent not in weight:
                weight[parent] = 0.0
                cutoff[parent] = op.pos
                order.append(parent)
            weight[parent] += share
    records = []
    for u in order:
        limit = cutoff[u]
        for rec in st.units[u].soh:
            if limit is None or rec.pos < limit:
                records.append((rec.timestamp, rec.pos, u, rec))
    records.sort(key=lambda r: (r[0], r[1]))
    undisclosed = sum(1 for *_, rec in records if rec.opened is None)
    if undisclosed:
        return LifetimeCarbon(
            unit_id=hex_of(unit_id),
            label=label_of(unit_id),
            embodied_kg_co2e=embodied,
            delivered_kwh=None,
            kg_co2e_per_kwh_delivered=None,
            undisclosed_records=undisclosed,
            lives={},
            lineage=[
                LineageUnit(unit_id=hex_of(u), label=label_of(u), weight=weight[u], throughput_kwh=None, life=_life_of(st, u, unit_id))
                for u in order
            ],
            series=[],
        )
    latest: dict[bytes, int] = {}
    delivered = 0.0
    lives: dict[str, float] = {}
    per_unit: dict[bytes, float] = {}
    series = []
    for ts, _, u, rec in records:
        assert rec.opened is not None  # every record is opened (checked above)
        thr = rec.opened.throughput_wh
        prev = latest.get(u, 0)
        inc_kwh = max(0, thr - prev) / 1000 * weight[u]
        latest[u] = max(prev, thr)
        life = _LIFE.get(PassportStatus(rec.status), "other")
        lives[life] = lives.get(life, 0.0) + inc_kwh
        per_unit[u] = per_unit.get(u, 0.0) + inc_kwh
        delivered += inc_kwh
        series.append(
            LifePoint(
                timestamp=ts,
                unit_id=hex_of(u),
                delivered_kwh=delivered,
                kg_co2e_per_kwh=embodied / delivered if delivered > 0 else None,
            )
        )
    lineage = [
        LineageUnit(
            unit_id=hex_of(u),
            label=label_of(u),
            weight=weight[u],
            throughput_kwh=per_unit.get(u, 0.0),
            life=_life_of(st, u, unit_id),
        )
        for u in order
    ]
    return LifetimeCarbon(
        unit_id=hex_of(unit_id),
        label=label_of(unit_id),
        embodied_kg_co2e=embodied,
        delivered_kwh=delivered,
        kg_co2e_per_kwh_delivered=embodied / delivered if delivered > 0 else None,
        lives=lives,
        lineage=lineage,
        series=series,
    )


def lifetime_carbon(
    source: Source, unit_id: str | bytes, *, at: int | None = None, openings: OpeningsSource | None = None
) -> LifetimeCarbon:
    """Return embodied kg CO2e per kWh delivered so far, from the cumulative energy throughput of the
    unit's SOH records and, for an ESS, of its parents before repurposing (weighted by the mass
    share each gave, as the ESS inherits that share of their footprint); with the series over time.

    The throughput is Annex XIII point 4, behind each record's commitment: `openings` (a vault, or a
    Ledger) opens the records, each verified against its root; without an opening for every record of the
    lineage, the delivered energy and the per-kWh figure are None (``undisclosed_records`` says how many)."""
    uid = id_bytes(unit_id)
    st = upstream_state(source, uid)
    open_records(st, openings)
    return lifetime_carbon_of(st, uid, at=judged_at(source, st, at))


def _life_of(st: LedgerState, u: bytes, target: bytes) -> str:
    if st.units[u].status == PassportStatus.REPURPOSED and u == target:
        return "second_life"
    return _LIFE.get(PassportStatus(st.units[u].soh[-1].status), "other") if st.units[u].soh else "unused"
