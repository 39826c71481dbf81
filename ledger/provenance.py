"""Provenance and derived figures: trace, cradle-to-gate footprint, recycled content, origin mix,
carbon over a battery's lives, and triage of a diagnosed unit.

Every figure is a pure function of the ledger as replayed from events (:class:`ledger._state.LedgerState`);
the public functions accept either such a state or an :class:`ledger.index.EventIndex`, from which
they replay only the subgraph they need.

Allocation (docs/methodology.md §1, :func:`op_shares`): an operation takes ``grams used / minted mass``
of each input's footprint and its outputs share that burden by tracked-element mass; declared loss
carries none. Every figure describes what a lot holds now. Recycling a post-consumer unit is cut off
(recovered lots carry only the recycling burden); a never-used unit's burden and origin pass on.
Claims are judged at the time they were used (:func:`claim_assurance`).
"""

from __future__ import annotations

import heapq
import json
from typing import Any, Literal, NamedTuple, Union

from pydantic import BaseModel, ConfigDict, Field

from ledger import errors
from ledger._state import AttRec, LedgerState, LotRec, OpRec
from ledger.index import EventIndex
from ledger.models import ELEMENTS, LotKind, LotState, OpKind, PassportStatus, SohRecord, label_of, origin_country, to_bytes32

Source = Union[EventIndex, LedgerState]

#: Life-cycle stages of EU Battery Regulation Art. 7, in attestation order.
STAGES: tuple[str, ...] = ("raw_material_acquisition", "main_production", "distribution", "end_of_life")
#: Assurance levels from weakest to strongest. "n/a" (splits and merges need no attestation) ranks last.
ASSURANCE_ORDER: tuple[str, ...] = ("revoked", "expired", "late", "missing", "self-declared", "verified", "n/a")
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
    # The operations that used the lot itself are replayed too: they say what it holds now and when its
    # own claim was used (their outputs come along; nothing upstream depends on them).
    g = source.graph()
    used_by = [o for op, _ in g.consumers.get(lot_id, ()) for o in g.outputs.get(op, ())]
    return source.substate([*source.upstream_lots(lot_id), *used_by])


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
    """One attestation behind a lot's own step emissions, and whether it counts.

    ``status`` is judged at the time the claim was used (see :func:`claim_assurance`); ``late`` says the
    attestation was relayed only after the lot had been used on the way to the lot being judged.
    """

    model_config = _frozen()

    uid: str
    signer: str
    stage: str
    kg_co2e: float
    status: Literal["verified", "self-declared", "late", "expired", "revoked", "not-yet-valid"]
    valid_until: int
    methodology: str
    late: bool = False
    judged_at: int = Field(default=0, description="unix time the attestation was judged at (the time of use)")


class Contribution(BaseModel):
    """What one upstream lot's own step emissions add to the footprint."""

    model_config = _frozen()

    lot_id: str
    label: str
    material: str
    share: float = Field(description="fraction of this lot's own emissions that reaches the target")
    own_kg: float = Field(description="the lot's own counted step emissions, kg CO2e")
    kg_co2e: float = Field(description="the emissions that reach the target, each use judged at its own time")
    stages: dict[str, float]
    assurance: str
    excluded_kg: float = Field(description="emissions of revoked, expired, late or not-yet-valid attestations, × share")
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
    """Cradle-to-gate footprint of a lot or unit, with its weakest links visible.

    Every figure describes what the lot holds now (issue 11, class 12): a partly used lot reports its
    remaining mass and that share of the lot's footprint; a used-up lot reports the whole lot as it was.
    """

    lot_id: str
    label: str
    material: str
    mass_g: int = Field(description="grams the lot holds now (the minted mass once it is used up)")
    minted_mass_g: int
    state: Literal["active", "frozen", "consumed"]
    kind: Literal["material", "unit"]
    at: int = Field(description="unix time at which the lot's own, not yet used, attestations were judged")
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


