"""The trust root: the recorded deployment is trusted only if the chain holds the shipped contracts there.

A deployment record (``<data dir>/deployments/<chain id>.json``) is a plain file: whoever can write it,
or whoever controls the node, could point Rinne at a contract that answers "verified" to anything.
:func:`verify_deployment` therefore checks, on every connect that uses the record, that

* the runtime code at the recorded RinneLedger address is the shipped artifact's ``deployedBytecode``, of the
  EVM build the record names (``evm_version``: ledger/artifacts/ or ledger/artifacts/shanghai/);
* the runtime code at the recorded GwpAttestations address is the shipped artifact's, except for its
  immutables, and that each immutable holds a value an honest deployment bound to *this* ledger on
  *this* chain at *this* address puts there (the ledger address, the chain id, its own address, the
  EIP-712 domain separator, name and version);
* ``GwpAttestations.ledger()`` answers the recorded ledger address;
* the recorded block holds the transaction that created the ledger, and the same sender's next
  contract is the recorded GwpAttestations (so a second copy bound to the same ledger is refused);
* when the record names a vault key registry (``vault_keys``), the code there is the shipped VaultKeys, its one
  immutable is the recorded ledger, and it is the contract that sender created right after GwpAttestations: a
  registry of someone else's choosing would hand writers keys that are not the parties' own.

What no check on the chain can tell is a record rewritten to point at a whole second suite someone
deployed honestly for themselves: the record itself must be trusted, which is why the data folder is
kept private to its owner (:func:`ledger.local.files.private_folder`).

The CBOR metadata trailer (the compiler's hash of the sources and settings) is left out of the
comparison on both sides: it does not execute, and a comment-only change of a source must not refuse
a deployment whose code is the same. The artifacts are read when the check runs, so a recompile is
compared against as soon as it lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ledger import errors
from ledger.attest.eip712 import DOMAIN_NAME, DOMAIN_VERSION, domain_separator
from ledger.chain._jsonrpc import JsonRpc
from ledger.chain.abi import artifact
from ledger.domain.hashing import checksum_address as to_checksum_address, keccak
from ledger.domain.models import Deployment

if TYPE_CHECKING:
    from web3 import Web3

__all__ = ["code_mismatch", "immutable_slots", "strip_metadata", "verify_deployment"]

_LEDGER_SELECTOR = "0x" + keccak(b"ledger()")[:4].hex()
_PUSH1, _PUSH32 = 0x60, 0x7F


def strip_metadata(code: bytes) -> bytes:
    """Return ``code`` without solc's CBOR metadata trailer (its length is the last two bytes), if it has one."""
    if len(code) < 2:
        return code
    n = int.from_bytes(code[-2:], "big")
    start = len(code) - 2 - n
    # A CBOR map of 1-5 entries (0xa1..0xa5) is what solc appends; anything else is left as code.
    if n == 0 or start < 0 or not 0xA1 <= code[start] <= 0xA5:
        return code
    return code[:start]


def immutable_slots(code: bytes, references: dict[str, Any] | None = None) -> list[int]:
    """Offsets of the 32-byte immutable values in an artifact's runtime code.

    From the artifact's ``immutableReferences`` when it has them; otherwise every PUSH32 whose
    immediate is all zeros, which is how solc leaves an immutable in ``deployedBytecode`` (it never
    emits a zero constant as a PUSH32: PUSH0 is shorter).
    """
    if references:
        return sorted({int(r["start"]) for refs in references.values() for r in refs if int(r["length"]) == 32})
    slots, i = [], 0
    while i < len(code):
        op = code[i]
        if _PUSH1 <= op <= _PUSH32:
            width = op - _PUSH1 + 1
            if op == _PUSH32 and i + 33 <= len(code) and not any(code[i + 1 : i + 33]):
                slots.append(i + 1)
            i += 1 + width
        else:
            i += 1
    return slots


def code_mismatch(expected: bytes, actual: bytes, slots: Sequence[int] = ()) -> int | None:
    """The first byte offset where ``actual`` differs from ``expected`` outside the 32-byte ``slots`` (None: same)."""
    if len(expected) != len(actual):
        return min(len(expected), len(actual))
    masked: set[int] = set()
    for s in slots:
        masked.update(range(s, s + 32))
    for i, (a, b) in enumerate(zip(expected, actual)):
        if a != b and i not in masked:
            return i
    return None


