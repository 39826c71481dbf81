"""Audit replay: rebuild the whole ledger from its events, prove the replay complete with the ledger
heads, compare it with contract storage, re-verify every signature offline, recompute conservation,
and flag what an auditor must see.

The report has two parts. **Ledger integrity** (``flags``, ``passed``, the exit status of ``rinne audit``):
whether the record itself can be trusted. **Claim assurance** (``claims``): for every live battery unit
and every live material lot that nothing live was made from (the end products whose figures people
read), how well its footprint is attested: verified, self-declared, missing, late, expired or revoked,
judged at the time each claim was used (:func:`ledger.figures.footprint.claim_assurance`, the same judgement
as ``rinne verify``). An attestation that expires after the lot it covers was used is not a failure,
and a weak claim is not an integrity failure: anyone with a role can self-declare a figure on their
own lot, so a weak claim fails the run only under ``strict`` (``strict_passed``, ``rinne audit --strict``).

Integrity flags (``Flag.code``):

- ``head-mismatch`` — the replayed sequence or running hash differs from a contract's ``ledgerHead()``
  (an event is missing, extra, reordered or altered in the index).
- ``storage-mismatch`` — a lot's holder, state, mass or commitment, or a unit's passport, differs
  between the replay and contract storage.
- ``attestation-storage-mismatch`` — an attestation's or process inventory's stored record (signer,
  validUntil, stage, self-declared, revoked, lot) or its ``isValid()`` at the audited block differs from
  what its Attested / InventoryAttested and Revoked events say (a revocation without its event or the
  reverse, a flipped flag, or a node answering these reads falsely).
- ``bad-signature`` — an attestation's signature does not verify offline (or its uid is not its digest).
  ECDSA or ERC-1271 is chosen, as the contract's SignerSignatures chose it, by the signer's code at the
  block the attestation was relayed; an EIP-7702 delegated account still signs with its key.
- ``unaccredited-signer`` — the signer was not an active GWP_VERIFIER when it issued the attestation
  (or, replayed, when it was relayed) and it is not a valid self-declaration.
- ``custody-gap`` — a lot moved or was consumed by someone the replay does not show as its holder.
- ``not-cells`` — a unit built from lots that no cell maker made (the material taxonomy: the contract
  cannot tell cells from sulphate, the replay knows who made each lot).
- ``conservation`` / ``recycled-credit`` — a transform or recycling that does not balance.
- ``rating`` — a unit made from units (repurposed, dismantled into modules, remanufactured) rated above
  what they were.
- ``footprint-mismatch`` — a declared footprint (passport or PACT export) differs from the recomputed one.
- ``frozen-lot-used`` — a frozen lot whose material lives on downstream, or was used while frozen.
- ``soh-withheld``, ``soh-opening-invalid``, ``soh-out-of-bounds``, ``soh-used-mismatch`` — with the authority
  tier's vault (`soh_openings`), an SOH record whose opening is missing or does not verify, or whose values
  break the physical bounds or the claim of use (:mod:`ledger.auditor.soh`; each names the recorder).
- replay inconsistencies: ``unknown-lot``, ``duplicate-lot``, ``usage-mismatch``, ``status-gap``,
  ``inactive-lot-used``, ``inactive-actor``, ``unknown-attestation``, ``duplicate-attestation``,
  ``attestation-mismatch``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger import errors
from ledger.auditor.attestations import _check_attestations
from ledger.auditor.checkpoint import (
    AuditCheckpoint,
    CheckpointError,
    check_signer,
    read_checkpoint,
    trusted_claims,
    trusted_state,
    write_checkpoint,
)
from ledger.auditor.claims import _live_and_products, _parse_declared, carried_claims, packed_claims
from ledger.auditor.report import AuditReport, Flag, HeadCheck
from ledger.auditor.soh import check_soh
from ledger.auditor.storage import (
    LEDGER_ABI,
    _check_attestation_records,
    _check_storage,
    _eth_calls,
    _label,
    _StoragePrefetch,
)
from ledger.chain.logs import ATTESTATIONS, LEDGER, advance_head, event_hash
from ledger.chain.rpc import call
from ledger.domain.ids import hex_of, label_of
from ledger.figures.footprint import all_footprints
from ledger.index.base import _LOG_BITS
from ledger.index.store import EventIndex
from ledger.index.sync import SyncProgress
from ledger.replay.events import RawEvent, replay
from ledger.replay.lots import LotTable, frozen_lots
from ledger.replay.soh import OpeningsSource
from ledger.replay.state import LedgerState

if TYPE_CHECKING:
    from ledger.client.ledger import Ledger


def replay_heads(index: EventIndex) -> dict[int, int]:
    """Recompute both contracts' head words from the stored raw logs, in chain order."""
    heads = {LEDGER: 0, ATTESTATIONS: 0}
    for ev in index.raw_events():
        heads[ev.contract] = advance_head(heads[ev.contract], event_hash(ev.topics, ev.data))
    return heads