class ClaimAssurance(_Report):
    """How well a lot's or unit's footprint claim is assured: the one judgement verify, passport and audit share."""

    lot_id: str
    label: str
    kind: Literal["material", "unit"]
    level: str = Field(description="verified, self-declared, missing, late, expired, revoked, or n/a (nothing to attest)")
    weakest: list[str] = Field(description="lots at the weakest level")
    by_level: dict[str, float] = Field(description="kg CO2e resting on each level")
    late: list[str] = Field(description="uids of accredited attestations relayed after their lot was used (counted, shown)")


_NOW = 1 << 62  # an event position after every real one: "judged now"


def attestation_status(att: AttRec, at: int, pos: int | None = None) -> str:
    """Judge one attestation for a use at unix time `at` (event position `pos`; None: not yet used).

    Revoked whenever revoked (a revocation withdraws the figure); relayed after the use: a self-declaration
    is "late" and does not count (nobody changes the figures of a lot they no longer hold), an accredited
    attestation counts as "verified" (its lateness is shown by :func:`is_late`); otherwise expired,
    not-yet-valid, self-declared or verified at `at` (an expiry after the use is no weakness).
    """
    if att.revoked is not None:
        return "revoked"
    if pos is not None and att.pos > pos:
        return "late" if att.self_declared else "verified"
    if at > att.valid_until:
        return "expired"
    if at < att.issued_at:
        return "not-yet-valid"
    return "self-declared" if att.self_declared else "verified"


def is_late(att: AttRec, pos: int | None) -> bool:
    """Whether `att` was relayed after the use at event position `pos`."""
    return pos is not None and att.pos > pos


