"""Signing and verifying GWP attestations: EIP-712 messages that verify offline exactly as `GwpAttestations.sol` does.

The digest is computed here directly (keccak over the ABI-encoded struct, domain separator cached per
chain and contract) because eth-account's generic typed-data encoder is far too slow for auditors who
re-verify every attestation of a replay; signing still goes through eth-account and cross-checks it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from coincurve import PublicKey

from ledger.attest.records import (
    _U256_MAX,
    AttestationCheck,
    GwpAttestation,
    SignedAttestation,
    _to_address,
    _to_uint,
)
from ledger.domain.hashing import keccak
from ledger.errors import AttestationError, InvalidInput, SignatureError

if TYPE_CHECKING:
    from eth_account.messages import SignableMessage

    from ledger.attest.inventory import SignedInventory

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


_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# OpenZeppelin's ECDSA.tryRecover bound: anything above is the malleable twin of a valid signature.
_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0

#: Problems that do not make an attestation untrustworthy (the deadline only limits relaying).
INFORMATIONAL_PROBLEMS = frozenset({"deadline-passed"})

#: EIP-7702: the code of a delegated EOA is this prefix followed by the 20-byte delegate address.
DELEGATION_PREFIX = bytes.fromhex("ef0100")


class _SignedMessage(Protocol):
    @property
    def signature(self) -> bytes: ...


class _MessageSigner(Protocol):
    @property
    def address(self) -> str: ...

    def sign_message(self, signable_message: SignableMessage) -> _SignedMessage: ...


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
_JSON_NAME = {field: name for name, _, field in _FIELDS}


# --- digest -----------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def domain_separator(chain_id: int, contract: bytes) -> bytes:
    """The EIP-712 domain separator of the attestation contract at `contract` on chain `chain_id` (cached)."""
    return keccak(b"".join((_DOMAIN_TYPEHASH, _NAME_HASH, _VERSION_HASH, chain_id.to_bytes(32, "big"), contract.rjust(32, b"\0"))))


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
    return keccak(b"\x19\x01" + domain_separator(chain_id, contract) + _struct_hash(a))


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


def typed_data(
    primary: str, fields: Sequence[tuple[str, str, str]], message: dict[str, Any], chain_id: int, address: str
) -> dict[str, Any]:
    """The full EIP-712 typed data (eth_signTypedData_v4 layout) of one of GwpAttestations' messages."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: [{"name": n, "type": t} for n, t, _ in fields],
        },
        "primaryType": primary,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id, "verifyingContract": address},
        "message": message,
    }


def attestation_typed_data(att: GwpAttestation, chain_id: int, contract: str) -> dict[str, Any]:
    """Return the full EIP-712 typed data (eth_signTypedData_v4 layout) for an attestation."""
    cid, address = _check_domain(chain_id, contract)
    return typed_data("GwpAttestation", _FIELDS, _message_dict(att, nonce_as_str=False), cid, address)


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
    signature = sign_typed(attestation_typed_data(att, cid, address), _digest(att, cid, bytes.fromhex(address[2:])), account)
    return SignedAttestation(attestation=att, signer=account.address, signature=signature, chain_id=cid, contract=address)


def sign_typed(typed: dict[str, Any], digest: bytes, account: _MessageSigner) -> str:
    """Sign typed data whose digest this library computed as `digest`; return the 0x signature the contract takes.

    The fast encoder is what verification trusts: signing is refused if it ever disagrees with eth-account's,
    and so is a signature the contract would reject (not 65 bytes r||s||v, or a high s)."""
    # eth-account only when signing: verifying (and the deployment check's domain separator) needs none of it.
    from eth_account.messages import encode_typed_data

    signable = encode_typed_data(full_message=typed)
    if keccak(b"\x19" + signable.version + signable.header + signable.body) != digest:
        raise AttestationError("internal error: EIP-712 digest disagrees with eth-account's encoder")
    signature = bytes(account.sign_message(signable).signature)
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise SignatureError("the signer returned a signature that is not 65 bytes r||s||v with v 27 or 28")
    if int.from_bytes(signature[32:64], "big") > _HALF_N:
        raise SignatureError("the signer returned a high-s signature, which the contract rejects")
    return "0x" + signature.hex()


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
    signed: SignedAttestation | SignedInventory,
    *,
    now: int | None = None,
    chain_id: int | None = None,
    contract: str | None = None,
    is_contract: bool | None = None,
    erc1271_check: Callable[[str, bytes, bytes], bool] | None = None,
    delegated: bool = False,
) -> AttestationCheck:
    """Verify a signed attestation (or process inventory) offline, the way the contract would, and list what is wrong.

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

    digest = signed.digest
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
    a = signed.attestation if isinstance(signed, SignedAttestation) else signed.inventory
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
