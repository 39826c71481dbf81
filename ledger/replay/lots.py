"""The lots of a checkpointed state as columns, made into :class:`~ledger.replay.records.LotRec` one at a time
when read (issue 15, incremental audits).

An audit from a checkpoint of 1,000,000 events read the 500,000 lots of its state file back as objects, one
pickled record each: about 0.7 s of a 1.6 s audit, though the 1,000 new events read a few thousand of them.
Here the checkpoint keeps each field of every lot as a column (numbers as arrays, the values lots share
as indexes into one table of them, each lot's history lists as a pickled row of their own), and
:class:`LotTable`, the state's ``lots`` mapping after a load, makes a lot's record when it is first read and
keeps that one record (the replay changes it in place). Asked for every lot at once (``values()``, ``items()``),
it makes them all in one go and becomes a plain mapping of records.
"""

from __future__ import annotations

import pickle
import sys
from array import array
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import fields
from itertools import compress
from operator import attrgetter
from typing import Any, cast

from ledger.domain.enums import LotState
from ledger.replay.records import NONE_YET, LotRec

#: The fields of a LotRec in its constructor's order.
_FIELDS = tuple(f.name for f in fields(LotRec))
#: Numbers: an array each, 8 to 64 bits wide (made_by None as -1, cell as 0 / 1); one that does not fit is a list.
_NUMBERS = ("mass0", "pos", "block", "timestamp", "mass", "kind", "state", "made_by", "cell")
#: Values lots share (materials, origins, evidence words, addresses, compositions): an index into one table.
_SHARED = ("material", "origin", "evidence", "creator", "holder", "comp0", "comp", "offered_to")
#: The history lists (empty for most lots): a pickled row of (used_by, custody, freezes) each, or none.
_HISTORY = ("used_by", "custody", "freezes")
assert sorted(("lot_id", *_NUMBERS, *_SHARED, *_HISTORY)) == sorted(_FIELDS)

_FROZEN = int(LotState.FROZEN)


def _ints(values: list[int] | array[int]) -> tuple[str, bytes] | list[int]:
    """A column of numbers as little-endian words of the narrowest width that holds them all (most columns hold
    small numbers: a kind, a state, an index into a short table), or as the list itself when none does. An array
    (a loaded column, patched) is written at its own width."""
    if isinstance(values, array):
        col = values
    else:
        lo, hi = (min(values), max(values)) if values else (0, 0)
        for code, bits in (("b", 8), ("h", 16), ("i", 32), ("q", 64)):
            if array(code).itemsize * 8 == bits and -(1 << (bits - 1)) <= lo and hi < 1 << (bits - 1):
                col = array(code, values)
                break
        else:
            return values
    if sys.byteorder != "little":
        col = array(col.typecode, col)
        col.byteswap()
    return col.typecode, col.tobytes()


def _copy(col: array[int] | list[int]) -> array[int] | list[int]:
    return array(col.typecode, col) if isinstance(col, array) else list(col)


def _set(cols: list[array[int] | list[int]], j: int, i: int, v: int) -> None:
    """cols[j][i] = v, the column made a list when v does not fit its array (written at a wider width then)."""
    try:
        cols[j][i] = v
    except OverflowError:
        cols[j] = c = cast("list[int]", list(cols[j]))
        c[i] = v


def _unints(data: tuple[str, bytes] | list[int]) -> array[int] | list[int]:
    if isinstance(data, list):
        return data
    code, raw = data
    if code not in ("b", "h", "i", "q"):
        raise ValueError(f"a lot column of type {code!r}")
    col = array(code)
    col.frombytes(raw)
    if sys.byteorder != "little":
        col.byteswap()
    return col


def pack_lots(lots: Mapping[bytes, LotRec]) -> dict[str, Any]:
    """The columns of `lots` (in their order), as a checkpoint's state holds them: plain bytes, lists and ints."""
    if isinstance(lots, LotTable) and lots._packed is not None:
        return lots._repack()
    recs = list(lots.values())
    if any(k != lot.lot_id for k, lot in zip(lots, recs)):
        raise ValueError("a lot is filed under another lot's id")
    return _pack(recs)