def _short_string(text: str) -> bytes:
    # OpenZeppelin's ShortStrings: the UTF-8 bytes left-aligned, their length in the last byte.
    raw = text.encode()
    return raw.ljust(31, b"\0") + bytes([len(raw)]) if len(raw) < 32 else b""


def _word(value: int | bytes | str) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:]).rjust(32, b"\0")
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return value.rjust(32, b"\0")


def _runtime(name: str, evm: str) -> tuple[bytes, list[int]]:
    art = artifact(name, evm)
    deployed = art.get("deployedBytecode")
    refs = None
    if isinstance(deployed, dict):  # a forge/solc-style artifact: {"object": ..., "immutableReferences": ...}
        refs = deployed.get("immutableReferences")
        deployed = deployed.get("object")
    refs = refs or art.get("immutableReferences")
    if not isinstance(deployed, str) or not deployed.startswith("0x"):
        raise errors.ConfigError(f"the {name} artifact has no deployedBytecode: run `node scripts/compile.mjs`")
    code = strip_metadata(bytes.fromhex(deployed[2:]))
    return code, immutable_slots(code, refs)


def _hex(result: Any) -> bytes:
    text = result if isinstance(result, str) else ""
    body = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        return bytes.fromhex(body)
    except ValueError:
        return b""


