"""Typed records of the ledger: pydantic v2, immutable, amounts as integer grams."""

from __future__ import annotations

import re
from enum import IntEnum, IntFlag
from typing import Annotated, Any, Iterable, Mapping

from eth_utils import keccak, to_checksum_address
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

#: Element order of the composition vectors, fixed at deployment (DESIGN §3).
ELEMENTS: tuple[str, ...] = ("Li", "Ni", "Co", "Mn", "C", "Fe", "Cu", "Al")
#: Lanes must stay below this many grams (the contracts check it).
LANE_LIMIT = 1 << 56
_LANE_MASK = (1 << 64) - 1
_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")


# ------------------------------------------------------------------------------------- ids


def to_bytes32(value: str | bytes) -> str:
    """Normalise an id or code to 0x-hex bytes32.

    A 0x-prefixed 64-digit hex string is taken as is; other text of at most 32 UTF-8 bytes is stored
    verbatim, right-padded with zeros (so "LF001" stays readable on-chain); longer text is hashed.
    """
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 32:
            raise ValueError(f"expected 32 bytes, got {len(value)}")
        return "0x" + bytes(value).hex()
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty label or a 0x-prefixed 32-byte hex string")
    if _HEX32.match(value):
        return value.lower()
    if value.startswith("0x") and len(value) > 2 and all(c in "0123456789abcdefABCDEF" for c in value[2:]):
        raise ValueError(f"hex id must have 64 digits, got {len(value) - 2}")
    raw = value.encode()
    if len(raw) <= 32:
        return "0x" + raw.ljust(32, b"\0").hex()
    return "0x" + keccak(raw).hex()


def label_of(value: str | bytes) -> str:
    """Show a bytes32 id or code as its text label when it is one, else as hex."""
    raw = bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)
    stripped = raw.rstrip(b"\0")
    if stripped and b"\0" not in stripped:
        try:
            text = stripped.decode()
        except UnicodeDecodeError:
            return "0x" + raw.hex()
        if text.isprintable():
            return text
    return "0x" + raw.hex()


def origin_code(country: str, site: str) -> str:
    """Pack an ISO 3166 alpha-2 country code and a site name into the bytes32 origin field."""
    if not re.fullmatch(r"[A-Z]{2}", country or ""):
        raise ValueError(f"country must be an ISO 3166 alpha-2 code such as AU or CD, got {country!r}")
    return "0x" + (country.encode() + keccak(text=site)[:30]).hex()


def origin_country(origin: str | bytes) -> str | None:
    """Return the country code of a bytes32 origin, or None for a produced (originless) lot."""
    raw = bytes.fromhex(origin[2:]) if isinstance(origin, str) else bytes(origin)
    if raw[:2] == b"\0\0":
        return None
    return raw[:2].decode(errors="replace")


def _check_address(value: Any) -> str:
    if isinstance(value, bytes) and len(value) == 20:
        return to_checksum_address(value)
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        raise ValueError(f"not an address: {value!r}")
    return to_checksum_address(value)


Bytes32 = Annotated[str, BeforeValidator(to_bytes32)]
Address = Annotated[str, BeforeValidator(_check_address)]
Grams = Annotated[int, Field(ge=0, lt=1 << 64)]
PositiveGrams = Annotated[int, Field(gt=0, lt=1 << 64)]


# ----------------------------------------------------------------------------------- enums


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
    def parse(cls, text: str | Iterable[str]) -> "Role":
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


# ----------------------------------------------------------------------------- composition

Vector = tuple[int, int, int, int, int, int, int, int]


def _vector(value: Any) -> Vector:
    if value is None:
        return (0,) * 8  # type: ignore[return-value]
    if isinstance(value, Mapping):
        unknown = set(value) - set(ELEMENTS)
        if unknown:
            raise ValueError(f"unknown element(s) {', '.join(sorted(unknown))}; elements are {', '.join(ELEMENTS)}")
        value = [value.get(e, 0) for e in ELEMENTS]
    items = list(value)
    if len(items) != len(ELEMENTS):
        raise ValueError(f"expected {len(ELEMENTS)} element masses ({', '.join(ELEMENTS)}), got {len(items)}")
    out = []
    for e, v in zip(ELEMENTS, items):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"{e}: grams must be an integer, got {v!r}")
        if not 0 <= v < LANE_LIMIT:
            raise ValueError(f"{e}: {v} g is out of range (0 to 2**56-1 g)")
        out.append(v)
    return tuple(out)  # type: ignore[return-value]


