"""Process inventory cradle-to-gate (issue 19): energy, its renewable share and water, rolled up like the footprint.

Each step's inventory (a signed ``ProcessInventory``: Wh used, renewable basis points, litres withdrawn and
consumed, route) is judged by the footprint's rules (docs/methodology.md §6, :func:`attestation_status`) and
passed down the material graph by the footprint's allocation (:func:`op_shares`, :func:`use_factors`):

    energy(target) = Σ_x  f_x × s_x × Σ_{counted inventories r of x's step} r.energy

where ``f_x`` is the fraction of lot *x*'s whole-lot burden that reaches the target and ``s_x`` its share of
the step that made it. Unlike an emissions figure, an inventory belongs to the *step*: one attested on any
output of an operation is shared among all its outputs by tracked-element mass, so declaring a by-product
(with no tracked element) and attesting the step's energy on it does not take the energy off the product.

Who counts (the integrity rules): an accredited verifier, or the lot's producer (its creator) while it held
the lot. The contract already refuses anyone else; a later holder's self-declaration about a step it did not
run is shown as "not-producer" and not counted, so a competitor who bought a by-product cannot load a
figure onto the product either. Revoked, expired, late (self-declared after use) inventories don't count.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ledger import errors
from ledger.domain.enums import LotKind, OpKind, ProcessRoute
from ledger.domain.grade import Grade, derive_grade
from ledger.domain.hashing import checksum_address
from ledger.domain.ids import hex_of, id_bytes, label_of
from ledger.domain.times import UnixTime
from ledger.figures.footprint import ASSURANCE_ORDER, _own_point, attestation_status, is_late, op_shares, use_factors
from ledger.figures.lifetime import lifetime_carbon_of
from ledger.figures.source import FROZEN, Report, Source, judged_at, upstream_state
from ledger.replay.records import InvRec, LotRec
from ledger.replay.soh import OpeningsSource, open_records
from ledger.replay.state import LedgerState

_NO_PROCESS = (OpKind.SPLIT, OpKind.MERGE)
_ALL_BPS = 10_000


class InventoryRef(BaseModel):
    """One process inventory behind a lot's step, and whether it counts."""

    model_config = FROZEN

    uid: str
    lot_id: str = Field(description="the lot it was attested for (a sibling output of the same step, possibly)")
    signer: str
    status: str = Field(description="verified, self-declared, not-producer, late, expired, revoked or not-yet-valid")
    route: str
    energy_kwh: float
    renewable_share: float
    water_withdrawn_m3: float
    water_consumed_m3: float
    late: bool = False


class InventoryContribution(BaseModel):
    """What one upstream lot's step adds to the target's inventory."""

    model_config = FROZEN

    lot_id: str
    label: str
    material: str
    share: float = Field(description="fraction of this lot's step inventory that reaches the target")
    energy_kwh: float
    renewable_kwh: float
    water_withdrawn_m3: float
    water_consumed_m3: float
    routes: list[str]
    assurance: str
    inventories: list[InventoryRef]


class InventoryPerKwh(BaseModel):
    """A unit's inventory per kWh: of rated energy (cradle-to-gate) and of energy delivered so far (SOH throughput)."""

    model_config = FROZEN

    rated_kwh: float
    energy_kwh_per_kwh: float
    water_withdrawn_m3_per_kwh: float
    water_consumed_m3_per_kwh: float
    delivered_kwh: float | None = Field(
        description="energy delivered over the unit's lives so far (its SOH records; None when they are not disclosed to this reader)"
    )
    energy_kwh_per_kwh_delivered: float | None = None
    water_consumed_m3_per_kwh_delivered: float | None = None


class ProcessInventoryReport(Report):
    """Cradle-to-gate energy, renewable share and water of what a lot holds now, with its weakest links."""

    lot_id: str
    label: str
    material: str
    kind: str
    at: UnixTime = Field(description="the time the lot's own, not yet used, inventories were judged at")
    energy_kwh: float
    renewable_kwh: float
    renewable_share: float | None = Field(description="renewable kWh / kWh, None when no energy is counted")
    water_withdrawn_m3: float
    water_consumed_m3: float
    routes: dict[str, float] = Field(description="kWh counted per process route (unspecified omitted)")
    per_kwh: InventoryPerKwh | None = None
    assurance: str
    weakest: list[str]
    excluded_energy_kwh: float = Field(description="energy of inventories that do not count, × share")
    contributions: list[InventoryContribution]
    grade: Grade | None = None


def _status(st: LedgerState, inv: InvRec, lot: LotRec, at: int, pos: int | None) -> str:
    """Judge one inventory for a use: the footprint's rule, and a self-declaration only by the lot's producer."""
    if inv.revoked is None and inv.self_declared and inv.signer != lot.creator:
        return "not-producer"
    return attestation_status(inv, at, pos)