def _pack(recs: list[LotRec]) -> dict[str, Any]:
    """The columns of `recs`, a column at a time: the fields read with one attrgetter a lot and transposed in C,
    a shared value looked up once per distinct object, not per lot (a full audit writes 500,000 lots: a loop
    over each field of each lot took 4.5 s of it)."""
    n = len(recs)
    lot_ids = list(map(attrgetter("lot_id"), recs))
    if any(len(k) != 32 for k in lot_ids):
        raise ValueError("a lot id is not 32 bytes")
    numbers = dict(zip(_NUMBERS, map(list, zip(*map(attrgetter(*_NUMBERS), recs))))) if n else {k: [] for k in _NUMBERS}
    numbers["made_by"] = [-1 if v is None else v for v in numbers["made_by"]]
    table: list[Any] = []
    where: dict[Any, int] = {}
    columns = zip(*map(attrgetter(*_SHARED), recs)) if n else iter([()] * len(_SHARED))
    shared: dict[str, list[int]] = {}
    for name, values in zip(_SHARED, columns):
        # Lots share value objects (LedgerState._share): each distinct object is looked up once, by value (by type
        # too: b"" and "" must stay themselves); the objects live on in their lots, so their ids are not reused.
        index: dict[int, int] = {}
        for v in {id(v): v for v in values}.values():
            k = where.get((type(v), v))
            if k is None:
                k = where[(type(v), v)] = len(table)
                table.append(v)
            index[id(v)] = k
        shared[name] = list(map(index.__getitem__, map(id, values)))
    hist_rows = [-1] * n
    body: list[bytes] = []
    ends: list[int] = []
    size = 0
    dumps, protocol = pickle.dumps, pickle.HIGHEST_PROTOCOL
    for i, lot in enumerate(recs):
        if lot.used_by or lot.custody or lot.freezes:
            row = dumps((lot.used_by, lot.custody, lot.freezes), protocol=protocol)
            hist_rows[i] = len(ends)
            size += len(row)
            ends.append(size)
            body.append(row)
    return {
        "n": n,
        "ids": b"".join(lot_ids),
        "sorted": _ints(sorted(range(n), key=lot_ids.__getitem__)),
        "numbers": {name: _ints(numbers[name]) for name in _NUMBERS},
        "table": table,
        "shared": {name: _ints(shared[name]) for name in _SHARED},
        "history": _ints(hist_rows),
        "history_ends": _ints(ends),
        "history_body": b"".join(body),
    }


