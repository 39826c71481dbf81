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

import gc
import pickle
import sys
from array import array
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import fields
from itertools import compress, islice
from operator import attrgetter, itemgetter, lt
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
    if isinstance(lots, LotStore):
        return lots.packed()
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
    if isinstance(lots, (LotTable, LotStore)):
        return lots.frozen()
    return [lot for lot in lots.values() if lot.state == _FROZEN]


# ------------------------------------------------------------------ the lots of a full replay as columns

#: Records a LotStore keeps made at once while replaying (those read or added since it last wrote them back).
_HOT_MAX = 1 << 15

#: The widths a column of a LotStore grows through (a number that does not fit makes its column wider).
_WIDER = {"b": "h", "h": "i", "i": "q"}

_MADE_BY = _NUMBERS.index("made_by")
_number_fields = attrgetter(*_NUMBERS)
_shared_fields = attrgetter(*_SHARED)


def _fit(cols: list[array[int]], j: int, values: list[int] | tuple[int, ...]) -> array[int]:
    """Column `j` of `cols`, made wide enough for `values` first (past 64 bits: ValueError)."""
    col = cols[j]
    if not values:
        return col
    lo, hi = min(values), max(values)
    while True:
        bits = col.itemsize * 8
        if -(1 << (bits - 1)) <= lo and hi < 1 << (bits - 1):
            return col
        wider = _WIDER.get(col.typecode)
        if wider is None or array(wider).itemsize <= col.itemsize:
            raise ValueError("a lot's number does not fit 64 bits")
        cols[j] = col = array(wider, col)


