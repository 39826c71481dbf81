"""Provenance and derived figures: trace, cradle-to-gate footprint, recycled content, origin mix,
carbon over a battery's lives, and triage of a diagnosed unit.

Every figure is a pure function of the ledger as replayed from events (:class:`ledger._state.LedgerState`);
the public functions accept either such a state or an :class:`ledger.index.EventIndex`, from which
they replay only the subgraph they need.

Allocation (DESIGN §4): an operation with inputs consuming ``m_i`` grams each and outputs of mass
``M_o`` passes ``Σ fpg(i)·m_i`` (``fpg``: an input's footprint per gram) to its outputs by mass share
``M_o / Σ M``; each lot adds its own attested step emissions on top. Recycled input is cut off: the
inputs of a Recycle operation pass nothing on, so recovered lots carry only the recycling burden.
"""

from __future__ import annotations

import heapq
import json
from typing import Any, Literal, NamedTuple, Union

from pydantic import BaseModel, ConfigDict, Field

from ledger import errors
from ledger._state import AttRec, LedgerState, LotRec
from ledger.index import EventIndex
from ledger.models import ELEMENTS, LotKind, LotState, OpKind, PassportStatus, SohRecord, label_of, origin_country, to_bytes32

Source = Union[EventIndex, LedgerState]

#: Life-cycle stages of EU Battery Regulation Art. 7, in attestation order.
STAGES: tuple[str, ...] = ("raw_material_acquisition", "main_production", "distribution", "end_of_life")
#: Assurance levels from weakest to strongest. "n/a" (splits and merges need no attestation) ranks last.
ASSURANCE_ORDER: tuple[str, ...] = ("revoked", "expired", "missing", "self-declared", "verified", "n/a")
#: EU Battery Regulation Art. 8(2) minimum recycled content, share of the element in active material.
ART8_TARGETS: dict[int, dict[str, float]] = {2031: {"Co": 0.16, "Li": 0.06, "Ni": 0.06}, 2036: {"Co": 0.26, "Li": 0.12, "Ni": 0.15}}
_NO_ATTESTATION_NEEDED = (OpKind.SPLIT, OpKind.MERGE)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _b32(value: str | bytes) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes.fromhex(to_bytes32(value)[2:])


def _frozen() -> ConfigDict:
    return ConfigDict(frozen=True)


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_json(self, indent: int | None = 2) -> str:
        """Return the report as JSON."""
        return self.model_dump_json(indent=indent)


# ------------------------------------------------------------------------------------ sources


def _upstream_state(source: Source, lot_id: bytes) -> LedgerState:
    if isinstance(source, LedgerState):
        if lot_id not in source.lots:
            raise errors.InvalidInput(f"no lot {label_of(lot_id)} in the replayed ledger")
        return source
    if not source.has_lot(lot_id):
        raise errors.InvalidInput(f"no lot {label_of(lot_id)} in the index (sync it first?)")
    return source.substate(source.upstream_lots(lot_id))


def _now(source: Source, st: LedgerState, at: int | None) -> int:
    if at is not None:
        return at
    if isinstance(source, EventIndex):
        return source.chain_timestamp or st.last_timestamp
    return st.last_timestamp


# -------------------------------------------------------------------------------------- trace


class TraceLot(NamedTuple):
    """A lot or unit in a trace. ``made_by`` is the id of the operation that created it (None: minted)."""

    id: str
    label: str
    material: str
    mass_g: int
    kind: str  # "material" or "unit"
    origin_country: str | None
    creator: str
    block: int
    state: str  # "active", "consumed" or "frozen"
    role: str  # "root", "upstream" or "downstream"
    made_by: str | None


class TraceOp(NamedTuple):
    """An operation linking input lots (id, grams used; 0 = the whole lot) to output lots."""

    id: str
    kind: str
    operator: str
    block: int
    inputs: list[tuple[str, int]]
    outputs: list[str]


