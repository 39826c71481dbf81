"""Roles, states and kinds of the ledger, as the contracts number them, and the passport's allowed moves; no pydantic, so the command line can name them cheaply."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum, IntFlag


class Role(IntFlag):
    """Participant roles (bits of the on-chain registry)."""

    MINER = 1 << 0
    REFINER = 1 << 1
    PRECURSOR_MAKER = 1 << 2
    CATHODE_MAKER = 1 << 3
    CELL_MAKER = 1 << 4
    PACK_ASSEMBLER = 1 << 5
    OEM = 1 << 6
    SECOND_LIFE = 1 << 7
    DIAGNOSTICIAN = 1 << 8
    RECYCLER = 1 << 9
    GWP_VERIFIER = 1 << 10
    AUDITOR = 1 << 11

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> Role:
        """Parse role names ("REFINER,CATHODE_MAKER" or a list; case and '-' are forgiven)."""
        names = text.split(",") if isinstance(text, str) else list(text)
        value = cls(0)
        for raw in names:
            name = raw.strip().upper().replace("-", "_")
            if not name:
                continue
            if name not in cls.__members__:
                raise ValueError(f"unknown role {raw.strip()!r}; roles are {', '.join(cls.__members__)}")
            value |= cls[name]
        return value

    def names(self) -> list[str]:
        """Return the names of the set bits."""
        return [r.name for r in Role if r & self and r.name]


class LotState(IntEnum):
    """Life-cycle state of a lot."""

    NONE = 0
    ACTIVE = 1
    CONSUMED = 2
    FROZEN = 3


class LotKind(IntEnum):
    """Bulk material or battery unit."""

    MATERIAL = 0
    UNIT = 1


class PassportStatus(IntEnum):
    """EU battery passport status."""

    NONE = 0
    ORIGINAL = 1
    REUSED = 2
    REPURPOSED = 3
    REMANUFACTURED = 4
    WASTE = 5
    RECYCLED = 6


class OpKind(IntEnum):
    """Kind of a consuming operation."""

    TRANSFORM = 0
    SPLIT = 1
    MERGE = 2
    BUILD = 3
    REPURPOSE = 4
    RECYCLE = 5
    DISMANTLE = 6
    REMANUFACTURE = 7


class ProcessRoute(IntEnum):
    """Process route of a step (``ProcessRoute`` in ``IGwpAttestations.sol``); the recycling routes are
    those whose recovery EU 2023/1542 Annex XII Part C measures."""

    UNSPECIFIED = 0
    PYROMETALLURGY = 1
    HYDROMETALLURGY = 2
    DIRECT_TO_CATHODE = 3
    OTHER = 4

    @property
    def word(self) -> str:
        """The route as the command line and exports spell it: ``direct-to-cathode``."""
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, value: object) -> ProcessRoute:
        """Read a route from its word (any case, dashes or underscores), its name or its number."""
        if isinstance(value, ProcessRoute):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        if isinstance(value, str):
            if value.isdigit():
                return cls(int(value))
            key = value.strip().upper().replace("-", "_").replace(" ", "_")
            if key in cls.__members__:
                return cls[key]
        words = ", ".join(r.word for r in cls)
        raise ValueError(f"unknown process route {value!r}; routes are {words}")


#: Operations that make battery units out of battery units: a unit made by one has a lineage of units
#: (Art. 77(6): its passport links to the original's), and its SOH history continues theirs.
UNIT_FROM_UNITS = frozenset({OpKind.REPURPOSE, OpKind.DISMANTLE, OpKind.REMANUFACTURE})


#: The passport moves the contracts allow (EU 2023/1542 Art. 77(6): a battery changing status gets its
#: new status recorded), from each status, and the operation that makes each move:
#: ``set_status`` for reused, remanufactured and waste; ``repurpose`` into an ESS; ``recycle`` from waste.
#: ``RinneLedger.sol`` enforces it (``RinneLedgerInvalidTransition``); the library reads this table.
PASSPORT_MOVES: dict[PassportStatus, dict[PassportStatus, str]] = {
    PassportStatus.ORIGINAL: {
        PassportStatus.REUSED: "set_status",
        PassportStatus.REMANUFACTURED: "set_status",
        PassportStatus.WASTE: "set_status",
        PassportStatus.REPURPOSED: "repurpose",
    },
    PassportStatus.REUSED: {
        PassportStatus.REMANUFACTURED: "set_status",
        PassportStatus.WASTE: "set_status",
        PassportStatus.REPURPOSED: "repurpose",
    },
    PassportStatus.REMANUFACTURED: {
        PassportStatus.REUSED: "set_status",
        PassportStatus.WASTE: "set_status",
        PassportStatus.REPURPOSED: "repurpose",
    },
    PassportStatus.REPURPOSED: {PassportStatus.WASTE: "set_status"},
    PassportStatus.WASTE: {PassportStatus.REPURPOSED: "repurpose", PassportStatus.RECYCLED: "recycle"},
}
