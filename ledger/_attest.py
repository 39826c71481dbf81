"""Signed GWP attestations: EIP-712 messages that verify offline exactly as `GwpAttestations.sol` does.

The digest is computed here directly (keccak over the ABI-encoded struct, domain separator cached per
chain and contract) because eth-account's generic typed-data encoder is far too slow for auditors who
re-verify every attestation of a replay; signing still goes through eth-account and cross-checks it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from enum import IntEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Protocol

from coincurve import PublicKey
from eth_account.messages import encode_typed_data
from eth_hash.auto import keccak
from eth_utils import is_checksum_address, to_checksum_address
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ledger.errors import AttestationError, InvalidInput, SignatureError

__all__ = [
    "INFORMATIONAL_PROBLEMS",
    "ATTESTATION_TYPEHASH",
    "ATTESTATION_TYPE_STRING",
    "DELEGATION_PREFIX",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "FILE_TYPE",
    "AttestationCheck",
    "GwpAttestation",
    "LifeCycleStage",
    "SignedAttestation",
    "attestation_digest",
    "attestation_from_dict",
    "attestation_to_dict",
    "attestation_typed_data",
    "delegation_target",
    "load_attestation",
    "save_attestation",
    "sign_attestation",
    "to_contract_args",
    "verify_attestation",
]

DOMAIN_NAME = "Rinne GWP Attestations"
DOMAIN_VERSION = "1"
ATTESTATION_TYPE_STRING = (
    "GwpAttestation(bytes32 lotId,uint64 emissionsGrams,uint8 stage,bytes32 methodology,bytes32 evidence,"
    "uint64 issuedAt,uint64 validUntil,uint256 nonce,uint64 deadline)"
)
ATTESTATION_TYPEHASH = keccak(ATTESTATION_TYPE_STRING.encode())
_DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
_NAME_HASH = keccak(DOMAIN_NAME.encode())
_VERSION_HASH = keccak(DOMAIN_VERSION.encode())

#: The "type" tag of attestation files; a new layout gets a new version.
FILE_TYPE = "rinne.gwp-attestation/v1"
_MAX_FILE_BYTES = 64 * 1024

_U64_MAX = 2**64 - 1
_U256_MAX = 2**256 - 1
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# OpenZeppelin's ECDSA.tryRecover bound: anything above is the malleable twin of a valid signature.
_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0

#: Problems that do not make an attestation untrustworthy (the deadline only limits relaying).
INFORMATIONAL_PROBLEMS = frozenset({"deadline-passed"})

#: EIP-7702: the code of a delegated EOA is this prefix followed by the 20-byte delegate address.
DELEGATION_PREFIX = bytes.fromhex("ef0100")


class LifeCycleStage(IntEnum):
    """Life-cycle stage of an emission figure (EU Battery Regulation Art. 7); values match the Solidity enum."""

    RawMaterialAcquisition = 0
    MainProduction = 1
    Distribution = 2
    EndOfLife = 3


# --- field parsers (shared by the models and the file loader) -------------------------------------

_HEX32_RE = re.compile(r"0x[0-9a-fA-F]{64}")
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


def _to_stage(value: Any) -> LifeCycleStage:
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
        return to_checksum_address(bytes(value))
    if not isinstance(value, str) or not _ADDRESS_RE.fullmatch(value):
        raise ValueError("expected a 0x-prefixed 20-byte hex address")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise ValueError("address has an invalid EIP-55 checksum")
    return to_checksum_address(value)


def _to_hex_bytes(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and _HEX_RE.fullmatch(value):
        return value.lower()
    raise ValueError("expected 0x followed by an even number of hex digits")


Bytes32Hex = Annotated[str, BeforeValidator(_to_bytes32_hex)]
Methodology = Annotated[str, BeforeValidator(_to_methodology)]
Uint64 = Annotated[int, BeforeValidator(_to_uint), Field(ge=0, le=_U64_MAX)]
Uint256 = Annotated[int, BeforeValidator(_to_uint), Field(ge=0, le=_U256_MAX)]
ChainId = Annotated[int, BeforeValidator(_to_uint), Field(ge=1, le=_U256_MAX)]
Address = Annotated[str, BeforeValidator(_to_address)]
HexBytes = Annotated[str, BeforeValidator(_to_hex_bytes)]
Stage = Annotated[LifeCycleStage, BeforeValidator(_to_stage)]


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


class _MessageSigner(Protocol):
    @property
    def address(self) -> str: ...

    def sign_message(self, signable_message: Any) -> Any: ...


# (typed-data name, Solidity type, model field), in struct order; the contract's abi.encode follows it.
_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("lotId", "bytes32", "lot_id"),
    ("emissionsGrams", "uint64", "emissions_grams"),
    ("stage", "uint8", "stage"),
    ("methodology", "bytes32", "methodology"),
    ("evidence", "bytes32", "evidence"),
    ("issuedAt", "uint64", "issued_at"),
    ("validUntil", "uint64", "valid_until"),
    ("nonce", "uint256", "nonce"),
    ("deadline", "uint64", "deadline"),
)
_TYPED_FIELDS = tuple((n, t) for n, t, _ in _FIELDS)
_JSON_NAME = {field: name for name, _, field in _FIELDS}


# --- digest -----------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _domain_separator(chain_id: int, contract: bytes) -> bytes:
    return keccak(
        b"".join(
            (_DOMAIN_TYPEHASH, _NAME_HASH, _VERSION_HASH, chain_id.to_bytes(32, "big"), contract.rjust(32, b"\0"))
        )
    )


def _struct_hash(a: GwpAttestation) -> bytes:
    return keccak(
        b"".join(
            (
                ATTESTATION_TYPEHASH,
                bytes.fromhex(a.lot_id[2:]),
                a.emissions_grams.to_bytes(32, "big"),
                int(a.stage).to_bytes(32, "big"),
                bytes.fromhex(a.methodology[2:]),
                bytes.fromhex(a.evidence[2:]),
                a.issued_at.to_bytes(32, "big"),
                a.valid_until.to_bytes(32, "big"),
                a.nonce.to_bytes(32, "big"),
                a.deadline.to_bytes(32, "big"),
            )
        )
    )


def _digest(a: GwpAttestation, chain_id: int, contract: bytes) -> bytes:
    return keccak(b"\x19\x01" + _domain_separator(chain_id, contract) + _struct_hash(a))


def _check_domain(chain_id: Any, contract: Any) -> tuple[int, str]:
    try:
        cid = _to_uint(chain_id)
        if not 1 <= cid <= _U256_MAX:
            raise ValueError("chain id out of range")
        address = _to_address(contract)
    except ValueError as e:
        raise InvalidInput(f"invalid EIP-712 domain: {e}") from None
    return cid, address


def attestation_digest(att: GwpAttestation, chain_id: int, contract: str) -> bytes:
    """Return the EIP-712 digest of an attestation for a chain and a GwpAttestations contract."""
    cid, address = _check_domain(chain_id, contract)
    return _digest(att, cid, bytes.fromhex(address[2:]))


def attestation_typed_data(att: GwpAttestation, chain_id: int, contract: str) -> dict[str, Any]:
    """Return the full EIP-712 typed data (eth_signTypedData_v4 layout) for an attestation."""
    cid, address = _check_domain(chain_id, contract)
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "GwpAttestation": [{"name": n, "type": t} for n, t in _TYPED_FIELDS],
        },
        "primaryType": "GwpAttestation",
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": cid, "verifyingContract": address},
        "message": _message_dict(att, nonce_as_str=False),
    }


def _message_dict(att: GwpAttestation, *, nonce_as_str: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, _, field in _FIELDS:
        value = getattr(att, field)
        if field == "stage":
            value = int(value)
        elif field == "nonce" and nonce_as_str:
            # JSON readers that use doubles (jq, JavaScript) would round a 256-bit nonce silently.
            value = str(value)
        out[name] = value
    return out


# --- signing and verification -------------------------------------------------------------------------


def sign_attestation(att: GwpAttestation, account: _MessageSigner, chain_id: int, contract: str) -> SignedAttestation:
    """Sign an attestation with an eth-account signer for a chain and GwpAttestations contract."""
    cid, address = _check_domain(chain_id, contract)
    signable = encode_typed_data(full_message=attestation_typed_data(att, cid, address))
    digest = _digest(att, cid, bytes.fromhex(address[2:]))
    # The fast encoder is what verification trusts; refuse to sign if it ever disagrees with eth-account.
    if keccak(b"\x19" + signable.version + signable.header + signable.body) != digest:
        raise AttestationError("internal error: EIP-712 digest disagrees with eth-account's encoder")
    signed = account.sign_message(signable)
    signature = bytes(signed.signature)
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise SignatureError("the signer returned a signature that is not 65 bytes r||s||v with v 27 or 28")
    if int.from_bytes(signature[32:64], "big") > _HALF_N:
        raise SignatureError("the signer returned a high-s signature, which the contract rejects")
    return SignedAttestation(
        attestation=att, signer=account.address, signature="0x" + signature.hex(), chain_id=cid, contract=address
    )


def _ecdsa_problem(digest: bytes, signature: bytes, signer: str) -> tuple[str | None, str | None]:
    """Mirror OpenZeppelin's ECDSA.tryRecover: return (problem code or None, recovered address or None)."""
    if len(signature) != 65:
        return "bad-signature", None
    v = signature[64]
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if v not in (27, 28) or not 0 < r < _SECP256K1_N or not 0 < s < _SECP256K1_N:
        return "bad-signature", None
    if s > _HALF_N:
        return "high-s", None
    try:
        pub = PublicKey.from_signature_and_message(signature[:64] + bytes((v - 27,)), digest, hasher=None)
    except Exception:  # coincurve raises bare Exception/ValueError for unrecoverable points
        return "bad-signature", None
    recovered = keccak(pub.format(compressed=False)[1:])[12:]
    if recovered == bytes.fromhex(signer[2:]):
        return None, signer
    return "signer-mismatch", _checksum(recovered)