class LotTable(MutableMapping[bytes, LotRec]):
    """The lots of a state loaded from a checkpoint: a mapping of lot id to its record, in creation order, whose
    records are made from the checkpoint's columns when first read (see the module doc)."""

    __slots__ = (
        "_hist",
        "_hist_body",
        "_hist_ends",
        "_ids",
        "_live",
        "_n",
        "_new",
        "_numbers",
        "_packed",
        "_rowix",
        "_shared",
        "_sorted",
        "_table",
    )

    def __init__(self, packed: dict[str, Any]) -> None:
        self._packed: dict[str, Any] | None = packed
        self._n: int = packed["n"]
        self._ids: bytes = packed["ids"]
        self._sorted = _unints(packed["sorted"])
        self._numbers = [_unints(packed["numbers"][name]) for name in _NUMBERS]
        self._table: list[Any] = packed["table"]
        self._shared = [_unints(packed["shared"][name]) for name in _SHARED]
        self._hist = _unints(packed["history"])
        self._hist_ends = _unints(packed["history_ends"])
        self._hist_body: bytes = packed["history_body"]
        n = self._n
        if (
            len(self._ids) != 32 * n
            or len(self._sorted) != n
            or any(len(c) != n for c in (*self._numbers, *self._shared, self._hist))
            or (self._hist_ends and self._hist_ends[-1] != len(self._hist_body))
        ):
            raise ValueError("the lot columns do not line up")
        self._live: dict[bytes, LotRec] = {}  # the records made so far, and new lots
        self._new: list[bytes] = []  # lots added since the load, in order
        self._rowix: dict[bytes, int] = {}  # the row of each record in _live (a new lot's: after the last)

    # ------------------------------------------------------------------ rows

    def _key(self, j: int) -> bytes:
        """The `j`-th lot id in byte order."""
        i = self._sorted[j]
        return self._ids[32 * i : 32 * i + 32]

    def _row_of(self, lot_id: bytes) -> int | None:
        lo, hi = 0, self._n
        while lo < hi:  # bisection over the ids in byte order (a dict of 500,000 ids would cost 0.15 s to build)
            mid = (lo + hi) // 2
            if self._key(mid) < lot_id:
                lo = mid + 1
            else:
                hi = mid
        if lo < self._n and self._key(lo) == lot_id:
            return self._sorted[lo]
        return None

    def _make(self, i: int) -> LotRec:
        """The record of row `i`, made from the columns."""
        mass0, pos, block, timestamp, mass, kind, state, made_by, cell = (col[i] for col in self._numbers)
        table = self._table
        material, origin, evidence, creator, holder, comp0, comp, offered_to = (table[col[i]] for col in self._shared)
        h = self._hist[i]
        if h < 0:
            used_by = custody = freezes = NONE_YET
        else:
            a = self._hist_ends[h - 1] if h else 0
            used_by, custody, freezes = pickle.loads(self._hist_body[a : self._hist_ends[h]])
        return LotRec(
            self._ids[32 * i : 32 * i + 32],
            material,
            origin,
            evidence,
            creator,
            mass0,
            comp0,
            pos,
            block,
            timestamp,
            holder,
            mass,
            comp,
            kind,
            state,
            None if made_by < 0 else made_by,
            used_by,
            custody,
            freezes,
            offered_to,
            bool(cell),
        )

    def _collapse(self) -> dict[bytes, LotRec]:
        """Make every record (those made already kept) and become a plain mapping of them."""
        if self._packed is None:
            return self._live
        live, made = self._live, {}
        for i in range(self._n):
            lot_id = self._ids[32 * i : 32 * i + 32]
            made[lot_id] = live.get(lot_id) or self._make(i)
        for lot_id in self._new:
            made[lot_id] = live[lot_id]
        self._live, self._packed, self._new, self._rowix = made, None, [], {}
        return made

    def _repack(self) -> dict[str, Any]:
        """The columns again: those of rows never read as they were, the rows of the records made or added since
        written from them (a record read may have changed), the new lots after the rest.

        A checkpoint written by an audit from a checkpoint costs what the lots the audit read do, not a pass making
        and encoding every lot (2.5 s of a 3.2 s audit of 100,000 events under cProfile). A history row written
        again leaves its old bytes behind: once they are half the history body, every lot is encoded afresh."""
        packed = self._packed
        assert packed is not None
        if not self._live:
            return packed
        n, new, live, rowix = self._n, self._new, self._live, self._rowix
        # Copies of the columns (arrays stay arrays: patched and written as they are, no pass over their numbers);
        # a number too wide for its array turns that column into a list, written at the width it needs.
        numbers: list[array[int] | list[int]] = [_copy(c) for c in self._numbers]
        shared: list[array[int] | list[int]] = [_copy(c) for c in self._shared]
        table = list(self._table)
        by_identity = {id(v): k for k, v in enumerate(table)}  # the records made from the table hold its objects
        added: dict[Any, int] = {}  # values new since the load (a lot added, a holder changed): once each
        cols: list[array[int] | list[int]] = [_copy(self._hist), _copy(self._hist_ends)]
        body = [self._hist_body]
        size, dead = len(self._hist_body), packed.get("history_dead", 0)

        def index_of(v: Any) -> int:
            k = by_identity.get(id(v))
            if k is None:
                k = added.get((type(v), v))
                if k is None:
                    k = added[(type(v), v)] = len(table)
                    table.append(v)
                by_identity[id(v)] = k  # v lives on in its lot while this runs
            return k

        def put(i: int, lot: LotRec) -> None:
            nonlocal size, dead
            hist, ends = cols
            if i == len(hist):  # a new lot: a row at the end of every column
                for c in (*numbers, *shared):
                    c.append(0)
                hist.append(-1)
            for j, name in enumerate(_NUMBERS):
                v = getattr(lot, name)
                _set(numbers, j, i, -1 if v is None else int(v))
            for j, name in enumerate(_SHARED):
                _set(shared, j, i, index_of(getattr(lot, name)))
            h = hist[i]
            if h >= 0:
                dead += ends[h] - (ends[h - 1] if h else 0)
            if lot.used_by or lot.custody or lot.freezes:
                row = pickle.dumps((lot.used_by, lot.custody, lot.freezes), protocol=pickle.HIGHEST_PROTOCOL)
                _set(cols, 0, i, len(ends))
                size += len(row)
                cols[1].append(0)
                _set(cols, 1, len(cols[1]) - 1, size)
                body.append(row)
            else:
                _set(cols, 0, i, -1)

        for lot_id, lot in live.items():
            if lot.lot_id != lot_id:
                raise ValueError("a lot is filed under another lot's id")
            if rowix[lot_id] < n:
                put(rowix[lot_id], lot)
        for i, lot_id in enumerate(new, start=n):
            if len(lot_id) != 32:
                raise ValueError("a lot id is not 32 bytes")
            put(i, live[lot_id])
        if dead * 2 > size:
            return _pack(list(self._collapse().values()))
        # The new lots into the byte order of the ids: each found by bisection among the old ones, then one merge.
        order = self._sorted.tolist() if isinstance(self._sorted, array) else list(self._sorted)
        places = []
        for i, lot_id in enumerate(new, start=n):
            lo, hi = 0, n
            while lo < hi:
                mid = (lo + hi) // 2
                if self._key(mid) < lot_id:
                    lo = mid + 1
                else:
                    hi = mid
            places.append((lo, lot_id, i))
        places.sort()
        merged: list[int] = []
        at = 0
        for lo, _, i in places:
            merged.extend(order[at:lo])
            merged.append(i)
            at = lo
        merged.extend(order[at:])
        return {
            "n": n + len(new),
            "ids": self._ids + b"".join(new),
            "sorted": _ints(merged),
            "numbers": {name: _ints(col) for name, col in zip(_NUMBERS, numbers)},
            "table": table,
            "shared": {name: _ints(col) for name, col in zip(_SHARED, shared)},
            "history": _ints(cols[0]),
            "history_ends": _ints(cols[1]),
            "history_body": b"".join(body),
            "history_dead": dead,
        }

    def frozen(self) -> list[LotRec]:
        """The frozen lots, in creation order: the rows frozen at the checkpoint found in its state column, and the
        records made or added since as they are now (only those rows are made)."""
        if self._packed is None:
            return [lot for lot in self._live.values() if lot.state == _FROZEN]
        states = self._numbers[_NUMBERS.index("state")]
        ids, live = self._ids, self._live
        rows: dict[int, LotRec] = {}
        for i in compress(range(self._n), map(_FROZEN.__eq__, states)):
            lot_id = ids[32 * i : 32 * i + 32]
            if lot_id not in live:
                rows[i] = self[lot_id]
        rowix = self._rowix
        for lot_id, lot in live.items():
            if lot.state == _FROZEN:
                rows[rowix[lot_id]] = lot
        return [rows[i] for i in sorted(rows)]

    def added(self) -> list[bytes]:
        """The lots added since the load, in order."""
        return list(self._new) if self._packed is not None else list(self._live)[self._n :]

    # --------------------------------------------------------------- mapping

    def __getitem__(self, lot_id: bytes) -> LotRec:
        lot = self._live.get(lot_id)
        if lot is not None or self._packed is None:
            if lot is None:
                raise KeyError(lot_id)
            return lot
        i = self._row_of(lot_id)
        if i is None:
            raise KeyError(lot_id)
        lot = self._live[lot_id] = self._make(i)
        self._rowix[lot_id] = i
        return lot

    def get(self, lot_id: bytes, default: Any = None) -> Any:
        """The record of `lot_id`, or `default`."""
        try:
            return self[lot_id]
        except KeyError:
            return default

    def __contains__(self, lot_id: object) -> bool:
        if lot_id in self._live:
            return True
        return self._packed is not None and isinstance(lot_id, bytes) and self._row_of(lot_id) is not None

    def __setitem__(self, lot_id: bytes, lot: LotRec) -> None:
        if self._packed is not None and lot_id not in self._rowix:
            i = self._row_of(lot_id)
            if i is None:
                i = self._n + len(self._new)
                self._new.append(lot_id)
            self._rowix[lot_id] = i
        self._live[lot_id] = lot

    def __delitem__(self, lot_id: bytes) -> None:
        del self._collapse()[lot_id]

    def __iter__(self) -> Iterator[bytes]:
        if self._packed is None:
            yield from self._live
            return
        ids = self._ids
        for i in range(self._n):
            yield ids[32 * i : 32 * i + 32]
        yield from self._new

    def __reversed__(self) -> Iterator[bytes]:
        return reversed(list(self))

    def __len__(self) -> int:
        return len(self._live) if self._packed is None else self._n + len(self._new)

    def values(self) -> Any:
        """Every record, in creation order (all made at once)."""
        return self._collapse().values()

    def items(self) -> Any:
        """Every (lot id, record), in creation order (all made at once)."""
        return self._collapse().items()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LotTable({len(self)} lots)"

    def __reduce__(self) -> tuple[Any, ...]:
        return LotTable, (pack_lots(self),)


def frozen_lots(lots: Mapping[bytes, LotRec]) -> list[LotRec]:
    """The frozen lots of `lots`, in creation order (from a checkpoint's columns: without making every record)."""
    if isinstance(lots, LotTable):
        return lots.frozen()
    return [lot for lot in lots.values() if lot.state == _FROZEN]
