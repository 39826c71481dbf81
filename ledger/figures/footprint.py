"""Cradle-to-gate carbon footprint (Art. 7): burdens allocated by tracked-element mass, claims judged when used (docs/methodology.md §1-4)."""

from __future__ import annotations

import functools
import heapq
from typing import Literal

from pydantic import BaseModel, Field

from ledger import errors
from ledger.domain.enums import LotKind, LotState, OpKind
from ledger.domain.hashing import checksum_address
from ledger.domain.ids import hex_of, id_bytes, label_of
from ledger.domain.stages import STAGES
from ledger.domain.times import UnixTime
from ledger.figures.source import FROZEN, Report, Source, judged_at, upstream_state
from ledger.replay.records import AttRec, InvRec, LotRec, OpRec
from ledger.replay.state import LedgerState

#: Assurance levels from weakest to strongest. "n/a" (splits and merges need no attestation) ranks last.
ASSURANCE_ORDER: tuple[str, ...] = ("revoked", "expired", "late", "missing", "self-declared", "verified", "n/a")


_NO_ATTESTATION_NEEDED = (OpKind.SPLIT, OpKind.MERGE)

#: How an attestation is judged for one use (see :func:`attestation_status`).
AttestationStatus = Literal["verified", "self-declared", "late", "expired", "revoked", "not-yet-valid"]


class AttestationRef(BaseModel):
    """One attestation behind a lot's own step emissions, and whether it counts.

    ``status`` is judged at the time the claim was used (see :func:`claim_assurance`); ``late`` says the
    attestation was relayed only after the lot had been used on the way to the lot being judged.
    """

    model_config = FROZEN

    uid: str
    signer: str
    stage: str
    kg_co2e: float
    status: AttestationStatus
    valid_until: UnixTime
    methodology: str
    late: bool = False
    judged_at: UnixTime = Field(default=0, description="the time the attestation was judged at (the time of use)")


class Contribution(BaseModel):
    """What one upstream lot's own step emissions add to the footprint."""

    model_config = FROZEN

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

    model_config = FROZEN

    rated_kwh: float
    kg_co2e_per_kwh: float
    stages: dict[str, float]


class CarbonCost(BaseModel):
    """The footprint priced at a carbon price."""

    model_config = FROZEN

    price_per_tonne: float
    cost: float
    cost_per_kwh: float | None = None


class Footprint(Report):
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
    at: UnixTime = Field(description="the time at which the lot's own, not yet used, attestations were judged")
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


class ClaimAssurance(Report):
    """How well a lot's or unit's footprint claim is assured: the one judgement verify, passport and audit share."""

    lot_id: str
    label: str
    kind: Literal["material", "unit"]
    level: str = Field(description="verified, self-declared, missing, late, expired, revoked, or n/a (nothing to attest)")
    weakest: list[str] = Field(description="lots at the weakest level")
    by_level: dict[str, float] = Field(description="kg CO2e resting on each level")
    late: list[str] = Field(description="uids of accredited attestations relayed after their lot was used (counted, shown)")


_NOW = 1 << 62  # an event position after every real one: "judged now"


#: A signer's address as reports show it (EIP-55): every claim an audit judges names its attestations' signers,
#: and a ledger has few of them, so each is hashed once.
_shown = functools.lru_cache(maxsize=4096)(checksum_address)


def attestation_status(att: AttRec | InvRec, at: int, pos: int | None = None) -> AttestationStatus:
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


def is_late(att: AttRec | InvRec, pos: int | None) -> bool:
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
                uid=hex_of(att.uid),
                signer=_shown(att.signer),
                stage=STAGES[att.stage] if att.stage < len(STAGES) else str(att.stage),
                kg_co2e=att.emissions_grams / 1000,
                status=status,
                valid_until=att.valid_until,
                methodology=label_of(att.methodology) if any(att.methodology) else "",
                late=is_late(att, pos),
                judged_at=at,
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
    return {x: sum(u.values()) for x, u in use_factors(st, target).items()}


def use_factors(st: LedgerState, target: bytes) -> dict[bytes, dict[int | None, float]]:
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
    uses = use_factors(st, lot_id)
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
                lot_id=hex_of(x),
                label=label_of(x),
                material=label_of(src.material),
                share=f_total,
                own_kg=own_max / 1000,
                kg_co2e=sum(lot_stages) / 1000,
                stages={s: g / 1000 for s, g in zip(STAGES, lot_stages)},
                assurance=level,
                excluded_kg=lot_excluded / 1000,
                attestations=list(refs.values()),
            )
        )
    contributions.sort(key=lambda c: (-c.kg_co2e, c.lot_id))
    ranked = [lv for lv in levels.values() if lv != "n/a"]
    weakest_level = min(ranked, key=ASSURANCE_ORDER.index) if ranked else "n/a"
    weakest = sorted(hex_of(x) for x, lv in levels.items() if lv == weakest_level)
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
        lot_id=hex_of(lot_id),
        label=label_of(lot_id),
        material=label_of(lot.material),
        mass_g=mass,
        minted_mass_g=lot.mass0,
        state=_state_name(lot),
        kind="unit" if lot.kind == LotKind.UNIT else "material",
        at=at,
        kg_co2e=total_kg,
        kg_co2e_per_kg=total_kg / (mass / 1000) if mass else 0.0,
        stages=stage_kg,
        per_kwh=per_kwh,
        assurance=weakest_level,
        weakest=weakest,
        excluded_kg=excluded / 1000,
        contributions=contributions,
        carbon_cost=cost,
    )


def _rank(status: str) -> str:
    return "expired" if status == "not-yet-valid" else status


def _state_name(lot: LotRec) -> Literal["active", "frozen", "consumed"]:
    if lot.state == LotState.FROZEN:
        return "frozen"
    return "consumed" if lot.state == LotState.CONSUMED else "active"


def footprint(source: Source, lot_id: str | bytes, *, at: int | None = None, price_per_tonne: float | None = None) -> Footprint:
    """Compute the cradle-to-gate kg CO2e of what a lot holds now (per kWh and per Art. 7 stage for a
    battery unit).

    Each upstream lot's attestations are judged at the time it was used on the way here (an expiry after
    the use is no weakness, an attestation relayed after it is late); the lot's own at `at` (default:
    the time of the last indexed block). With `price_per_tonne`, also the carbon cost.
    """
    lid = id_bytes(lot_id)
    st = upstream_state(source, lid)
    return footprint_of(st, lid, at=judged_at(source, st, at), price_per_tonne=price_per_tonne)


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
            lot_id=hex_of(lot_id),
            label=label_of(lot_id),
            kind="unit" if lot.kind == LotKind.UNIT else "material",
            level=level,
            weakest=[hex_of(lot_id)],
            by_level={level: sum(grams) * _remaining(lot) / 1000} if has else {},
            late=sorted(r.uid for r in refs if r.late and r.status == "verified"),
        )
    fp = footprint_of(st, lot_id, at=at)
    late = sorted({a.uid for c in fp.contributions for a in c.attestations if a.late and a.status == "verified"})
    return ClaimAssurance(
        lot_id=fp.lot_id,
        label=fp.label,
        kind=fp.kind,
        level=fp.assurance,
        weakest=fp.weakest,
        by_level=fp.by_assurance(),
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