def _checksum(address: bytes) -> str:
    # EIP-55 without eth_utils' generic validation, which costs more than the recovery on the hot path.
    plain = address.hex()
    mask = keccak(plain.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if m in "89abcdef" else c for c, m in zip(plain, mask))


def verify_attestation(
    signed: SignedAttestation,
    *,
    now: int | None = None,
    chain_id: int | None = None,
    contract: str | None = None,
    is_contract: bool | None = None,
    erc1271_check: Callable[[str, bytes, bytes], bool] | None = None,
    delegated: bool = False,
) -> AttestationCheck:
    """Verify a signed attestation offline, the way the contract would, and list what is wrong.

    ``chain_id`` and ``contract`` are the domain the caller expects; when given and different from the
    attestation's own, "wrong-chain" / "wrong-contract" is reported. ``now`` defaults to the clock.
    An ECDSA signature is recovered here. A contract (ERC-1271) signer cannot be checked without a chain:
    pass ``is_contract=True`` and, to check it, ``erc1271_check(signer, digest, signature) -> bool``;
    without the callable "contract-signer" is reported. With ``is_contract=None`` the signer is taken
    for an EOA, and ``erc1271_check``, if given, is asked only when ECDSA recovery does not match.

    ``delegated=True`` (with ``is_contract=True``) says the signer's code was an EIP-7702 delegation
    designator (``0xef0100 ‖ delegate``; see :func:`delegation_target`). OpenZeppelin 5.4's
    ``SignatureChecker.isValidSignatureNow``, which the contract uses, dispatches on ``code.length``
    alone, so on-chain such an account is asked via ERC-1271 and the call runs the delegate's code in the
    account (EIP-7702). The account is still an EOA whose key signs for it, and a delegation never
    revokes that key, so its ECDSA signature is accepted here, and ``erc1271_check``, if given, is asked
    when ECDSA recovery does not match.

    Problem codes: wrong-chain, wrong-contract, bad-signature, high-s, signer-mismatch (also what any
    altered field produces), contract-signer, expired, not-yet-valid, deadline-passed (informational:
    the deadline only limits relaying; it does not make ``ok`` false).
    """
    problems: list[str] = []
    if chain_id is not None and chain_id != signed.chain_id:
        problems.append("wrong-chain")
    if contract is not None and contract.lower() != signed.contract.lower():
        problems.append("wrong-contract")

    digest = _digest(signed.attestation, signed.chain_id, bytes.fromhex(signed.contract[2:]))
    signature = bytes.fromhex(signed.signature[2:])
    recovered: str | None = None
    if is_contract and delegated:
        # An EIP-7702 account: its key still holds, and the delegate's ERC-1271 answer may add to it.
        problem, recovered = _ecdsa_problem(digest, signature, signed.signer)
        if problem is not None and not (erc1271_check is not None and erc1271_check(signed.signer, digest, signature)):
            problems.append(problem)
    elif is_contract:
        if erc1271_check is None:
            problems.append("contract-signer")
        elif not erc1271_check(signed.signer, digest, signature):
            problems.append("bad-signature")
    else:
        problem, recovered = _ecdsa_problem(digest, signature, signed.signer)
        if problem is not None and not (
            is_contract is None and erc1271_check is not None and erc1271_check(signed.signer, digest, signature)
        ):
            problems.append(problem)

    t = int(time.time()) if now is None else now
    a = signed.attestation
    if t > a.valid_until:
        problems.append("expired")
    if t < a.issued_at:
        problems.append("not-yet-valid")
    if t > a.deadline:
        problems.append("deadline-passed")
    ok = all(p in INFORMATIONAL_PROBLEMS for p in problems)
    return AttestationCheck(ok=ok, problems=problems, uid="0x" + digest.hex(), recovered=recovered)


