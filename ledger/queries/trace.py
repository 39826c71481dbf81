"""Where material came from and went: the lot graph walked up or down from a lot, with a text tree, DOT and HTML."""

from __future__ import annotations

import json
from typing import Any, Literal, NamedTuple

from ledger import errors
from ledger.domain.enums import OpKind
from ledger.domain.hashing import checksum_address
from ledger.domain.ids import hex_of, id_bytes, label_of, origin_country
from ledger.index.store import EventIndex


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


class LotFigures(NamedTuple):
    """What a drawn lot carries: kg CO2e of the whole lot as it was made (the mass its box shows) and the
    weakest claim assurance (:func:`ledger.figures.footprint.footprint`), and recycled shares per element
    with their assurance (:func:`ledger.figures.recycled.recycled_content`)."""

    kg_co2e: float
    assurance: str
    recycled: list[tuple[str, float]]  # (element, share) of the elements with recycled content
    recycled_assurance: str
    tracked: bool  # whether the lot holds any tracked element (else no recycled share applies)


class Trace:
    """The material graph around one lot: upstream to the mines, downstream to units and recovered lots.

    Lots and operations are light named tuples (a trace may hold tens of thousands of them);
    :meth:`to_dict`, :meth:`to_json`, :meth:`to_dot` and :meth:`to_html` render it.
    """

    __slots__ = ("root", "direction", "lots", "ops", "whole_g", "figures", "cut")

    def __init__(
        self,
        root: str,
        direction: str,
        lots: list[TraceLot],
        ops: list[TraceOp],
        *,
        whole_g: dict[str, int] | None = None,
        figures: dict[str, LotFigures] | None = None,
        cut: set[str] | None = None,
    ) -> None:
        self.root = root
        self.direction = direction
        self.lots = lots
        self.ops = ops
        #: Grams a whole-lot use (``used == 0``) took: the lot's mass less every earlier partial use.
        self.whole_g = whole_g or {}
        #: Per-lot figures, when the trace was asked for them (``trace(..., figures=True)``).
        self.figures = figures or {}
        #: Operations with an input whose burden is cut off (recycling of a post-consumer unit).
        self.cut = cut or set()

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
            "root": self.root,
            "direction": self.direction,
            "lots": [lot._asdict() for lot in self.lots],
            "ops": [{**op._asdict(), "inputs": [{"lot": i, "used_g": u} for i, u in op.inputs]} for op in self.ops],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Return the trace as JSON."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_dot(self) -> str:
        """Return the graph in Graphviz DOT (lots as boxes, operations as ellipses)."""
        from ledger.queries.render import trace_dot

        return trace_dot(self)

    def to_html(self) -> str:
        """Return a self-contained HTML page drawing the graph as inline SVG (no network needed)."""
        from ledger.queries.render import trace_html

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


#: Above this many lots a trace carries no figures (each is a footprint walk); the drawing stays usable.
FIGURE_LIMIT = 2_000


def trace(
    index: EventIndex, lot_id: str | bytes, *, direction: Literal["up", "down", "both"] = "both", figures: bool = False
) -> Trace:
    """Trace a lot or unit upstream (to the mines, every step) and/or downstream (to every unit, ESS
    and recovered lot) from the index's material graph; with `figures`, each lot's kg CO2e, assurance
    and recycled share too (up to :data:`FIGURE_LIMIT` lots)."""
    root = id_bytes(lot_id)
    if not index.has_lot(root):
        raise errors.UnknownLot(f"no lot {label_of(root)} on this ledger (the index is synced to block {index.synced_block})")
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
    # Addresses are shown checksummed (EIP-55); a trace names few distinct parties, so each is hashed once.
    shown: dict[str, str] = {}

    def who(raw: str) -> str:
        out = shown.get(raw)
        if out is None:
            out = shown[raw] = checksum_address(raw) if raw else raw
        return out

    ops = []
    if op_ids:
        kinds = dict(
            index.conn.execute("SELECT id, topics FROM events WHERE id IN (" + ",".join(str(int(o)) for o in op_ids) + ")").fetchall()
        )
        for op in sorted(op_ids):
            topics = kinds.get(op, b"")
            kind = int.from_bytes(topics[32:64], "big") if len(topics) >= 96 else -1
            ops.append(
                TraceOp(
                    id=_op_id(op),
                    kind=_OP_NAMES.get(kind, str(kind)),
                    operator=who("0x" + topics[76:96].hex()) if len(topics) >= 96 else "",
                    block=op >> 24,
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
                "0x" + lot_id_.hex(),
                _label(lot_id_),
                mat,
                mass,
                "unit" if kind == 1 else "material",
                country or None,
                who(holder),
                event >> 24,
                state,
                role[lot_id_],
                None if mb is None else f"op-{mb >> 24}-{mb & 0xFFFFFF}",
            )
        )
    whole: dict[str, int] = {}
    for lot_id_ in role:
        uses = consumers.get(lot_id_, ())
        if any(used == 0 for _, used in uses) and lot_id_ in meta:
            whole["0x" + lot_id_.hex()] = meta[lot_id_][1] - sum(used for _, used in uses)
    t = Trace(hex_of(root), direction, lots, ops, whole_g=whole)
    if figures and len(lots) <= FIGURE_LIMIT:
        t.figures, t.cut = _figures(index, list(role))
    return t


def _figures(index: EventIndex, ids: list[bytes]) -> tuple[dict[str, LotFigures], set[str]]:
    """Each lot's figures from one replayed state holding every lot's upstream and what used it."""
    from ledger.figures.footprint import cut_off, footprint
    from ledger.figures.recycled import recycled_content

    g = index.graph()
    needed: set[bytes] = set()
    for i in ids:
        if i not in needed:  # a lot already in holds its whole upstream already
            needed.update(g.upstream(i))
    for i in ids:
        needed.update(o for op, _ in g.consumers.get(i, ()) for o in g.outputs.get(op, ()))
    st = index.substate(needed)
    at = index.chain_timestamp or st.last_timestamp
    out: dict[str, LotFigures] = {}
    for i in ids:
        if i not in st.lots:
            continue
        fp = footprint(st, i, at=at)
        # As the text tree does: the footprint of the whole lot as made, like the mass the box shows.
        whole = fp.kg_co2e * fp.minted_mass_g / fp.mass_g if fp.state != "consumed" and fp.mass_g else fp.kg_co2e
        rc = recycled_content(st, i)
        shares = [(e.element, e.recycled_share) for e in rc.elements if e.recycled_share]
        tracked = any(e.total_g for e in rc.elements)
        out["0x" + i.hex()] = LotFigures(whole, fp.assurance, [(e, float(s)) for e, s in shares], rc.assurance, tracked)
    cut = {_op_id(op.pos) for op in st.ops if any(cut_off(st, op, x) for x in op.inputs)}
    return out, cut