def audit(
    ledger: Ledger,
    index: EventIndex,
    *,
    sync: bool = True,
    declared: Mapping[str, float] | Iterable[Mapping[str, Any]] | None = None,
    check_storage: bool = True,
    progress: Callable[[SyncProgress], None] | None = None,
    index_checked: bool = False,
    checkpoint: str | Path | None = None,
    trusted: Iterable[str] | None = None,
    save_checkpoint: str | Path | None = None,
    soh_openings: OpeningsSource | None = None,
) -> AuditReport:
    """Replay the whole ledger from its events and check it (see the module doc for the flags).

    With `sync`, the index is brought up to date first. Contract storage and ledger heads are read
    at the last indexed block, so later events do not disturb the comparison. `declared` footprints
    (a {lot: kg CO2e} mapping, or passport / PACT documents exported earlier) are recomputed and compared.
    `index_checked` says the caller has just run :meth:`EventIndex.verify_heads` itself (not repeated).

    Incremental audits (:mod:`ledger.auditor.checkpoint`): with `checkpoint`, the replay starts from the
    state an earlier audit signed, once its signer (among `trusted`, by default the auditing account itself,
    and an active AUDITOR), its
    block hash and both ledger heads at its block check out against the chain; only the events after it are
    replayed, and storage and signatures are checked for what they touched. `save_checkpoint` writes a
    checkpoint of this audit, signed with `ledger`'s account, when the ledger's integrity held.
    `soh_openings` is the authority tier's vault: with it every SOH record is opened and re-checked
    (:mod:`ledger.auditor.soh`); without it SOH values are not checked (``soh_records_opened`` None).
    """
    t0 = time.perf_counter()
    if sync:
        index.sync(ledger, progress)
    deployment = index.deployment
    block = index.synced_block
    if deployment is None or block is None:
        raise errors.IndexCorrupt(f"{index.path} is empty: sync it before auditing")
    if ledger.deployment is not None and (ledger.deployment.ledger, ledger.deployment.block) != (deployment.ledger, deployment.block):
        raise errors.IndexCorrupt(
            f"{index.path} indexes ledger {deployment.ledger} from block {deployment.block}, not {ledger.deployment.ledger} "
            f"from block {ledger.deployment.block}"
        )
    w3 = ledger.w3
    # Contract storage of every indexed lot and unit is read in a background thread: the node answers
    # while this process verifies and replays the index (lots only the replay knows are read after).
    # (An incremental audit reads only what the new events touched, after the replay.)
    prefetch = _StoragePrefetch(w3, deployment, index, block) if check_storage and checkpoint is None else None
    cp: AuditCheckpoint | None = None
    start: LedgerState | None = None
    if checkpoint is not None:
        cp, start = _from_checkpoint(Path(checkpoint), ledger, index, block, trusted)
    try:
        if not index_checked:
            # A damaged or doctored index is refused (IndexCorrupt) rather than audited: every stored event
            # bound to its block, log index and the chain's ledger heads (after the checkpoint, if one vouches
            # for what came before).
            since = None if cp is None else (cp.block, int(cp.ledger_head, 16), int(cp.attestations_head, 16))
            index.verify_heads(w3, deployment=deployment, since=since)
    except BaseException:
        if prefetch is not None:
            prefetch.result()
        raise
    flags: list[Flag] = []

    def flag(code: str, subject: bytes | str, message: str, blk: int | None = None) -> None:
        subj = hex_of(subject) if isinstance(subject, bytes) else subject
        lab = label_of(subject) if isinstance(subject, bytes) and len(subject) == 32 else subj
        flags.append(Flag(code=code, subject=subj, label=lab, message=message, block=blk))

    # One pass over the stored events: replay them and advance both contracts' head words.
    heads = {LEDGER: 0, ATTESTATIONS: 0}

    def hashed(events: Iterable[RawEvent]) -> Iterator[RawEvent]:
        for ev in events:
            heads[ev.contract] = advance_head(heads[ev.contract], event_hash(ev.topics, ev.data))
            yield ev

    after = -1  # the block up to which a trusted checkpoint vouches for the replay
    touched: set[bytes] | None = None
    if cp is not None:
        after = cp.block
        heads = {LEDGER: int(cp.ledger_head, 16), ATTESTATIONS: int(cp.attestations_head, 16)}
        touched = _touched_after(index, after)
        assert start is not None
        lots_before, ops_before = len(start.lots), len(start.ops)
        # By the id range (the key, as a block's events are numbered from block << _LOG_BITS), not by a scan of the
        # block column, which has no index (0.16 s at 1,000,000 events); the block condition still holds.
        first = (after + 1) << _LOG_BITS
        st = replay(hashed(index.raw_events(where="e.id >= ? AND e.block > ?", params=(first, after))), strict=True, state=start)
        # What the replay itself made or used since, beside what the index names: the claims carried over rest on
        # this set holding every lot the new events changed.
        lots = st.lots
        touched.update(lots.added() if isinstance(lots, LotTable) else list(lots)[lots_before:])
        for op in st.ops[ops_before:]:
            touched.update(op.inputs)
            touched.update(op.outputs)
    else:
        st = replay(hashed(index.raw_events()), strict=True)
    at = index.chain_timestamp or st.last_timestamp
    for issue in st.issues:
        code = "frozen-lot-used" if issue.code == "inactive-lot-used" else issue.code
        flags.append(Flag(code=code, subject=issue.subject, label=_label(issue.subject), message=issue.message, block=issue.block))

    # 1. Completeness: the replayed heads must equal both contracts' ledgerHead() at the audited block.
    fn = LEDGER_ABI.fn("ledgerHead")
    chain = _eth_calls(w3, [(deployment.ledger, fn.encode()), (deployment.attestations, fn.encode())], block)
    head_checks = []
    for slot, name, address, raw in (
        (LEDGER, "RinneLedger", deployment.ledger, chain[0]),
        (ATTESTATIONS, "GwpAttestations", deployment.attestations, chain[1]),
    ):
        seq, word = fn.decode_output(raw)
        mine = heads[slot]
        hc = HeadCheck(
            contract=name,
            address=address,
            replayed_sequence=mine & ((1 << 64) - 1),
            replayed_head=hex_of(mine.to_bytes(32, "big")),
            chain_sequence=seq,
            chain_head=hex_of(word),
        )
        head_checks.append(hc)
        if not hc.ok:
            flag(
                "head-mismatch",
                address,
                f"{name}: replay saw {hc.replayed_sequence} events (head {hc.replayed_head[:18]}…), the contract counts "
                f"{hc.chain_sequence} (head {hc.chain_head[:18]}…)",
                block,
            )

    # 2. Storage: every lot and unit as replayed against the contract at the same block.
    storage_checked = records_checked = 0
    reading: Future[int] | None = None
    if check_storage:
        storage_checked = _check_storage(w3, deployment, st, block, flag, prefetch.result() if prefetch else None, touched)
        # Attestation and inventory records, and isValid() at the audited block's time (what on-chain consumers
        # call). From a checkpoint: those relayed or revoked since, and those whose validity lapsed since (isValid
        # changes then without an event); the rest the checkpoint's audit compared, and their records change only
        # with an event.
        now = index.chain_timestamp or int(call(w3, "eth_getBlockByNumber", [hex(block), False])["timestamp"], 16)
        records = None if cp is None else _attestations_after(index, st, after, cp.claims_at, now)
        # Read while the signatures are checked (the node answers while this process verifies): about 12 µs an
        # attestation, of which about a third is hidden (20,000 attestations: 0.24 s read, 0.15 s added); its flags
        # go where a sequential run puts them.
        record_flags: list[Flag] = []

        def record_flag(code: str, subject: bytes, message: str, blk: int | None = None) -> None:
            record_flags.append(Flag(code=code, subject=hex_of(subject), label=label_of(subject), message=message, block=blk))

        pool = ThreadPoolExecutor(1)
        reading = pool.submit(_check_attestation_records, w3, deployment, st, block, now, record_flag, records)

    # 3. Signatures, offline, and the signer's accreditation at the time.
    position = len(flags)
    try:
        signatures = _check_attestations(ledger, deployment, st, flag, after)
    finally:
        if reading is not None:
            pool.shutdown(wait=True)
    if reading is not None:
        records_checked = reading.result()
        flags[position:position] = record_flags

    # 4. Claim assurance of every end product (a report, not an integrity flag: see the module doc). From a
    # checkpoint, its block of claims is carried over: the end products and claims nothing since can have changed
    # stay as its auditor judged them, undecoded; only those the new events can have changed are worked out.
    carried = None
    lives: Callable[[bytes], bool | None]
    if cp is not None and checkpoint is not None and touched is not None:
        carried = carried_claims(st, trusted_claims(Path(checkpoint), cp), since=cp.claims_at, at=at, touched=touched)
    if carried is not None:
        claim_checks, lives = carried
    else:
        live, products = _live_and_products(st)
        claim_checks = packed_claims(st, at=at, products=products)
        lives = live.get

    # 5. Frozen lots whose material lives on downstream.
    for lot in frozen_lots(st.lots):
        downstream = [o for op in lot.used_by for o in st.ops[op].outputs if lives(o)]
        if downstream:
            names = ", ".join(label_of(o) for o in downstream[:5])
            flag("frozen-lot-used", lot.lot_id, f"lot is frozen, but material from it lives on in {names}", lot.block)

    # 5a. SOH records, opened with the authority tier's vault (their values are not on the chain).
    soh_opened = check_soh(st, soh_openings, flag) if soh_openings is not None else None

    # 6. Declared footprints against the recomputation.
    declared_kg = _parse_declared(declared)
    if declared_kg:
        recomputed = all_footprints(st, at)
        for lot_id, (kg, source) in declared_kg.items():
            if lot_id not in recomputed:
                flag("footprint-mismatch", lot_id, f"{source} declares {kg:g} kg CO2e for a lot the ledger does not have")
                continue
            mine_kg = recomputed[lot_id] / 1000
            if abs(mine_kg - kg) > max(1e-6, 1e-6 * abs(kg)):
                flag("footprint-mismatch", lot_id, f"{source} declares {kg:g} kg CO2e; the ledger gives {mine_kg:g} kg CO2e now")

    if save_checkpoint is not None and not flags:
        tip = call(w3, "eth_getBlockByNumber", [hex(block), False])
        write_checkpoint(
            Path(save_checkpoint),
            ledger,
            st,
            block=block,
            block_hash=tip["hash"],
            heads=(heads[LEDGER], heads[ATTESTATIONS]),
            claims=claim_checks,
            claims_at=at,
        )
    return AuditReport(
        chain_id=deployment.chain_id,
        ledger=deployment.ledger,
        attestations=deployment.attestations,
        from_block=deployment.block,
        to_block=block,
        at=at,
        events=st.events,
        lots=len(st.lots),
        operations=len(st.ops),
        units=len(st.units),
        attestation_count=len(st.attestations),
        participants=len(st.participants),
        heads=head_checks,
        storage_checked=storage_checked,
        records_checked=records_checked,
        signatures_checked=signatures,
        transforms_checked=len(st.ops),
        declared_checked=len(declared_kg),
        flags=flags,
        seconds=time.perf_counter() - t0,
        claims=claim_checks,
        checkpoint_block=after if after >= 0 else None,
        soh_records_opened=soh_opened,
    )