def delegation_target(code: bytes | str | None) -> str | None:
    """Return the delegate address (checksummed) when `code` (bytes or 0x-hex, as eth_getCode returns it)
    is an EIP-7702 delegation designator ``0xef0100 ‖ address``; None for no code or real contract code."""
    if code is None:
        return None
    if isinstance(code, str):
        body = code[2:] if code[:2] in ("0x", "0X") else code
        try:
            raw = bytes.fromhex(body)
        except ValueError:
            return None
    else:
        raw = bytes(code)
    # Exactly 23 bytes: EIP-7702 writes nothing else, and 0xef-prefixed code cannot be deployed (EIP-3541).
    if len(raw) != 23 or not raw.startswith(DELEGATION_PREFIX):
        return None
    return _checksum(raw[3:])


ContractStruct = tuple[bytes, int, int, bytes, bytes, int, int, int, int]


def to_contract_args(signed: SignedAttestation) -> tuple[ContractStruct, str, bytes]:
    """Return the arguments of ``attest(GwpAttestation a, address signer, bytes signature)`` for web3."""
    a = signed.attestation
    struct = (
        bytes.fromhex(a.lot_id[2:]),
        a.emissions_grams,
        int(a.stage),
        bytes.fromhex(a.methodology[2:]),
        bytes.fromhex(a.evidence[2:]),
        a.issued_at,
        a.valid_until,
        a.nonce,
        a.deadline,
    )
    return struct, signed.signer, bytes.fromhex(signed.signature[2:])