class LotStore(MutableMapping[bytes, LotRec]):
    """The lots of a full replay, kept as columns (issue 16: a record, its id, position and history lists were
    about 450 bytes a lot, 500,000 lots at 1,000,000 events). A record is made when a lot is read, and the replay
    changes it in place; :meth:`settle`, between two events, writes the records made back into the columns once
    there are `_HOT_MAX` of them, and drops them. After :meth:`seal` (the replay done), a lot read is a record
    of its own each time, not kept (a change to it is lost: the audit only reads).

    Numbers are arrays of the narrowest width that holds them; the values lots share are indexes into one table;
    a lot's history lists a pickled row; a lot's row is found through an open-addressing table of row numbers
    over the ids, which sit side by side in one byte string (about 120 bytes a lot in all). Rows are in insertion
    order; a lot added since the last write-back has its row number already, its row is appended when written."""

    __slots__ = (
        "_dead",
        "_hist",
        "_hist_body",
        "_hist_ends",
        "_hot",
        "_ids",
        "_last",
        "_mask",
        "_n",
        "_numbers",
        "_sealed",
        "_shared",
        "_slots",
        "_table",
        "_where",
        "_where_id",
    )

    def __init__(self) -> None:
        self._ids = bytearray()  # the ids of the rows written, 32 bytes each
        self._numbers: list[array[int]] = [array("b") for _ in _NUMBERS]
        self._shared: list[array[int]] = [array("b") for _ in _SHARED]
        self._table: list[Any] = []
        self._where: dict[Any, int] = {}  # (type, value) -> its index in the table
        self._where_id: dict[int, int] = {}  # id(value) -> its index, for the table's own objects
        self._hist = array("i")  # each row's history row, or -1
        self._hist_ends = array("q")
        self._hist_body = bytearray()
        self._dead = 0  # bytes of history rows written again since
        self._slots = array("i", [-1]) * (1 << 12)
        self._mask = (1 << 12) - 1
        self._hot: dict[bytes, tuple[int, LotRec]] = {}  # the records made and not dropped, with their rows
        self._n = 0  # rows, those not written yet included
        self._sealed = False
        self._last: LotRec | None = None  # sealed: the record read last

    # ------------------------------------------------------------------ rows

    def __len__(self) -> int:
        return self._n

    def _id(self, i: int) -> bytes:
        return bytes(self._ids[32 * i : 32 * i + 32])

    def _row_of(self, lot_id: bytes) -> int | None:
        """The row of `lot_id` among those written (by the open-addressing table), or None."""
        slots, mask, ids = self._slots, self._mask, self._ids
        h = hash(lot_id) & mask
        while True:
            i = slots[h]
            if i < 0:
                return None
            if ids[32 * i : 32 * i + 32] == lot_id:
                return i
            h = (h + 1) & mask

    def _place(self, lot_id: bytes, i: int) -> None:
        slots, mask = self._slots, self._mask
        h = hash(lot_id) & mask
        while slots[h] >= 0:
            h = (h + 1) & mask
        slots[h] = i

    def _index_of(self, v: Any) -> int:
        """The index of `v` in the table: found by identity when it is the table's own object (the replay shares
        equal values, LedgerState._share), else by value (by type too: b"" and "" stay themselves)."""
        k = self._where.get((type(v), v))
        if k is None:
            k = self._where[(type(v), v)] = len(self._table)
            self._table.append(v)
        if self._table[k] is v:  # the table holds it: its id is not reused while the table lives
            self._where_id[id(v)] = k
        return k

    def _history(self, h: int) -> bytes:
        return bytes(self._hist_body[self._hist_ends[h - 1] if h else 0 : self._hist_ends[h]])

    def _make(self, i: int) -> LotRec:
        """The record of row `i`, made from the columns (spelled out: every read of a sealed store makes one)."""
        n, sh, t = self._numbers, self._shared, self._table
        h = self._hist[i]
        used_by, custody, freezes = (NONE_YET, NONE_YET, NONE_YET) if h < 0 else pickle.loads(self._history(h))
        made_by = n[7][i]
        return LotRec(
            bytes(self._ids[32 * i : 32 * i + 32]),
            t[sh[0][i]],
            t[sh[1][i]],
            t[sh[2][i]],
            t[sh[3][i]],
            n[0][i],
            t[sh[5][i]],
            n[1][i],
            n[2][i],
            n[3][i],
            t[sh[4][i]],
            n[4][i],
            t[sh[6][i]],
            n[5][i],
            n[6][i],
            None if made_by < 0 else made_by,
            used_by,
            custody,
            freezes,
            t[sh[7][i]],
            bool(n[8][i]),
        )

    def _columns_of(self, recs: list[LotRec]) -> tuple[list[Any], list[list[int]]]:
        """The number and shared-value columns of `recs`, a column at a time (transposed in C, as :func:`_pack`)."""
        numbers: list[Any] = list(zip(*map(_number_fields, recs)))
        numbers[_MADE_BY] = [-1 if v is None else v for v in numbers[_MADE_BY]]
        where = self._where_id
        shared: list[list[int]] = []
        for values in zip(*map(_shared_fields, recs)):
            ks: list[Any] = list(map(where.get, map(id, values)))
            if None in ks:
                ks = [self._index_of(v) if k is None else k for k, v in zip(ks, values)]
            shared.append(ks)
        return numbers, shared

    def _history_of(self, i: int, lot: LotRec) -> None:
        """Row `i`'s history row from `lot` (an unchanged one kept; one written again leaves its old bytes)."""
        h = self._hist[i]
        if lot.used_by or lot.custody or lot.freezes:
            row = pickle.dumps((lot.used_by, lot.custody, lot.freezes), protocol=pickle.HIGHEST_PROTOCOL)
            if h >= 0:
                old = self._history(h)
                if old == row:
                    return
                self._dead += len(old)
            self._hist_body += row
            self._hist_ends.append(len(self._hist_body))
            self._hist[i] = len(self._hist_ends) - 1
        elif h >= 0:
            self._dead += self._hist_ends[h] - (self._hist_ends[h - 1] if h else 0)
            self._hist[i] = -1

    def _compact_history(self) -> None:
        """The history rows still in use, copied into a new body (those written again left their old bytes)."""
        body, ends = bytearray(), array("q")
        hist = self._hist
        for i in range(len(hist)):
            h = hist[i]
            if h >= 0:
                body += self._history(h)
                ends.append(len(body))
                hist[i] = len(ends) - 1
        self._hist_body, self._hist_ends, self._dead = body, ends, 0

    def _write_back(self, *, drop: bool) -> None:
        """Every record made written into its row (a new lot's row appended), dropped with `drop`."""
        if not self._hot:
            return
        # The cyclic collector paused: the columns are made of tuples and lists with no cycles, and each
        # collection it ran meanwhile walked every record held (two thirds of a write-back's time).
        was = gc.isenabled()
        gc.disable()
        try:
            self._write_rows(drop=drop)
        finally:
            if was:
                gc.enable()

    def _write_rows(self, *, drop: bool) -> None:
        written = len(self._hist)
        items = sorted(self._hot.values(), key=itemgetter(0))
        old = [(i, lot) for i, lot in items if i < written]
        new = [lot for i, lot in items if i >= written]  # rows written .. self._n - 1, all of them, in order
        if old:
            rows = [i for i, _ in old]
            numbers, shared = self._columns_of([lot for _, lot in old])
            for cols, values in ((self._numbers, numbers), (self._shared, shared)):
                for j, vs in enumerate(values):
                    col = _fit(cols, j, vs)
                    for i, v in zip(rows, vs):
                        col[i] = v
            for i, lot in old:
                self._history_of(i, lot)
        if new:
            numbers, shared = self._columns_of(new)
            for cols, values in ((self._numbers, numbers), (self._shared, shared)):
                for j, vs in enumerate(values):
                    _fit(cols, j, vs).extend(vs)
            self._ids += b"".join(lot.lot_id for lot in new)
            self._hist.extend([-1] * len(new))
            if 2 * len(self._hist) > len(self._slots):  # at most half full, so that a probe ends soon
                size = len(self._slots)
                while 2 * len(self._hist) > size:
                    size *= 2
                self._slots = array("i", [-1]) * size
                self._mask = size - 1
                for k in range(written):
                    self._place(self._id(k), k)
            for i, lot in enumerate(new, start=written):
                self._place(lot.lot_id, i)
                if lot.used_by or lot.custody or lot.freezes:
                    self._history_of(i, lot)
        if drop:
            self._hot = {}
        if self._dead * 2 > len(self._hist_body) + (1 << 20):
            self._compact_history()

    def settle(self) -> None:
        """Between two events: write the records made back and drop them once there are many (see the class doc);
        reads keep their records again (the replay goes on)."""
        self._sealed, self._last = False, None
        if len(self._hot) >= _HOT_MAX:
            self._write_back(drop=True)

    def seal(self) -> None:
        """The replay done: every record written back and dropped; from now on each read makes a record of its own."""
        self._write_back(drop=True)
        self._sealed = True

    # --------------------------------------------------------------- mapping

    def __getitem__(self, lot_id: bytes) -> LotRec:
        lot = self.get(lot_id)
        if lot is None:
            raise KeyError(lot_id)
        return lot  # type: ignore[no-any-return]

    def get(self, lot_id: bytes, default: Any = None) -> Any:
        """The record of `lot_id`, or `default`."""
        hot = self._hot.get(lot_id)
        if hot is not None:
            return hot[1]
        last = self._last
        if last is not None and last.lot_id == lot_id:  # sealed: the lot just read, read again (a claim reads it twice)
            return last
        i = self._row_of(lot_id) if isinstance(lot_id, bytes) else None
        if i is None:
            return default
        lot = self._make(i)
        if self._sealed:
            self._last = lot
        else:
            self._hot[lot_id] = (i, lot)
        return lot

    def __contains__(self, lot_id: object) -> bool:
        return lot_id in self._hot or (isinstance(lot_id, bytes) and self._row_of(lot_id) is not None)

    def __setitem__(self, lot_id: bytes, lot: LotRec) -> None:
        if len(lot_id) != 32 or lot.lot_id != lot_id:
            raise ValueError("a lot is filed under another lot's id")
        hot = self._hot.get(lot_id)
        i = hot[0] if hot is not None else self._row_of(lot_id)
        if i is None:
            i, self._n = self._n, self._n + 1
        self._hot[lot_id] = (i, lot)
        if self._sealed:
            self._last = None
            self._write_back(drop=True)

    def __delitem__(self, lot_id: bytes) -> None:
        raise TypeError("a replayed lot is never deleted")

    def __iter__(self) -> Iterator[bytes]:
        self._write_back(drop=False)
        for i in range(len(self._hist)):
            yield self._id(i)

    def records(self, *, reverse: bool = False) -> Iterator[LotRec]:
        """Every lot's record in row (insertion) order, or the reverse, one at a time (none kept once sealed)."""
        self._write_back(drop=False)
        hot = {i: lot for i, lot in self._hot.values()}
        n = len(self._hist)
        for i in range(n - 1, -1, -1) if reverse else range(n):
            yield hot.get(i) or self._make(i)

    def values(self) -> Any:
        """Every record, in insertion order, one at a time."""
        return self.records()

    def items(self) -> Any:
        """Every (lot id, record), in insertion order, one at a time."""
        return ((lot.lot_id, lot) for lot in self.records())

    def ascending(self) -> bool:
        """Whether the rows' positions run strictly ascending (insertion order is then creation order)."""
        self._write_back(drop=False)
        pos = self._numbers[_NUMBERS.index("pos")]
        return all(map(lt, pos, islice(pos, 1, None)))

    def frozen(self) -> list[LotRec]:
        """The frozen lots, in insertion order, found in the state column (the records made written back first)."""
        self._write_back(drop=False)
        states = self._numbers[_NUMBERS.index("state")]
        return [self[self._id(i)] for i in compress(range(len(self._hist)), map(_FROZEN.__eq__, states))]

    def packed(self) -> dict[str, Any]:
        """The columns as a checkpoint's state holds them (see :func:`pack_lots`)."""
        self._write_back(drop=False)
        n, ids = len(self), bytes(self._ids)
        return {
            "n": n,
            "ids": ids,
            "sorted": _ints(sorted(range(n), key=lambda i: ids[32 * i : 32 * i + 32])),
            "numbers": {name: _ints(col) for name, col in zip(_NUMBERS, self._numbers)},
            "table": list(self._table),
            "shared": {name: _ints(col) for name, col in zip(_SHARED, self._shared)},
            "history": _ints(self._hist),
            "history_ends": _ints(self._hist_ends),
            "history_body": bytes(self._hist_body),
            "history_dead": self._dead,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return len(self) == len(other) and all(other.get(k) == v for k, v in self.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LotStore({len(self)} lots)"

    def __reduce__(self) -> tuple[Any, ...]:
        return LotTable, (self.packed(),)
