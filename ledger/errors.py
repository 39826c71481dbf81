"""Exceptions raised by the ledger library.

One root, :class:`LedgerError`, with domain subtrees. Reverts of the contracts' custom errors are
raised as :class:`ContractRevert` subclasses named after the Solidity error (for example
``RinneLedgerLotExists``), carrying the decoded arguments.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base class of every error raised by the ledger library."""


class InvalidInput(LedgerError, ValueError):
    """A value given to the library is malformed or out of range."""


class UnknownLot(InvalidInput):
    """No lot or unit of that id on this ledger (as far as the index has synced)."""


class ConfigError(LedgerError):
    """The configuration, data directory or deployment record is missing or inconsistent."""


class NodeError(LedgerError):
    """The managed local Anvil node could not be started, reached or stopped."""


class ChainError(LedgerError):
    """Talking to the chain failed."""


class ConnectionFailed(ChainError, ConnectionError):
    """Nothing answers JSON-RPC at the given URL."""


class WrongChain(ChainError):
    """The node serves another chain id than the one expected."""


class NotDeployed(ChainError):
    """The contracts are not deployed on this chain (or not at the recorded addresses)."""


class TransactionFailed(ChainError):
    """A transaction was rejected by the node or reverted without a known error."""


class ContractRevert(ChainError):
    """A contract reverted with one of its custom errors."""

    #: Solidity name of the error, e.g. ``RinneLedgerLotExists``.
    error_name: str = ""

    def __init__(self, error_name: str, inputs: dict[str, Any], message: str | None = None) -> None:
        self.error_name = error_name
        self.inputs = inputs
        args = ", ".join(f"{k}={_short(v)}" for k, v in inputs.items())
        super().__init__(message or f"{error_name}({args})")


class SignatureError(LedgerError):
    """A signature is malformed, malleable, or not by the claimed signer."""


class AttestationError(LedgerError):
    """An attestation file or record is malformed or fails verification."""


class GradeError(InvalidInput):
    """An input lot does not meet the grade an operation requires (or its grade cannot be derived)."""


class KeystoreError(LedgerError):
    """A keystore cannot be found, read, written or unlocked."""


class AccountNotFound(KeystoreError, LookupError):
    """No keystore with that name in the keystore folder."""


class AccountExists(KeystoreError):
    """A keystore with that name exists already (it is never overwritten)."""


class WrongPassword(KeystoreError):
    """The password does not unlock the keystore."""


class IndexCorrupt(LedgerError):
    """The local event index is missing, corrupt, or behind the chain in a way it cannot repair."""


class IndexUnavailable(LedgerError):
    """The shared index database cannot be reached or refused the connection (transient: retry)."""


class IndexReadOnly(LedgerError):
    """The shared index may be read but not written with this database role: it stays at its synced block."""


class AuditFailed(LedgerError):
    """An audit replay found problems (the report lists them)."""


def _short(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return str(value)


_revert_classes: dict[str, type[ContractRevert]] = {}


def revert_class(error_name: str) -> type[ContractRevert]:
    """Return the ContractRevert subclass for a Solidity custom error name, creating it once."""
    cls = _revert_classes.get(error_name)
    if cls is None:
        cls = type(error_name, (ContractRevert,), {"__doc__": f"The contract reverted with {error_name}.", "__module__": __name__})
        _revert_classes[error_name] = cls
    return cls


#: Every custom error of the shipped contracts starts with its contract's name (OpenZeppelin's
#: GUIDELINES); tests/unit/test_errors.py checks the artifacts against this list, so the root
#: exception module needs no ABI to know a revert class.
CONTRACT_PREFIXES = ("RinneLedger", "GwpAttestations", "ParticipantRegistry", "VaultKeys", "ERC1271WalletMock")
#: Errors of the OpenZeppelin libraries compiled into the contracts (ShortStrings, for the EIP-712 name).
LIBRARY_ERRORS = ("InvalidShortString", "StringTooLong")


def __getattr__(name: str) -> type[ContractRevert]:
    # `from ledger.errors import RinneLedgerLotExists` works for every custom error of the contracts.
    if name in LIBRARY_ERRORS or (name.startswith(CONTRACT_PREFIXES) and name not in CONTRACT_PREFIXES and name.isidentifier()):
        return revert_class(name)
    raise AttributeError(name)


# keys
class WeakKeyDerivation(InvalidInput):
    """A keystore would be written with a cheaper scrypt cost than the floor, outside the development switch."""


# trust root
class DeploymentMismatch(ChainError):
    """The code or wiring at the recorded addresses is not the shipped Rinne contracts."""


# disclosure
class DisclosureError(LedgerError):
    """A disclosure or vault entry does not verify against its commitment, or this key may not open it."""
