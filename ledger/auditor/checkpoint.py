"""Audit checkpoints: the replayed state at a block, signed by the auditor who replayed it, so that a
later audit replays only what came after (issue 15, incremental audits).

A checkpoint is three files: ``NAME`` (JSON: chain, contracts, block number and hash, both ledger heads,
the event count, the SHA-256 of each other file, the time its claims were judged at, the auditor's
address and an EIP-191 signature over all of it), ``NAME.state`` (the replayed
:class:`~ledger.replay.state.LedgerState`, pickled, its lots as columns: see :mod:`ledger.replay.lots`) and ``NAME.claims`` (the claim assurance of every
end product as that audit judged it, in chain order, as a packed block: see :class:`ClaimBlock`; a later
audit takes over those that nothing since can have changed without decoding them, see
:func:`ledger.auditor.run.audit`). A later
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
import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from operator import le, lt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from eth_account import Account
from eth_account.messages import encode_defunct
from pydantic import BaseModel, ConfigDict

from ledger import errors
from ledger.auditor.report import ClaimCheck, ClaimList, claim_of
from ledger.domain.enums import Role
from ledger.domain.ids import hex_of
from ledger.local.files import write_atomic
from ledger.replay.state import LedgerState

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ledger.client.ledger import Ledger

#: Format version of the checkpoint files; another format is refused, not guessed at (2: with claims; 3: the
#: state with shared values, the claims as their field dicts, SHA-256 digests; 4: the claims as a packed block
#: of every end product, in chain order, and the state's lots as columns).
VERSION = 4


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


#: The members of a ClaimCheck in the order the claims file holds them (the lot id first: its column).
_CLAIM_FIELDS = tuple(ClaimCheck.model_fields)
assert _CLAIM_FIELDS[0] == "lot_id"

#: One claim of the claims block but its lot id, as msgpack: what ClaimCheck's fields hold (decoding checks it),
#: but that a weakest link which is the claim's own lot is 0 (most claims of a ledger of raw lots name themselves:
#: 66 bytes of 130 a row, a third of the file to read and hash at 500,000 claims).
_Row = tuple[str, Literal["material", "unit"], str, list[str | Literal[0]], dict[str, float], list[str], str]
_OWN = 0
_encode_row = msgspec.msgpack.Encoder().encode
_decode_row = msgspec.msgpack.Decoder(_Row).decode

#: The claims block's header: whether it holds every end product's claim (1) or none was written (0), and its rows.
_HEAD = struct.Struct("<QQ")


def _column(data: memoryview) -> array[int]:
    """A column of little-endian signed 64-bit numbers, as an array (one copy: about 4 MB at 500,000 rows)."""
    col = array("q")
    col.frombytes(data)
    if sys.byteorder != "little":
        col.byteswap()
    return col


class ClaimBlock:
    """The claims file of a checkpoint: the claim of every end product its audit judged, in chain order, packed
    so that a later audit takes over the unchanged ones without decoding them (issue 15: 500,000 claims unpickled
    and rebuilt were about half of an incremental audit at 1,000,000 events).

    The file is a header (judged, n), the n lot ids (32 bytes each), their event positions (the chain order, strictly
    ascending: a lot is found by bisection), the end offset of each row in the body (little-endian 64-bit words),
    and the body: each claim but its lot id as msgpack. A row is decoded, and type-checked, only when read; its
    lot id is its column's, shown as hex. Nothing here is read before the file's digest matched the signed one."""

    __slots__ = ("_body", "_ends", "_ids", "_pos", "judged")

    def __init__(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            judged, n = _HEAD.unpack_from(view)
        except struct.error:
            raise CheckpointError("the checkpoint's claims file does not hold claims") from None
        start = _HEAD.size + 48 * n
        if judged not in (0, 1) or len(view) < start:
            raise CheckpointError("the checkpoint's claims file does not hold claims")
        self.judged = bool(judged)
        self._ids = view[_HEAD.size : _HEAD.size + 32 * n]
        self._pos = _column(view[_HEAD.size + 32 * n : _HEAD.size + 40 * n])
        self._ends = _column(view[_HEAD.size + 40 * n : start])
        self._body = view[start:]
        pos, ends = self._pos, self._ends
        # The order is what the bisection and the report's chain order rest on, the offsets what each row does.
        if not all(map(lt, pos, islice(pos, 1, None))) or (
            n and (ends[0] < 0 or ends[-1] != len(self._body) or not all(map(le, ends, islice(ends, 1, None))))
        ):
            raise CheckpointError("the checkpoint's claims file does not hold claims")
        if not n and len(self._body):
            raise CheckpointError("the checkpoint's claims file does not hold claims")

    @classmethod
    def _of(cls, judged: bool, ids: memoryview, pos: array[int], ends: array[int], body: memoryview) -> ClaimBlock:
        """A block of the columns `_BlockWriter` wrote (in this process: nothing to check against a signature)."""
        block = cls.__new__(cls)
        block.judged, block._ids, block._pos, block._ends, block._body = judged, ids, pos, ends, body
        return block

    def __len__(self) -> int:
        return len(self._pos)

    def lot_id(self, row: int) -> bytes:
        """The lot id of `row`."""
        return bytes(self._ids[32 * row : 32 * row + 32])

    def position(self, row: int) -> int:
        """The event position (chain order) of `row`'s lot."""
        return self._pos[row]

    def row_of(self, lot_id: bytes, pos: int) -> int | None:
        """The row of lot `lot_id` (whose creation is event `pos`), or None when the block holds no claim of it."""
        row = bisect_left(self._pos, pos)
        if row < len(self._pos) and self._pos[row] == pos and self._ids[32 * row : 32 * row + 32] == lot_id:
            return row
        return None

    def rows_before(self, pos: int) -> int:
        """How many rows come before event position `pos` in chain order."""
        return bisect_left(self._pos, pos)

    def _span(self, row: int) -> tuple[int, int]:
        return (self._ends[row - 1] if row else 0), self._ends[row]

    def claim(self, row: int) -> ClaimCheck:
        """The claim of `row`, decoded and type-checked (CheckpointError when the row is not a claim)."""
        a, b = self._span(row)
        try:
            label, kind, level, weakest, by_level, late, message = _decode_row(self._body[a:b])
        except msgspec.MsgspecError:
            raise CheckpointError("the checkpoint's claims file does not hold claims") from None
        lot_hex = hex_of(self.lot_id(row))
        links = [lot_hex if w == _OWN else w for w in weakest]
        return claim_of(dict(zip(_CLAIM_FIELDS, (lot_hex, label, kind, level, links, by_level, late, message))))

    def copy_rows(self, start: int, stop: int, out: _BlockWriter) -> None:
        """Append rows `start` to `stop` to `out` as they are (a later checkpoint carries them undecoded)."""
        if start >= stop:
            return
        a, b = self._span(start)[0], self._ends[stop - 1]
        out.ids += self._ids[32 * start : 32 * stop]
        out.pos.extend(self._pos[start:stop])
        shift = out.size - a
        out.ends.extend(e + shift for e in self._ends[start:stop])
        out.body += self._body[a:b]
        out.size += b - a


