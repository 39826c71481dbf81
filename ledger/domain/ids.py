"""Identifiers: bytes32 ids and labels, origin codes, addresses; the one place they are parsed and shown."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ledger.domain.hashing import checksum_address, keccak

_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")


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


class OriginCode(str):
    """The origin word of a lot before its site is committed: the country in clear, 30 zero bytes, and the site.

    A ``str`` (the 0x-hex word) that carries the site for :class:`ledger.domain.models.LotSpec`, which keeps
    it beside the word; the client commits it with a fresh salt when it creates the lot
    (:func:`ledger.domain.identity.commit_site`), so the chain never holds a plain ``keccak(site)``.
    """

    site: str | None

    def __new__(cls, word: str, site: str | None = None) -> OriginCode:
        obj = super().__new__(cls, word)
        obj.site = site
        return obj


def origin_code(country: str, site: str | None = None) -> str:
    """Pack an ISO 3166 alpha-2 country code into the bytes32 origin field, and carry the site to commit.

    The word holds the country and zeros until the lot is created: the client then puts the first 30 bytes
    of the lot's salted origin record (country and site) there and keeps the opening in its vault. (It used
    to put 30 bytes of ``keccak(site)`` there, which anyone with a list of mines could confirm.)
    """
    if not re.fullmatch(r"[A-Z]{2}", country or ""):
        raise ValueError(f"country must be an ISO 3166 alpha-2 code such as AU or CD, got {country!r}")
    return OriginCode("0x" + country.encode().ljust(32, b"\0").hex(), site or None)


def origin_country(origin: str | bytes) -> str | None:
    """Return the country code of a bytes32 origin, or None for a produced (originless) lot."""
    raw = bytes.fromhex(origin[2:]) if isinstance(origin, str) else bytes(origin)
    if raw[:2] == b"\0\0":
        return None
    return raw[:2].decode(errors="replace")


def _check_address(value: Any) -> str:
    if isinstance(value, bytes) and len(value) == 20:
        return checksum_address(value)
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        raise ValueError(f"not an address: {value!r}")
    return checksum_address(value)


Bytes32 = Annotated[str, BeforeValidator(to_bytes32)]


Address = Annotated[str, BeforeValidator(_check_address)]


Grams = Annotated[int, Field(ge=0, lt=1 << 64)]


PositiveGrams = Annotated[int, Field(gt=0, lt=1 << 64)]


def id_bytes(value: str | bytes) -> bytes:
    """The 32 raw bytes of an id: bytes as they are, a label or 0x-hex through :func:`to_bytes32`."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes.fromhex(to_bytes32(value)[2:])


def hex_of(raw: bytes | bytearray) -> str:
    """Show raw bytes (an id, a hash, a topic) as lowercase 0x-hex, the shape every JSON output uses."""
    return "0x" + bytes(raw).hex()
