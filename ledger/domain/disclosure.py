"""Salted Merkle commitments per record and Annex XIII point: commit a record, disclose fields, verify offline.

A record is a map from field names to JSON values, each field assigned the Annex XIII point (1-4) that says
who may see it (docs/confidentiality.md). Each field becomes a leaf ``keccak(salt || canonical JSON of [name,
value])`` with a fresh 32-byte salt, so a reader of the commitment cannot confirm a guessed value: the unsalted
``keccak(serial)`` falls to a dictionary, a salted leaf does not. The leaves of one point form a subtree (so one
field, or one point, is disclosed without the others); the points' subtrees, each bound to its point, form the
record's tree; the root is bound to the record id and fits any bytes32 field of the contracts.

Pairs hash as OpenZeppelin's ``MerkleProof`` does (commutative: the smaller hash first), so a field's proof
also verifies on-chain. No I/O: the openings (values and salts) are secrets for ``ledger.local.vault``.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ledger.domain.hashing import keccak
from ledger.errors import DisclosureError, InvalidInput

#: Domain tag of a record root (a root of another scheme or version never equals one of these).
ROOT_TAG = b"rinne.disclosure.v1"
SALT_BYTES = 32
#: Annex XIII points of Regulation (EU) 2023/1542 a field may carry.
POINTS: tuple[int, ...] = (1, 2, 3, 4)

_HEX32 = re.compile(r"^0x[0-9a-f]{64}$")


def _hex32(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)) and len(value) == 32:
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and _HEX32.match(value.lower()):
        return value.lower()
    raise ValueError("expected 32 bytes as 0x and 64 hex digits")


#: 32 bytes as lowercase 0x-hex (salts, proof nodes, roots).
Hex32 = Annotated[str, BeforeValidator(_hex32)]
Point = Annotated[int, Field(ge=1, le=4, strict=True)]


# ------------------------------------------------------------------------------ records


class Opening(BaseModel):
    """The secret half of one committed field: its point, its value and its salt."""

    model_config = ConfigDict(frozen=True)

    point: Point
    value: Any
    salt: Hex32


class Openings(BaseModel):
    """Everything needed to disclose any field of one committed record (a secret: keep it in the vault)."""

    model_config = ConfigDict(frozen=True)

    record_id: str = Field(min_length=1)
    fields: dict[str, Opening]

    def root(self) -> str:
        """Return the record's commitment (the bytes32 that goes on-chain) as 0x-hex."""
        return "0x" + _tree(self).root.hex()

    def names(self, points: Iterable[int] = POINTS) -> list[str]:
        """Return the names of the fields at any of `points`, sorted (to disclose a whole tier)."""
        wanted = set(points)
        return sorted(n for n, o in self.fields.items() if o.point in wanted)

    def to_json(self) -> bytes:
        """Serialise to canonical JSON bytes (what the vault encrypts)."""
        data = self.model_dump(mode="json")
        # The record id, points and salts are typed (str, int, hex): only the values need the JSON check.
        for name, field in data["fields"].items():
            if type(field["value"]) not in _SCALARS:
                _check_json(field["value"], f"value.fields.{name}.value", 3)
        return _encode(data)

    @classmethod
    def from_json(cls, data: bytes | str) -> Openings:
        """Parse openings written by :meth:`to_json`; raise DisclosureError when they are malformed."""
        try:
            return cls.model_validate_json(data)
        except ValidationError as e:
            raise DisclosureError(f"malformed openings: {_first(e)}") from None