def _pack(v: Vector) -> list[int]:
    return [v[0] | v[1] << 64 | v[2] << 128 | v[3] << 192, v[4] | v[5] << 64 | v[6] << 128 | v[7] << 192]


def _unpack(words: Iterable[int]) -> Vector:
    out: list[int] = []
    for w in words:
        out.extend((w >> (64 * i)) & _LANE_MASK for i in range(4))
    return tuple(out)  # type: ignore[return-value]


class Composition(BaseModel):
    """Element masses of a lot and their pre-/post-consumer recycled parts, grams, in ELEMENTS order."""

    model_config = ConfigDict(frozen=True)

    total: Annotated[Vector, BeforeValidator(_vector)] = (0,) * 8  # type: ignore[assignment]
    pre: Annotated[Vector, BeforeValidator(_vector)] = (0,) * 8  # type: ignore[assignment]
    post: Annotated[Vector, BeforeValidator(_vector)] = (0,) * 8  # type: ignore[assignment]

    @model_validator(mode="after")
    def _recycled_within_total(self) -> "Composition":
        for e, t, a, b in zip(ELEMENTS, self.total, self.pre, self.post):
            if a + b > t:
                raise ValueError(f"{e}: recycled {a + b} g exceeds the element's total {t} g")
        return self

    @classmethod
    def of(cls, total: Mapping[str, int], pre: Mapping[str, int] | None = None, post: Mapping[str, int] | None = None) -> "Composition":
        """Build from element → grams mappings, e.g. ``Composition.of({"Ni": 5_200_000})``."""
        return cls(total=total, pre=pre, post=post)

    @classmethod
    def from_words(cls, words: Any) -> "Composition":
        """Decode the packed ABI form ``([t0, t1], [p0, p1], [q0, q1])``."""
        total, pre, post = words
        return cls(total=_unpack(total), pre=_unpack(pre), post=_unpack(post))

    def words(self) -> tuple[list[int], list[int], list[int]]:
        """Return the packed ABI form ``([t0, t1], [p0, p1], [q0, q1])``."""
        return (_pack(self.total), _pack(self.pre), _pack(self.post))

    @property
    def element_mass(self) -> int:
        """Sum of all element masses, grams."""
        return sum(self.total)

    def as_dict(self, vector: str = "total") -> dict[str, int]:
        """Return one vector as element → grams, zeros omitted."""
        return {e: g for e, g in zip(ELEMENTS, getattr(self, vector)) if g}

    def __add__(self, other: "Composition") -> "Composition":
        return Composition(
            total=[a + b for a, b in zip(self.total, other.total)],
            pre=[a + b for a, b in zip(self.pre, other.pre)],
            post=[a + b for a, b in zip(self.post, other.post)],
        )

    def __sub__(self, other: "Composition") -> "Composition":
        return Composition(
            total=[a - b for a, b in zip(self.total, other.total)],
            pre=[a - b for a, b in zip(self.pre, other.pre)],
            post=[a - b for a, b in zip(self.post, other.post)],
        )

    def part(self, numerator: int, denominator: int) -> "Composition":
        """Return the share numerator/denominator of every vector, rounded down per element.

        Rounding down keeps the part within the whole, and the recycled parts within the part's
        totals, so the remainder (whole - part) is always a valid composition too.
        """
        if not 0 <= numerator <= denominator or denominator <= 0:
            raise ValueError("share must lie between 0 and 1")
        total = [t * numerator // denominator for t in self.total]
        pre = [min(p * numerator // denominator, t) for p, t in zip(self.pre, total)]
        post = [min(q * numerator // denominator, t - p) for q, t, p in zip(self.post, total, pre)]
        return Composition(total=total, pre=pre, post=post)

    def take(self, mass: int, of_mass: int) -> "Composition":
        """Return the part of this composition that goes with `mass` grams of a lot of `of_mass` grams.

        Pro rata by mass, as the contracts require (``RinneLedgerNotProRata``): every lane of every vector
        is the floor or the ceiling of its share ``lane * mass / of_mass``. Among those roundings it picks
        one where both the part and the rest stay valid (neither carries more elements than its own mass,
        nor more recycled than its totals); one always exists. Totals are rounded down, then up for the
        largest remainders (as in apportionment) while the rest would hold more elements than its mass;
        recycled parts are rounded down, then up where the rest would otherwise hold more recycled than total.
        """
        if not 0 < mass <= of_mass:
            raise ValueError(f"cannot take {mass} g of {of_mass} g")
        if mass == of_mass:
            return self
        used = [t * mass // of_mass for t in self.total]
        excess = sum(self.total) - sum(used) - (of_mass - mass)
        if excess > 0:
            # Only lanes with a remainder may be rounded up; there are always more of them than `excess`.
            order = sorted((k for k in range(len(used)) if self.total[k] * mass % of_mass), key=lambda k: -(self.total[k] * mass % of_mass))
            for k in order[:excess]:
                used[k] += 1
        pre, post = [], []
        for t, p, q, u in zip(self.total, self.pre, self.post, used):
            a, b = p * mass // of_mass, q * mass // of_mass
            low = p + q - (t - u)  # the part must take at least this much recycled for the rest to stay valid
            if a + b < low and p * mass % of_mass:
                a += 1
            if a + b < low and q * mass % of_mass:
                b += 1
            pre.append(a)
            post.append(b)
        return Composition(total=used, pre=pre, post=post)

    def is_part(self, part: "Composition", mass: int, of_mass: int) -> bool:
        """Whether `part` is a pro-rata part of this composition for `mass` of `of_mass` grams: every lane of
        every vector the floor or the ceiling of ``lane * mass / of_mass`` (the contracts' rule)."""
        def ok(h: int, x: int) -> bool:
            return abs(x * of_mass - h * mass) < of_mass
        return all(ok(h, x) for whole, got in ((self.total, part.total), (self.pre, part.pre), (self.post, part.post)) for h, x in zip(whole, got))

    def divide(self, masses: list[int], of_mass: int) -> list["Composition"]:
        """Split this composition into parts for lots of `masses` grams (summing to `of_mass`).

        Each part but the last is the pro-rata part (:meth:`take`) of what the parts before it left, the
        last takes the rest: the cut the contracts check for the outputs of a split.
        """
        if sum(masses) != of_mass or any(m <= 0 for m in masses):
            raise ValueError(f"masses {masses} must be positive and add up to {of_mass} g")
        parts, remaining, left = [], self, of_mass
        for m in masses[:-1]:
            part = remaining.take(m, left)
            parts.append(part)
            remaining, left = remaining - part, left - m
        return parts + [remaining]

    def all_post_consumer(self) -> "Composition":
        """Return the same totals with every gram counted as post-consumer recycled (recovered material)."""
        return Composition(total=self.total, post=self.total)

    def all_pre_consumer(self) -> "Composition":
        """Return the same totals with every gram counted as pre-consumer recycled (material recovered from a
        unit that never reached an end user or was never used: ISO 14021)."""
        return Composition(total=self.total, pre=self.total)

    def blend(self, total: Iterable[int] | Mapping[str, int]) -> "Composition":
        """Return a composition with these totals whose recycled parts are this composition's recycled share of
        each element, rounded down: what an output of a transform may claim (ISO 22095 controlled blending,
        which the contracts enforce as ``RinneLedgerRecycledShareExceeded``)."""
        out = Composition(total=total)
        pre = [p * t // w if w else 0 for p, t, w in zip(self.pre, out.total, self.total)]
        post = [q * t // w if w else 0 for q, t, w in zip(self.post, out.total, self.total)]
        return Composition(total=out.total, pre=pre, post=post)


# ----------------------------------------------------------------------------------- lots


class LotSpec(BaseModel):
    """A lot to create: mint, or an output of a split, merge, transform, build, repurpose or recycle."""

    model_config = ConfigDict(frozen=True)

    lot_id: Bytes32
    material: Bytes32
    mass: PositiveGrams
    composition: Composition = Composition()
    origin: Bytes32 = "0x" + "00" * 32
    evidence: Bytes32 = "0x" + "00" * 32

    @model_validator(mode="after")
    def _elements_within_mass(self) -> "LotSpec":
        if self.composition.element_mass > self.mass:
            raise ValueError(f"elements weigh {self.composition.element_mass} g, more than the lot's mass {self.mass} g")
        return self

    def abi(self) -> tuple[Any, ...]:
        """Return the ABI tuple of the Solidity ``LotSpec``."""
        return (_b(self.lot_id), _b(self.material), self.mass, _b(self.origin), _b(self.evidence), self.composition.words())


class UnitSpec(BaseModel):
    """Passport fields of a new battery unit."""

    model_config = ConfigDict(frozen=True)

    serial: str = Field(min_length=1, max_length=200)
    rated_wh: Annotated[int, Field(gt=0, lt=1 << 48)]

    @property
    def serial_hash(self) -> str:
        """keccak256 of the serial number (the serial itself stays off-chain)."""
        return "0x" + keccak(text=self.serial).hex()

    def abi(self) -> tuple[Any, ...]:
        """Return the ABI tuple of the Solidity ``UnitSpec``."""
        return (_b(self.serial_hash), self.rated_wh)


class SohRecord(BaseModel):
    """A state-of-health record (EU Battery Regulation Annex VII part B)."""

    model_config = ConfigDict(frozen=True)

    soce_bp: Annotated[int, Field(ge=0, le=10_000)]
    capacity_wh: Annotated[int, Field(ge=0, lt=1 << 48)]
    cycles: Annotated[int, Field(ge=0, lt=1 << 32)]
    throughput_wh: Annotated[int, Field(ge=0, lt=1 << 64)]
    evidence: Bytes32 = "0x" + "00" * 32

    def abi(self) -> tuple[Any, ...]:
        """Return the ABI tuple of the Solidity ``SohRecord``."""
        return (self.soce_bp, self.capacity_wh, self.cycles, self.throughput_wh, _b(self.evidence))


class Lot(BaseModel):
    """A lot as stored on-chain, with its material and composition read from its latest event."""

    model_config = ConfigDict(frozen=True)

    lot_id: Bytes32
    holder: Address
    state: LotState
    kind: LotKind
    epoch: int
    updated_block: int
    offered_to: Address | None
    offer_current: bool
    mass: Grams
    commitment: Bytes32
    material: Bytes32 | None = None
    composition: Composition | None = None

    @property
    def label(self) -> str:
        """The lot id as text when it is a label."""
        return label_of(self.lot_id)

    @property
    def material_label(self) -> str | None:
        """The material code as text."""
        return label_of(self.material) if self.material else None


class Unit(BaseModel):
    """A battery unit's stored passport."""

    model_config = ConfigDict(frozen=True)

    unit_id: Bytes32
    status: PassportStatus
    rated_wh: int
    soce_bp: int
    capacity_wh: int
    cycles: int
    throughput_wh: int
    soh_at: int
    reached_end_user: bool = False  # held at some point by an OEM or SECOND_LIFE party
    post_consumer: bool = False  # recycling it yields post-consumer material (reached an end user and was used)


class Participant(BaseModel):
    """A registry record."""

    model_config = ConfigDict(frozen=True)

    address: Address
    roles: Role
    registered: bool
    suspended: bool
    since: int

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, v: Any) -> Role:
        return Role(v)


class Receipt(BaseModel):
    """The outcome of a mined transaction."""

    model_config = ConfigDict(frozen=True)

    tx_hash: str
    block_number: int
    gas_used: int
    status: int = 1


class Deployment(BaseModel):
    """Where the contract suite lives on one chain."""

    model_config = ConfigDict(frozen=True)

    chain_id: int
    ledger: Address
    attestations: Address
    block: int = Field(ge=0, description="block of the ledger's deployment: where replays start")
    admin: Address
    source_hash: str | None = None


class Offer(BaseModel):
    """A pending custody offer."""

    model_config = ConfigDict(frozen=True)

    lot_id: Bytes32
    holder: Address
    to: Address
    current: bool


def _b(hex32: str) -> bytes:
    return bytes.fromhex(hex32[2:])
