"""Audit checkpoints: the replayed state at a block, signed by the auditor who replayed it, so that a
later audit replays only what came after (issue 15, incremental audits).

A checkpoint is three files: ``NAME`` (JSON: chain, contracts, block number and hash, both ledger heads,
the event count, the SHA-256 of each other file, the time its claims were judged at, the auditor's
address and an EIP-191 signature over all of it), ``NAME.state`` (the replayed
:class:`~ledger.replay.state.LedgerState`, pickled) and ``NAME.claims`` (the claim assurance of every
end product as that audit judged it, pickled: a later audit takes over those that nothing since can have
changed, see :func:`ledger.auditor.run.audit`). A later
audit trusts a checkpoint only when its signature recovers to an auditor it trusts (by default itself)
who is an active AUDITOR of the registry, its block is still on the chain with that hash, both contracts'
``ledgerHead()`` at that block are the heads it names, and the state file hashes to the signed digest;
only then is the state file read. The heads bind the checkpoint to every event before it: an event
missing, added or altered before the checkpoint block makes the heads differ.
"""

from __future__ import annotations

import gc
import hashlib
import json
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_account.messages import encode_defunct
from pydantic import BaseModel, ConfigDict

from ledger import errors
from ledger.auditor.report import ClaimCheck, claim_of
from ledger.domain.enums import Role
from ledger.domain.ids import hex_of
from ledger.local.files import write_atomic
from ledger.replay.state import LedgerState

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ledger.client.ledger import Ledger

#: Format version of the checkpoint files; another format is refused, not guessed at (2: with claims; 3: the
#: state with shared values, the claims as their field dicts, SHA-256 digests).
VERSION = 3


class CheckpointError(errors.InvalidInput):
    """An audit checkpoint cannot be trusted or read."""


class AuditCheckpoint(BaseModel):
    """What a checkpoint asserts, and who signed it."""

    model_config = ConfigDict(frozen=True)

    version: int = VERSION
    chain_id: int
    ledger: str
    attestations: str
    deployment_block: int
    block: int
    block_hash: str
    ledger_head: str
    attestations_head: str
    events: int
    state_digest: str
    claims_at: int
    claims_digest: str
    auditor: str
    signature: str = ""

    def message(self) -> bytes:
        """The bytes the auditor signs: every member but the signature, as canonical JSON."""
        body = self.model_dump(exclude={"signature"})
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def signer(self) -> str:
        """The address the signature recovers to (raises CheckpointError when it does not recover)."""
        try:
            return str(
                Account.recover_message(encode_defunct(self.message()), signature=bytes.fromhex(self.signature.removeprefix("0x")))
            )
        except Exception as exc:  # a malformed signature cannot be recovered at all
            raise CheckpointError(f"the checkpoint's signature cannot be verified ({exc.__class__.__name__})") from None


def state_path(path: Path) -> Path:
    """Where the state file of checkpoint `path` lives."""
    return path.with_name(path.name + ".state")


def _digest(data: bytes) -> str:
    """The digest a checkpoint signs of a file: SHA-256 (format 3; keccak before), which hashes at about three
    times keccak's speed here (the two files of a 1,000,000-event checkpoint: 0.7 s of keccak, issue 15)."""
    return hex_of(hashlib.sha256(data).digest())


#: The members of a ClaimCheck in the order the claims file holds them.
_CLAIM_FIELDS = tuple(ClaimCheck.model_fields)


def claims_path(path: Path) -> Path:
    """Where the claims file of checkpoint `path` lives."""
    return path.with_name(path.name + ".claims")


def write_checkpoint(
    path: Path,
    ledger: Ledger,
    st: LedgerState,
    *,
    block: int,
    block_hash: str,
    heads: tuple[int, int],
    claims: Iterable[ClaimCheck] = (),
    claims_at: int = 0,
) -> AuditCheckpoint:
    """Sign and write a checkpoint of `st` replayed up to `block` with `ledger`'s account (the auditor's),
    with the `claims` that audit judged at time `claims_at` (none: a later audit judges every claim again)."""
    account = ledger.account
    deployment = ledger.deployment
    if account is None:
        raise CheckpointError("a checkpoint is signed by the auditor: give the audit an account")
    if deployment is None:
        raise CheckpointError("no deployment to checkpoint")
    data = pickle.dumps(st, protocol=pickle.HIGHEST_PROTOCOL)
    # Each claim's field dict, not the model: unpickled in C and put back as the model's __dict__ (claim_of),
    # a later audit reads 50,000 claims in about 0.08 s, where rebuilding them with model_construct took 0.5 s.
    judged = pickle.dumps([c.__dict__ for c in claims], protocol=pickle.HIGHEST_PROTOCOL)
    cp = AuditCheckpoint(
        chain_id=deployment.chain_id,
        ledger=deployment.ledger,
        attestations=deployment.attestations,
        deployment_block=deployment.block,
        block=block,
        block_hash=block_hash,
        ledger_head=hex_of(heads[0].to_bytes(32, "big")),
        attestations_head=hex_of(heads[1].to_bytes(32, "big")),
        events=st.events,
        state_digest=_digest(data),
        claims_at=claims_at,
        claims_digest=_digest(judged),
        auditor=account.address,
    )
    signed = account.sign_message(encode_defunct(cp.message()))
    cp = cp.model_copy(update={"signature": hex_of(bytes(signed.signature))})
    path = Path(path)
    write_atomic(state_path(path), data)  # 0600; a crash leaves the old file or the new one
    write_atomic(claims_path(path), judged)
    write_atomic(path, cp.model_dump_json(indent=2).encode())
    return cp


