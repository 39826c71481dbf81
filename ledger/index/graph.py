"""The material graph: which operations used and made which lots, kept in memory beside the index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class MaterialGraph:
    """Operations as adjacency lists (lot → creating op, op → inputs and outputs, lot → consuming ops),
    loaded from the index once and extended as it syncs; traversals are plain dictionary walks."""

    __slots__ = ("made_by", "inputs", "outputs", "consumers", "lots", "_interned")

    def __init__(self) -> None:
        #: lot id -> (material, mass at creation, origin, creator, kind, LotCreated event id)
        self.lots: dict[bytes, tuple[bytes, int, bytes, str, int, int]] = {}
        self._interned: dict[Any, Any] = {}
        self.made_by: dict[bytes, int] = {}
        self.inputs: dict[int, list[tuple[bytes, int]]] = {}
        self.outputs: dict[int, list[bytes]] = {}
        self.consumers: dict[bytes, list[tuple[int, int]]] = {}  # lot -> [(op, grams used; 0 = whole)]

    def add(self, ins: Iterable[tuple[int, int, bytes, int]], outs: Iterable[tuple[int, int, bytes]]) -> None:
        """Add op_in rows (op, pos, lot, used) and op_out rows (op, pos, lot), each in position order."""
        for op, _pos, lot, used in ins:
            self.inputs.setdefault(op, []).append((lot, used))
            self.consumers.setdefault(lot, []).append((op, used))
        for op, _pos, lot in outs:
            self.outputs.setdefault(op, []).append(lot)
            self.made_by[lot] = op

    def add_lots(self, rows: Iterable[tuple[bytes, int, bytes, int, bytes, str]], units: Iterable[tuple[bytes]] = ()) -> None:
        """Add lots rows (lot, event, material, mass, origin, creator) and mark `units` as battery units."""
        intern = self._interned.setdefault
        for lot, event, material, mass, origin, holder in rows:
            self.lots[lot] = (intern(material, material), mass, intern(origin, origin), intern(holder, holder), 0, event)
        for (unit,) in units:
            rec = self.lots.get(unit)
            if rec is not None:
                self.lots[unit] = rec[:4] + (1,) + rec[5:]

    def upstream(self, root: bytes) -> list[bytes]:
        """The lot and every lot it was made from, transitively."""
        seen = {root}
        stack = [root]
        made_by, inputs = self.made_by, self.inputs
        while stack:
            op = made_by.get(stack.pop())
            if op is None:
                continue
            for lot, _ in inputs.get(op, ()):
                if lot not in seen:
                    seen.add(lot)
                    stack.append(lot)
        return list(seen)

    def downstream(self, root: bytes) -> list[bytes]:
        """The lot and every lot made from it, transitively."""
        seen = {root}
        stack = [root]
        consumers, outputs = self.consumers, self.outputs
        while stack:
            for op, _ in consumers.get(stack.pop(), ()):
                for lot in outputs.get(op, ()):
                    if lot not in seen:
                        seen.add(lot)
                        stack.append(lot)
        return list(seen)