# --- JSON files ---------------------------------------------------------------------------------------

_TOP_KEYS = ("type", "chainId", "contract", "message", "signer", "signature", "uid")
_TOP_FIELD = {"chain_id": "chainId", "contract": "contract", "signer": "signer", "signature": "signature"}


def attestation_to_dict(signed: SignedAttestation) -> dict[str, Any]:
    """Return the self-describing JSON object of a signed attestation (the file format)."""
    return {
        "type": FILE_TYPE,
        "chainId": signed.chain_id,
        "contract": signed.contract,
        "message": _message_dict(signed.attestation, nonce_as_str=True),
        "signer": signed.signer,
        "signature": signed.signature,
        "uid": signed.uid,
    }


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = list(first["loc"])
    if loc and loc[0] == "attestation":
        path = ["message"] + [_JSON_NAME.get(str(p), str(p)) for p in loc[1:]]
    else:
        path = [_TOP_FIELD.get(str(p), str(p)) for p in loc]
    msg = first["msg"].removeprefix("Value error, ")
    where = ".".join(path)
    return f"{where}: {msg}" if where else msg


def attestation_from_dict(data: Any) -> SignedAttestation:
    """Parse the JSON object of a signed attestation, checking its type tag and its uid."""
    if not isinstance(data, Mapping):
        raise AttestationError("expected a JSON object")
    kind = data.get("type")
    if kind != FILE_TYPE:
        raise AttestationError(f"not a Rinne GWP attestation: type is {kind!r}, expected {FILE_TYPE!r}")
    for key in _TOP_KEYS:
        if key not in data:
            raise AttestationError(f"{key}: missing")
    extra = sorted(set(data) - set(_TOP_KEYS))
    if extra:
        raise AttestationError(f"{extra[0]}: unexpected key")
    message = data["message"]
    if not isinstance(message, Mapping):
        raise AttestationError("message: expected a JSON object")
    names = [name for name, _, _ in _FIELDS]
    for name in names:
        if name not in message:
            raise AttestationError(f"message.{name}: missing")
    extra = sorted(set(message) - set(names))
    if extra:
        raise AttestationError(f"message.{extra[0]}: unexpected key")
    try:
        signed = SignedAttestation(
            attestation={field: message[name] for name, _, field in _FIELDS},
            signer=data["signer"],
            signature=data["signature"],
            chain_id=data["chainId"],
            contract=data["contract"],
        )
    except ValidationError as e:
        raise AttestationError(_one_line(e)) from None
    # A uid that disagrees means the message, domain or uid was altered after signing (or hand-edited).
    uid = data["uid"]
    if not isinstance(uid, str) or uid.lower() != signed.uid:
        raise AttestationError(f"uid: {uid!r} does not match the attestation's digest {signed.uid}")
    return signed


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # Parsers disagree on which duplicate wins; an attestation must mean one thing to everyone.
            raise AttestationError(f"{key}: duplicate key")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise AttestationError(f"{name} is not a valid JSON number here")


