"""The two regulatory figures of a battery passport, computed from the replayed ledger
(:class:`ledger.replay.state.LedgerState`), in the regulation's own units:

* **Art. 7 carbon footprint**: kg CO2e per kWh of the total energy the battery delivers over its
  service life. The draft Commission Delegated Regulation on the carbon footprint of EV batteries
  (Ares(2024)3131389, 29 April 2024, functional-unit section; drawn from the JRC report "Rules for the
  calculation of the Carbon Footprint of Electric Vehicle Batteries (CFB-EV)", final draft 2023) defines
  the functional unit as E_total = usable energy at beginning of life (kWh) × full equivalent cycles per
  year × years of service, with cycles per year by vehicle category (M1/N1: 60, L: 20, M2/M3/N2/N3: 250)
  and years of service from the commercial warranty. It is a different figure from the per-rated-kWh
  cradle-to-gate intensity (e.g. IVL's 61-106 kg CO2e/kWh), which is kept under its own name.
* **Art. 8 recycled content**: the share of Co, Li and Ni recovered from waste *in the active materials*
  (Art. 8(1)-(3)), not in all of the element the battery holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger import errors
from ledger.domain.composition import ELEMENTS
from ledger.domain.enums import OpKind
from ledger.domain.stages import STAGES
from ledger.figures.footprint import Footprint, use_factors
from ledger.figures.recycled import ART8_TARGETS
from ledger.replay.records import LotRec, OpRec
from ledger.replay.state import LedgerState

#: Full equivalent cycles per year by vehicle category (EU type-approval categories), as the April 2024
#: draft delegated act on the carbon footprint of EV batteries gives them; the manufacturer picks the
#: category matching the vehicle's use pattern and justifies it in the public study.
DEFAULT_CYCLES_PER_YEAR: Mapping[str, float] = {
    "M1": 60,
    "N1": 60,  # passenger cars and light commercial vehicles
    "L": 20,  # two- and three-wheelers, quadricycles
    "M2": 250,
    "M3": 250,
    "N2": 250,
    "N3": 250,  # buses, coaches, trucks
}
#: Elements Art. 8 sets targets for that Rinne tracks (lead is not tracked).
ART8_ELEMENTS: tuple[str, ...] = ("Co", "Li", "Ni")
#: Transition metals of lithium-ion cathode active materials (NMC, NCA, LCO, LMO, LFP).
_CATHODE_METALS = ("Ni", "Co", "Mn", "Fe")
_IDX = {e: k for k, e in enumerate(ELEMENTS)}


@dataclass(frozen=True)
class Art7Parameters:
    """Inputs of the Art. 7 functional unit the ledger does not hold (all configurable).

    ``usable_energy_kwh``: usable energy at beginning of life; when None the unit's rated energy is used and
    the export says so. ``cycles_per_year``: when None, taken from ``vehicle_category`` via
    :data:`DEFAULT_CYCLES_PER_YEAR`. ``service_years``: the commercial warranty in years (no default: the
    draft ties it to each battery's warranty). ``class_bands``: (upper limit in kg CO2e/kWh, class label)
    in ascending order; empty until the delegated act fixes the performance classes (Art. 7(2)).
    """

    usable_energy_kwh: float | None = None
    cycles_per_year: float | None = None
    vehicle_category: str | None = None
    service_years: float | None = None
    class_bands: tuple[tuple[float, str], ...] = field(default_factory=tuple)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object] | None) -> Art7Parameters:
        """Build from a JSON-style mapping (keys ``usableEnergyKwh``, ``cyclesPerYear``, ``vehicleCategory``,
        ``serviceYears``, ``classBands`` as [[limit, label], ...])."""
        # JSON values: float() and str() below check them as they are read.
        fields: Mapping[str, Any] = data or {}
        known = {"usableEnergyKwh", "cyclesPerYear", "vehicleCategory", "serviceYears", "classBands"}
        unknown = set(fields) - known
        if unknown:
            raise errors.InvalidInput(f"unknown Art. 7 parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        bands = tuple((float(b[0]), str(b[1])) for b in fields.get("classBands", ()) or ())
        if list(bands) != sorted(bands):
            raise errors.InvalidInput("classBands must be in ascending order of their upper limit")

        def num(k: str) -> float | None:
            return None if fields.get(k) is None else float(fields[k])

        return cls(
            usable_energy_kwh=num("usableEnergyKwh"),
            cycles_per_year=num("cyclesPerYear"),
            vehicle_category=fields.get("vehicleCategory"),
            service_years=num("serviceYears"),
            class_bands=bands,
        )


@dataclass(frozen=True)
class Art7Figure:
    """The Art. 7 carbon footprint of a unit: kg CO2e per kWh of lifetime energy, per stage."""

    kg_co2e: float
    usable_energy_kwh: float
    usable_energy_basis: str  # "declared" or "rated energy (usable energy not declared)"
    cycles_per_year: float | None
    cycles_basis: str
    service_years: float | None
    lifetime_kwh: float | None
    kg_co2e_per_kwh: float | None
    stages: dict[str, float | None]
    performance_class: str | None
    missing: tuple[str, ...]


def art7_figure(fp: Footprint, rated_kwh: float, params: Art7Parameters) -> Art7Figure:
    """Divide a unit's life-cycle footprint by E_total = usable kWh × cycles per year × years of service
    (draft delegated act, April 2024, functional unit); None where an input is missing, never guessed."""
    missing = []
    if params.usable_energy_kwh is not None:
        usable, basis = params.usable_energy_kwh, "declared"
    else:
        # Usable energy is not on the ledger; rated energy is its closest held figure, and the export says so.
        usable, basis = rated_kwh, "rated energy (usable energy not declared)"
    cycles = params.cycles_per_year
    cycles_basis = "declared"
    if cycles is None and params.vehicle_category is not None:
        if params.vehicle_category not in DEFAULT_CYCLES_PER_YEAR:
            raise errors.InvalidInput(
                f"no default cycles per year for vehicle category {params.vehicle_category!r}; "
                f"known: {', '.join(DEFAULT_CYCLES_PER_YEAR)} (or give cyclesPerYear)"
            )
        cycles = float(DEFAULT_CYCLES_PER_YEAR[params.vehicle_category])
        cycles_basis = f"default for category {params.vehicle_category} (draft delegated act, April 2024)"
    if cycles is None:
        missing.append("cyclesPerYear")
        cycles_basis = "not given"
    if params.service_years is None:
        missing.append("serviceYears")
    total = usable * cycles * params.service_years if cycles is not None and params.service_years is not None else None
    per = fp.kg_co2e / total if total else None
    stages = {s: (fp.stages[s] / total if total else None) for s in STAGES}
    klass = None
    if per is not None:
        klass = next((label for limit, label in params.class_bands if per <= limit), None)
    return Art7Figure(
        kg_co2e=fp.kg_co2e,
        usable_energy_kwh=usable,
        usable_energy_basis=basis,
        cycles_per_year=cycles,
        cycles_basis=cycles_basis,
        service_years=params.service_years,
        lifetime_kwh=total,
        kg_co2e_per_kwh=per,
        stages=stages,
        performance_class=klass,
        missing=tuple(missing),
    )


# ------------------------------------------------------------------------------ Art. 8


@dataclass(frozen=True)
class ActiveMaterialShare:
    """Recycled content of one element in the active materials of a unit (grams and fractions)."""

    element: str
    total_g: float
    pre_consumer_g: float
    post_consumer_g: float

    @property
    def pre_consumer_share(self) -> float | None:
        return self.pre_consumer_g / self.total_g if self.total_g else None

    @property
    def post_consumer_share(self) -> float | None:
        return self.post_consumer_g / self.total_g if self.total_g else None

    @property
    def recycled_share(self) -> float | None:
        return (self.pre_consumer_g + self.post_consumer_g) / self.total_g if self.total_g else None


@dataclass(frozen=True)
class ActiveMaterials:
    """The active-material lots of a unit and the recycled shares of Co, Li, Ni in them."""

    lots: dict[bytes, float]  # lot id -> fraction of that lot (its minted composition) that reaches the unit
    basis: dict[bytes, str]  # lot id -> why it counts as active material
    elements: dict[str, ActiveMaterialShare]
    targets: list[dict[str, object]]


def _holds(lot: LotRec, element: str) -> bool:
    return lot.comp0[0][_IDX[element]] > 0


def _is_cathode_material(lot: LotRec) -> bool:
    """A lithiated transition-metal compound: lithium together with Ni, Co, Mn or Fe (graphite, electrolyte
    salts, foils and casings each lack one of the two)."""
    return _holds(lot, "Li") and any(_holds(lot, m) for m in _CATHODE_METALS)


def _cell_making(st: LedgerState, op: OpRec) -> bool:
    """A transform whose outputs are cells (the replay marks what a cell maker makes, docs/methodology.md §5)."""
    return op.kind == OpKind.TRANSFORM and any(o in st.lots and st.lots[o].cell for o in op.outputs)


def active_materials_of(st: LedgerState, unit_id: bytes) -> ActiveMaterials:
    """Identify a unit's active-material lots in the replayed graph and sum Co, Li, Ni in them.

    The rule (docs/passport-mapping.md, "Art. 8"): walking upstream with the footprint's allocation
    factors (the fraction of each lot that reaches what the unit holds now), the active materials are the
    inputs of each *cell-making transform* that are cathode active material (they hold lithium and a
    cathode transition metal). When none of a cell-making transform's inputs qualifies, the cell maker
    synthesised the cathode in that very step, and every input holding Co, Li or Ni counts. Cells brought
    into the ledger ready-made (minted by a cell maker) have no recorded split between electrode and other
    materials, so all of their Co, Li and Ni counts. Lead is not tracked.
    """
    if unit_id not in st.units:
        raise errors.InvalidInput("not a battery unit")
    uses = use_factors(st, unit_id)
    # Walk upstream from the unit and stop at the first cell-making step on each path: that step made the
    # cells the unit holds (a refiner with the cell-maker role also makes sulphates, which are not cells).
    by_op: dict[int, list[tuple[bytes, float]]] = {}
    counted: dict[bytes, float] = {}
    basis: dict[bytes, str] = {}
    seen: set[bytes] = set()
    todo = [unit_id]
    while todo:
        x = todo.pop()
        if x in seen or x not in st.lots:
            continue
        seen.add(x)
        lot = st.lots[x]
        if lot.made_by is None:
            if lot.cell and x in uses:
                counted[x] = counted.get(x, 0.0) + sum(uses[x].values())
                basis[x] = "cells brought in ready-made: all of their Co, Li, Ni"
            continue
        op = st.ops[lot.made_by]
        if _cell_making(st, op):
            by_op[op.index] = [(i, uses[i][op.index]) for i in op.inputs if i in uses and op.index in uses[i]]
            continue
        todo.extend(op.inputs)
    for _k, inputs in sorted(by_op.items()):
        cathode = [(x, f) for x, f in inputs if _is_cathode_material(st.lots[x])]
        if cathode:
            chosen, why = cathode, "cathode active material fed to a cell-making transform"
        else:
            chosen = [(x, f) for x, f in inputs if any(_holds(st.lots[x], e) for e in ART8_ELEMENTS)]
            why = "cathode precursor: the cell-making transform synthesised the cathode itself"
        for x, f in chosen:
            counted[x] = counted.get(x, 0.0) + f
            basis[x] = why
    sums = {e: [0.0, 0.0, 0.0] for e in ART8_ELEMENTS}
    for x, f in counted.items():
        total, pre, post = st.lots[x].comp0
        for e in ART8_ELEMENTS:
            k = _IDX[e]
            sums[e][0] += f * total[k]
            sums[e][1] += f * pre[k]
            sums[e][2] += f * post[k]
    elements = {e: ActiveMaterialShare(e, *v) for e, v in sums.items()}
    targets: list[dict[str, object]] = []
    for year, goals in ART8_TARGETS.items():
        for e, goal in goals.items():
            share = elements[e].recycled_share
            targets.append(
                {
                    "element": e,
                    "year": year,
                    "targetPercent": 100 * goal,
                    "sharePercent": None if share is None else 100 * share,
                    "met": None if share is None else share + 1e-12 >= goal,
                }
            )
    return ActiveMaterials(lots=counted, basis=basis, elements=elements, targets=targets)