class _BlockWriter:
    """The columns of a claims block being written: each a growing buffer, not an object a row (a full audit
    writes a row for each of 500,000 end products as it judges them, and keeps only the block, issue 16)."""

    def __init__(self) -> None:
        self.ids = bytearray()
        self.pos = array("q")
        self.ends = array("q")
        self.body = bytearray()
        self.size = 0

    def add(self, claim: ClaimCheck, pos_of: Callable[[bytes], int]) -> None:
        lot_hex = claim.__dict__["lot_id"]
        lot_id = bytes.fromhex(lot_hex[2:])
        if hex_of(lot_id) != lot_hex or len(lot_id) != 32:  # the id column shows it as hex: it must come back the same
            raise CheckpointError(f"claim of {lot_hex} has no lot id the claims file can hold")
        self.add_fields(lot_id, pos_of(lot_id), claim.__dict__)

    def add_fields(self, lot_id: bytes, pos: int, f: dict[str, Any]) -> None:
        """Append the claim of lot `lot_id` (created at event `pos`) whose fields are `f` (its lot id `lot_id` as hex)."""
        lot_hex = f["lot_id"]
        weakest = [_OWN if w == lot_hex else w for w in f["weakest"]]
        row = _encode_row((f["label"], f["kind"], f["level"], weakest, f["by_level"], f["late"], f["message"]))
        self.ids += lot_id
        self.pos.append(pos)
        self.size += len(row)
        self.ends.append(self.size)
        self.body += row

    def _check_order(self) -> None:
        if not all(map(lt, self.pos, islice(self.pos, 1, None))):
            raise CheckpointError("the claims to checkpoint are not in chain order")

    def data(self, judged: bool) -> bytes:
        self._check_order()
        pos, ends = self.pos, self.ends
        if sys.byteorder != "little":
            pos, ends = array("q", pos), array("q", ends)
            pos.byteswap()
            ends.byteswap()
        return b"".join([_HEAD.pack(int(judged), len(self.pos)), self.ids, pos.tobytes(), ends.tobytes(), self.body])

    def block(self) -> ClaimBlock:
        """The rows written as a block of judged claims, in memory (its columns taken over, not copied: the writer
        is done with)."""
        self._check_order()
        return ClaimBlock._of(True, memoryview(self.ids), self.pos, self.ends, memoryview(self.body))


