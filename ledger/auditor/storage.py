"""Replay against contract storage: every lot's holder, state, mass and commitment, every unit's passport, and every
attestation's and process inventory's record and validity, read in bulk at one block."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from eth_utils import keccak, to_checksum_address

from ledger import errors
from ledger.chain.abi import contract_abi
from ledger.chain.rpc import batch
from ledger.domain.composition import commitment_hash, pack_lanes
from ledger.domain.enums import LotState
from ledger.domain.ids import hex_of, label_of
from ledger.index.store import EventIndex
from ledger.replay.records import AttRec, Comp, InvRec, LotRec
from ledger.replay.state import LedgerState

if TYPE_CHECKING:
    from web3 import Web3

    from ledger.domain.models import Deployment


def commitment_of(material: bytes, comp: Comp) -> bytes:
    """Return keccak256(abi.encode(material, composition)) of replayed values."""
    return commitment_hash(material, (pack_lanes(v) for v in comp))


#: A reader contract, never deployed: eth_call runs it at a scratch address through a state override.
#: Calldata: target ‖ selector (left-aligned word) ‖ return size ‖ ids; it calls target.selector(id)
#: for each id (staticcall, reverting unless it succeeds with exactly the return size) and returns the
#: results side by side. Assembled from:
#:   CALLDATASIZE 0 64 CALLDATACOPY                        mem[64..] = calldata
#:   96 CALLDATASIZE SUB 5 SHR                             n = (size - 96) / 32
#:   CALLDATASIZE 64 ADD DUP1 0                            out, ptr, i = 0
#:   loop: JUMPDEST DUP4 DUP2 EQ end JUMPI
#:     96 MLOAD 0 MSTORE                                   selector at mem[0..4]
#:     DUP1 5 SHL 160 ADD MLOAD 4 MSTORE                    id at mem[4..36]
#:     128 MLOAD DUP3 36 0 64 MLOAD GAS STATICCALL ISZERO fail JUMPI
#:     RETURNDATASIZE 128 MLOAD EQ ISZERO fail JUMPI
#:     SWAP1 128 MLOAD ADD SWAP1 1 ADD loop JUMP            ptr += size, i += 1
#:   end: JUMPDEST DUP3 DUP3 SUB DUP4 RETURN                return mem[out..ptr]
#:   fail: JUMPDEST 0 DUP1 REVERT
LEDGER_ABI = contract_abi("RinneLedger")
#: Calls per JSON-RPC batch.
RPC_BATCH = 500

_READER_CODE = (
    "0x3660006040376060360360051c366040018060005b838114610056576060516000528060051b60a0015160045260805182602460"
    "006040515afa1561005c573d608051141561005c57906080510190600101610014565b82820383f35b600080fd"
)


_READER = "0x00000000000000000000000000000000000a0d17"


_READER_IDS = 500  # about 11k gas a lot: 5.5M gas a call, under any node's eth_call cap


def _read_all(w3: Web3, target: str, selector: bytes, size: int, ids: list[bytes], block: int) -> list[bytes]:
    """Return target.selector(id) for every id at `block`: 500 ids an eth_call through the reader
    contract (state override; one EVM run instead of 500 calls, ~6x faster on Anvil), or one eth_call
    per id on a node without state overrides."""
    out: list[bytes] = []
    head = bytes(12) + bytes.fromhex(target[2:]) + selector + bytes(28) + size.to_bytes(32, "big")
    tag = hex(block)
    parts = [ids[i : i + _READER_IDS] for i in range(0, len(ids), _READER_IDS)]
    try:
        for start in range(0, len(parts), 10):
            reqs = [
                ("eth_call", [{"to": _READER, "data": hex_of(head + b"".join(p))}, tag, {_READER: {"code": _READER_CODE}}])
                for p in parts[start : start + 10]
            ]
            for p, r in zip(parts[start : start + 10], batch(w3, reqs)):
                raw = bytes.fromhex(r[2:])
                if len(raw) != size * len(p):
                    raise errors.ChainError("the node ignored the state override")
                out.extend(raw[k : k + size] for k in range(0, len(raw), size))
        return out
    except errors.ConnectionFailed:
        raise
    except errors.ChainError:  # no state overrides (or a lower eth_call gas cap): one call per id
        return _eth_calls(w3, [(target, selector + i) for i in ids], block)


def _eth_calls(w3: Web3, calls: list[tuple[str, bytes]], block: int) -> list[bytes]:
    out: list[bytes] = []
    tag = hex(block)
    for start in range(0, len(calls), RPC_BATCH):
        part = calls[start : start + RPC_BATCH]
        results = batch(w3, [("eth_call", [{"to": to, "data": hex_of(data)}, tag]) for to, data in part])
        out.extend(bytes.fromhex(r[2:]) for r in results)
    return out


def _label(subject: str) -> str:
    if subject.startswith("0x") and len(subject) == 66:
        return label_of(subject)
    return subject


def _words(raw: bytes, n: int, what: str) -> list[int]:
    """Split the return data of a function returning `n` static words (eth_abi took ~0.4 ms a call)."""
    if len(raw) != 32 * n:
        raise errors.ChainError(f"{what} returned {len(raw)} bytes, expected {32 * n}")
    return [int.from_bytes(raw[k : k + 32], "big") for k in range(0, 32 * n, 32)]


#: Lots read a background step: the ids of one step and their answers are all the thread holds at once.
_PREFETCH_STEP = 10_000


def _lot_digest(words: bytes) -> bytes:
    """16 bytes standing for what the audit compares of a lot (holder, state, kind, mass, commitment)."""
    return hashlib.blake2b(words, digest_size=16).digest()


def _replayed_lot_words(lot: LotRec) -> bytes | None:
    """The lot() words the replay expects (holder, state and kind words, mass, commitment), or None when the
    replayed holder is no address (the lot is then compared in full)."""
    try:
        holder = bytes.fromhex(lot.holder[2:])
    except ValueError:
        return None
    if len(holder) != 20 or not lot.holder.startswith("0x"):
        return None
    return (
        bytes(12)
        + holder
        + lot.state.to_bytes(32, "big")
        + lot.kind.to_bytes(32, "big")
        + lot.mass.to_bytes(32, "big")
        + commitment_of(lot.material, lot.comp)
    )


class _StoragePrefetch:
    """Reads lot() and unit() of every lot the index lists, at `block`, in a background thread.

    Of a lot it keeps 16 bytes: a digest of the words the audit compares (issue 16: the 288 bytes of every
    lot() answer in a dict were about 320 B a lot, and a 1,000,000-event ledger has 500,000 lots). A lot whose
    replay does not hash to its digest is read again, whole, and compared field by field for the flag's
    message, so a digest only ever decides that nothing differs: faking a match means a second preimage of
    BLAKE2b-128 over words the contract, not the party, writes."""

    def __init__(self, w3: Web3, deployment: Deployment, index: EventIndex, block: int) -> None:
        self.ids = bytearray()  # lot ids side by side, 32 bytes each, in the index's order
        self.digests = bytearray()  # their digests, 16 bytes each, in the same order
        self.units: dict[bytes, bytes] = {}
        self._error: BaseException | None = None
        unit_ids = []
        for lot_id, kind in index.conn.execute("SELECT lot_id, kind FROM lots"):
            if isinstance(lot_id, bytes) and len(lot_id) == 32:
                self.ids += lot_id
                if kind == 1:
                    unit_ids.append(lot_id)
        self._thread = threading.Thread(target=self._run, args=(w3, deployment.ledger, unit_ids, block), daemon=True)
        self._thread.start()

    def _run(self, w3: Web3, ledger: str, units: list[bytes], block: int) -> None:
        lot_sel, unit_sel = LEDGER_ABI.fn("lot").selector, LEDGER_ABI.fn("unit").selector
        try:
            ids = memoryview(self.ids)
            for start in range(0, len(ids), 32 * _PREFETCH_STEP):
                step = ids[start : start + 32 * _PREFETCH_STEP]
                part = [bytes(step[k : k + 32]) for k in range(0, len(step), 32)]
                for raw in _read_all(w3, ledger, lot_sel, 9 * 32, part, block):
                    self.digests += _lot_digest(raw[:96] + raw[224:288])
            self.units = dict(zip(units, _read_all(w3, ledger, unit_sel, 5 * 32, units, block)))
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> _StoragePrefetch:
        """Wait for the reads; return this prefetch, complete."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self

    def to_read(self, st: LedgerState) -> list[bytes]:
        """The lots of `st`, in its order, to read again and compare in full: those whose replay does not hash
        to the digest read for them, and those the index did not list (only the replay knows them)."""
        differ: set[bytes] = set()
        seen, previous = 0, b""
        ascending = True
        ids, digests, lots = self.ids, self.digests, st.lots
        for k in range(len(digests) // 16):
            lot_id = bytes(ids[32 * k : 32 * k + 32])
            ascending = ascending and lot_id > previous
            previous = lot_id
            lot = lots.get(lot_id)
            if lot is None:
                continue
            seen += 1
            words = _replayed_lot_words(lot)
            if words is None or _lot_digest(words) != digests[16 * k : 16 * k + 16]:
                differ.add(lot.lot_id)
        if ascending and seen == len(lots):  # ids strictly ascending (the table's key order): none twice, none left out
            return [i for i in lots if i in differ] if differ else []
        listed = {bytes(ids[k : k + 32]) for k in range(0, len(digests) * 2, 32)}
        return [i for i in lots if i in differ or i not in listed]


def _check_storage(
    w3: Web3,
    deployment: Deployment,
    st: LedgerState,
    block: int,
    flag: Callable[..., None],
    prefetched: _StoragePrefetch | None = None,
    only: set[bytes] | None = None,
) -> int:
    """Compare every lot and unit of `st` (or those in `only`) with contract storage at `block`."""
    lot_fn, unit_fn = LEDGER_ABI.fn("lot"), LEDGER_ABI.fn("unit")
    have_units = prefetched.units if prefetched is not None else {}
    # The lots of `only` in chain order, found by id rather than by a pass over every lot (an incremental audit
    # checks a few thousand of 500,000; the pass was 0.05 s of it).
    picked = None if only is None else sorted((i for i in only if i in st.lots), key=lambda i: st.lots[i].pos)
    checked = len(st.lots) if picked is None else len(picked)
    # Read whole, and compared field by field: every lot the prefetch did not vouch for (none prefetched, a
    # digest that differs, a lot only the replay knows).
    if prefetched is not None:
        ids = [i for i in prefetched.to_read(st) if only is None or i in only]
    else:
        ids = list(st.lots) if picked is None else picked
    results = _read_all(w3, deployment.ledger, lot_fn.selector, 9 * 32, ids, block)
    for lot_id, raw in zip(ids, results):
        lot = st.lots[lot_id]
        # lot(bytes32) returns (holder, state, kind, epoch, updated, offeredTo, current, mass, commitment).
        w = _words(raw, 9, "lot()")
        holder = "0x" + raw[12:32].hex()
        state, kind, mass, commit = w[1], w[2], w[7], raw[256:288]
        problems = []
        if holder != lot.holder:
            holder = to_checksum_address(holder)
            problems.append(f"holder {holder} on-chain, {lot.holder} replayed")
        if state != lot.state:
            problems.append(f"state {LotState(state).name.lower()} on-chain, {LotState(lot.state).name.lower()} replayed")
        if mass != lot.mass:
            problems.append(f"mass {mass} g on-chain, {lot.mass} g replayed")
        if kind != lot.kind:
            problems.append("kind differs")
        if commit != commitment_of(lot.material, lot.comp):
            problems.append("composition commitment differs")
        if problems:
            flag("storage-mismatch", lot_id, "; ".join(problems), block)
    units = list(st.units) if only is None else [u for u in st.units if u in only]
    missing = [u for u in units if u not in have_units]
    fetched = dict(zip(missing, _read_all(w3, deployment.ledger, unit_fn.selector, 5 * 32, missing, block)))
    results = [have_units[u] if u in have_units else fetched[u] for u in units]
    for unit_id, raw in zip(units, results):
        u = st.units[unit_id]
        # The SOH values are off-chain: storage holds the latest record's root, the claim of use and its time.
        status, rated, root, used, at = _words(raw, 5, "unit()")
        last = u.soh[-1] if u.soh else None
        mine = (
            u.status,
            u.rated_wh,
            int.from_bytes(last.root, "big") if last else 0,
            int(any(r.used for r in u.soh)),
            last.timestamp if last else 0,
        )
        if (status, rated, root, used, at) != mine:
            chain = (status, rated, hex(root), used, at)
            flag("storage-mismatch", unit_id, f"passport on-chain {chain}, replayed {(*mine[:2], hex(mine[2]), *mine[3:])}", block)
    return checked + len(units)


ATTESTATIONS_ABI = contract_abi("GwpAttestations")

#: Storage slot of GwpAttestations' private `_inventories` mapping (``forge inspect GwpAttestations
#: storage-layout``: the EIP-712 name and version fallbacks, the head, `_records`, then `_inventories`). The
#: contract has no getter for an inventory's record; its two words are read with eth_getStorageAt. A wrong slot
#: reads zeros for every inventory, which the honest-ledger test would flag.
_INVENTORIES_SLOT = 4

#: Records compared a step: the uids of one step and their answers are all that is held at once (a
#: 1,000,000-event ledger may hold about 500,000 attestations).
_RECORD_STEP = 10_000


def _record_words(a: AttRec) -> bytes:
    """What attestation(uid) must answer for the replayed `a`: (signer, validUntil, stage, selfDeclared, revoked, lotId)."""
    return (
        bytes(12)
        + bytes.fromhex(a.signer[2:])
        + a.valid_until.to_bytes(32, "big")
        + a.stage.to_bytes(32, "big")
        + int(a.self_declared).to_bytes(32, "big")
        + int(a.revoked is not None).to_bytes(32, "big")
        + a.lot_id
    )


def _inventory_words(v: InvRec) -> bytes:
    """The two storage words of the replayed inventory `v`: signer, validUntil, selfDeclared and revoked packed
    from the low bytes up (Solidity's packing of InventoryRecord), then the lot."""
    packed = int(v.signer, 16) | v.valid_until << 160 | int(v.self_declared) << 224 | int(v.revoked is not None) << 232
    return packed.to_bytes(32, "big") + v.lot_id


def _valid_word(rec: AttRec | InvRec, timestamp: int) -> bytes:
    """What isValid(uid) must answer at a block of `timestamp` (the contract: not revoked and not past validUntil)."""
    return int(rec.revoked is None and timestamp <= rec.valid_until).to_bytes(32, "big")


def _storage_at(w3: Web3, address: str, slots: list[int], block: int) -> list[bytes]:
    """eth_getStorageAt of every slot at `block`, RPC_BATCH a JSON-RPC batch."""
    out: list[bytes] = []
    tag = hex(block)
    for start in range(0, len(slots), RPC_BATCH):
        reqs = [("eth_getStorageAt", [address, hex(s), tag]) for s in slots[start : start + RPC_BATCH]]
        out.extend(int(r, 16).to_bytes(32, "big") for r in batch(w3, reqs))
    return out


def _record_problems(raw: bytes, valid: bytes, a: AttRec, timestamp: int) -> list[str]:
    """The fields of a stored attestation record (and isValid) that differ from the replay, in words."""
    w = _words(raw, 6, "attestation()")
    signer, valid_until, stage, self_declared, revoked, lot_id = "0x" + raw[12:32].hex(), w[1], w[2], w[3], w[4], raw[160:192]
    problems = []
    if signer != a.signer.lower():
        problems.append(f"signer {to_checksum_address(signer)} stored, {a.signer} in the Attested event")
    if valid_until != a.valid_until:
        problems.append(f"validUntil {valid_until} stored, {a.valid_until} in the event")
    if stage != a.stage:
        problems.append(f"stage {stage} stored, {a.stage} in the event")
    if bool(self_declared) != a.self_declared:
        problems.append(f"self-declared {'yes' if self_declared else 'no'} stored, {'yes' if a.self_declared else 'no'} in the event")
    if bool(revoked) != (a.revoked is not None):
        problems.append(
            "revoked in storage, but no Revoked event was replayed"
            if revoked
            else "a Revoked event was replayed, storage says not revoked"
        )
    if lot_id != a.lot_id:
        problems.append(f"lot {label_of(lot_id)} stored, {label_of(a.lot_id)} in the event")
    problems.extend(_validity_problem(valid, a, timestamp))
    return problems


def _validity_problem(valid: bytes, rec: AttRec | InvRec, timestamp: int) -> list[str]:
    if len(valid) != 32:
        raise errors.ChainError(f"isValid() returned {len(valid)} bytes, expected 32")
    if valid == _valid_word(rec, timestamp):
        return []
    said = "valid" if int.from_bytes(valid, "big") else "not valid"
    return [f"isValid() says {said} at block time {timestamp}, the replay says {'not ' if said == 'valid' else ''}valid"]


def _check_attestation_records(
    w3: Web3,
    deployment: Deployment,
    st: LedgerState,
    block: int,
    timestamp: int,
    flag: Callable[..., None],
    only: set[bytes] | None = None,
) -> int:
    """Compare every attestation's and process inventory's stored record (or those in `only`) and isValid() with
    the replay at `block` (whose time is `timestamp`); flag ``attestation-storage-mismatch``; return how many.

    attestation(uid) and isValid(uid) go through the reader contract (500 a call, like the lots); an inventory's
    record has no getter and is read as its two storage words. On-chain consumers trust isValid(), and the
    replay's verdicts trust the Attested and Revoked events: a record revoked in storage without its event (or
    the reverse), a stored signer, lot or flag other than the event's, or a node answering these reads falsely,
    is what this catches."""
    att_sel, valid_sel = ATTESTATIONS_ABI.fn("attestation").selector, ATTESTATIONS_ABI.fn("isValid").selector
    target = deployment.attestations
    checked = 0
    atts = [a for u, a in st.attestations.items() if only is None or u in only]
    for start in range(0, len(atts), _RECORD_STEP):
        part = atts[start : start + _RECORD_STEP]
        uids = [a.uid for a in part]
        records = _read_all(w3, target, att_sel, 6 * 32, uids, block)
        valid = _read_all(w3, target, valid_sel, 32, uids, block)
        for a, raw, ok in zip(part, records, valid):
            if raw != _record_words(a) or ok != _valid_word(a, timestamp):
                problems = _record_problems(raw, ok, a, timestamp)
                flag("attestation-storage-mismatch", a.uid, f"attestation of lot {label_of(a.lot_id)}: " + "; ".join(problems), block)
        checked += len(part)
    invs = [v for u, v in st.inventories.items() if only is None or u in only]
    base = _INVENTORIES_SLOT.to_bytes(32, "big")
    for start in range(0, len(invs), _RECORD_STEP):
        ipart = invs[start : start + _RECORD_STEP]
        slots = []
        for v in ipart:
            s = int.from_bytes(keccak(v.uid + base), "big")
            slots += [s, s + 1]
        words = _storage_at(w3, target, slots, block)
        valid = _read_all(w3, target, valid_sel, 32, [v.uid for v in ipart], block)
        for k, (v, ok) in enumerate(zip(ipart, valid)):
            stored = words[2 * k] + words[2 * k + 1]
            if stored == _inventory_words(v) and ok == _valid_word(v, timestamp):
                continue
            problems = []
            if stored != _inventory_words(v):
                w0 = int.from_bytes(stored[:32], "big")
                got = (
                    f"signer {to_checksum_address(hex_of((w0 & ((1 << 160) - 1)).to_bytes(20, 'big')))}, validUntil "
                    f"{(w0 >> 160) & ((1 << 64) - 1)}, self-declared {(w0 >> 224) & 0xFF}, revoked {(w0 >> 232) & 0xFF}, "
                    f"lot {label_of(stored[32:])}"
                )
                mine = (
                    f"signer {v.signer}, validUntil {v.valid_until}, self-declared {int(v.self_declared)}, revoked "
                    f"{int(v.revoked is not None)}, lot {label_of(v.lot_id)}"
                )
                problems.append(f"stored ({got}), in the events ({mine})")
            problems.extend(_validity_problem(ok, v, timestamp))
            flag(
                "attestation-storage-mismatch", v.uid, f"process inventory of lot {label_of(v.lot_id)}: " + "; ".join(problems), block
            )
        checked += len(ipart)
    return checked