def load_attestation(path: str | os.PathLike[str]) -> SignedAttestation:
    """Load a signed attestation file, raising AttestationError with one line if it is malformed."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(_MAX_FILE_BYTES + 1)
    except OSError as e:
        raise AttestationError(f"{p}: cannot read: {e.strerror or e}") from None
    if len(raw) > _MAX_FILE_BYTES:
        raise AttestationError(f"{p}: larger than {_MAX_FILE_BYTES} bytes, not an attestation")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise AttestationError(f"{p}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise AttestationError(f"{p}: not JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except AttestationError as e:
        raise AttestationError(f"{p}: {e}") from None
    except RecursionError:
        raise AttestationError(f"{p}: JSON nested too deeply") from None
    try:
        return attestation_from_dict(data)
    except AttestationError as e:
        raise AttestationError(f"{p}: {e}") from None


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write via a fresh temp file in the same folder and rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def save_attestation(signed: SignedAttestation, path: str | os.PathLike[str]) -> None:
    """Write a signed attestation as a self-describing JSON file, atomically (replacing any old file)."""
    p = Path(path)
    text = json.dumps(attestation_to_dict(signed), indent=2) + "\n"
    try:
        # Attestations are public documents: 0644 before umask, unlike keystores.
        _write_atomic(p, text.encode("utf-8"), 0o644)
    except OSError as e:
        raise AttestationError(f"{p}: cannot write: {e.strerror or e}") from None
