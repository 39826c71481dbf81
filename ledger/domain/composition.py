"""Element-mass vectors and their on-chain form: eight 64-bit lanes in two words (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from ledger.domain.hashing import keccak

#: Element order of the composition vectors, fixed at deployment (DESIGN §3).
ELEMENTS: tuple[str, ...] = ("Li", "Ni", "Co", "Mn", "C", "Fe", "Cu", "Al")


#: Lanes must stay below this many grams (the contracts check it).
LANE_LIMIT = 1 << 56


_LANE_MASK = (1 << 64) - 1


Vector = tuple[int, int, int, int, int, int, int, int]


_ZERO_VECTOR: Vector = (0, 0, 0, 0, 0, 0, 0, 0)
_ELEMENT_SET = frozenset(ELEMENTS)


def _vector(value: Any) -> Vector:
    # Every lot read from a file or the chain passes here three times: the common cases (nothing, a mapping of
    # known elements, eight plain ints) take no more than one pass over the values.
    if value is None:
        return _ZERO_VECTOR
    if isinstance(value, Mapping):
        if not value:
            return _ZERO_VECTOR
        if not _ELEMENT_SET.issuperset(value):
            unknown = set(value) - _ELEMENT_SET
            raise ValueError(f"unknown element(s) {', '.join(sorted(map(str, unknown)))}; elements are {', '.join(ELEMENTS)}")
        items = [value.get(e, 0) for e in ELEMENTS]
    else:
        items = list(value)
        if len(items) != len(ELEMENTS):
            raise ValueError(f"expected {len(ELEMENTS)} element masses ({', '.join(ELEMENTS)}), got {len(items)}")
    for e, v in zip(ELEMENTS, items):
        if type(v) is not int and (isinstance(v, bool) or not isinstance(v, int)):
            raise ValueError(f"{e}: grams must be an integer, got {v!r}")
        if not 0 <= v < LANE_LIMIT:
            raise ValueError(f"{e}: {v} g is out of range (0 to 2**56-1 g)")
    # Its length was checked against ELEMENTS above.
    return cast(Vector, tuple(items))


def pack_lanes(v: tuple[int, ...]) -> list[int]:
    """Pack eight element masses into the two 256-bit words of four 64-bit lanes the contracts store."""
    return [v[0] | v[1] << 64 | v[2] << 128 | v[3] << 192, v[4] | v[5] << 64 | v[6] << 128 | v[7] << 192]


def unpack_lanes(words: Iterable[int]) -> tuple[int, ...]:
    """Unpack 256-bit words of four 64-bit lanes into element masses (the inverse of :func:`pack_lanes`)."""
    if type(words) is list and len(words) == 2:  # the ABI form; unrolled, as a replay unpacks every lot
        a, b = words
        return (
            a & _LANE_MASK,
            a >> 64 & _LANE_MASK,
            a >> 128 & _LANE_MASK,
            a >> 192 & _LANE_MASK,
            b & _LANE_MASK,
            b >> 64 & _LANE_MASK,
            b >> 128 & _LANE_MASK,
            b >> 192 & _LANE_MASK,
        )
    out: list[int] = []
    for w in words:
        out.extend((w >> (64 * i)) & _LANE_MASK for i in range(4))
    return tuple(out)


def commitment_hash(material: bytes, words: Iterable[Iterable[int]]) -> bytes:
    """keccak256(abi.encode(material, composition)) as the contracts commit a lot, from packed words.

    abi.encode of a bytes32 and a static tuple is their 32-byte words side by side (eth_abi took ~0.2 ms).
    """
    if len(material) != 32:
        raise ValueError(f"a material code has 32 bytes, got {len(material)}")
    return keccak(material + b"".join(w.to_bytes(32, "big") for ws in words for w in ws))


class Composition(BaseModel):
    """Element masses of a lot and their pre-/post-consumer recycled parts, grams, in ELEMENTS order."""

    model_config = ConfigDict(frozen=True)

    total: Annotated[Vector, BeforeValidator(_vector)] = (0,) * 8
    pre: Annotated[Vector, BeforeValidator(_vector)] = (0,) * 8
    post: Annotated[Vector, BeforeValidator(_vector)] = (0,) * 8

    @model_validator(mode="after")
    def _recycled_within_total(self) -> Composition:
        for e, t, a, b in zip(ELEMENTS, self.total, self.pre, self.post):
            if a + b > t:
                raise ValueError(f"{e}: recycled {a + b} g exceeds the element's total {t} g")
        return self

    @classmethod
    def of(cls, total: Mapping[str, int], pre: Mapping[str, int] | None = None, post: Mapping[str, int] | None = None) -> Composition:
        """Build from element → grams mappings, e.g. ``Composition.of({"Ni": 5_200_000})``."""
        return cls(total=total, pre=pre, post=post)

    @classmethod
    def from_words(cls, words: Any) -> Composition:
        """Decode the packed ABI form ``([t0, t1], [p0, p1], [q0, q1])``."""
        total, pre, post = words
        return cls(total=unpack_lanes(total), pre=unpack_lanes(pre), post=unpack_lanes(post))

    def words(self) -> tuple[list[int], list[int], list[int]]:
        """Return the packed ABI form ``([t0, t1], [p0, p1], [q0, q1])``."""
        return (pack_lanes(self.total), pack_lanes(self.pre), pack_lanes(self.post))

    @property
    def element_mass(self) -> int:
        """Sum of all element masses, grams."""
        return sum(self.total)

    def as_dict(self, vector: str = "total") -> dict[str, int]:
        """Return one vector as element → grams, zeros omitted."""
        return {e: g for e, g in zip(ELEMENTS, getattr(self, vector)) if g}

    def __add__(self, other: Composition) -> Composition:
        return Composition(
            total=[a + b for a, b in zip(self.total, other.total)],
            pre=[a + b for a, b in zip(self.pre, other.pre)],
            post=[a + b for a, b in zip(self.post, other.post)],
        )

    def __sub__(self, other: Composition) -> Composition:
        return Composition(
            total=[a - b for a, b in zip(self.total, other.total)],
            pre=[a - b for a, b in zip(self.pre, other.pre)],
            post=[a - b for a, b in zip(self.post, other.post)],
        )

    def part(self, numerator: int, denominator: int) -> Composition:
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

    def take(self, mass: int, of_mass: int) -> Composition:
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
            order = sorted(
                (k for k in range(len(used)) if self.total[k] * mass % of_mass), key=lambda k: -(self.total[k] * mass % of_mass)
            )
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

    def is_part(self, part: Composition, mass: int, of_mass: int) -> bool:
        """Whether `part` is a pro-rata part of this composition for `mass` of `of_mass` grams: every lane of
        every vector the floor or the ceiling of ``lane * mass / of_mass`` (the contracts' rule)."""

        def ok(h: int, x: int) -> bool:
            return abs(x * of_mass - h * mass) < of_mass

        return all(
            ok(h, x)
            for whole, got in ((self.total, part.total), (self.pre, part.pre), (self.post, part.post))
            for h, x in zip(whole, got)
        )

    def divide(self, masses: list[int], of_mass: int) -> list[Composition]:
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

    def all_post_consumer(self) -> Composition:
        """Return the same totals with every gram counted as post-consumer recycled (recovered material)."""
        return Composition(total=self.total, post=self.total)

    def all_pre_consumer(self) -> Composition:
        """Return the same totals with every gram counted as pre-consumer recycled (material recovered from a
        unit that never reached an end user or was never used: ISO 14021)."""
        return Composition(total=self.total, pre=self.total)

    def blend(self, total: Iterable[int] | Mapping[str, int]) -> Composition:
        """Return a composition with these totals whose recycled parts are this composition's recycled share of
        each element, rounded down: what an output of a transform may claim (ISO 22095 controlled blending,
        which the contracts enforce as ``RinneLedgerRecycledShareExceeded``)."""
        out = Composition(total=total)
        pre = [p * t // w if w else 0 for p, t, w in zip(self.pre, out.total, self.total)]
        post = [q * t // w if w else 0 for q, t, w in zip(self.post, out.total, self.total)]
        return Composition(total=out.total, pre=pre, post=post)
