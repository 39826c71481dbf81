"""Yields and recycling performance, from the replayed ledger: what each operation gave back per element,
and a recycler's recovery over a period against EU 2023/1542 Annex XII.

- **Yield** of an operation, per element: grams in its outputs over grams its inputs gave (the
  declared loss is the difference; the contract conserves every element, so a yield never exceeds 1).
- **Material recovery** of a recycler over a period, per element (Annex XII Part C): the element grams
  in the material the recycler recovered from the waste units it recycled in the period, over the element
  grams those units held. The recovered material is followed through the recycler's own later
  operations (black mass into sulphates and carbonate): what counts is what it finally handed on or
  still holds, so losses in its refining steps count too. By-products without the element add nothing.
- **Recycling efficiency** (Annex XII Part B): the mass of the recycling operations' outputs over the
  mass of the units they took in. Annex XII's calculation rules (the delegated act under Art. 71(4))
  also weigh what leaves as output fractions at later steps; this is the ledger's first-step figure.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger import errors
from ledger.domain.composition import ELEMENTS
from ledger.domain.enums import OpKind
from ledger.domain.hashing import checksum_address
from ledger.domain.ids import hex_of, id_bytes, label_of
from ledger.domain.times import UnixTime
from ledger.figures.source import Source, upstream_state
from ledger.replay.records import OpRec
from ledger.replay.state import LedgerState

#: Annex XII Part C, minimum material recovery from waste batteries: element → ((deadline, share), ...).
MATERIAL_RECOVERY_TARGETS: dict[str, tuple[tuple[str, float], ...]] = {
    "Co": (("2027-12-31", 0.90), ("2031-12-31", 0.95)),
    "Ni": (("2027-12-31", 0.90), ("2031-12-31", 0.95)),
    "Cu": (("2027-12-31", 0.90), ("2031-12-31", 0.95)),
    "Li": (("2027-12-31", 0.50), ("2031-12-31", 0.80)),
}
#: Annex XII Part B, minimum recycling efficiency of lithium-based batteries (average weight).
RECYCLING_EFFICIENCY_TARGETS: tuple[tuple[str, float], ...] = (("2025-12-31", 0.65), ("2030-12-31", 0.70))


def yields_of(st: LedgerState, op: OpRec) -> dict[str, float]:
    """Return an operation's yield per element it took in: output grams over the grams its inputs gave."""
    out = [0] * len(ELEMENTS)
    for o in op.outputs:
        lot = st.lots.get(o)
        if lot is not None:
            out = [a + b for a, b in zip(out, lot.comp0[0])]
    given = [sum(c[0][k] for c in op.used_comps) for k in range(len(ELEMENTS))]
    return {e: out[k] / given[k] for k, e in enumerate(ELEMENTS) if given[k]}


class OperationYields(BaseModel):
    """What the operation that made a lot gave back of each element it took in (issue 19, yields)."""

    model_config = ConfigDict(frozen=True)

    lot_id: str
    label: str
    operation: str = Field(description="the operation's kind: transform, split, merge, recycle, build, repurpose, ...")
    operator: str
    yields: dict[str, float] = Field(description="per element: grams in the operation's outputs over the grams its inputs gave")


def operation_yields(source: Source, lot_id: str | bytes) -> OperationYields | None:
    """Return the per-element yield of the operation that made `lot_id` (None for a minted lot).

    The yield is what came out of the operation (all its outputs) over what went in (what its inputs gave):
    1 minus the declared loss's share. The contract conserves every element, so no party can declare a
    yield above 1, and the yield is the operation's, whichever output one asks about. An output declared
    as a by-product (a slag holding what would otherwise be loss) still counts as output: the ledger has no
    product/by-product taxonomy yet (docs/methodology.md §8)."""
    lid = id_bytes(lot_id)
    st = upstream_state(source, lid)
    lot = st.lots[lid]
    if lot.made_by is None:
        return None
    op = st.ops[lot.made_by]
    return OperationYields(
        lot_id=hex_of(lid),
        label=label_of(lid),
        operation=OpKind(op.kind).name.lower(),
        operator=checksum_address(op.operator),
        yields=yields_of(st, op),
    )


class TargetResult(BaseModel):
    """One Annex XII target against the recycler's figure."""

    model_config = ConfigDict(frozen=True)

    what: str
    deadline: str
    target: float
    value: float | None
    met: bool | None = Field(description="None when the recycler took in none of the element")


class RecyclingReport(BaseModel):
    """A recycler's recycling efficiency and material recovery per element over a period (Annex XII)."""

    model_config = ConfigDict(frozen=True)

    recycler: str
    start: UnixTime
    end: UnixTime
    units: list[str] = Field(description="labels of the waste units recycled in the period")
    input_mass_g: int
    output_mass_g: int
    recycling_efficiency: float | None
    input_g: dict[str, int] = Field(description="element grams in the units taken in")
    recovered_g: dict[str, int] = Field(description="element grams in what the recycler finally recovered from them")
    recovery: dict[str, float]
    recovered_lots: list[str]
    targets: list[TargetResult]
    kind: Literal["recycling"] = "recycling"

    def to_json(self, indent: int | None = 2) -> str:
        """Return the report as JSON."""
        return self.model_dump_json(indent=indent)


