"""The attestation records: a GWP claim over a lot, its signature, and the result of checking one."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ledger.domain.hashing import checksum_address
from ledger.domain.stages import LifeCycleStage

_U64_MAX = 2**64 - 1


_U256_MAX = 2**256 - 1


_HEX_RE = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")


_DECIMAL_RE = re.compile(r"[0-9]{1,78}")


def _to_bytes32_hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 32:
            raise ValueError(f"expected 32 bytes, got {len(value)}")
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and _HEX32_RE.fullmatch(value):
        return value.lower()
    raise ValueError("expected 0x followed by 64 hex digits")


def _to_methodology(value: Any) -> str:
    if isinstance(value, str) and not value.startswith(("0x", "0X")):
        # A label such as "ISO14067:2018" is stored like Solidity's bytes32("..."): ASCII, right-padded with zeros.
        if not value or len(value) > 32 or not all(" " <= c <= "~" for c in value):
            raise ValueError("expected a printable ASCII label of 1 to 32 characters or 0x followed by 64 hex digits")
        return "0x" + value.encode("ascii").ljust(32, b"\0").hex()
    return _to_bytes32_hex(value)


def _to_uint(value: Any) -> int:
    # bool is an int subclass and floats round silently; neither belongs in a signed message.
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DECIMAL_RE.fullmatch(value):
        return int(value)
    raise ValueError("expected a non-negative integer (or a decimal string)")


def parse_stage(value: Any) -> LifeCycleStage:
    """Read a life-cycle stage from its name (any case, dashes or underscores) or its number."""
    if isinstance(value, LifeCycleStage):
        return value
    if isinstance(value, str) and not value.isdigit():
        key = value.replace("-", "").replace("_", "").replace(" ", "").lower()
        for stage in LifeCycleStage:
            if stage.name.lower() == key:
                return stage
        raise ValueError(f"unknown stage {value!r}; expected one of {', '.join(s.name for s in LifeCycleStage)}")
    number = _to_uint(value)
    try:
        return LifeCycleStage(number)
    except ValueError:
        raise ValueError(f"stage must be 0..{len(LifeCycleStage) - 1}, got {number}") from None


def _to_address(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)) and len(value) == 20:
        return checksum_address(bytes(value))
    if not isinstance(value, str) or not _ADDRESS_RE.fullmatch(value):
        raise ValueError("expected a 0x-prefixed 20-byte hex address")
    body = value[2:]
    if body != body.lower() and body != body.upper() and checksum_address(value) != value:
        raise ValueError("address has an invalid EIP-55 checksum")
    return checksum_address(value)


def _to_hex_bytes(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and _HEX_RE.fullmatch(value):
        return value.lower()
    raise ValueError("expected 0x followed by an even number of hex digits")


_HEX32_RE = re.compile(r"0x[0-9a-fA-F]{64}")


Bytes32Hex = Annotated[str, BeforeValidator(_to_bytes32_hex)]
Methodology = Annotated[str, BeforeValidator(_to_methodology)]
Uint64 = Annotated[int, BeforeValidator(_to_uint), Field(ge=0, le=_U64_MAX)]
Uint256 = Annotated[int, BeforeValidator(_to_uint), Field(ge=0, le=_U256_MAX)]
ChainId = Annotated[int, BeforeValidator(_to_uint), Field(ge=1, le=_U256_MAX)]
Address = Annotated[str, BeforeValidator(_to_address)]
HexBytes = Annotated[str, BeforeValidator(_to_hex_bytes)]
Stage = Annotated[LifeCycleStage, BeforeValidator(parse_stage)]


class GwpAttestation(BaseModel):
    """One process step's own (gate-to-gate) emissions for a lot, as a GWP verifier signs it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lot_id: Bytes32Hex
    emissions_grams: Uint64
    stage: Stage
    methodology: Methodology
    evidence: Bytes32Hex
    issued_at: Uint64
    valid_until: Uint64
    nonce: Uint256
    deadline: Uint64

    @model_validator(mode="after")
    def _period_not_empty(self) -> GwpAttestation:
        # The contract reverts with GwpAttestationsInvalidPeriod otherwise; fail where the value is made.
        if self.valid_until <= self.issued_at:
            raise ValueError(f"valid_until ({self.valid_until}) must be later than issued_at ({self.issued_at})")
        return self

    @property
    def methodology_label(self) -> str | None:
        """Return the methodology as its ASCII label, or None when it is an opaque hash."""
        raw = bytes.fromhex(self.methodology[2:]).rstrip(b"\0")
        if raw and all(0x20 <= b <= 0x7E for b in raw):
            return raw.decode("ascii")
        return None


class SignedAttestation(BaseModel):
    """A GWP attestation with its signer, signature and the EIP-712 domain it was signed for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attestation: GwpAttestation
    signer: Address
    signature: HexBytes
    chain_id: ChainId
    contract: Address

    @property
    def digest(self) -> bytes:
        """Return the EIP-712 digest that was signed (the on-chain uid as bytes)."""
        from ledger.attest.eip712 import _digest  # the EIP-712 code signs records; records only point to it

        return _digest(self.attestation, self.chain_id, bytes.fromhex(self.contract[2:]))

    @property
    def uid(self) -> str:
        """Return the attestation id: the EIP-712 digest as 0x-hex, equal to the contract's uid."""
        return "0x" + self.digest.hex()


class AttestationCheck(BaseModel):
    """The outcome of an offline verification: ok, and the problem codes found."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    problems: list[str]
    uid: str
    recovered: str | None = None