def _from_checkpoint(
    path: Path, ledger: Ledger, index: EventIndex, block: int, trusted: Iterable[str] | None
) -> tuple[AuditCheckpoint, LedgerState]:
    """A checkpoint checked against the chain and its signed state (CheckpointError when it does not hold)."""
    cp = read_checkpoint(path)
    deployment = index.deployment
    assert deployment is not None  # audit() checked it
    if (cp.chain_id, cp.ledger.lower(), cp.attestations.lower(), cp.deployment_block) != (
        deployment.chain_id,
        deployment.ledger.lower(),
        deployment.attestations.lower(),
        deployment.block,
    ):
        raise CheckpointError(f"{path} is a checkpoint of another deployment (ledger {cp.ledger} on chain {cp.chain_id})")
    if cp.block > block:
        raise CheckpointError(f"{path} is at block {cp.block}, past the index (block {block}): sync the index first")
    check_signer(cp, ledger, trusted)
    tip = call(ledger.w3, "eth_getBlockByNumber", [hex(cp.block), False])
    if tip is None or tip["hash"] != cp.block_hash:
        raise CheckpointError(f"block {cp.block} of the checkpoint is no longer on this chain (a reorg): audit in full")
    fn = LEDGER_ABI.fn("ledgerHead")
    try:
        raw = _eth_calls(ledger.w3, [(deployment.ledger, fn.encode()), (deployment.attestations, fn.encode())], cp.block)
    except errors.ConnectionFailed:
        raise
    except errors.ChainError:
        raise CheckpointError(
            f"the node keeps no state of block {cp.block} to check the checkpoint's heads against (pruned, or reloaded "
            "from a state dump): audit in full, or use a node with that block's state"
        ) from None
    for name, mine, got in (("RinneLedger", cp.ledger_head, raw[0]), ("GwpAttestations", cp.attestations_head, raw[1])):
        seq, word = fn.decode_output(got)
        if int(mine, 16) != int.from_bytes(word, "big") or int(mine, 16) & ((1 << 64) - 1) != seq:
            raise CheckpointError(f"{name}'s ledger head at block {cp.block} is not the checkpoint's: the checkpoint is false")
    return cp, trusted_state(path, cp)


