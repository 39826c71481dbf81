"""The replayed records: lots, operations, units and their state of health, attestations, participants, and issues found."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from ledger.domain.composition import ELEMENTS, unpack_lanes
from ledger.domain.enums import LotKind, LotState
from ledger.domain.soh import SohValues

N = len(ELEMENTS)


ZERO: tuple[int, ...] = (0,) * N


Vec = tuple[int, ...]


Comp = tuple[Vec, Vec, Vec]  # total, pre-consumer, post-consumer (grams per element)


ZERO_COMP: Comp = (ZERO, ZERO, ZERO)


#: The default of a lot's history lists (used_by, custody, freezes): one shared empty tuple until the first
#: entry, when the replay puts a list of its own in its place. Most lots are never used, moved or frozen,
#: and three empty lists a lot were about 170 B of its ~1.2 KB (issue 16).
NONE_YET: Any = ()


def unpack_comp(words: Any) -> Comp:
    """Unpack the ABI form ``([t0, t1], [p0, p1], [q0, q1])`` of a composition."""
    return (unpack_lanes(words[0]), unpack_lanes(words[1]), unpack_lanes(words[2]))


def sub_comp(a: Comp, b: Comp) -> Comp:
    """Lane-wise a - b for all three vectors."""
    return (_sub_vec(a[0], b[0]), _sub_vec(a[1], b[1]), _sub_vec(a[2], b[2]))


def _sub_vec(va: Vec, vb: Vec) -> Vec:
    return tuple(x - y for x, y in zip(va, vb))


def add_vec(a: Vec, b: Vec) -> Vec:
    """Lane-wise a + b."""
    return tuple(x + y for x, y in zip(a, b))


@dataclass(slots=True)
class LotRec:
    """A lot as replayed."""

    lot_id: bytes
    material: bytes
    origin: bytes
    evidence: bytes
    creator: str
    mass0: int
    comp0: Comp
    pos: int
    block: int
    timestamp: int
    holder: str = ""
    mass: int = 0
    comp: Comp = ZERO_COMP
    kind: int = LotKind.MATERIAL
    state: int = LotState.ACTIVE
    made_by: int | None = None
    used_by: list[int] = field(default=NONE_YET)
    custody: list[tuple[int, int, str, str]] = field(default=NONE_YET)  # (pos, timestamp, from, to)
    freezes: list[tuple[int, int, bool]] = field(default=NONE_YET)  # (pos, timestamp, frozen)
    offered_to: str | None = None
    cell: bool = False  # made by a cell maker (docs/methodology.md §5): what a unit may be built from

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt(self)


@dataclass(slots=True)
class OpRec:
    """One consuming operation (LotsTransformed) with what each input really gave."""

    index: int
    kind: int
    operator: str
    inputs: list[bytes]
    used_masses: list[int]
    used: list[int]
    used_comps: list[Comp]
    outputs: list[bytes]
    loss: Vec
    pos: int
    block: int
    timestamp: int

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt(self)


@dataclass(slots=True)
class SohRec:
    """One state-of-health record as the chain holds it: a salted root and the recorder's claim of use.

    Its values are Annex XIII point 4 and not on the chain: ``opened`` holds them once an opening has been
    verified against ``root`` (:func:`ledger.replay.soh.open_records`), and is None otherwise ("not disclosed").
    """

    timestamp: int
    block: int
    pos: int
    recorder: str
    root: bytes
    used: bool  # the recorder's claim that throughput is non-zero (the contract's USED flag)
    status: int
    corrected: SohRec | None = None  # the record this one superseded (SohCorrected), kept for the history
    opened: SohValues | None = None  # verified values, for whoever holds the opening; never pickled

    def __getstate__(self) -> tuple[Any, ...]:
        # A replayed state is pickled into audit checkpoints: opened values (point 4) must not go with it.
        return (self.timestamp, self.block, self.pos, self.recorder, self.root, self.used, self.status, self.corrected)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.timestamp, self.block, self.pos, self.recorder, self.root, self.used, self.status, self.corrected = state
        self.opened = None


@dataclass(slots=True)
class UnitRec:
    """A battery unit's passport as replayed."""

    unit_id: bytes
    serial_hash: bytes
    rated_wh: int
    status: int
    parents: list[bytes]
    pos: int
    block: int
    timestamp: int
    soh: list[SohRec] = field(default_factory=list)
    statuses: list[tuple[int, int, int, int, bytes]] = field(default_factory=list)  # (timestamp, pos, from, to, evidence)
    end_user: bool = False  # held at some point by an OEM or SECOND_LIFE party (the contract's END_USER flag)
    ended_use: bool = False  # repurposed from units that were all post-consumer (the contract's ENDED_USE flag)
    custody: int = 0  # changes of holder so far: an authorisation holds for one custody
    diagnosticians: dict[str, tuple[str, int]] = field(default_factory=dict)  # diagnostician -> (holder, custody)

    @property
    def post_consumer(self) -> bool:
        """Whether recycling the unit yields post-consumer material (ISO 14021), as the contract decides: it
        reached an end user and an SOH record claimed throughput (``used``: the audit opens and checks the
        claim), or it inherited that standing."""
        return self.ended_use or (self.end_user and any(r.used for r in self.soh[-1:]))