class Trace:
    """The material graph around one lot: upstream to the mines, downstream to units and recovered lots.

    Lots and operations are light named tuples (a trace may hold tens of thousands of them);
    :meth:`to_dict`, :meth:`to_json`, :meth:`to_dot` and :meth:`to_html` render it.
    """

    __slots__ = ("root", "direction", "lots", "ops")

    def __init__(self, root: str, direction: str, lots: list[TraceLot], ops: list[TraceOp]) -> None:
        self.root = root
        self.direction = direction
        self.lots = lots
        self.ops = ops

    def __repr__(self) -> str:
        return f"Trace({label_of(self.root)}, {self.direction}, {len(self.lots)} lots, {len(self.ops)} ops)"

    @property
    def mines(self) -> list[TraceLot]:
        """Minted lots upstream (no creating operation)."""
        return [lot for lot in self.lots if lot.made_by is None and lot.role != "downstream"]

    @property
    def units(self) -> list[TraceLot]:
        """Battery units in the trace."""
        return [lot for lot in self.lots if lot.kind == "unit"]

    def to_dict(self) -> dict[str, Any]:
        """Return the trace as JSON-ready data."""
        return {
            "root": self.root, "direction": self.direction,
            "lots": [lot._asdict() for lot in self.lots],
            "ops": [{**op._asdict(), "inputs": [{"lot": i, "used_g": u} for i, u in op.inputs]} for op in self.ops],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Return the trace as JSON."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_dot(self) -> str:
        """Return the graph in Graphviz DOT (lots as boxes, operations as ellipses)."""
        from ledger._html import trace_dot

        return trace_dot(self)

    def to_html(self) -> str:
        """Return a self-contained HTML page drawing the graph as inline SVG (no network needed)."""
        from ledger._html import trace_html

        return trace_html(self)


_OP_NAMES = {k.value: k.name.lower() for k in OpKind}


def _label(raw: bytes) -> str:
    # label_of's fast path for the common case: a short printable ASCII label padded with zeros.
    text = raw.rstrip(b"\0")
    if text and text.isascii() and b"\0" not in text:
        t = text.decode()
        if t.isprintable():
            return t
    return label_of(raw)


def _op_id(op: int) -> str:
    return f"op-{op >> 24}-{op & 0xFFFFFF}"


def trace(index: EventIndex, lot_id: str | bytes, *, direction: Literal["up", "down", "both"] = "both") -> Trace:
    """Trace a lot or unit upstream (to the mines, every step) and/or downstream (to every unit, ESS
    and recovered lot) from the index's material graph."""
    root = _b32(lot_id)
    if not index.has_lot(root):
        raise errors.InvalidInput(f"no lot {label_of(root)} in the index (sync it first?)")
    g = index.graph()
    role: dict[bytes, str] = {}
    if direction in ("up", "both"):
        role = dict.fromkeys(g.upstream(root), "upstream")
    if direction in ("down", "both"):
        role.update(dict.fromkeys(g.downstream(root), "downstream"))
    role[root] = "root"
    made_by, consumers, inputs, outputs = g.made_by, g.consumers, g.inputs, g.outputs
    op_ids = {made_by[i] for i in role if i in made_by and not (i == root and direction == "down")}
    frozen = index.frozen_lots()
    ops = []
    if op_ids:
        kinds = dict(
            index.conn.execute(
                "SELECT id, topics FROM events WHERE id IN (" + ",".join(str(int(o)) for o in op_ids) + ")"
            ).fetchall()
        )
        for op in sorted(op_ids):
            topics = kinds.get(op, b"")
            kind = int.from_bytes(topics[32:64], "big") if len(topics) >= 96 else -1
            ops.append(
                TraceOp(
                    id=_op_id(op), kind=_OP_NAMES.get(kind, str(kind)),
                    operator="0x" + topics[76:96].hex() if len(topics) >= 96 else "", block=op >> 24,
                    inputs=[("0x" + lot.hex(), used) for lot, used in inputs.get(op, ()) if lot in role],
                    outputs=["0x" + lot.hex() for lot in outputs.get(op, ()) if lot in role],
                )
            )
    lots = []
    labels: dict[bytes, str] = {}
    meta = g.lots
    order = sorted((meta[x][5], x) for x in role if x in meta)
    for event, lot_id_ in order:
        material, mass, origin, holder, kind, _ = meta[lot_id_]
        mat = labels.get(material)
        if mat is None:
            mat = labels[material] = label_of(material)
        country = labels.get(origin)
        if country is None:
            country = labels[origin] = origin_country(origin) or ""
        if lot_id_ in frozen:
            state = "frozen"
        else:
            state = "active"
            for _, used in consumers.get(lot_id_, ()):
                if used == 0:
                    state = "consumed"
                    break
        mb = made_by.get(lot_id_)
        lots.append(
            TraceLot(
                "0x" + lot_id_.hex(), _label(lot_id_), mat, mass, "unit" if kind == 1 else "material", country or None,
                holder, event >> 24, state, role[lot_id_], None if mb is None else f"op-{mb >> 24}-{mb & 0xFFFFFF}",
            )
        )
    return Trace(_hex(root), direction, lots, ops)


# ---------------------------------------------------------------------------------- footprint


class AttestationRef(BaseModel):
    """One attestation behind a lot's own step emissions, and whether it counts."""

    model_config = _frozen()

    uid: str
    signer: str
    stage: str
    kg_co2e: float
    status: Literal["verified", "self-declared", "expired", "revoked", "not-yet-valid"]
    valid_until: int
    methodology: str


class Contribution(BaseModel):
    """What one upstream lot's own step emissions add to the footprint."""

    model_config = _frozen()

    lot_id: str
    label: str
    material: str
    share: float = Field(description="fraction of this lot's own emissions that reaches the target")
    own_kg: float = Field(description="the lot's own counted step emissions, kg CO2e")
    kg_co2e: float = Field(description="share × own_kg")
    stages: dict[str, float]
    assurance: str
    excluded_kg: float = Field(description="emissions of revoked, expired or not-yet-valid attestations, × share")
    attestations: list[AttestationRef]


class PerKwh(BaseModel):
    """A battery unit's footprint per kWh of rated energy, split into Art. 7 stages."""

    model_config = _frozen()

    rated_kwh: float
    kg_co2e_per_kwh: float
    stages: dict[str, float]


class CarbonCost(BaseModel):
    """The footprint priced at a carbon price."""

    model_config = _frozen()

    price_per_tonne: float
    cost: float
    cost_per_kwh: float | None = None


class Footprint(_Report):
    """Cradle-to-gate footprint of a lot or unit, with its weakest links visible."""

    lot_id: str
    label: str
    material: str
    mass_g: int
    kind: Literal["material", "unit"]
    at: int = Field(description="unix time at which attestation validity was judged")
    kg_co2e: float
    kg_co2e_per_kg: float
    stages: dict[str, float]
    per_kwh: PerKwh | None = None
    assurance: str = Field(description="the weakest assurance level among contributing lots")
    weakest: list[str] = Field(description="lots at the weakest level")
    excluded_kg: float
    contributions: list[Contribution]
    carbon_cost: CarbonCost | None = None

    def by_assurance(self) -> dict[str, float]:
        """Return kg CO2e per assurance level (how much rests on what)."""
        out: dict[str, float] = {}
        for c in self.contributions:
            out[c.assurance] = out.get(c.assurance, 0.0) + c.kg_co2e
        return out


def attestation_status(att: AttRec, at: int) -> str:
    """Judge one attestation at unix time `at`: verified, self-declared, expired, revoked or not-yet-valid."""
    if att.revoked is not None and att.revoked[1] <= at:
        return "revoked"
    if at > att.valid_until:
        return "expired"
    if at < att.issued_at:
        return "not-yet-valid"
    return "self-declared" if att.self_declared else "verified"


def own_emissions(st: LedgerState, lot: LotRec, at: int) -> tuple[list[float], str, float, list[AttestationRef]]:
    """Return a lot's own counted step emissions per stage (grams), its assurance level, the grams
    excluded (revoked, expired, not yet valid) and the attestation references."""
    grams = [0.0] * len(STAGES)
    refs: list[AttestationRef] = []
    excluded = 0.0
    counted: list[str] = []
    dropped: list[str] = []
    for att in st.attestations_of(lot.lot_id):
        status = attestation_status(att, at)
        refs.append(
            AttestationRef.model_construct(
                uid=_hex(att.uid), signer=att.signer, stage=STAGES[att.stage] if att.stage < len(STAGES) else str(att.stage),
                kg_co2e=att.emissions_grams / 1000, status=status, valid_until=att.valid_until,
                methodology=label_of(att.methodology) if any(att.methodology) else "",
            )
        )
        if status in ("verified", "self-declared"):
            if att.stage < len(STAGES):
                grams[att.stage] += att.emissions_grams
            counted.append(status)
        else:
            excluded += att.emissions_grams
            dropped.append(status)
    if counted:
        level = min(counted, key=ASSURANCE_ORDER.index)
    elif dropped:
        level = "expired" if "expired" in dropped or "not-yet-valid" in dropped else "revoked"
    elif lot.made_by is not None and st.ops[lot.made_by].kind in _NO_ATTESTATION_NEEDED:
        level = "n/a"
    else:
        level = "missing"
    return grams, level, excluded, refs


def allocation_factors(st: LedgerState, target: bytes) -> dict[bytes, float]:
    """Return, for every lot upstream of `target`, the fraction of its footprint that reaches `target`.

    Reverse propagation in descending creation order (a topological order): an output passes its
    factor × its mass share among the operation's outputs × (grams used / the input's mass at
    creation) to each input. Recycle operations pass nothing (cut-off).
    """
    lots = st.lots
    factors = {target: 1.0}
    heap = [(-lots[target].pos, target)]
    while heap:
        _, x = heapq.heappop(heap)
        lot = lots[x]
        if lot.made_by is None:
            continue
        op = st.ops[lot.made_by]
        if op.kind == OpKind.RECYCLE:
            continue
        out_mass = sum(lots[o].mass0 for o in op.outputs if o in lots)
        if out_mass <= 0:
            continue
        fx = factors[x] * lot.mass0 / out_mass
        for i, used in zip(op.inputs, op.used):
            src = lots.get(i)
            if src is None or src.mass0 <= 0:
                continue
            if i not in factors:
                factors[i] = 0.0
                heapq.heappush(heap, (-src.pos, i))
            factors[i] += fx * used / src.mass0
    return factors


def footprint_of(st: LedgerState, lot_id: bytes, *, at: int, price_per_tonne: float | None = None) -> Footprint:
    """Compute the footprint of a lot from a replayed state (pure; see :func:`footprint`)."""
    lot = st.lots.get(lot_id)
    if lot is None:
        raise errors.InvalidInput(f"no lot {label_of(lot_id)} in the replayed ledger")
    factors = allocation_factors(st, lot_id)
    stages = [0.0] * len(STAGES)
    excluded = 0.0
    contributions: list[Contribution] = []
    levels: dict[bytes, str] = {}
    for x, f in factors.items():
        if f <= 0:
            continue
        src = st.lots[x]
        grams, level, dropped, refs = own_emissions(st, src, at)
        levels[x] = level
        for k in range(len(STAGES)):
            stages[k] += f * grams[k]
        excluded += f * dropped
        if level == "n/a" and not refs:
            continue
        own = sum(grams)
        contributions.append(
            Contribution.model_construct(
                lot_id=_hex(x), label=label_of(x), material=label_of(src.material), share=f, own_kg=own / 1000,
                kg_co2e=f * own / 1000, stages={s: f * g / 1000 for s, g in zip(STAGES, grams)}, assurance=level,
                excluded_kg=f * dropped / 1000, attestations=refs,
            )
        )
    contributions.sort(key=lambda c: (-c.kg_co2e, c.lot_id))
    ranked = [lv for lv in levels.values() if lv != "n/a"]
    weakest_level = min(ranked, key=ASSURANCE_ORDER.index) if ranked else "n/a"
    weakest = sorted(_hex(x) for x, lv in levels.items() if lv == weakest_level)
    total_kg = sum(stages) / 1000
    stage_kg = {s: g / 1000 for s, g in zip(STAGES, stages)}
    per_kwh = None
    unit = st.units.get(lot_id)
    if unit is not None and unit.rated_wh > 0:
        kwh = unit.rated_wh / 1000
        per_kwh = PerKwh(rated_kwh=kwh, kg_co2e_per_kwh=total_kg / kwh, stages={s: v / kwh for s, v in stage_kg.items()})
    cost = None
    if price_per_tonne is not None:
        c = total_kg / 1000 * price_per_tonne
        cost = CarbonCost(price_per_tonne=price_per_tonne, cost=c, cost_per_kwh=c / per_kwh.rated_kwh if per_kwh else None)
    return Footprint(
        lot_id=_hex(lot_id), label=label_of(lot_id), material=label_of(lot.material), mass_g=lot.mass0,
        kind="unit" if lot.kind == LotKind.UNIT else "material", at=at, kg_co2e=total_kg,
        kg_co2e_per_kg=total_kg / (lot.mass0 / 1000) if lot.mass0 else 0.0, stages=stage_kg, per_kwh=per_kwh,
        assurance=weakest_level, weakest=weakest, excluded_kg=excluded / 1000, contributions=contributions, carbon_cost=cost,
    )


def footprint(
    source: Source, lot_id: str | bytes, *, at: int | None = None, price_per_tonne: float | None = None
) -> Footprint:
    """Compute the cradle-to-gate kg CO2e of a lot (per kWh and per Art. 7 stage for a battery unit).

    Attestations count when valid at `at` (default: the time of the last indexed block); revoked,
    expired and not-yet-valid ones are excluded and shown. With `price_per_tonne`, also the carbon cost.
    """
    lid = _b32(lot_id)
    st = _upstream_state(source, lid)
    return footprint_of(st, lid, at=_now(source, st, at), price_per_tonne=price_per_tonne)


def all_footprints(st: LedgerState, at: int) -> dict[bytes, float]:
    """Return the footprint (grams CO2e) of every lot, by one forward pass in chain order."""
    total: dict[bytes, float] = {}
    for lot in st.lots.values():
        grams, _, _, _ = own_emissions(st, lot, at)
        total[lot.lot_id] = sum(grams)
    for op in st.ops:
        if op.kind == OpKind.RECYCLE:
            continue
        consumed = 0.0
        for i, used in zip(op.inputs, op.used):
            src = st.lots.get(i)
            if src is not None and src.mass0 > 0:
                consumed += total[i] / src.mass0 * used
        outs = [st.lots[o] for o in op.outputs if o in st.lots]
        out_mass = sum(o.mass0 for o in outs)
        for o in outs:
            total[o.lot_id] += consumed * o.mass0 / out_mass if out_mass else 0.0
    return total


# ---------------------------------------------------------------------------- recycled content


class ElementShare(BaseModel):
    """Recycled content of one element."""

    model_config = _frozen()

    element: str
    total_g: int
    pre_consumer_g: int
    post_consumer_g: int
    pre_consumer_share: float | None
    post_consumer_share: float | None
    recycled_share: float | None


class TargetCheck(BaseModel):
    """One Art. 8 minimum recycled-content target against the lot's share."""

    model_config = _frozen()

    element: str
    year: int
    target: float
    share: float | None
    met: bool | None = Field(description="None when the lot holds none of the element")


class RecycledContent(_Report):
    """Pre- and post-consumer recycled shares per element, and the Art. 8 targets."""

    lot_id: str
    label: str
    kind: Literal["material", "unit"]
    elements: list[ElementShare]
    targets: list[TargetCheck]
    meets: dict[int, bool | None]


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
                element=e, total_g=t, pre_consumer_g=p, post_consumer_g=q, pre_consumer_share=p / t if t else None,
                post_consumer_share=q / t if t else None, recycled_share=rs,
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
    return RecycledContent(
        lot_id=_hex(lot_id), label=label_of(lot_id), kind="unit" if lot.kind == LotKind.UNIT else "material",
        elements=shares, targets=targets, meets=meets,
    )


def recycled_content(source: Source, lot_id: str | bytes) -> RecycledContent:
    """Return pre- and post-consumer recycled shares per element of a lot or unit (from its mass-balance
    composition) and how they compare with the EU Art. 8 targets for 2031 and 2036."""
    lid = _b32(lot_id)
    st = source if isinstance(source, LedgerState) else source.substate([lid])
    return recycled_content_of(st, lid)


# --------------------------------------------------------------------------------- origin mix


class MineShare(BaseModel):
    """Element mass of the target attributed to one mine (minted) lot."""

    model_config = _frozen()

    lot_id: str
    label: str
    country: str
    grams: dict[str, float]


class OriginMix(_Report):
    """Country-of-origin mix per element of a lot or unit, traced to the minted lots by mass share."""

    lot_id: str
    label: str
    grams: dict[str, dict[str, float]] = Field(description="element → country → grams")
    shares: dict[str, dict[str, float]] = Field(description="element → country → share of the element")
    mines: list[MineShare]


RECYCLED_ORIGIN = "recycled"
UNKNOWN_ORIGIN = "unknown"


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
        if op.kind == OpKind.RECYCLE and not through_recycling:
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
            lot_id=_hex(m), label=label_of(m), country=origin_country(lots[m].origin) or UNKNOWN_ORIGIN,
            grams={e: g for e, g in zip(ELEMENTS, w) if g},
        )
        for m, w in sorted(mines.items(), key=lambda kv: lots[kv[0]].pos)
    ]
    return OriginMix(
        lot_id=_hex(lot_id), label=label_of(lot_id), grams={e: dict(sorted(v.items())) for e, v in grams.items() if v},
        shares={e: v for e, v in shares.items() if v}, mines=mine_list,
    )