def read_checkpoint(path: Path) -> AuditCheckpoint:
    """Read a checkpoint's JSON (nothing is trusted yet: see :func:`trusted_state`)."""
    try:
        raw = Path(path).read_text()
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    try:
        cp = AuditCheckpoint.model_validate_json(raw)
    except ValueError:
        raise CheckpointError(f"{path} is not an audit checkpoint") from None
    if cp.version != VERSION:
        raise CheckpointError(f"{path} is a checkpoint of format {cp.version}; this Rinne reads format {VERSION}")
    return cp


def check_signer(cp: AuditCheckpoint, ledger: Ledger, trusted: Iterable[str] | None) -> str:
    """The checkpoint's signer, if it is one to trust: among `trusted` (by default the auditing account
    itself: its own earlier audit), and an active AUDITOR of the registry now.

    The heads bind a checkpoint to the events before it, not its state to them: an auditor could sign a
    doctored state. So no other auditor's checkpoint is taken unless the caller names it."""
    signer = cp.signer()
    if signer.lower() != cp.auditor.lower():
        raise CheckpointError(f"the checkpoint names auditor {cp.auditor} but was signed by {signer}")
    if trusted is None:
        if ledger.account is None:
            raise CheckpointError("say whose checkpoints to trust (trusted=...) or audit with the account that wrote it")
        trusted = [ledger.account.address]
    if signer.lower() not in {t.lower() for t in trusted}:
        raise CheckpointError(f"the checkpoint was signed by {signer}, who is not among the auditors trusted here")
    p = ledger.participant(signer)
    if not (p.registered and not p.suspended and int(p.roles) & int(Role.AUDITOR)):
        raise CheckpointError(f"the checkpoint was signed by {signer}, who is not an active AUDITOR of this ledger")
    return signer


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic collector while a checkpoint's objects are made, and freeze them after.

    A checkpoint is a large graph of small objects made at once: with the collector running, it walks all of
    them again and again as they come (more than half of the load), and frozen after, it does not walk them
    again for the rest of the audit."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if gc_was:
            gc.enable()


def _load_trusted(data: bytes) -> Any:
    """Unpickle bytes a trusted auditor signed (their digest checked first: only then are they unpickled)."""
    with _collector_paused():
        return pickle.loads(data)


def trusted_state(path: Path, cp: AuditCheckpoint) -> LedgerState:
    """Read the checkpoint's state file, only if it hashes to the digest the auditor signed."""
    try:
        data = state_path(Path(path)).read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint's state file: {exc.strerror}") from None
    if _digest(data) != cp.state_digest:
        raise CheckpointError("the checkpoint's state file is not the one its auditor signed")
    st = _load_trusted(data)
    if not isinstance(st, LedgerState) or st.events != cp.events:
        raise CheckpointError("the checkpoint's state file does not hold the state it names")
    return st


def trusted_claims(path: Path, cp: AuditCheckpoint) -> dict[bytes, ClaimCheck]:
    """Read the checkpoint's claims file, only if it hashes to the digest the auditor signed."""
    try:
        data = claims_path(Path(path)).read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint's claims file: {exc.strerror}") from None
    if _digest(data) != cp.claims_digest:
        raise CheckpointError("the checkpoint's claims file is not the one its auditor signed")
    with _collector_paused():
        rows = pickle.loads(data)
        fields = set(_CLAIM_FIELDS)
        if not isinstance(rows, list) or not all(isinstance(r, dict) and r.keys() == fields for r in rows):
            raise CheckpointError("the checkpoint's claims file does not hold claims")
        return {bytes.fromhex(r["lot_id"][2:]): claim_of(r) for r in rows}