def _touched_after(index: EventIndex, block: int) -> set[bytes]:
    """Lots and units an event after `block` is about, or an operation after it used or made."""
    first = (block + 1) << _LOG_BITS
    c = index.conn
    ids = {
        k for (k,) in c.execute("SELECT DISTINCT key FROM events WHERE id >= ? AND key IS NOT NULL", (first,)) if isinstance(k, bytes)
    }
    ids.update(k for (k,) in c.execute("SELECT lot_id FROM op_in WHERE op >= ?", (first,)))
    ids.update(k for (k,) in c.execute("SELECT lot_id FROM op_out WHERE op >= ?", (first,)))
    return {i for i in ids if isinstance(i, bytes) and len(i) == 32}


def _attestations_after(index: EventIndex, st: LedgerState, block: int, then: int, now: int) -> set[bytes]:
    """Attestations and inventories relayed or revoked after `block`, or whose validity lapsed between the
    checkpoint's time `then` and `now`."""
    first = (block + 1) << _LOG_BITS
    uids = {
        k for (k,) in index.conn.execute("SELECT key FROM events WHERE id >= ? AND name = 'Revoked'", (first,)) if isinstance(k, bytes)
    }
    for recs in (st.attestations, st.inventories):
        uids.update(u for u, r in recs.items() if r.block > block or then <= r.valid_until < now)
    return uids