def recycling_report(st: LedgerState, recycler: str, *, start: int, end: int) -> RecyclingReport:
    """Compute a recycler's recycling efficiency and material recovery per element for the units it recycled
    between unix times `start` and `end` (inclusive), against the Annex XII targets (see the module doc)."""
    if end < start:
        raise errors.InvalidInput("the period ends before it starts")
    who = recycler.lower()
    ops = [op for op in st.ops if op.kind == OpKind.RECYCLE and op.operator == who and start <= op.timestamp <= end]
    n = len(ELEMENTS)
    taken = [0] * n
    in_mass = out_mass = 0
    units: list[str] = []
    frontier: list[bytes] = []
    for op in ops:
        for i, used, comp in zip(op.inputs, op.used, op.used_comps):
            units.append(label_of(i))
            in_mass += used
            taken = [a + b for a, b in zip(taken, comp[0])]
        for o in op.outputs:
            lot = st.lots.get(o)
            if lot is not None:
                out_mass += lot.mass0
                frontier.append(o)
    # Follow the recovered element grams through the recycler's own later operations: a part used by one
    # passes its share of each element on to that operation's outputs (by their share of the element);
    # what a lot keeps, or what leaves the recycler, is what it recovered.
    attributed: dict[bytes, list[float]] = {o: [float(g) for g in st.lots[o].comp0[0]] for o in frontier}
    recovered = [0.0] * n
    final: list[bytes] = []
    queue = list(frontier)
    while queue:
        x = queue.pop(0)
        lot = st.lots[x]
        mine_all = attributed.pop(x)
        kept = list(mine_all)
        for k_op in lot.used_by:
            op = st.ops[k_op]
            if op.operator != who or op.kind == OpKind.RECYCLE:
                continue  # handed on to someone else: recovered as it left
            used_g = next(c for i, c in zip(op.inputs, op.used_comps) if i == x)[0]
            outs = [st.lots[o] for o in op.outputs if o in st.lots]
            made = [sum(o.comp0[0][k] for o in outs) for k in range(n)]
            for k in range(n):
                moved = mine_all[k] * used_g[k] / lot.comp0[0][k] if lot.comp0[0][k] else 0.0
                kept[k] -= moved
                # The operation's loss of the element is lost to recovery; the rest goes to its outputs.
                given = sum(c[0][k] for c in op.used_comps)
                through = moved * made[k] / given if given else 0.0
                for out in outs:
                    if made[k] and out.comp0[0][k]:
                        acc = attributed.setdefault(out.lot_id, [0.0] * n)
                        acc[k] += through * out.comp0[0][k] / made[k]
                        if out.lot_id not in queue:
                            queue.append(out.lot_id)
        if any(v > 1e-9 for v in kept):
            final.append(x)
            for k in range(n):
                recovered[k] += max(0.0, kept[k])
    input_g = {e: taken[k] for k, e in enumerate(ELEMENTS) if taken[k]}
    recovered_g = {e: round(recovered[k]) for k, e in enumerate(ELEMENTS) if taken[k]}
    recovery = {e: recovered[k] / taken[k] for k, e in enumerate(ELEMENTS) if taken[k]}
    efficiency = out_mass / in_mass if in_mass else None
    targets = [
        TargetResult(
            what="recycling efficiency (lithium-based)",
            deadline=d,
            target=t,
            value=efficiency,
            met=None if efficiency is None else efficiency + 1e-12 >= t,
        )
        for d, t in RECYCLING_EFFICIENCY_TARGETS
    ]
    for e, goals in MATERIAL_RECOVERY_TARGETS.items():
        value = recovery.get(e)
        targets += [
            TargetResult(
                what=f"material recovery {e}", deadline=d, target=t, value=value, met=None if value is None else value + 1e-12 >= t
            )
            for d, t in goals
        ]
    return RecyclingReport(
        recycler=recycler,
        start=start,
        end=end,
        units=units,
        input_mass_g=in_mass,
        output_mass_g=out_mass,
        recycling_efficiency=efficiency,
        input_g=input_g,
        recovered_g=recovered_g,
        recovery=recovery,
        recovered_lots=[label_of(x) for x in dict.fromkeys(final)],
        targets=targets,
    )


__all__ = [
    "MATERIAL_RECOVERY_TARGETS",
    "RECYCLING_EFFICIENCY_TARGETS",
    "OperationYields",
    "RecyclingReport",
    "TargetResult",
    "operation_yields",
    "recycling_report",
    "yields_of",
]
