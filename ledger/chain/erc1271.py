"""ERC-1271: asking a contract signer whether it approves a signature, exactly as the contracts ask.

``SignerSignatures.isValid`` (contracts/libraries/, OpenZeppelin ``SignatureChecker``'s rule), which ``GwpAttestations`` uses, takes
a signature as approved only when the static call succeeds and returns at least 32 bytes whose
first word is the magic value ``0x1626ba7e`` padded with zeros. The library and the audit apply
this one rule, so neither accepts what the contract would refuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eth_abi import encode as abi_encode

from ledger import errors
from ledger.chain.rpc import call
from ledger.domain.hashing import checksum_address, keccak
from ledger.domain.ids import hex_of

if TYPE_CHECKING:
    from web3 import Web3

_SELECTOR = keccak(b"isValidSignature(bytes32,bytes)")[:4]
#: The word an approving wallet returns: bytes32(IERC1271.isValidSignature.selector).
MAGIC_WORD = _SELECTOR.ljust(32, b"\0")


def approves(result: bytes) -> bool:
    """Whether the bytes an isValidSignature call returned approve the signature (SignatureChecker's rule)."""
    return len(result) >= 32 and result[:32] == MAGIC_WORD


def erc1271_approves(w3: Web3, signer: str, digest: bytes, signature: bytes, block: int | str = "latest") -> bool:
    """Ask the contract at `signer` whether it approves `signature` over `digest`, at `block`.

    A reverting call, a node error or an answer that is not the magic word is a refusal.
    """
    data = _SELECTOR + abi_encode(["bytes32", "bytes"], [digest, signature])
    at = block if isinstance(block, str) else hex(block)
    try:
        result = call(w3, "eth_call", [{"to": checksum_address(signer), "data": hex_of(data)}, at])
    except errors.ChainError:
        return False
    if not isinstance(result, str):
        return False
    try:
        return approves(bytes.fromhex(result[2:] if result[:2] in ("0x", "0X") else result))
    except ValueError:
        return False
