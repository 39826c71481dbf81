"""Process inventories: a step's energy, renewable share, water and route as an EIP-712 message that verifies
offline exactly as ``GwpAttestations.attestInventory`` does (the same domain, nonces and signer rules as GWP).

Issue 19: beside kg CO2e, an attested step may carry the energy it used (with its renewable share), the water
it withdrew and consumed, its process route and, where the material cannot say it, the grade its assay found.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ledger.attest.eip712 import _check_domain, _MessageSigner, domain_separator, sign_typed, typed_data
from ledger.attest.files import read_signed_file, signed_from_dict, signed_to_dict, write_signed_file
from ledger.attest.records import Address, Bytes32Hex, ChainId, HexBytes, Uint64, Uint256, _to_methodology, _to_uint
from ledger.domain.enums import ProcessRoute
from ledger.domain.hashing import keccak

INVENTORY_TYPE_STRING = (
    "ProcessInventory(bytes32 lotId,uint64 energyWh,uint16 renewableBps,uint64 waterWithdrawnLitres,"
    "uint64 waterConsumedLitres,uint8 route,bytes32 grade,bytes32 evidence,uint64 issuedAt,uint64 validUntil,"
    "uint256 nonce,uint64 deadline)"
)
INVENTORY_TYPEHASH = keccak(INVENTORY_TYPE_STRING.encode())

#: The "type" tag of process inventory files; a new layout gets a new version.
INVENTORY_FILE_TYPE = "rinne.process-inventory/v1"

#: Basis points of a whole (the renewable share's scale).
ALL_BPS = 10_000

_MAX_FILE_BYTES = 64 * 1024

# (typed-data name, Solidity type, model field), in struct order; the contract's abi.encode follows it.
_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("lotId", "bytes32", "lot_id"),
    ("energyWh", "uint64", "energy_wh"),
    ("renewableBps", "uint16", "renewable_bps"),
    ("waterWithdrawnLitres", "uint64", "water_withdrawn_litres"),
    ("waterConsumedLitres", "uint64", "water_consumed_litres"),
    ("route", "uint8", "route"),
    ("grade", "bytes32", "grade"),
    ("evidence", "bytes32", "evidence"),
    ("issuedAt", "uint64", "issued_at"),
    ("validUntil", "uint64", "valid_until"),
    ("nonce", "uint256", "nonce"),
    ("deadline", "uint64", "deadline"),
)
_JSON_NAME = {field: name for name, _, field in _FIELDS}
_ZERO32 = "0x" + "00" * 32


def _to_route(value: Any) -> ProcessRoute:
    try:
        return ProcessRoute.parse(value)
    except ValueError as e:
        raise ValueError(str(e)) from None


def _to_grade(value: Any) -> str:
    # No grade claimed is the zero word; a label is stored like Solidity's bytes32("..."), as a methodology is.
    if value is None or value == "":
        return _ZERO32
    return _to_methodology(value)


Route = Annotated[ProcessRoute, BeforeValidator(_to_route)]
Grade = Annotated[str, BeforeValidator(_to_grade)]
Bps = Annotated[int, BeforeValidator(_to_uint), Field(ge=0, le=ALL_BPS)]


class ProcessInventory(BaseModel):
    """One process step's own inventory for a lot: energy (Wh) and its renewable share (basis points), water
    withdrawn and consumed (litres), process route and the assayed grade (zero when none is claimed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lot_id: Bytes32Hex
    energy_wh: Uint64
    renewable_bps: Bps
    water_withdrawn_litres: Uint64
    water_consumed_litres: Uint64
    route: Route = ProcessRoute.UNSPECIFIED
    grade: Grade = _ZERO32
    evidence: Bytes32Hex
    issued_at: Uint64
    valid_until: Uint64
    nonce: Uint256
    deadline: Uint64

    @model_validator(mode="after")
    def _possible(self) -> ProcessInventory:
        # The contract reverts with GwpAttestationsInvalidPeriod / InvalidInventory otherwise.
        if self.valid_until <= self.issued_at:
            raise ValueError(f"valid_until ({self.valid_until}) must be later than issued_at ({self.issued_at})")
        if self.water_consumed_litres > self.water_withdrawn_litres:
            raise ValueError("water consumed cannot exceed water withdrawn (consumption is withdrawal not returned)")
        return self

    @property
    def grade_label(self) -> str | None:
        """Return the claimed grade as text, or None when none is claimed."""
        raw = bytes.fromhex(self.grade[2:]).rstrip(b"\0")
        return raw.decode("ascii", "replace") if raw else None


class SignedInventory(BaseModel):
    """A process inventory with its signer, signature and the EIP-712 domain it was signed for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inventory: ProcessInventory
    signer: Address
    signature: HexBytes
    chain_id: ChainId
    contract: Address

    @property
    def digest(self) -> bytes:
        """Return the EIP-712 digest that was signed (the on-chain uid as bytes)."""
        return _digest(self.inventory, self.chain_id, bytes.fromhex(self.contract[2:]))

    @property
    def uid(self) -> str:
        """Return the inventory's id: the EIP-712 digest as 0x-hex, equal to the contract's uid."""
        return "0x" + self.digest.hex()


def _struct_hash(p: ProcessInventory) -> bytes:
    def word(v: int) -> bytes:
        return v.to_bytes(32, "big")

    return keccak(
        b"".join(
            (
                INVENTORY_TYPEHASH,
                bytes.fromhex(p.lot_id[2:]),
                word(p.energy_wh),
                word(p.renewable_bps),
                word(p.water_withdrawn_litres),
                word(p.water_consumed_litres),
                word(int(p.route)),
                bytes.fromhex(p.grade[2:]),
                bytes.fromhex(p.evidence[2:]),
                word(p.issued_at),
                word(p.valid_until),
                word(p.nonce),
                word(p.deadline),
            )
        )
    )


def _digest(p: ProcessInventory, chain_id: int, contract: bytes) -> bytes:
    return keccak(b"\x19\x01" + domain_separator(chain_id, contract) + _struct_hash(p))


def _message_dict(p: ProcessInventory, *, nonce_as_str: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, _, field in _FIELDS:
        value = getattr(p, field)
        if field == "route":
            value = int(value)
        elif field == "nonce" and nonce_as_str:
            value = str(value)  # JSON readers with doubles would round a 256-bit nonce
        out[name] = value
    return out


def inventory_digest(inv: ProcessInventory, chain_id: int, contract: str) -> bytes:
    """Return the EIP-712 digest of a process inventory for a chain and a GwpAttestations contract."""
    cid, address = _check_domain(chain_id, contract)
    return _digest(inv, cid, bytes.fromhex(address[2:]))


def inventory_typed_data(inv: ProcessInventory, chain_id: int, contract: str) -> dict[str, Any]:
    """Return the full EIP-712 typed data (eth_signTypedData_v4 layout) of a process inventory."""
    cid, address = _check_domain(chain_id, contract)
    return typed_data("ProcessInventory", _FIELDS, _message_dict(inv, nonce_as_str=False), cid, address)


def sign_inventory(inv: ProcessInventory, account: _MessageSigner, chain_id: int, contract: str) -> SignedInventory:
    """Sign a process inventory with an eth-account signer for a chain and GwpAttestations contract."""
    cid, address = _check_domain(chain_id, contract)
    signature = sign_typed(inventory_typed_data(inv, cid, address), _digest(inv, cid, bytes.fromhex(address[2:])), account)
    return SignedInventory(inventory=inv, signer=account.address, signature=signature, chain_id=cid, contract=address)


InventoryStruct = tuple[bytes, int, int, int, int, int, bytes, bytes, int, int, int, int]


def to_inventory_args(signed: SignedInventory) -> tuple[InventoryStruct, str, bytes]:
    """Return the arguments of ``attestInventory(ProcessInventory p, address signer, bytes signature)`` for web3."""
    p = signed.inventory
    struct = (
        bytes.fromhex(p.lot_id[2:]),
        p.energy_wh,
        p.renewable_bps,
        p.water_withdrawn_litres,
        p.water_consumed_litres,
        int(p.route),
        bytes.fromhex(p.grade[2:]),
        bytes.fromhex(p.evidence[2:]),
        p.issued_at,
        p.valid_until,
        p.nonce,
        p.deadline,
    )
    return struct, signed.signer, bytes.fromhex(signed.signature[2:])


# --- JSON files (the format and its strict reading are the attestation files': ledger.attest.files) ------------


def inventory_to_dict(signed: SignedInventory) -> dict[str, Any]:
    """Return the self-describing JSON object of a signed process inventory (the file format)."""
    return signed_to_dict(INVENTORY_FILE_TYPE, _message_dict(signed.inventory, nonce_as_str=True), signed)


def inventory_from_dict(data: Any) -> SignedInventory:
    """Parse the JSON object of a signed process inventory, checking its type tag, its keys and its uid."""
    return signed_from_dict(
        data, file_type=INVENTORY_FILE_TYPE, what="process inventory", fields=_FIELDS, model=SignedInventory, record="inventory"
    )


def load_inventory(path: str | os.PathLike[str]) -> SignedInventory:
    """Load a signed process inventory file, raising AttestationError with one line if it is malformed."""
    return read_signed_file(path, inventory_from_dict, "a process inventory")


def save_inventory(signed: SignedInventory, path: str | os.PathLike[str]) -> None:
    """Write a signed process inventory as a self-describing JSON file, atomically (replacing any old file)."""
    write_signed_file(inventory_to_dict(signed), path)
