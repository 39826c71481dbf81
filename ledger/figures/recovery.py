"""Yields and recycling performance, from the replayed ledger: what each operation gave back per element,
and a recycler's recovery over a period against EU 2023/1542 Annex XII (docs/methodology.md §8).

- **Yield** of an operation, per element: grams in its *product* outputs over grams its inputs gave. An
  output whose code names a residue, or a compound its content contradicts, is a by-product
  (``ledger.domain.materials``) and is reported apart, never in the yield; the contract conserves every
  element, so a yield never exceeds 1.
- **Material recovery** of a recycler over a period, per element (Annex XII Part C): the element grams
  from the waste units it recycled in the period that reached *recovered material* (a usable form whose
  content fits its code: the delegated act under Art. 71(4) counts an element at that calculation point),
  over the element grams those units held. Intermediates (black mass) are followed through the recycling
  chain: the recycler's own later operations and those of parties registered as recyclers. An
  intermediate still held, or handed out of the chain, is not (yet) recovered; residues are dead ends;
  when an operation mixes in other material, its loss falls on the recycler's material first.
- **Recycling efficiency** (Annex XII Part B): the mass of the recycling operations' outputs over the
  mass of the units they took in, each operation's output counted up to its unit's mass. Annex XII's calculation rules (the delegated act under Art. 71(4))
  also weigh what leaves as output fractions at later steps; this is the ledger's first-step figure.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger import errors
from ledger.domain import materials
from ledger.domain.composition import ELEMENTS
from ledger.domain.enums import OpKind, Role
from ledger.domain.hashing import checksum_address
from ledger.domain.ids import hex_of, id_bytes, label_of
from ledger.domain.times import UnixTime
from ledger.figures.inventory import attested_routes
from ledger.figures.source import Source, upstream_state
from ledger.replay.records import LotRec, OpRec
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


def _split(st: LedgerState, op: OpRec) -> tuple[list[int], list[int], list[bytes]]:
    # Element grams in the operation's product outputs, in its by-products, and the by-products' lot ids.
    n = len(ELEMENTS)
    prod, by = [0] * n, [0] * n
    by_lots: list[bytes] = []
    for o in op.outputs:
        lot = st.lots.get(o)
        if lot is None:
            continue
        if materials.is_by_product(label_of(lot.material), lot.mass0, lot.comp0[0]):
            by = [a + b for a, b in zip(by, lot.comp0[0])]
            by_lots.append(o)
        else:
            prod = [a + b for a, b in zip(prod, lot.comp0[0])]
    return prod, by, by_lots


def yields_of(st: LedgerState, op: OpRec) -> dict[str, float]:
    """Return an operation's yield per element it took in: grams in its *product* outputs over the grams its
    inputs gave. By-products (ledger.domain.materials.is_by_product) are left out: see `by_products_of`."""
    prod, _, _ = _split(st, op)
    given = [sum(c[0][k] for c in op.used_comps) for k in range(len(ELEMENTS))]
    return {e: prod[k] / given[k] for k, e in enumerate(ELEMENTS) if given[k]}


def by_products_of(st: LedgerState, op: OpRec) -> dict[str, float]:
    """Return, per element the operation took in, the grams in its by-products over the grams its inputs gave."""
    _, by, _ = _split(st, op)
    given = [sum(c[0][k] for c in op.used_comps) for k in range(len(ELEMENTS))]
    return {e: by[k] / given[k] for k, e in enumerate(ELEMENTS) if given[k]}


class OperationYields(BaseModel):
    """What the operation that made a lot gave back of each element it took in (issue 19, yields)."""

    model_config = ConfigDict(frozen=True)

    lot_id: str
    label: str
    operation: str = Field(description="the operation's kind: transform, split, merge, recycle, build, repurpose, ...")
    operator: str
    yields: dict[str, float] = Field(
        description="per element: grams in the operation's product outputs over the grams its inputs gave"
    )
    by_products: dict[str, float] = Field(
        default_factory=dict,
        description="per element: grams in its by-product outputs (residues, slags, ...) over the grams its inputs gave",
    )
    by_product_lots: list[str] = Field(default_factory=list, description="labels of the outputs counted as by-products")


def operation_yields(source: Source, lot_id: str | bytes) -> OperationYields | None:
    """Return the per-element yield of the operation that made `lot_id` (None for a minted lot).

    The yield is what came out of the operation as product over what went in (what its inputs gave). The
    contract conserves every element, so no party can declare a yield above 1, and the yield is the
    operation's, whichever output one asks about. An output that is a by-product (its code names a residue,
    or a compound its content contradicts: ledger.domain.materials) is reported apart in `by_products`, never
    in the yield, so booking a loss as a slag does not raise it (docs/methodology.md §8)."""
    lid = id_bytes(lot_id)
    st = upstream_state(source, lid)
    lot = st.lots[lid]
    if lot.made_by is None:
        return None
    op = st.ops[lot.made_by]
    _, _, by_lots = _split(st, op)
    return OperationYields(
        lot_id=hex_of(lid),
        label=label_of(lid),
        operation=OpKind(op.kind).name.lower(),
        operator=checksum_address(op.operator),
        yields=yields_of(st, op),
        by_products=by_products_of(st, op),
        by_product_lots=[label_of(x) for x in by_lots],
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
    output_mass_g: int = Field(description="the mass the recycling operations declared as output")
    recycling_efficiency: float | None = Field(
        description="output mass over input mass, each operation's output counted up to its unit's mass (at most 1)"
    )
    input_g: dict[str, int] = Field(description="element grams in the units taken in")
    recovered_g: dict[str, int] = Field(description="element grams from them that reached recovered material (a usable form)")
    recovery: dict[str, float]
    recovered_lots: list[str] = Field(description="labels of the recovered-material lots the recovered grams are in")
    intermediate_g: dict[str, int] = Field(
        default_factory=dict,
        description="element grams from the units still in intermediates (held, or handed out of the recycling chain): not (yet) recovered",
    )
    intermediate_lots: list[str] = Field(default_factory=list, description="labels of those intermediates")
    routes: dict[str, str] = Field(
        default_factory=dict,
        description="process routes (pyrometallurgy, hydrometallurgy, direct-to-cathode) the counted process inventories "
        "of the recycling chain's outputs attest, each with its strongest assurance (verified or self-declared)",
    )
    lost_g: dict[str, int] = Field(
        default_factory=dict,
        description="element grams from the units declared lost, or left in outputs that are neither recovered material nor an "
        "intermediate (residues, slags, codes Rinne does not know)",
    )
    targets: list[TargetResult]
    kind: Literal["recycling"] = "recycling"

    def to_json(self, indent: int | None = 2) -> str:
        """Return the report as JSON."""
        return self.model_dump_json(indent=indent)


def _in_chain(st: LedgerState, op: OpRec, who: str) -> bool:
    # The recycling chain: the recycler's own operations and those of any party registered as a recycler
    # when it operated (the next facility of a multi-step recycling process, Annex XII Part A).
    if op.operator == who:
        return True
    p = st.participants.get(op.operator)
    if p is None:
        return False
    roles, registered, suspended = p.at_pos(op.pos)
    return registered and not suspended and bool(roles & Role.RECYCLER)


def _classify(lot: LotRec) -> tuple[frozenset[str], bool]:
    # (elements it recovers in a usable form, whether it is an intermediate of the recycling chain)
    code = label_of(lot.material)
    return materials.recovers(code, lot.mass0, lot.comp0[0]), materials.is_intermediate(code)


def recycling_report(st: LedgerState, recycler: str, *, start: int, end: int) -> RecyclingReport:
    """Compute a recycler's recycling efficiency and material recovery per element for the units it recycled
    between unix times `start` and `end` (inclusive), against the Annex XII targets (see the module doc)."""
    if end < start:
        raise errors.InvalidInput("the period ends before it starts")
    who = recycler.lower()
    mine = {op.index for op in st.ops if op.kind == OpKind.RECYCLE and op.operator == who and start <= op.timestamp <= end}
    n = len(ELEMENTS)
    taken = [0] * n
    in_mass = out_mass = counted_mass = 0
    units: list[str] = []
    recovered = [0.0] * n
    residue = [0.0] * n
    credited: list[bytes] = []
    # share[x][k]: the part of lot x's element k that came from the period's units, for intermediates only
    # (a lot is homogeneous: every use of it carries that share).
    share: dict[bytes, list[float]] = {}
    used_in_chain: dict[bytes, list[int]] = {}  # element grams of such a lot that chain operations used

    def place(outs: list[LotRec], grams: float, k: int) -> None:
        # Spread `grams` of element k over the intermediates `outs` by their content of it.
        total = sum(o.comp0[0][k] for o in outs)
        for o in outs:
            if total and o.comp0[0][k]:
                share.setdefault(o.lot_id, [0.0] * n)[k] += grams / total

    routes: dict[str, str] = {}
    for op in st.ops:  # in chain order: a lot is made before it is used
        outs = [st.lots[o] for o in op.outputs if o in st.lots]
        if op.index in mine:
            for i, used, comp in zip(op.inputs, op.used, op.used_comps):
                units.append(label_of(i))
                in_mass += used
                taken = [a + b for a, b in zip(taken, comp[0])]
            out_mass += sum(o.mass0 for o in outs)
            # The contract conserves elements, not mass: no more can come out of a unit than it weighed.
            counted_mass += min(sum(o.mass0 for o in outs), sum(op.used))
            mine_g = [float(sum(c[0][k] for c in op.used_comps)) for k in range(n)]
            other_g = [0.0] * n
        else:
            if not share or not _in_chain(st, op, who):
                continue
            mine_g = [0.0] * n
            for i, comp in zip(op.inputs, op.used_comps):
                f = share.get(i)
                if f is not None:
                    mine_g = [a + fk * g for a, fk, g in zip(mine_g, f, comp[0])]
                    used_in_chain[i] = [a + b for a, b in zip(used_in_chain.get(i, [0] * n), comp[0])]
            if not any(mine_g):
                continue
            other_g = [max(0.0, sum(c[0][k] for c in op.used_comps) - mine_g[k]) for k in range(n)]
        for o in outs:  # the routes the chain's steps attest for what they made from the period's units
            for word, assurance in attested_routes(st, o, at=end).items():
                if routes.get(word) != "verified":
                    routes[word] = assurance
        classes = {o.lot_id: _classify(o) for o in outs}
        for k in range(n):
            if not mine_g[k]:
                continue
            rec = [o for o in outs if ELEMENTS[k] in classes[o.lot_id][0]]
            mid = [o for o in outs if classes[o.lot_id][1] and ELEMENTS[k] not in classes[o.lot_id][0]]
            r_g = sum(o.comp0[0][k] for o in rec)
            i_g = sum(o.comp0[0][k] for o in mid)
            # The worst case for the recycler: whatever else the operation took in went first into its recovered
            # outputs, then into its intermediates; the loss and the residues fall on the recycler's material. So
            # mixing in someone else's sulphate cannot dilute the recycler's loss, as pro rata would; with nothing
            # mixed in, it is exact.
            credit = max(0.0, min(mine_g[k], r_g - other_g[k]))
            onward = max(0.0, min(mine_g[k] - credit, i_g - max(0.0, other_g[k] - r_g)))
            recovered[k] += credit
            residue[k] += mine_g[k] - credit - onward
            credited += [o.lot_id for o in rec if credit and o.comp0[0][k]]
            place(mid, onward, k)
    # What is still in intermediates (held, or handed out of the recycling chain) is not (yet) recovered.
    pending = [0.0] * n
    held: list[bytes] = []
    for x, f in share.items():
        left = [f[k] * (st.lots[x].comp0[0][k] - used_in_chain.get(x, [0] * n)[k]) for k in range(n)]
        if any(v > 1e-9 for v in left):
            held.append(x)
            pending = [a + b for a, b in zip(pending, left)]
    input_g = {e: taken[k] for k, e in enumerate(ELEMENTS) if taken[k]}
    recovered_g = {e: round(recovered[k]) for k, e in enumerate(ELEMENTS) if taken[k]}
    intermediate_g = {e: round(pending[k]) for k, e in enumerate(ELEMENTS) if taken[k]}
    by_product_g = {e: round(residue[k]) for k, e in enumerate(ELEMENTS) if taken[k]}
    recovery = {e: recovered[k] / taken[k] for k, e in enumerate(ELEMENTS) if taken[k]}
    efficiency = counted_mass / in_mass if in_mass else None
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
        recovered_lots=[label_of(x) for x in dict.fromkeys(credited)],
        intermediate_g=intermediate_g,
        intermediate_lots=[label_of(x) for x in held],
        lost_g=by_product_g,
        routes=dict(sorted(routes.items())),
        targets=targets,
    )


__all__ = [
    "MATERIAL_RECOVERY_TARGETS",
    "RECYCLING_EFFICIENCY_TARGETS",
    "OperationYields",
    "RecyclingReport",
    "TargetResult",
    "by_products_of",
    "operation_yields",
    "recycling_report",
    "yields_of",
]