def _create_address(sender: str, nonce: int) -> str:
    """The address CREATE gives the ``nonce``-th contract-creating transaction of ``sender``."""
    # RLP of [sender, nonce]: short enough (< 56 bytes) for one-byte list and string headers.
    raw = nonce.to_bytes((nonce.bit_length() + 7) // 8, "big")
    item = raw if len(raw) == 1 and raw[0] < 0x80 else bytes([0x80 + len(raw)]) + raw
    payload = bytes([0x94]) + bytes.fromhex(sender[2:]) + item
    return to_checksum_address(keccak(bytes([0xC0 + len(payload)]) + payload)[12:])


def _check_deployer(d: Deployment, block: object, fix: str) -> None:
    """The recorded GwpAttestations is the one the ledger's deployer created next (as ``Ledger.deploy`` does).

    Without this, a second, honest GwpAttestations bound to the same ledger (where someone relayed the
    attestations but not their revocations) would pass every code check.
    """
    for tx in (block or {}).get("transactions", []) if isinstance(block, dict) else []:
        if not isinstance(tx, dict) or tx.get("to") not in (None, "", "0x"):
            continue
        try:
            sender, nonce = to_checksum_address(tx["from"]), int(tx["nonce"], 16)
        except (KeyError, TypeError, ValueError):
            continue
        if _create_address(sender, nonce) == to_checksum_address(d.ledger):
            for name, recorded, n in (("GwpAttestations", d.attestations, 1), ("VaultKeys", d.vault_keys, 2)):
                if recorded is not None and _create_address(sender, nonce + n) != to_checksum_address(recorded):
                    raise errors.DeploymentMismatch(
                        f"{name} {recorded} is not the one deployed with ledger {d.ledger} "
                        f"(its deployer {sender} created {_create_address(sender, nonce + n)} there): {fix}"
                    )
            return
    raise errors.DeploymentMismatch(f"block {d.block} of the record holds no creation of the ledger {d.ledger}: {fix}")


def _check_vault_keys(d: Deployment, code: bytes, fix: str) -> None:
    """The recorded VaultKeys is the shipped code, bound to the recorded ledger (its only immutable)."""
    actual = strip_metadata(code)
    if not actual:
        raise errors.NotDeployed(
            f"the recorded vault key registry is not on chain {d.chain_id} (was the node reset?): run `rinne deploy`"
        )
    expected, slots = _runtime("VaultKeys", d.evm_version)
    at = code_mismatch(expected, actual, slots)
    if at is not None:
        raise errors.DeploymentMismatch(
            f"the code at the recorded VaultKeys {d.vault_keys} is not the shipped VaultKeys (differs at byte {at}): {fix}"
        )
    if not slots or any(actual[s : s + 32] != _word(d.ledger) for s in slots):
        raise errors.DeploymentMismatch(f"VaultKeys {d.vault_keys} is not bound to the recorded ledger {d.ledger}: {fix}")


def _batch(w3: Web3 | JsonRpc, reads: list[tuple[str, list[Any]]]) -> list[Any]:
    if isinstance(w3, JsonRpc):  # the web3-free reads (ledger.client.light)
        return w3.batch(reads)
    from ledger.chain.rpc import batch

    return batch(w3, reads)


def verify_deployment(w3: Web3 | JsonRpc, deployment: Deployment) -> None:
    """Refuse a recorded deployment unless the chain holds the shipped contracts, wired to each other.

    Raises :class:`~ledger.errors.NotDeployed` when a recorded address has no code (a reset node),
    and :class:`~ledger.errors.DeploymentMismatch` when the code differs from the shipped artifacts,
    an immutable holds a value no honest deployment at that address gives it, or
    ``GwpAttestations.ledger()`` is not the recorded ledger, or the recorded GwpAttestations is not the
    contract the ledger's deployer created right after the ledger, in the recorded block. Costs one
    JSON-RPC batch of five reads, through web3 or the standard-library client (:class:`ledger.chain._jsonrpc.JsonRpc`).
    """
    d = deployment
    reads: list[tuple[str, list[Any]]] = [
        ("eth_getCode", [d.ledger, "latest"]),
        ("eth_getCode", [d.attestations, "latest"]),
        ("eth_getBlockByNumber", [hex(d.block), True]),
        ("eth_getCode", [d.vault_keys or d.ledger, "latest"]),  # the ledger's again when the record names no registry
    ]
    try:
        ledger_code, gwp_code, block, keys_code, bound = _batch(
            w3, [*reads, ("eth_call", [{"to": d.attestations, "data": _LEDGER_SELECTOR}, "latest"])]
        )
    except (errors.ContractRevert, errors.TransactionFailed):
        # Not a GwpAttestations at all (no ledger() to answer): the code comparison below says so.
        bound = None
        ledger_code, gwp_code, block, keys_code = _batch(w3, reads)
    chain_ledger, chain_gwp = _hex(ledger_code), _hex(gwp_code)
    if not chain_ledger or not chain_gwp:
        raise errors.NotDeployed(f"the recorded contracts are not on chain {d.chain_id} (was the node reset?): run `rinne deploy`")
    fix = "the deployment record or the node was tampered with, or the suite was built from other sources: `rinne deploy --force` deploys the shipped one"

    expected, _ = _runtime("RinneLedger", d.evm_version)
    # RinneLedger has no immutables: compared whole, so a value in one could not go unchecked.
    at = code_mismatch(expected, strip_metadata(chain_ledger))
    if at is not None:
        raise errors.DeploymentMismatch(
            f"the code at the recorded RinneLedger {d.ledger} is not the shipped RinneLedger (differs at byte {at}): {fix}"
        )

    expected, slots = _runtime("GwpAttestations", d.evm_version)
    actual = strip_metadata(chain_gwp)
    at = code_mismatch(expected, actual, slots)
    if at is not None:
        raise errors.DeploymentMismatch(
            f"the code at the recorded GwpAttestations {d.attestations} is not the shipped GwpAttestations (differs at byte {at}): {fix}"
        )
    me = bytes.fromhex(d.attestations[2:])
    allowed = {
        _word(d.ledger),
        _word(d.chain_id),
        _word(d.attestations),
        domain_separator(d.chain_id, me),
        keccak(DOMAIN_NAME.encode()),
        keccak(DOMAIN_VERSION.encode()),
        _short_string(DOMAIN_NAME),
        _short_string(DOMAIN_VERSION),
    }
    values = {s: actual[s : s + 32] for s in slots}
    for s, v in values.items():
        if v not in allowed:
            raise errors.DeploymentMismatch(
                f"GwpAttestations {d.attestations} holds an immutable (byte {s}) that no deployment bound to ledger "
                f"{d.ledger} on chain {d.chain_id} has: {fix}"
            )
    if _word(d.ledger) not in values.values():
        raise errors.DeploymentMismatch(f"GwpAttestations {d.attestations} is not bound to the recorded ledger {d.ledger}: {fix}")
    if d.vault_keys is not None:
        _check_vault_keys(d, _hex(keys_code), fix)
    _check_deployer(d, block, fix)
    answer = _hex(bound)
    if len(answer) != 32 or answer != _word(d.ledger):
        got = to_checksum_address(answer[-20:]) if len(answer) == 32 else "no address"
        raise errors.DeploymentMismatch(
            f"GwpAttestations {d.attestations} answers ledger() = {got}, but the recorded ledger is {d.ledger}: {fix}"
        )
