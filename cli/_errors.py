"""One-line messages for library errors: what was wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ledger as rinne
from ledger import errors

from ._units import is_address


def _lot(v: Any) -> str:
    if isinstance(v, bytes) and len(v) == 32:
        return rinne.label_of(v)
    if isinstance(v, str) and v.startswith("0x") and len(v) == 66:
        return rinne.label_of(v)
    return str(v)


def _roles(v: Any) -> str:
    names = rinne.Role(int(v)).names()
    return " or ".join(names) if names else "no role"


def _status(v: Any) -> str:
    try:
        return rinne.PassportStatus(int(v)).name.lower()
    except ValueError:
        return str(v)


def _state(v: Any) -> str:
    try:
        return rinne.LotState(int(v)).name.lower()
    except ValueError:
        return str(v)


# Contract custom errors (by name) → message built from the decoded arguments.
_REVERTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "ParticipantRegistryUnauthorizedAdmin": lambda a: (
        f"{a['account']} is not the registry admin: run this as the account that deployed the ledger (--account)"
    ),
    "ParticipantRegistryNotPendingAdmin": lambda a: f"{a['account']} is not the pending admin",
    "ParticipantRegistryAlreadyRegistered": lambda a: f"{a['account']} is registered already: use `rinne party grant` to add roles",
    "ParticipantRegistryNotRegistered": lambda a: (
        f"{a['account']} is not a registered participant: ask the admin to run `rinne party register`"
    ),
    "ParticipantRegistryInvalidRoles": lambda a: f"invalid roles value {a['roles']}: name at least one role, e.g. --roles REFINER",
    "ParticipantRegistryUnauthorized": lambda a: (
        f"{a['account']} lacks the role for this ({_roles(a['roles'])}) or is suspended: ask the admin to run `rinne party grant`"
    ),
    "ParticipantRegistryZeroAddress": lambda a: "the zero address cannot be a participant",
    "RinneLedgerNotHolder": lambda a: (
        f"{a['account']} does not hold lot {_lot(a['lotId'])}: only its holder can do this (check `rinne lot show`)"
    ),
    "RinneLedgerLotExists": lambda a: f"lot {_lot(a['lotId'])} exists already: lot ids are unique forever, choose another id",
    "RinneLedgerLotNotActive": lambda a: f"lot {_lot(a['lotId'])} is {_state(a['state'])}, not active",
    "RinneLedgerCommitmentMismatch": lambda a: f"lot {_lot(a['lotId'])} changed since it was read: run the command again",
    "RinneLedgerInvalidComposition": lambda a: (
        f"lot {_lot(a['lotId'])}: element masses exceed the lot's mass or recycled parts exceed their element"
    ),
    "RinneLedgerInvalidUsage": lambda a: f"lot {_lot(a['lotId'])}: the part used must be more than zero and less than the whole lot",
    "RinneLedgerConservationViolated": lambda a: (
        "element masses do not balance: outputs plus loss must equal what the inputs give, per element"
    ),
    "RinneLedgerRecycledCreditExceeded": lambda a: "outputs claim more recycled content than the inputs carry",
    "RinneLedgerMassMismatch": lambda a: "the new lots must weigh exactly what was consumed",
    "RinneLedgerMaterialMismatch": lambda a: f"lot {_lot(a['lotId'])} is of another material: merge and split keep one material",
    "RinneLedgerInvalidCount": lambda a: f"{a['inputs']} input(s) and {a['outputs']} output(s) are outside the allowed range",
    "RinneLedgerDuplicateInput": lambda a: f"lot {_lot(a['lotId'])} is named twice",
    "RinneLedgerInvalidRecipient": lambda a: (
        f"{a['recipient']} cannot receive lots: it must be an active registered participant other than the holder"
    ),
    "RinneLedgerNoCurrentOffer": lambda a: (
        f"no current offer of lot {_lot(a['lotId'])} for {a['account']}: it was cancelled, replaced, or the lot changed (see `rinne transfer pending`)"
    ),
    "RinneLedgerWrongKind": lambda a: (
        f"{_lot(a['lotId'])} is the wrong kind here (a material lot where a battery unit is needed, or the reverse)"
    ),
    "RinneLedgerInvalidTransition": lambda a: (
        f"unit {_lot(a['unitId'])} cannot go from {_status(a['from'])} to {_status(a['to'])}: "
        "see `rinne unit status --help` for the allowed transitions"
    ),
    "RinneLedgerInvalidSoh": lambda a: (
        f"SOH record for {_lot(a['unitId'])} rejected: a record commits to its values (a non-zero root), a unit once "
        "used stays used, and a correction needs a record to correct"
    ),
    "RinneLedgerInvalidRecovered": lambda a: (
        f"recovered lot {_lot(a['lotId'])} must count all of its content as post-consumer recycled if the unit reached an end user "
        "and was used, else all of it as pre-consumer"
    ),
    "RinneLedgerNotAuthorised": lambda a: (
        f"{a['account']} may not record the SOH of {_lot(a['unitId'])}: only its holder, or a diagnostician the holder authorised "
        "(`rinne unit authorise`)"
    ),
    "RinneLedgerNotProRata": lambda a: (
        f"the part of lot {_lot(a['lotId'])} is not pro rata: a part of a lot carries the lot's composition in proportion to its mass"
    ),
    "RinneLedgerRecycledShareExceeded": lambda a: (
        f"lot {_lot(a['lotId'])} claims a larger recycled share of some element than the inputs carry"
    ),
    "RinneLedgerInvalidRating": lambda a: (
        f"unit {_lot(a['unitId'])}: rated energy above what it may be: modules together above their pack, a rebuilt unit above its parts, or over 1.1 TWh"
    ),
    "GwpAttestationsSelfDeclarationClosed": lambda a: (
        f"lot {_lot(a['lotId'])} is no longer active: only an accredited GWP verifier may attest it now"
    ),
    "RinneLedgerNotFrozen": lambda a: f"lot {_lot(a['lotId'])} is not frozen",
    "RinneLedgerLengthMismatch": lambda a: "lists of different lengths",
    "GwpAttestationsInvalidSignature": lambda a: (
        f"the signature does not verify for signer {a['signer']} (altered file, or signed for another deployment)"
    ),
    "GwpAttestationsUnauthorizedSigner": lambda a: (
        f"{a['signer']} is not an accredited GWP verifier (nor the lot's holder self-declaring): ask the admin to grant GWP_VERIFIER"
    ),
    "GwpAttestationsExpiredDeadline": lambda a: "the attestation's relay deadline has passed: ask the verifier to sign it again",
    "GwpAttestationsNonceUsed": lambda a: (
        f"nonce {a['nonce']} of {a['signer']} was used already: this attestation (or another with its nonce) is on-chain"
    ),
    "GwpAttestationsUnknownLot": lambda a: f"lot {_lot(a['lotId'])} does not exist on this ledger",
    "GwpAttestationsInvalidPeriod": lambda a: "the validity period is empty or starts in the future: check issued-at and valid-until",
    "GwpAttestationsUnknown": lambda a: f"no attestation {a['uid']} on this ledger",
    "GwpAttestationsAlreadyRevoked": lambda a: f"attestation {a['uid']} is revoked already",
    "GwpAttestationsUnauthorizedRevoker": lambda a: f"{a['account']} may not revoke it: only its signer or an AUDITOR may",
    "VaultKeysNotParticipant": lambda a: (
        f"{a['account']} may not publish a vault key: only an active registered participant publishes its own"
    ),
    "VaultKeysInvalidKey": lambda a: "the all-zero key is no X25519 public key",
}


def describe(exc: errors.LedgerError) -> str:
    """Return the one-line message for a library error."""
    if isinstance(exc, errors.ContractRevert):
        builder = _REVERTS.get(exc.error_name)
        if builder is not None:
            inputs = {k: rinne.checksum_address(v) if isinstance(v, str) and is_address(v) else v for k, v in exc.inputs.items()}
            try:
                return builder(inputs)
            except (KeyError, ValueError, TypeError):
                pass
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    for cls, hint in _HINTS:
        if isinstance(exc, cls):
            return f"{text}: {hint}"
    return text


# Library errors whose message says what went wrong but not what to do about it.
_HINTS: list[tuple[type[errors.LedgerError], str]] = [
    (errors.ConnectionFailed, "is the node running? check --rpc-url / $ETH_RPC_URL (or `rinne node status`)"),
    (errors.WrongPassword, "check --password-file or $RINNE_PASSWORD, or type it at the prompt"),
    (errors.AccountNotFound, "`rinne account list` shows the accounts; --keystore-dir picks another folder"),
    (errors.WrongChain, "drop --chain-id or point --rpc-url at the intended chain"),
]
