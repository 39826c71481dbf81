"""Reading the index: raw events, replayed (sub)states, lot rows with filters, lineage."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from typing import Any, NamedTuple, TypeVar

from eth_utils import to_checksum_address

from ledger.chain.logs import split_topics
from ledger.domain.enums import LotKind, LotState
from ledger.domain.ids import id_bytes, origin_country
from ledger.index.base import _REGISTRY_EVENTS, IndexBase, _damaged, _row_ok
from ledger.replay.events import RawEvent, replay
from ledger.replay.records import LotRec
from ledger.replay.state import LedgerState

_E = TypeVar("_E", bound=Enum)


class LotRow(NamedTuple):
    """One lot as :meth:`EventIndex.lots` answers: ids and hashes as 0x-hex, addresses checksummed,
    masses in grams, times in unix seconds; `composition` is (total, pre-consumer, post-consumer)
    grams per element in :data:`ledger.domain.composition.ELEMENTS` order, as the lot holds now."""

    lot_id: str
    kind: LotKind
    state: LotState
    material: str
    mass_g: int
    minted_mass_g: int
    holder: str
    creator: str
    origin: str
    country: str | None
    evidence: str
    minted_block: int
    minted_at: int
    made_by_operation: bool
    offered_to: str | None
    composition: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]

    @classmethod
    def of(cls, rec: LotRec) -> LotRow:
        """Make a row from a replayed :class:`ledger.replay.records.LotRec`."""
        return cls(
            lot_id="0x" + rec.lot_id.hex(),
            kind=LotKind(rec.kind),
            state=LotState(rec.state),
            material="0x" + rec.material.hex(),
            mass_g=rec.mass,
            minted_mass_g=rec.mass0,
            holder=to_checksum_address(rec.holder),
            creator=to_checksum_address(rec.creator),
            origin="0x" + rec.origin.hex(),
            country=origin_country(rec.origin),
            evidence="0x" + rec.evidence.hex(),
            minted_block=rec.block,
            minted_at=rec.timestamp,
            made_by_operation=rec.made_by is not None,
            offered_to=to_checksum_address(rec.offered_to) if rec.offered_to else None,
            composition=rec.comp,
        )


def _enum_member(enum: type[_E], value: object, what: str) -> _E | None:
    """Return `value` as a member of `enum` (a member, or its name in any case); None stays None."""
    if value is None or isinstance(value, enum):
        return value
    try:
        return enum[str(value).upper()]
    except KeyError:
        raise ValueError(f"unknown lot {what} {value!r}: one of {', '.join(m.name.lower() for m in enum)}") from None


class QueryMixin(IndexBase):
    """Queries of an :class:`EventIndex`."""

    def raw_events(self, *, where: str = "", params: Sequence[Any] = ()) -> Iterator[RawEvent]:
        """Yield stored events in chain order (optionally filtered by an SQL condition on `e`)."""
        sql = (
            "SELECT e.id, e.block, e.log_index, e.contract, e.name, e.topics, e.data, COALESCE(b.timestamp, 0) "
            "FROM events e LEFT JOIN blocks b ON b.number = e.block " + (f"WHERE {where} " if where else "") + "ORDER BY e.id"
        )
        for row in self.conn.execute(sql, params).rows():
            if not _row_ok(row[0], row[1], row[2], row[3], row[5], row[6]) or type(row[7]) is not int:
                raise _damaged(self.path, f"event row {row[0]!r} is malformed")
            yield RawEvent(row[0], row[1], row[2], row[3], row[4], split_topics(row[5]), row[6], row[7])

    def state(self) -> LedgerState:
        """Replay every stored event into a fresh :class:`LedgerState` (cached until the next sync)."""
        count = self.event_count()
        if self._state_cache is not None and self._state_cache[0] == count:
            return self._state_cache[1]
        st = replay(self.raw_events(), strict=True)
        self._state_cache = (count, st)
        return st

    def upstream_lots(self, lot_id: str | bytes) -> list[bytes]:
        """Return the lot and every lot it was made from, transitively."""
        return self.graph().upstream(id_bytes(lot_id))

    def downstream_lots(self, lot_id: str | bytes) -> list[bytes]:
        """Return the lot and every lot made from it, transitively."""
        return self.graph().downstream(id_bytes(lot_id))

    def lot_rows(self, lot_ids: Sequence[bytes]) -> list[tuple[Any, ...]]:
        """Return (lot_id, material, mass, origin, creator, kind, event) of the given lots that exist."""
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(lot_ids), 900):
            part = lot_ids[start : start + 900]
            out.extend(
                self.conn.execute(
                    "SELECT lot_id, material, mass, origin, holder, kind, event FROM lots WHERE lot_id IN ("
                    + ",".join("?" * len(part))
                    + ")",
                    part,
                )
            )
        return out

    def lots(
        self,
        *,
        holder: str | None = None,
        material: str | bytes | None = None,
        country: str | None = None,
        state: LotState | str | None = None,
        kind: LotKind | str | None = None,
        minted_from: int | None = None,
        minted_to: int | None = None,
        limit: int | None = None,
    ) -> list[LotRow]:
        """Return the lots as they stand at the last synced block, in creation order, filtered.

        Read-only: the answer comes from the replayed state (:meth:`state`, cached until the next
        sync), so holder, mass and state are current, not as minted. Filters combine with AND:
        `holder` an address (any case); `material` a code or its bytes32; `country` an ISO 3166
        alpha-2 code (lots made by an operation carry none); `state` and `kind` an enum member or its
        name in any case (another name raises ValueError); `minted_from`/`minted_to` unix seconds,
        both inclusive; `limit` at most that many rows.
        """
        want_holder = holder.lower() if holder else None
        want_material = id_bytes(material) if material is not None else None
        want_country = country.upper().encode() if country else None
        want_state = _enum_member(LotState, state, "state")
        want_kind = _enum_member(LotKind, kind, "kind")
        out: list[LotRow] = []
        st = self.state()
        for rec in st.creation_order():
            if want_holder is not None and rec.holder != want_holder:
                continue
            if want_material is not None and rec.material != want_material:
                continue
            if want_country is not None and rec.origin[:2] != want_country:
                continue
            if want_state is not None and rec.state != want_state:
                continue
            if want_kind is not None and rec.kind != want_kind:
                continue
            if minted_from is not None and rec.timestamp < minted_from:
                continue
            if minted_to is not None and rec.timestamp > minted_to:
                continue
            out.append(LotRow.of(rec))
            if limit is not None and len(out) >= limit:
                break
        return out

    def frozen_lots(self) -> set[bytes]:
        """Return the lots whose last freeze event froze them."""
        state: dict[bytes, bool] = {}
        for key, name in self.conn.execute("SELECT key, name FROM events WHERE name IN ('LotFrozen','LotUnfrozen') ORDER BY id"):
            state[key] = name == "LotFrozen"
        return {k for k, v in state.items() if v}

    def has_lot(self, lot_id: str | bytes) -> bool:
        """Whether the index knows the lot."""
        if self._graph is not None:
            return id_bytes(lot_id) in self._graph.lots
        return self.conn.execute("SELECT 1 FROM lots WHERE lot_id=?", (id_bytes(lot_id),)).fetchone() is not None

    def substate(self, lot_ids: Iterable[bytes]) -> LedgerState:
        """Replay only the events about `lot_ids` (their lots, the operations creating them, their
        attestations and revocations, and the registry) into a non-strict :class:`LedgerState`."""
        c = self.conn
        c.execute("CREATE TEMP TABLE IF NOT EXISTS sel(lot_id BLOB PRIMARY KEY) WITHOUT ROWID")
        c.execute("DELETE FROM sel")
        c.executemany("INSERT OR IGNORE INTO sel VALUES(?)", ((i,) for i in lot_ids))
        # Sibling outputs of the creating operations: their masses set each output's allocation share.
        c.execute(
            "INSERT OR IGNORE INTO sel SELECT o2.lot_id FROM op_out o2 WHERE o2.op IN "
            "(SELECT o.op FROM sel s CROSS JOIN op_out o ON o.lot_id = s.lot_id)"
        )
        # A union of indexed lookups (an OR of the same conditions made SQLite scan every event).
        where = (
            "e.id IN (SELECT id FROM events WHERE key IN (SELECT lot_id FROM sel)"
            " UNION SELECT o.op FROM sel s CROSS JOIN op_out o ON o.lot_id = s.lot_id"
            " UNION SELECT id FROM events WHERE name = 'Revoked' AND key IN (SELECT a.uid FROM sel s CROSS JOIN attested a ON a.lot_id = s.lot_id)"
            " UNION SELECT id FROM events WHERE contract = 0 AND name IN (" + ",".join(f"'{n}'" for n in _REGISTRY_EVENTS) + "))"
        )
        st = replay(self.raw_events(where=where), strict=False)
        c.execute("DELETE FROM sel")
        return st