def _step_inventories(st: LedgerState, lot: LotRec) -> list[tuple[InvRec, LotRec, float]]:
    """The inventories of the step that made `lot`, each with the lot it was attested for and `lot`'s share."""
    if lot.made_by is None:
        return [(r, lot, 1.0) for r in st.inventories_of(lot.lot_id)]
    op = st.ops[lot.made_by]
    _, shares = op_shares(st, op)
    share = next((s for o, s in zip(op.outputs, shares) if o == lot.lot_id), 0.0)
    out: list[tuple[InvRec, LotRec, float]] = []
    for o in op.outputs:
        sibling = st.lots.get(o)
        if sibling is not None:
            out.extend((r, sibling, share) for r in st.inventories_of(o))
    return out


def attested_routes(st: LedgerState, lot: LotRec, *, at: int) -> dict[str, str]:
    """Return the process routes a lot's counted process inventories attest at unix time `at`, each with
    its strongest assurance ("verified", else "self-declared"): revoked, expired and others' self-declarations
    name no route."""
    out: dict[str, str] = {}
    for inv in st.inventories_of(lot.lot_id):
        status = _status(st, inv, lot, at, None)
        if inv.route == ProcessRoute.UNSPECIFIED or status not in ("verified", "self-declared"):
            continue
        word = _route_word(inv.route)
        if out.get(word) != "verified":
            out[word] = status
    return out


def process_inventory_of(st: LedgerState, lot_id: bytes, *, at: int) -> ProcessInventoryReport:
    """Compute the process inventory of a lot from a replayed state (pure; see :func:`process_inventory`)."""
    target = st.lots.get(lot_id)
    if target is None:
        raise errors.InvalidInput(f"no lot {label_of(lot_id)} in the replayed ledger")
    totals = [0.0, 0.0, 0.0, 0.0]  # Wh, renewable Wh, litres withdrawn, litres consumed
    excluded = 0.0
    routes: dict[str, float] = {}
    contributions: list[InventoryContribution] = []
    levels: dict[bytes, str] = {}
    for x, by_use in use_factors(st, lot_id).items():
        src = st.lots[x]
        step = _step_inventories(st, src)
        lot_t = [0.0, 0.0, 0.0, 0.0]
        lot_routes: set[str] = set()
        refs: dict[str, InventoryRef] = {}
        counted: list[str] = []
        dropped: list[str] = []
        for op_index, f in by_use.items():
            if op_index is None:
                when, pos = _own_point(st, src, at)
            else:
                when, pos = st.ops[op_index].timestamp, st.ops[op_index].pos
            for inv, on, share in step:
                status = _status(st, inv, on, when, pos)
                w = f * share
                if status in ("verified", "self-declared"):
                    lot_t[0] += w * inv.energy_wh
                    lot_t[1] += w * inv.energy_wh * inv.renewable_bps / _ALL_BPS
                    lot_t[2] += w * inv.water_withdrawn_l
                    lot_t[3] += w * inv.water_consumed_l
                    if inv.route != ProcessRoute.UNSPECIFIED and w > 0:
                        word = _route_word(inv.route)
                        lot_routes.add(word)
                        routes[word] = routes.get(word, 0.0) + w * inv.energy_wh / 1000
                    counted.append(status)
                else:
                    excluded += w * inv.energy_wh
                    dropped.append(status)
                seen = refs.get(hex_of(inv.uid))
                if seen is None or _rank(status) < _rank(seen.status):
                    refs[hex_of(inv.uid)] = InventoryRef(
                        uid=hex_of(inv.uid),
                        lot_id=hex_of(on.lot_id),
                        signer=checksum_address(inv.signer),
                        status=status,
                        route=_route_word(inv.route),
                        energy_kwh=inv.energy_wh / 1000,
                        renewable_share=inv.renewable_bps / _ALL_BPS,
                        water_withdrawn_m3=inv.water_withdrawn_l / 1000,
                        water_consumed_m3=inv.water_consumed_l / 1000,
                        late=is_late(inv, pos),
                    )
        if counted:
            level = min(counted, key=ASSURANCE_ORDER.index)
        elif dropped:
            level = min(("expired" if s == "not-yet-valid" else "missing" if s == "not-producer" else s for s in dropped), key=_rank)
        elif src.made_by is not None and st.ops[src.made_by].kind in _NO_PROCESS:
            level = "n/a"
        else:
            level = "missing"
        levels[x] = level
        for k in range(4):
            totals[k] += lot_t[k]
        if level == "n/a" and not refs:
            continue
        contributions.append(
            InventoryContribution(
                lot_id=hex_of(x),
                label=label_of(x),
                material=label_of(src.material),
                share=sum(by_use.values()),
                energy_kwh=lot_t[0] / 1000,
                renewable_kwh=lot_t[1] / 1000,
                water_withdrawn_m3=lot_t[2] / 1000,
                water_consumed_m3=lot_t[3] / 1000,
                routes=sorted(lot_routes),
                assurance=level,
                inventories=list(refs.values()),
            )
        )
    contributions.sort(key=lambda c: (-c.energy_kwh, c.lot_id))
    ranked = [lv for lv in levels.values() if lv != "n/a"]
    weakest_level = min(ranked, key=ASSURANCE_ORDER.index) if ranked else "n/a"
    energy_kwh = totals[0] / 1000
    per_kwh = None
    unit = st.units.get(lot_id)
    if unit is not None and unit.rated_wh > 0:
        rated = unit.rated_wh / 1000
        delivered = lifetime_carbon_of(st, lot_id, at=at).delivered_kwh
        per_kwh = InventoryPerKwh(
            rated_kwh=rated,
            energy_kwh_per_kwh=energy_kwh / rated,
            water_withdrawn_m3_per_kwh=totals[2] / 1000 / rated,
            water_consumed_m3_per_kwh=totals[3] / 1000 / rated,
            delivered_kwh=delivered,
            energy_kwh_per_kwh_delivered=energy_kwh / delivered if delivered else None,
            water_consumed_m3_per_kwh_delivered=totals[3] / 1000 / delivered if delivered else None,
        )
    return ProcessInventoryReport(
        lot_id=hex_of(lot_id),
        label=label_of(lot_id),
        material=label_of(target.material),
        kind="unit" if target.kind == LotKind.UNIT else "material",
        at=at,
        energy_kwh=energy_kwh,
        renewable_kwh=totals[1] / 1000,
        renewable_share=totals[1] / totals[0] if totals[0] > 0 else None,
        water_withdrawn_m3=totals[2] / 1000,
        water_consumed_m3=totals[3] / 1000,
        routes=routes,
        per_kwh=per_kwh,
        assurance=weakest_level,
        weakest=sorted(hex_of(x) for x, lv in levels.items() if lv == weakest_level),
        excluded_energy_kwh=excluded / 1000,
        contributions=contributions,
        grade=lot_grade_of(st, lot_id, at=at),
    )