def origin_mix(source: Source, lot_id: str | bytes, *, through_recycling: bool = False) -> OriginMix:
    """Return the country-of-origin mix per element of a lot or unit, tracing element mass back
    through every operation by mass share to the minted (mine) lots. Material that came out of
    recycling counts as "recycled" unless `through_recycling` follows it back to its first mines."""
    lid = _b32(lot_id)
    st = _upstream_state(source, lid)
    return origin_mix_of(st, lid, through_recycling=through_recycling)


# ---------------------------------------------------------------------------- lifetime carbon


class LifePoint(BaseModel):
    """Embodied carbon per kWh delivered, after one SOH record."""

    model_config = _frozen()

    timestamp: int
    unit_id: str
    delivered_kwh: float
    kg_co2e_per_kwh: float | None


class LineageUnit(BaseModel):
    """A unit whose use counts towards the target's lives."""

    model_config = _frozen()

    unit_id: str
    label: str
    weight: float = Field(description="share of this unit's mass that ended up in the target")
    throughput_kwh: float
    life: str


class LifetimeCarbon(_Report):
    """Embodied kg CO2e per kWh delivered so far across first life, reuse and second life."""

    unit_id: str
    label: str
    embodied_kg_co2e: float
    delivered_kwh: float
    kg_co2e_per_kwh_delivered: float | None
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
    """Compute carbon over a unit's lives from a replayed state (pure; see :func:`lifetime_carbon`)."""
    if unit_id not in st.units:
        raise errors.InvalidInput(f"{label_of(unit_id)} is not a battery unit")
    embodied = footprint_of(st, unit_id, at=at).kg_co2e
    # Lineage: the unit and, through repurposing, every ancestor unit with the mass share it gave.
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
        if op.kind != OpKind.REPURPOSE:
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
    latest: dict[bytes, int] = {}
    delivered = 0.0
    lives: dict[str, float] = {}
    per_unit: dict[bytes, float] = {}
    series = []
    for ts, _, u, rec in records:
        prev = latest.get(u, 0)
        inc_kwh = max(0, rec.throughput_wh - prev) / 1000 * weight[u]
        latest[u] = max(prev, rec.throughput_wh)
        life = _LIFE.get(PassportStatus(rec.status), "other")
        lives[life] = lives.get(life, 0.0) + inc_kwh
        per_unit[u] = per_unit.get(u, 0.0) + inc_kwh
        delivered += inc_kwh
        series.append(
            LifePoint(timestamp=ts, unit_id=_hex(u), delivered_kwh=delivered, kg_co2e_per_kwh=embodied / delivered if delivered > 0 else None)
        )
    lineage = [
        LineageUnit(
            unit_id=_hex(u), label=label_of(u), weight=weight[u], throughput_kwh=per_unit.get(u, 0.0),
            life="second_life" if st.units[u].status == PassportStatus.REPURPOSED and u == unit_id else
            _LIFE.get(PassportStatus(st.units[u].soh[-1].status), "other") if st.units[u].soh else "unused",
        )
        for u in order
    ]
    return LifetimeCarbon(
        unit_id=_hex(unit_id), label=label_of(unit_id), embodied_kg_co2e=embodied, delivered_kwh=delivered,
        kg_co2e_per_kwh_delivered=embodied / delivered if delivered > 0 else None, lives=lives, lineage=lineage, series=series,
    )