class ClaimWriter:
    """Claims packed as they are judged, one row each (see :class:`ClaimBlock`): what a full audit keeps of the
    claims of every end product, a claim object made again only when the report's claims are read."""

    __slots__ = ("_out",)

    def __init__(self) -> None:
        self._out = _BlockWriter()

    def add(self, lot_id: bytes, pos: int, fields: dict[str, Any]) -> None:
        """Append the claim of lot `lot_id`, created at event `pos` (after every claim added so far), whose fields
        are `fields` as :func:`ledger.auditor.report.claim_of` takes them."""
        if hex_of(lot_id) != fields["lot_id"] or len(lot_id) != 32:
            raise CheckpointError(f"claim of {fields['lot_id']} has no lot id the claims file can hold")
        self._out.add_fields(lot_id, pos, fields)

    def claims(self) -> ClaimList:
        """The claims added, in their order, as a report holds them (the writer is done with)."""
        block = self._out.block()
        return ClaimList([(block, 0, len(block))])


def pack_claims(claims: ClaimList | None, st: LedgerState) -> bytes:
    """The claims file of `claims` (None: no claims judged, a later audit judges every one): the rows a
    checkpoint's block carried over are copied as they are, the others encoded."""
    out = _BlockWriter()
    lots = st.lots

    def pos_of(lot_id: bytes) -> int:
        lot = lots.get(lot_id)
        if lot is None:
            raise CheckpointError(f"claim of {hex_of(lot_id)}, a lot the replay does not hold")
        return lot.pos

    for run in (claims or ClaimList()).runs():
        if isinstance(run, list):
            for c in run:
                out.add(c, pos_of)
        elif isinstance(run[0], ClaimBlock):
            run[0].copy_rows(run[1], run[2], out)
        else:
            for row in range(run[1], run[2]):
                out.add(run[0].claim(row), pos_of)
    return out.data(claims is not None)


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
    claims: Iterable[ClaimCheck] | None = None,
    claims_at: int = 0,
) -> AuditCheckpoint:
    """Sign and write a checkpoint of `st` replayed up to `block` with `ledger`'s account (the auditor's),
    with the `claims` that audit judged at time `claims_at`: the claim of every end product, in chain order (none:
    a later audit judges every claim again)."""
    account = ledger.account
    deployment = ledger.deployment
    if account is None:
        raise CheckpointError("a checkpoint is signed by the auditor: give the audit an account")
    if deployment is None:
        raise CheckpointError("no deployment to checkpoint")
    data = pickle.dumps(st, protocol=pickle.HIGHEST_PROTOCOL)
    judged = pack_claims(None if claims is None else ClaimList.of(claims), st)
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
    try:
        st = _load_trusted(data)
    except (ValueError, KeyError, TypeError, pickle.UnpicklingError):  # signed, but not a state this Rinne wrote
        raise CheckpointError("the checkpoint's state file does not hold the state it names") from None
    if not isinstance(st, LedgerState) or st.events != cp.events:
        raise CheckpointError("the checkpoint's state file does not hold the state it names")
    return st


def trusted_claims(path: Path, cp: AuditCheckpoint) -> ClaimBlock:
    """Read the checkpoint's claims file, only if it hashes to the digest the auditor signed."""
    try:
        data = claims_path(Path(path)).read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint's claims file: {exc.strerror}") from None
    if _digest(data) != cp.claims_digest:
        raise CheckpointError("the checkpoint's claims file is not the one its auditor signed")
    return ClaimBlock(data)