def _rank(status: str) -> int:
    if status == "not-yet-valid":
        status = "expired"
    elif status == "not-producer":
        status = "revoked"  # a figure by the wrong party is as weak as a withdrawn one
    return ASSURANCE_ORDER.index(status)


def _route_word(route: int) -> str:
    try:
        return ProcessRoute(route).word
    except ValueError:
        return str(route)


def lot_grade_of(st: LedgerState, lot_id: bytes, *, at: int) -> Grade | None:
    """Return a lot's grade: derived from its element content where its material says what it is, else the
    grade its counted process inventories attest (the latest), else None (docs/methodology.md §10)."""
    lot = st.lots.get(lot_id)
    if lot is None:
        raise errors.InvalidInput(f"no lot {label_of(lot_id)} in the replayed ledger")
    derived = derive_grade(label_of(lot.material), lot.mass0, lot.comp0[0])
    if derived is not None:
        return derived  # the element content decides; no attestation can override it
    when, pos = _own_point(st, lot, at)
    for inv in reversed(st.inventories_of(lot_id)):
        raw = inv.grade.rstrip(b"\0")
        if not raw:
            continue
        status = _status(st, inv, lot, when, pos)
        if status in ("verified", "self-declared"):
            return Grade(grade=raw.decode("ascii", "replace"), basis="attested", assurance=status, source=hex_of(inv.uid))
    return None


def process_inventory(
    source: Source, lot_id: str | bytes, *, at: int | None = None, openings: OpeningsSource | None = None
) -> ProcessInventoryReport:
    """Compute the cradle-to-gate energy (kWh, renewable share) and water (m³ withdrawn and consumed) of what a
    lot holds now, per kWh for a battery unit, with the lot's grade; judged like the footprint's claims.

    The per-delivered-kWh figures of a unit need its SOH records opened (`openings`, as
    :func:`ledger.figures.lifetime.lifetime_carbon`); without them they are None."""
    lid = id_bytes(lot_id)
    st = upstream_state(source, lid)
    open_records(st, openings)
    return process_inventory_of(st, lid, at=judged_at(source, st, at))


def lot_grade(source: Source, lot_id: str | bytes, *, at: int | None = None) -> Grade | None:
    """Return a lot's grade (derived from its element content, or attested where it cannot be), or None."""
    lid = id_bytes(lot_id)
    st = upstream_state(source, lid)
    return lot_grade_of(st, lid, at=judged_at(source, st, at))