def lifetime_carbon(source: Source, unit_id: str | bytes, *, at: int | None = None) -> LifetimeCarbon:
    """Return embodied kg CO2e per kWh delivered so far, from the cumulative energy throughput of the
    unit's SOH records and, for an ESS, of its parents before repurposing (weighted by the mass
    share each gave, as the ESS inherits that share of their footprint); with the series over time."""
    uid = _b32(unit_id)
    st = _upstream_state(source, uid)
    return lifetime_carbon_of(st, uid, at=_now(source, st, at))


# ------------------------------------------------------------------------------------- triage


class TriageThresholds(BaseModel):
    """SOCE thresholds (fractions of certified energy) for the triage decision."""

    model_config = _frozen()

    reuse: float = Field(default=0.80, ge=0, le=1)
    repurpose: float = Field(default=0.60, ge=0, le=1)


class TriageDecision(_Report):
    """The recommended next life of a diagnosed unit and the passport status to record for it."""

    recommendation: Literal["reuse", "repurpose", "recycle"]
    soce: float
    status: PassportStatus | None = Field(description="status to record with set_status (None: no change now)")
    reason: str
    evidence: str | None = None


_ALLOWED = {
    PassportStatus.ORIGINAL: {PassportStatus.REUSED, PassportStatus.REPURPOSED, PassportStatus.REMANUFACTURED, PassportStatus.WASTE},
    PassportStatus.REUSED: {PassportStatus.REPURPOSED, PassportStatus.REMANUFACTURED, PassportStatus.WASTE},
    PassportStatus.REPURPOSED: {PassportStatus.WASTE},
    PassportStatus.REMANUFACTURED: {PassportStatus.REUSED, PassportStatus.REPURPOSED, PassportStatus.WASTE},
    PassportStatus.WASTE: {PassportStatus.REPURPOSED, PassportStatus.RECYCLED},
}