def own_emissions(
    st: LedgerState, lot: LotRec, at: int, *, pos: int | None = None
) -> tuple[list[float], str, float, list[AttestationRef]]:
    """Return a lot's own counted step emissions per stage (grams), its assurance level, the grams
    excluded (revoked, expired, late, not yet valid) and the attestation references, judged for a use
    at time `at` and event position `pos` (None: judged now, not yet used)."""
    grams = [0.0] * len(STAGES)
    refs: list[AttestationRef] = []
    excluded = 0.0
    counted: list[str] = []
    dropped: list[str] = []
    for att in st.attestations_of(lot.lot_id):
        status = attestation_status(att, at, pos)
        refs.append(
            AttestationRef.model_construct(
                uid=_hex(att.uid), signer=att.signer, stage=STAGES[att.stage] if att.stage < len(STAGES) else str(att.stage),
                kg_co2e=att.emissions_grams / 1000, status=status, valid_until=att.valid_until,
                methodology=label_of(att.methodology) if any(att.methodology) else "", late=is_late(att, pos), judged_at=at,
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
        level = min(("expired" if s == "not-yet-valid" else s for s in dropped), key=ASSURANCE_ORDER.index)
    elif lot.made_by is not None and st.ops[lot.made_by].kind in _NO_ATTESTATION_NEEDED:
        level = "n/a"
    else:
        level = "missing"
    return grams, level, excluded, refs


def _tracked(v: tuple[int, ...]) -> int:
    return sum(v)


def op_shares(st: LedgerState, op: OpRec) -> tuple[list[float], list[float]]:
    """The allocation rule (docs/methodology.md §1), written once: return, for an operation, the fraction of
    each input's whole-lot footprint that enters it and the share of the entering burden each output takes.

    An input gives ``grams used / minted mass`` of its footprint (the contract makes a part pro rata).
    Outputs share by tracked-element mass (ISO 14044 §4.3.4.2, a physical relationship), so a declared
    by-product without tracked elements takes nothing and declared loss carries nothing away; only when no
    output holds a tracked element do they share by mass. Recycling a post-consumer unit is cut off (its
    first life keeps its burden); recycling a unit that never reached an end user passes its burden on.
    """
    fractions = []
    for i, used in zip(op.inputs, op.used):
        src = st.lots.get(i)
        fractions.append(0.0 if cut_off(st, op, i) or src is None or src.mass0 <= 0 else used / src.mass0)
    outs = [st.lots.get(o) for o in op.outputs]
    weights = [_tracked(o.comp0[0]) if o is not None else 0 for o in outs]
    if not any(weights):
        weights = [o.mass0 if o is not None else 0 for o in outs]
    total = sum(weights)
    return fractions, [w / total if total else 0.0 for w in weights]


def cut_off(st: LedgerState, op: OpRec, input_id: bytes) -> bool:
    """Whether an input's burden and origin stop at `op`: recycling of a post-consumer unit (ISO 14021:
    it reached an end user and was used) is cut off; a never-used unit's material is pre-consumer scrap and
    carries its upstream footprint and mines forward (docs/methodology.md §3)."""
    if op.kind != OpKind.RECYCLE:
        return False
    unit = st.units.get(input_id)
    return unit is None or unit.post_consumer


def _remaining(lot: LotRec) -> float:
    """The share of a lot's whole footprint that its current holding carries (1 once used up)."""
    if lot.state == LotState.CONSUMED or lot.mass0 <= 0:
        return 1.0
    return min(lot.mass, lot.mass0) / lot.mass0


def _own_point(st: LedgerState, lot: LotRec, at: int) -> tuple[int, int | None]:
    """When a lot's own claim is judged for the lot itself: now while it holds material, else at its last use."""
    if lot.state == LotState.CONSUMED and lot.used_by:
        op = st.ops[lot.used_by[-1]]
        return op.timestamp, op.pos
    return at, None


def allocation_factors(st: LedgerState, target: bytes) -> dict[bytes, float]:
    """Return, for every lot upstream of `target`, the fraction of its whole-lot footprint that reaches
    what `target` holds now (see :func:`op_shares` for the rule)."""
    return {x: sum(u.values()) for x, u in _use_factors(st, target).items()}


def _use_factors(st: LedgerState, target: bytes) -> dict[bytes, dict[int | None, float]]:
    """Lot → {consuming operation index (None: the target itself) → fraction of the lot's footprint}.

    Reverse propagation in descending creation order (a topological order); kept per use so that each
    use of a lot's claim is judged at the time of that use.
    """
    lots = st.lots
    uses: dict[bytes, dict[int | None, float]] = {target: {None: _remaining(lots[target])}}
    heap = [(-lots[target].pos, target)]
    while heap:
        _, x = heapq.heappop(heap)
        lot = lots[x]
        if lot.made_by is None:
            continue
        op = st.ops[lot.made_by]
        fx = sum(uses[x].values())
        fractions, shares = op_shares(st, op)
        share = next((s for o, s in zip(op.outputs, shares) if o == x), 0.0)
        if share <= 0:
            continue
        for i, frac in zip(op.inputs, fractions):
            if frac <= 0 or i not in lots:
                continue
            if i not in uses:
                uses[i] = {}
                heapq.heappush(heap, (-lots[i].pos, i))
            uses[i][op.index] = uses[i].get(op.index, 0.0) + fx * share * frac
    return uses


def footprint_of(st: LedgerState, lot_id: bytes, *, at: int, price_per_tonne: float | None = None) -> Footprint:
    """Compute the footprint of a lot from a replayed state (pure; see :func:`footprint`)."""
    lot = st.lots.get(lot_id)
    if lot is None:
        raise errors.InvalidInput(f"no lot {label_of(lot_id)} in the replayed ledger")
    uses = _use_factors(st, lot_id)
    stages = [0.0] * len(STAGES)
    excluded = 0.0
    contributions: list[Contribution] = []
    levels: dict[bytes, str] = {}
    for x, by_use in uses.items():
        src = st.lots[x]
        f_total = sum(by_use.values())
        if f_total <= 0:
            continue
        lot_stages = [0.0] * len(STAGES)
        lot_excluded = 0.0
        lot_levels: list[str] = []
        refs: dict[str, AttestationRef] = {}
        own_max = 0.0
        for op_index, f in by_use.items():
            if op_index is None:
                when, pos = _own_point(st, src, at)
            else:
                when, pos = st.ops[op_index].timestamp, st.ops[op_index].pos
            grams, level, dropped, att_refs = own_emissions(st, src, when, pos=pos)
            for k in range(len(STAGES)):
                lot_stages[k] += f * grams[k]
            lot_excluded += f * dropped
            lot_levels.append(level)
            own_max = max(own_max, sum(grams))
            for r in att_refs:  # the weakest judgement of each attestation over the uses is shown
                seen = refs.get(r.uid)
                if seen is None or ASSURANCE_ORDER.index(_rank(r.status)) < ASSURANCE_ORDER.index(_rank(seen.status)):
                    refs[r.uid] = r
        level = min(lot_levels, key=ASSURANCE_ORDER.index)
        levels[x] = level
        for k in range(len(STAGES)):
            stages[k] += lot_stages[k]
        excluded += lot_excluded
        if level == "n/a" and not refs:
            continue
        contributions.append(
            Contribution.model_construct(
                lot_id=_hex(x), label=label_of(x), material=label_of(src.material), share=f_total, own_kg=own_max / 1000,
                kg_co2e=sum(lot_stages) / 1000, stages={s: g / 1000 for s, g in zip(STAGES, lot_stages)}, assurance=level,
                excluded_kg=lot_excluded / 1000, attestations=list(refs.values()),
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
    mass = lot.mass0 if lot.state == LotState.CONSUMED else lot.mass
    return Footprint(
        lot_id=_hex(lot_id), label=label_of(lot_id), material=label_of(lot.material), mass_g=mass, minted_mass_g=lot.mass0,
        state=_state_name(lot), kind="unit" if lot.kind == LotKind.UNIT else "material", at=at, kg_co2e=total_kg,
        kg_co2e_per_kg=total_kg / (mass / 1000) if mass else 0.0, stages=stage_kg, per_kwh=per_kwh,
        assurance=weakest_level, weakest=weakest, excluded_kg=excluded / 1000, contributions=contributions, carbon_cost=cost,
    )


def _rank(status: str) -> str:
    return "expired" if status == "not-yet-valid" else status


def _state_name(lot: LotRec) -> Literal["active", "frozen", "consumed"]:
    if lot.state == LotState.FROZEN:
        return "frozen"
    return "consumed" if lot.state == LotState.CONSUMED else "active"


def footprint(
    source: Source, lot_id: str | bytes, *, at: int | None = None, price_per_tonne: float | None = None
) -> Footprint:
    """Compute the cradle-to-gate kg CO2e of what a lot holds now (per kWh and per Art. 7 stage for a
    battery unit).

    Each upstream lot's attestations are judged at the time it was used on the way here (an expiry after
    the use is no weakness, an attestation relayed after it is late); the lot's own at `at` (default:
    the time of the last indexed block). With `price_per_tonne`, also the carbon cost.
    """
    lid = _b32(lot_id)
    st = _upstream_state(source, lid)
    return footprint_of(st, lid, at=_now(source, st, at), price_per_tonne=price_per_tonne)


def claim_assurance(st: LedgerState, lot_id: bytes, *, at: int) -> ClaimAssurance:
    """Return how well the footprint claim of a lot or unit is assured, each claim judged at the time it
    was used (docs/methodology.md §6); ``level`` equals ``footprint_of(st, lot_id, at=at).assurance``."""
    lot = st.lots.get(lot_id)
    if lot is not None and lot.made_by is None:
        # A minted lot rests on its own claims alone: the same judgement as footprint_of, without its walk
        # (an audit judges every end product, and most lots of a big ledger are minted ones).
        when, pos = _own_point(st, lot, at)
        grams, level, _, refs = own_emissions(st, lot, when, pos=pos)
        has = level != "n/a" or bool(refs)
        return ClaimAssurance.model_construct(
            lot_id=_hex(lot_id), label=label_of(lot_id), kind="unit" if lot.kind == LotKind.UNIT else "material", level=level,
            weakest=[_hex(lot_id)], by_level={level: sum(grams) * _remaining(lot) / 1000} if has else {},
            late=sorted(r.uid for r in refs if r.late and r.status == "verified"),
        )
    fp = footprint_of(st, lot_id, at=at)
    late = sorted({a.uid for c in fp.contributions for a in c.attestations if a.late and a.status == "verified"})
    return ClaimAssurance(
        lot_id=fp.lot_id, label=fp.label, kind=fp.kind, level=fp.assurance, weakest=fp.weakest, by_level=fp.by_assurance(),
        late=late,
    )


def all_footprints(st: LedgerState, at: int) -> dict[bytes, float]:
    """Return the footprint (grams CO2e) of what every lot holds now, by one forward pass in chain order
    (the same figures as :func:`footprint_of`, each claim judged at the time of its use)."""
    inherited: dict[bytes, float] = {lot_id: 0.0 for lot_id in st.lots}
    for op in st.ops:
        fractions, shares = op_shares(st, op)
        entering = 0.0
        for i, frac in zip(op.inputs, fractions):
            src = st.lots.get(i)
            if src is None or frac <= 0:
                continue
            grams, _, _, _ = own_emissions(st, src, op.timestamp, pos=op.pos)
            entering += (inherited[i] + sum(grams)) * frac
        for o, share in zip(op.outputs, shares):
            if o in inherited:
                inherited[o] += entering * share
    total: dict[bytes, float] = {}
    for lot in st.lots.values():
        when, pos = _own_point(st, lot, at)
        grams, _, _, _ = own_emissions(st, lot, when, pos=pos)
        total[lot.lot_id] = (inherited[lot.lot_id] + sum(grams)) * _remaining(lot)
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
    declared = [x for x in _use_factors(st, lot_id) if st.lots[x].made_by is None and (any(st.lots[x].comp0[1]) or any(st.lots[x].comp0[2]))]
    if declared:
        assurance = "verified" if all(_mint_verified(st, x) for x in declared) else "self-declared"
    else:
        assurance = "verified" if any(p + q for p, q in zip(pre, post)) else "n/a"
    return RecycledContent(
        lot_id=_hex(lot_id), label=label_of(lot_id), kind="unit" if lot.kind == LotKind.UNIT else "material",
        elements=shares, targets=targets, meets=meets, assurance=assurance,
        declared_at_mint=sorted(_hex(x) for x in declared),
    )


def _mint_verified(st: LedgerState, lot_id: bytes) -> bool:
    """Whether a minted lot's record (its composition commitment, recycled grams included) carries an
    attestation of an accredited verifier that was not revoked."""
    return any(not a.self_declared and a.revoked is None for a in st.attestations_of(lot_id))


def recycled_content(source: Source, lot_id: str | bytes) -> RecycledContent:
    """Return pre- and post-consumer recycled shares per element of a lot or unit (from its mass-balance
    composition) and how they compare with the EU Art. 8 targets for 2031 and 2036."""
    lid = _b32(lot_id)
    return recycled_content_of(_upstream_state(source, lid), lid)


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
    "ART8_TARGETS", "ASSURANCE_ORDER", "STAGES", "AttestationRef", "CarbonCost", "ClaimAssurance", "Contribution",
    "ElementShare", "Footprint", "LifePoint", "LifetimeCarbon", "LineageUnit", "MineShare", "OriginMix", "PerKwh",
    "RecycledContent", "TargetCheck", "Trace", "TraceLot", "TraceOp", "TriageDecision", "TriageThresholds",
    "all_footprints", "allocation_factors", "attestation_status", "claim_assurance", "cut_off", "footprint",
    "footprint_of", "is_late", "lifetime_carbon", "lifetime_carbon_of", "op_shares", "origin_mix", "origin_mix_of",
    "own_emissions", "recycled_content", "recycled_content_of", "trace", "triage",
]