class DisclosedField(BaseModel):
    """One disclosed field: its value and salt, and the Merkle path from its leaf to the record's root."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    point: Point
    value: Any
    salt: Hex32
    #: Siblings from the leaf up to the root of its point's subtree.
    proof: tuple[Hex32, ...] = ()
    #: Siblings from the point's node up to the root of the record's tree.
    tier_proof: tuple[Hex32, ...] = ()


class Disclosure(BaseModel):
    """Fields of one record disclosed with their proofs: what an entitled party receives and checks offline."""

    model_config = ConfigDict(frozen=True)

    record_id: str = Field(min_length=1)
    fields: tuple[DisclosedField, ...]

    def to_json(self) -> bytes:
        """Serialise to canonical JSON bytes."""
        return canonical_json(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, data: bytes | str) -> Disclosure:
        """Parse a disclosure; raise DisclosureError when it is malformed."""
        try:
            return cls.model_validate_json(data)
        except ValidationError as e:
            raise DisclosureError(f"malformed disclosure: {_first(e)}") from None


# --------------------------------------------------------------------------- canonical JSON


#: The one encoder of canonical JSON (json.dumps with these options builds an encoder per call: a tenth of a
#: commitment's cost, issue 16).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
#: Types a JSON check passes without looking further (exactly these: subclasses take the full check).
_SCALARS = frozenset({str, int, bool, type(None)})


def canonical_json(value: Any) -> bytes:
    """Return the one byte form of a JSON value: sorted keys, no whitespace, UTF-8, integers as integers.

    Floats are refused: their text differs between languages (``1.0`` in Python, ``1`` in JavaScript), so a
    value travels as an integer in its smallest unit (grams, Wh, basis points) or as a string. Object keys
    must be strings (``{1: x}`` and ``{"1": x}`` would print the same). Raises :class:`InvalidInput`.
    """
    if type(value) not in _SCALARS:
        _check_json(value, "value")
    return _encode(value)


def _encode(value: Any) -> bytes:
    # Canonical JSON of a value already checked by _check_json.
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except (UnicodeEncodeError, ValueError) as e:
        raise InvalidInput(f"value cannot be written as canonical JSON: {e}") from None


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    # The path of a child (`where`) is spelled only for a child that is looked into: most are plain scalars.
    if depth > 64:
        raise InvalidInput(f"{where} nests deeper than 64 levels")
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        raise InvalidInput(f"{where} is a float ({value!r}): use an integer in the smallest unit, or a string")
    if isinstance(value, (list, tuple)):
        for i, x in enumerate(value):
            if depth >= 64 or type(x) not in _SCALARS:
                _check_json(x, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for k, x in value.items():
            if not isinstance(k, str):
                raise InvalidInput(f"{where} has a non-string key {k!r}")
            if depth >= 64 or type(x) not in _SCALARS:
                _check_json(x, f"{where}.{k}", depth + 1)
        return
    raise InvalidInput(f"{where} is a {type(value).__name__}, not a JSON value")


# ------------------------------------------------------------------------------ the tree


def leaf_hash(name: str, value: Any, salt: bytes) -> bytes:
    """Return a field's leaf: ``keccak(salt || canonical JSON of [name, value])``."""
    if type(value) in _SCALARS:
        return keccak(salt + _field_json(name, value))
    return keccak(salt + canonical_json([name, value]))


@functools.lru_cache(maxsize=4096, typed=True)
def _field_json(name: str, value: str | int | bool | None) -> bytes:
    # A bulk import commits one site for thousands of lots: the JSON of [name, value] is spelled once (the
    # salt, not the JSON, makes each leaf unique). Typed: True and 1 are equal keys of a plain cache.
    return canonical_json([name, value])


def _pair(a: bytes, b: bytes) -> bytes:
    # OpenZeppelin's commutative hash: a proof needs no left/right flags, and verifies with MerkleProof.verify.
    return keccak(a + b) if a <= b else keccak(b + a)


def _levels(nodes: list[bytes]) -> list[list[bytes]]:
    levels = [nodes]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        levels.append([_pair(cur[i], cur[i + 1]) if i + 1 < len(cur) else cur[i] for i in range(0, len(cur), 2)])
    return levels


def _path(levels: list[list[bytes]], index: int) -> list[bytes]:
    out = []
    for level in levels[:-1]:
        if index ^ 1 < len(level):
            out.append(level[index ^ 1])  # an odd last node has no sibling: it moves up as it is
        index //= 2
    return out


def _fold(node: bytes, proof: Iterable[bytes]) -> bytes:
    for sibling in proof:
        node = _pair(node, sibling)
    return node


def _tier_node(point: int, subtree_root: bytes) -> bytes:
    # Binds the point: a field of point 2 cannot be passed off as point 1 (33 bytes: no leaf or pair has that form).
    return keccak(bytes([point]) + subtree_root)


def _record_root(record_id: str, tiers_root: bytes) -> bytes:
    return keccak(ROOT_TAG + keccak(record_id.encode("utf-8")) + tiers_root)