def triage(
    soh: SohRecord | float,
    *,
    thresholds: TriageThresholds | None = None,
    current_status: PassportStatus | int | None = None,
) -> TriageDecision:
    """Recommend reuse, repurpose or recycle from a diagnosis (a SOH record, or SOCE as a fraction).

    SOCE at or above ``thresholds.reuse`` → reuse (status Reused); at or above ``thresholds.repurpose``
    → repurpose (no status now: the second-life operator's ``repurpose`` sets Repurposed); else
    recycle (status Waste). With `current_status`, a status the passport cannot move to is not proposed.
    """
    th = thresholds or TriageThresholds()
    if th.repurpose > th.reuse:
        raise errors.InvalidInput("the repurpose threshold must not exceed the reuse threshold")
    if isinstance(soh, SohRecord):
        soce, evidence = soh.soce_bp / 10_000, soh.evidence
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
        elif status not in _ALLOWED.get(cur, set()):
            reason += f" (but status {cur.name.lower()} cannot move to {status.name.lower()})"
            status = None
    return TriageDecision(recommendation=rec, soce=soce, status=status, reason=reason, evidence=evidence)


# ---------------------------------------------------------------------------------- helpers


def lot_summary(st: LedgerState, lot_id: bytes) -> dict[str, Any]:
    """Return a plain summary of a replayed lot (for reports)."""
    lot = st.lots[lot_id]
    return {
        "lot_id": _hex(lot_id), "label": label_of(lot_id), "material": label_of(lot.material), "mass_g": lot.mass0,
        "state": LotState(lot.state).name.lower(), "holder": lot.holder, "origin_country": origin_country(lot.origin),
    }


__all__ = [
    "ART8_TARGETS", "ASSURANCE_ORDER", "STAGES", "AttestationRef", "CarbonCost", "Contribution", "ElementShare", "Footprint",
    "LifePoint", "LifetimeCarbon", "LineageUnit", "MineShare", "OriginMix", "PerKwh", "RecycledContent", "TargetCheck",
    "Trace", "TraceLot", "TraceOp", "TriageDecision", "TriageThresholds", "all_footprints", "allocation_factors",
    "attestation_status", "footprint", "footprint_of", "lifetime_carbon", "lifetime_carbon_of", "origin_mix",
    "origin_mix_of", "own_emissions", "recycled_content", "recycled_content_of", "trace", "triage",
]