@dataclass(slots=True)
class AttRec:
    """A GWP attestation as relayed on-chain."""

    uid: bytes
    lot_id: bytes
    signer: str
    emissions_grams: int
    stage: int
    methodology: bytes
    evidence: bytes
    issued_at: int
    valid_until: int
    nonce: int
    deadline: int
    self_declared: bool
    signature: bytes
    pos: int
    block: int
    timestamp: int
    revoked: tuple[int, int, str, bytes] | None = None  # (pos, timestamp, revoker, reason)


@dataclass(slots=True)
class InvRec:
    """A process inventory (energy, water, route, assayed grade) as relayed on-chain."""

    uid: bytes
    lot_id: bytes
    signer: str
    energy_wh: int
    renewable_bps: int
    water_withdrawn_l: int
    water_consumed_l: int
    route: int
    grade: bytes
    evidence: bytes
    issued_at: int
    valid_until: int
    nonce: int
    deadline: int
    self_declared: bool
    signature: bytes
    pos: int
    block: int
    timestamp: int
    revoked: tuple[int, int, str, bytes] | None = None  # (pos, timestamp, revoker, reason)


@dataclass(slots=True)
class ParticipantRec:
    """A registry entry and its history."""

    account: str
    roles: int = 0
    registered: bool = False
    suspended: bool = False
    history: list[tuple[int, int, int, bool, bool]] = field(default_factory=list)  # (timestamp, pos, roles, reg, susp)

    def at(self, timestamp: int) -> tuple[int, bool, bool]:
        """Return (roles, registered, suspended) as they stood at the end of second `timestamp`."""
        state = (0, False, False)
        for ts, _, roles, reg, susp in self.history:
            if ts > timestamp:
                break
            state = (roles, reg, susp)
        return state

    def at_pos(self, pos: int) -> tuple[int, bool, bool]:
        """Return (roles, registered, suspended) just before event position `pos`."""
        state = (0, False, False)
        for _, p, roles, reg, susp in self.history:
            if p >= pos:
                break
            state = (roles, reg, susp)
        return state


@dataclass(frozen=True, slots=True)
class Issue:
    """Something the replay found that the contracts should have prevented (or an audit must show)."""

    code: str
    message: str
    subject: str
    pos: int
    block: int


def _scale(comp: Comp, num: int, den: int) -> Comp:
    if den <= 0:
        return ZERO_COMP
    return tuple(v * num // den for v in comp[0]), tuple(v * num // den for v in comp[1]), tuple(v * num // den for v in comp[2])


_FIELDS: dict[type, Any] = {}


def _rebuilt(rec: Any) -> tuple[Any, ...]:
    """How a checkpoint pickles a lot or an operation: its constructor and its fields in order. The dataclass's
    own slots pickling sets each field in Python through fields(), and took half of a checkpoint's load
    (issue 15); this loads twice as fast and pickles a third smaller."""
    cls = type(rec)
    get = _FIELDS.get(cls)
    if get is None:
        get = _FIELDS[cls] = attrgetter(*(f.name for f in fields(cls)))
    return cls, get(rec)