class _Tree:
    """The levels of a committed record: one subtree per point, and the tree over the points' nodes."""

    def __init__(self, record_id: str, leaves: Mapping[str, tuple[int, bytes]]) -> None:
        # `leaves`: each field's point and leaf hash. Names sorted once: each point's subtree keeps them in order.
        by_point: dict[int, list[str]] = {}
        for n in sorted(leaves):
            by_point.setdefault(leaves[n][0], []).append(n)
        self.points = sorted(by_point)
        self.names = by_point
        self.subtrees: dict[int, list[list[bytes]]] = {p: _levels([leaves[n][1] for n in by_point[p]]) for p in self.points}
        self.tiers = _levels([_tier_node(p, self.subtrees[p][-1][0]) for p in self.points])
        self.root = _record_root(record_id, self.tiers[-1][0])

    def proof(self, name: str, point: int) -> tuple[list[bytes], list[bytes]]:
        return _path(self.subtrees[point], self.names[point].index(name)), _path(self.tiers, self.points.index(point))


def _tree(openings: Openings) -> _Tree:
    if not openings.fields:
        raise InvalidInput(f"record {openings.record_id!r} has no fields to commit")
    leaves = {n: (o.point, leaf_hash(n, o.value, bytes.fromhex(o.salt[2:]))) for n, o in openings.fields.items()}
    return _Tree(openings.record_id, leaves)


# ----------------------------------------------------------------------------- the API


def commit(record: Mapping[str, Any], points: Mapping[str, int], *, record_id: str) -> tuple[str, Openings]:
    """Commit a record's fields under their Annex XIII points; return the root (0x-hex bytes32) and the openings.

    `record` maps field names to JSON values; `points` gives each field its point (1-4; extra names are
    ignored, so one table can serve many records). `record_id` (the lot or unit the record describes) is
    bound into the root, so one commitment cannot stand for two records. Every field gets a fresh 32-byte
    salt from the operating system, so committing the same record twice gives two unrelated roots. The root
    is public; the openings are not (store them with :class:`ledger.local.vault.Vault`). Raises
    :class:`InvalidInput` for an empty record, a field without a point, or a value that is no JSON value.
    """
    root, openings = commit_raw(record, points, record_id=record_id)
    return "0x" + root.hex(), openings


def commit_raw(record: Mapping[str, Any], points: Mapping[str, int], *, record_id: str) -> tuple[bytes, Openings]:
    """:func:`commit`, with the root as its 32 bytes (for a caller that packs it into an on-chain word)."""
    if not record:
        raise InvalidInput(f"record {record_id!r} has no fields to commit")
    fields: dict[str, Opening] = {}
    leaves: dict[str, tuple[int, bytes]] = {}
    # One read of the operating system's generator for the record's salts: each field its own 32 fresh bytes.
    salts = secrets.token_bytes(SALT_BYTES * len(record))
    for k, (name, value) in enumerate(record.items()):
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"field names are non-empty strings, got {name!r}")
        point = points.get(name)
        if point not in POINTS or isinstance(point, bool):
            raise InvalidInput(f"field {name!r} has no Annex XIII point (1-4), got {point!r}")
        if type(value) not in _SCALARS:
            _check_json(value, f"field {name!r}")  # refuse a non-JSON value here, with its name, not later in the tree
        salt = salts[SALT_BYTES * k : SALT_BYTES * (k + 1)]
        leaves[name] = (point, leaf_hash(name, value, salt))  # the root's leaf now, from the salt's bytes
        fields[name] = Opening(point=point, value=value, salt="0x" + salt.hex())
    try:
        openings = Openings(record_id=record_id, fields=fields)
    except ValidationError as e:
        raise InvalidInput(f"cannot commit record {record_id!r}: {_first(e)}") from None
    return _Tree(record_id, leaves).root, openings


def disclose(openings: Openings, fields: Iterable[str]) -> Disclosure:
    """Disclose the named fields of a committed record, each with its value, salt and Merkle proof.

    The disclosure reveals nothing of the other fields (their leaves appear only as hashes of salted values).
    Use ``openings.names([2])`` to disclose a whole point. Raises :class:`InvalidInput` for a name the
    record does not have, or for no name at all.
    """
    names = list(dict.fromkeys(fields))
    if not names:
        raise InvalidInput("name at least one field to disclose")
    missing = [n for n in names if n not in openings.fields]
    if missing:
        raise InvalidInput(f"record {openings.record_id!r} has no field {missing[0]!r}")
    tree = _tree(openings)
    out = []
    for n in names:
        o = openings.fields[n]
        proof, tier_proof = tree.proof(n, o.point)
        out.append(
            DisclosedField(
                name=n,
                point=o.point,
                value=o.value,
                salt=o.salt,
                proof=tuple("0x" + s.hex() for s in proof),
                tier_proof=tuple("0x" + s.hex() for s in tier_proof),
            )
        )
    return Disclosure(record_id=openings.record_id, fields=tuple(out))


def verify_disclosure(root: str | bytes, disclosure: Disclosure, *, record_id: str | None = None) -> dict[str, Any]:
    """Check every field of a disclosure against a record's root, offline; return the verified name -> value.

    Give `record_id` when the root was read for a known record (a lot or unit on-chain): a disclosure of
    another record is then refused even before its proofs are checked. Raises :class:`DisclosureError`
    when any value, salt, point, proof or field name was altered, a field or a salt appears twice (salts
    are fresh per field: a repeated one means a committer who lets one disclosure open others to guessing),
    the disclosure is of another record, or it discloses nothing.
    """
    try:
        expected = bytes.fromhex(_hex32(root)[2:])
    except ValueError:
        raise DisclosureError(f"not a commitment root: {root!r}") from None
    if record_id is not None and disclosure.record_id != record_id:
        raise DisclosureError(f"the disclosure is of record {disclosure.record_id!r}, not {record_id!r}")
    if not disclosure.fields:
        raise DisclosureError(f"the disclosure of record {disclosure.record_id!r} discloses no field")
    seen_names: set[str] = set()
    seen_salts: set[str] = set()
    verified: dict[str, Any] = {}
    for f in disclosure.fields:
        if f.name in seen_names:
            raise DisclosureError(f"field {f.name!r} is disclosed twice")
        if f.salt in seen_salts:
            raise DisclosureError(f"field {f.name!r} reuses the salt of another field")
        seen_names.add(f.name)
        seen_salts.add(f.salt)
        try:
            leaf = leaf_hash(f.name, f.value, bytes.fromhex(f.salt[2:]))
        except InvalidInput as e:
            raise DisclosureError(f"field {f.name!r}: {e}") from None
        subtree_root = _fold(leaf, (bytes.fromhex(s[2:]) for s in f.proof))
        tiers_root = _fold(_tier_node(f.point, subtree_root), (bytes.fromhex(s[2:]) for s in f.tier_proof))
        if _record_root(disclosure.record_id, tiers_root) != expected:
            raise DisclosureError(
                f"field {f.name!r} of record {disclosure.record_id!r} does not verify against the root 0x{expected.hex()}"
            )
        verified[f.name] = f.value
    return verified


def _first(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(x) for x in err.get("loc", ()))
    return f"{where}: {err.get('msg', '')}" if where else str(err.get("msg", ""))


def folded_root(disclosure: Disclosure) -> bytes:
    """Return the root the first field of a disclosure folds to (check it with :func:`verify_disclosure`).

    For a commitment of which the chain keeps only a prefix (a lot's origin keeps 30 bytes of its root):
    fold, compare the prefix, then verify every field against the full root. Raises :class:`DisclosureError`
    for an empty disclosure or a value that is no JSON value.
    """
    if not disclosure.fields:
        raise DisclosureError(f"the disclosure of record {disclosure.record_id!r} discloses no field")
    f = disclosure.fields[0]
    try:
        leaf = leaf_hash(f.name, f.value, bytes.fromhex(f.salt[2:]))
    except InvalidInput as e:
        raise DisclosureError(f"field {f.name!r}: {e}") from None
    subtree_root = _fold(leaf, (bytes.fromhex(s[2:]) for s in f.proof))
    return _record_root(disclosure.record_id, _fold(_tier_node(f.point, subtree_root), (bytes.fromhex(s[2:]) for s in f.tier_proof)))
