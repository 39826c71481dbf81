"""Audit replay: rebuild the whole ledger from its events, prove the replay complete with the ledger
heads, compare it with contract storage, re-verify every signature offline, recompute conservation,
and flag what an auditor must see.

The report has two parts. **Ledger integrity** (``flags``, ``passed``, the exit status of ``rinne audit``):
whether the record itself can be trusted. **Claim assurance** (``claims``): for every live battery unit
and every live material lot that nothing live was made from (the end products whose figures people
read), how well its footprint is attested: verified, self-declared, missing, late, expired or revoked,
judged at the time each claim was used (:func:`ledger.provenance.claim_assurance`, the same judgement
as ``rinne verify``). An attestation that expires after the lot it covers was used is not a failure,
and a weak claim is not an integrity failure: anyone with a role can self-declare a figure on their
own lot, so a weak claim fails the run only under ``strict`` (``strict_passed``, ``rinne audit --strict``).

Integrity flags (``Flag.code``):

- ``head-mismatch`` — the replayed sequence or running hash differs from a contract's ``ledgerHead()``
  (an event is missing, extra, reordered or altered in the index).
- ``storage-mismatch`` — a lot's holder, state, mass or commitment, or a unit's passport, differs
  between the replay and contract storage.
- ``bad-signature`` — an attestation's signature does not verify offline (or its uid is not its digest).
  ECDSA or ERC-1271 is chosen, as the contract's SignatureChecker chose it, by the signer's code at the
  block the attestation was relayed; an EIP-7702 delegated account still signs with its key.
- ``unaccredited-signer`` — the signer was not an active GWP_VERIFIER when it issued the attestation
  (or, replayed, when it was relayed) and it is not a valid self-declaration.
- ``custody-gap`` — a lot moved or was consumed by someone the replay does not show as its holder.
- ``not-cells`` — a unit built from lots that no cell maker made (the material taxonomy: the contract
  cannot tell cells from sulphate, the replay knows who made each lot).
- ``conservation`` / ``recycled-credit`` — a transform or recycling that does not balance.
- ``footprint-mismatch`` — a declared footprint (passport or PACT export) differs from the recomputed one.
- ``frozen-lot-used`` — a frozen lot whose material lives on downstream, or was used while frozen.
- replay inconsistencies: ``unknown-lot``, ``duplicate-lot``, ``usage-mismatch``, ``status-gap``,
  ``inactive-lot-used``, ``inactive-actor``, ``unknown-attestation``, ``duplicate-attestation``,
  ``attestation-mismatch``.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping

from eth_abi import encode as abi_encode
from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field

from ledger import errors
from ledger._abi import contract_abi
from ledger._attest import GwpAttestation, SignedAttestation, delegation_target, verify_attestation
from ledger._logs import ATTESTATIONS, LEDGER, advance_head, event_hash, keccak
from ledger._rpc import batch, call
from ledger._state import Comp, LedgerState
from ledger.index import EventIndex, SyncProgress, replay
from ledger.models import LotKind, LotState, OpKind, label_of
from ledger.provenance import ASSURANCE_ORDER, all_footprints, claim_assurance

_LEDGER_ABI = contract_abi("RinneLedger")
_BATCH = 500


class Flag(BaseModel):
    """One finding of the audit."""

    model_config = ConfigDict(frozen=True)

    code: str
    subject: str = Field(description="lot, unit, attestation uid or contract the flag is about")
    label: str
    message: str
    block: int | None = None


class HeadCheck(BaseModel):
    """The replayed ledger head of one contract against its ``ledgerHead()``."""

    model_config = ConfigDict(frozen=True)

    contract: Literal["RinneLedger", "GwpAttestations"]
    address: str
    replayed_sequence: int
    replayed_head: str
    chain_sequence: int
    chain_head: str

    @property
    def ok(self) -> bool:
        """Whether sequence and running hash both match."""
        return self.replayed_sequence == self.chain_sequence and self.replayed_head == self.chain_head


#: Claim levels that meet the strict audit: attested by an accredited verifier in time, or nothing to attest.
STRICT_LEVELS = ("verified", "n/a")

#: What a claim at each level rests on, for the report's one-line messages.
_LEVEL_TEXT = {
    "verified": "every figure it rests on was attested by an accredited verifier and valid when used",
    "self-declared": "rests on figures its makers declared themselves",
    "missing": "rests on steps nobody attested",
    "late": "rests on figures attested only after the lot was used",
    "expired": "rests on attestations that were no longer valid when the lot was used",
    "revoked": "rests on revoked attestations",
    "n/a": "no step it rests on needs an attestation",
}


class ClaimCheck(BaseModel):
    """The assurance of one end product's footprint: a live unit, or a live lot nothing live was made from."""

    model_config = ConfigDict(frozen=True)

    lot_id: str
    label: str
    kind: Literal["material", "unit"]
    level: str = Field(description="verified, self-declared, missing, late, expired, revoked or n/a")
    weakest: list[str] = Field(description="hex ids of the upstream lots at the weakest level")
    by_level: dict[str, float] = Field(default_factory=dict, description="kg CO2e resting on each level")
    late: list[str] = Field(default_factory=list, description="uids of accredited attestations relayed after their lot was used")
    message: str

    @property
    def strict_ok(self) -> bool:
        """Whether the claim meets the strict audit (verified, or nothing to attest)."""
        return self.level in STRICT_LEVELS


class AuditReport(BaseModel):
    """The result of an audit replay: ledger integrity (pass or fail, what was checked, every flag) and
    the claim assurance of every end product."""

    model_config = ConfigDict(frozen=True)

    chain_id: int
    ledger: str
    attestations: str
    from_block: int
    to_block: int
    at: int = Field(description="unix time used to judge attestation validity (the last audited block's)")
    events: int
    lots: int
    operations: int
    units: int
    attestation_count: int
    participants: int
    heads: list[HeadCheck]
    storage_checked: int
    signatures_checked: int
    transforms_checked: int
    declared_checked: int
    flags: list[Flag] = Field(description="ledger integrity findings only; claim weaknesses are in `claims`")
    seconds: float
    claims: list[ClaimCheck] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the ledger's integrity holds (no flag); weak claims do not fail it."""
        return not self.flags

    @property
    def strict_passed(self) -> bool:
        """True when integrity holds and every end product's footprint rests on verified figures only."""
        return self.passed and all(c.strict_ok for c in self.claims)

    def weak_claims(self) -> list[ClaimCheck]:
        """Return the claims weaker than verified (what fails the strict audit)."""
        return [c for c in self.claims if not c.strict_ok]

    def claim_counts(self) -> dict[str, int]:
        """Return the number of claims at each level, strongest first."""
        order = ["verified", "n/a", *reversed(ASSURANCE_ORDER)]
        counts: dict[str, int] = {}
        for c in sorted(self.claims, key=lambda c: order.index(c.level) if c.level in order else len(order)):
            counts[c.level] = counts.get(c.level, 0) + 1
        return counts

    def raise_for_flags(self, strict: bool = False) -> "AuditReport":
        """Raise :class:`ledger.errors.AuditFailed` when anything was flagged (with `strict`, also when a
        claim is weaker than verified); return the report otherwise."""
        where = f"audit of chain {self.chain_id} blocks {self.from_block}-{self.to_block}"
        if self.flags:
            counts: dict[str, int] = {}
            for f in self.flags:
                counts[f.code] = counts.get(f.code, 0) + 1
            summary = ", ".join(f"{n} {code}" for code, n in sorted(counts.items()))
            raise errors.AuditFailed(f"{where} failed: {summary}")
        weak = self.weak_claims()
        if strict and weak:
            levels: dict[str, list[str]] = {}
            for c in weak:
                levels.setdefault(c.level, []).append(c.label)
            summary = "; ".join(f"{len(v)} {lv} ({', '.join(v[:5])}{', …' if len(v) > 5 else ''})" for lv, v in levels.items())
            raise errors.AuditFailed(f"{where} failed the strict check: claims weaker than verified: {summary}")
        return self

    def flag_codes(self) -> set[str]:
        """Return the set of flag codes raised."""
        return {f.code for f in self.flags}

    def to_json(self, indent: int | None = 2) -> str:
        """Return the report as JSON (with top-level "passed" (integrity) and "strict_passed")."""
        import json

        data = self.model_dump(mode="json")
        data = {"passed": self.passed, "strict_passed": self.strict_passed, **data}
        for h, model in zip(data["heads"], self.heads):
            h["ok"] = model.ok
        return json.dumps(data, indent=indent)

    def to_html(self) -> str:
        """Return a self-contained HTML report (no network needed to open it)."""
        from ledger._html import audit_html

        return audit_html(self)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _pack(v: tuple[int, ...]) -> list[int]:
    return [v[0] | v[1] << 64 | v[2] << 128 | v[3] << 192, v[4] | v[5] << 64 | v[6] << 128 | v[7] << 192]


def commitment_of(material: bytes, comp: Comp) -> bytes:
    """Return keccak256(abi.encode(material, composition)) of replayed values."""
    # abi.encode of a bytes32 and a static tuple is their words side by side (eth_abi took ~0.2 ms).
    if len(material) != 32:
        return keccak(abi_encode(["bytes32", "(uint256[2],uint256[2],uint256[2])"], [material, tuple(_pack(v) for v in comp)]))
    return keccak(material + b"".join(w.to_bytes(32, "big") for v in comp for w in _pack(v)))


def replay_heads(index: EventIndex) -> dict[int, int]:
    """Recompute both contracts' head words from the stored raw logs, in chain order."""
    heads = {LEDGER: 0, ATTESTATIONS: 0}
    for ev in index.raw_events():
        heads[ev.contract] = advance_head(heads[ev.contract], event_hash(ev.topics, ev.data))
    return heads


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
_READER_CODE = (
    "0x3660006040376060360360051c366040018060005b838114610056576060516000528060051b60a0015160045260805182602460"
    "006040515afa1561005c573d608051141561005c57906080510190600101610014565b82820383f35b600080fd"
)
_READER = "0x00000000000000000000000000000000000a0d17"
_READER_IDS = 500  # about 11k gas a lot: 5.5M gas a call, under any node's eth_call cap


def _read_all(w3: Any, target: str, selector: bytes, size: int, ids: list[bytes], block: int) -> list[bytes]:
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
                ("eth_call", [{"to": _READER, "data": _hex(head + b"".join(p))}, tag, {_READER: {"code": _READER_CODE}}])
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


def _eth_calls(w3: Any, calls: list[tuple[str, bytes]], block: int) -> list[bytes]:
    out: list[bytes] = []
    tag = hex(block)
    for start in range(0, len(calls), _BATCH):
        part = calls[start : start + _BATCH]
        results = batch(w3, [("eth_call", [{"to": to, "data": _hex(data)}, tag]) for to, data in part])
        out.extend(bytes.fromhex(r[2:]) for r in results)
    return out


def _parse_declared(declared: Mapping[str, float] | Iterable[Mapping[str, Any]] | None) -> dict[bytes, tuple[float, str]]:
    """Accept {lot id: kg CO2e} or PACT / passport documents; return lot id → (kg, source)."""
    from ledger.models import to_bytes32

    out: dict[bytes, tuple[float, str]] = {}
    if declared is None:
        return out
    if isinstance(declared, Mapping):
        for k, v in declared.items():
            out[bytes.fromhex(to_bytes32(k)[2:])] = (float(v), "declared")
        return out
    for doc in declared:
        lot, kg, source = _declared_from_doc(doc)
        out[bytes.fromhex(to_bytes32(lot)[2:])] = (kg, source)
    return out


def _declared_from_doc(doc: Mapping[str, Any]) -> tuple[str, float, str]:
    if "pcf" in doc:  # PACT product footprint: kg CO2e per declared unit × the units the lot holds
        pcf = doc["pcf"]
        for ext in doc.get("extensions") or []:
            data = ext.get("data") if isinstance(ext, Mapping) else None
            if isinstance(data, Mapping) and "lotId" in data and "massKg" in data:
                if "pcfExcludingBiogenicUptake" in pcf:  # 3.0: decimals as strings, a piece or a kilogram
                    per_kg = pcf.get("declaredUnitOfMeasurement") == "kilogram"
                    units = float(data["massKg"]) / float(pcf.get("declaredUnitAmount", "1")) if per_kg else 1.0
                    kg = float(pcf["pcfExcludingBiogenicUptake"]) * units
                else:  # 2.2
                    kg = float(pcf["pCfExcludingBiogenic"]) * float(data["massKg"])
                return data["lotId"], kg, f"PACT footprint {doc.get('id', '')}"
        raise errors.InvalidInput("a PACT footprint without the Rinne extension (lotId, massKg) cannot be matched to a lot")
    cf = doc.get("carbonFootprint")
    rinne = (doc.get("extensions") or {}).get("rinne") if isinstance(doc.get("extensions"), Mapping) else None
    if isinstance(cf, Mapping) and isinstance(rinne, Mapping) and "absoluteCarbonFootprint" in cf:
        return rinne["unitId"], float(cf["absoluteCarbonFootprint"]), f"battery passport {rinne.get('label', '')}"
    raise errors.InvalidInput("a declared footprint must be {lot: kg CO2e}, a PACT footprint or a battery passport export")


def audit(
    ledger: Any,
    index: EventIndex,
    *,
    sync: bool = True,
    declared: Mapping[str, float] | Iterable[Mapping[str, Any]] | None = None,
    check_storage: bool = True,
    progress: Callable[[SyncProgress], None] | None = None,
    index_checked: bool = False,
) -> AuditReport:
    """Replay the whole ledger from its events and check it (see the module doc for the flags).

    With `sync`, the index is brought up to date first. Contract storage and ledger heads are read
    at the last indexed block, so later events do not disturb the comparison. `declared` footprints
    (a {lot: kg CO2e} mapping, or passport / PACT documents exported earlier) are recomputed and compared.
    `index_checked` says the caller has just run :meth:`EventIndex.verify_heads` itself (not repeated).
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
    prefetch = _StoragePrefetch(w3, deployment, index, block) if check_storage else None
    try:
        if not index_checked:
            # A damaged or doctored index is refused (IndexCorrupt) rather than audited: every stored event
            # bound to its block, log index and the chain's ledger heads.
            index.verify_heads(w3, deployment=deployment)
    except BaseException:
        if prefetch is not None:
            prefetch.result()
        raise
    flags: list[Flag] = []

    def flag(code: str, subject: bytes | str, message: str, blk: int | None = None) -> None:
        subj = _hex(subject) if isinstance(subject, bytes) else subject
        lab = label_of(subject) if isinstance(subject, bytes) and len(subject) == 32 else subj
        flags.append(Flag(code=code, subject=subj, label=lab, message=message, block=blk))

    # One pass over the stored events: replay them and advance both contracts' head words.
    heads = {LEDGER: 0, ATTESTATIONS: 0}

    def hashed(events: Iterable[Any]) -> Iterator[Any]:
        for ev in events:
            heads[ev.contract] = advance_head(heads[ev.contract], event_hash(ev.topics, ev.data))
            yield ev

    st = replay(hashed(index.raw_events()), strict=True)
    at = index.chain_timestamp or st.last_timestamp
    for issue in st.issues:
        code = "frozen-lot-used" if issue.code == "inactive-lot-used" else issue.code
        flags.append(Flag(code=code, subject=issue.subject, label=_label(issue.subject), message=issue.message, block=issue.block))

    # 1. Completeness: the replayed heads must equal both contracts' ledgerHead() at the audited block.
    fn = _LEDGER_ABI.fn("ledgerHead")
    chain = _eth_calls(w3, [(deployment.ledger, fn.encode()), (deployment.attestations, fn.encode())], block)
    head_checks = []
    for slot, name, address, raw in (
        (LEDGER, "RinneLedger", deployment.ledger, chain[0]),
        (ATTESTATIONS, "GwpAttestations", deployment.attestations, chain[1]),
    ):
        seq, word = fn.decode_output(raw)
        mine = heads[slot]
        hc = HeadCheck(
            contract=name, address=address, replayed_sequence=mine & ((1 << 64) - 1), replayed_head=_hex(mine.to_bytes(32, "big")),
            chain_sequence=seq, chain_head=_hex(word),
        )
        head_checks.append(hc)
        if not hc.ok:
            flag(
                "head-mismatch", address,
                f"{name}: replay saw {hc.replayed_sequence} events (head {hc.replayed_head[:18]}…), the contract counts "
                f"{hc.chain_sequence} (head {hc.chain_head[:18]}…)", block,
            )

    # 2. Storage: every lot and unit as replayed against the contract at the same block.
    storage_checked = 0
    if check_storage:
        storage_checked = _check_storage(w3, deployment, st, block, flag, prefetch.result() if prefetch else None)

    # 3. Signatures, offline, and the signer's accreditation at the time.
    signatures = _check_attestations(ledger, deployment, st, flag)

    # 4. Claim assurance of every end product (a report, not an integrity flag: see the module doc).
    live = _live_downstream(st)
    claim_checks = claims_of(st, at=at, live=live)

    # 5. Frozen lots whose material lives on downstream.
    for lot in st.lots.values():
        if lot.state != LotState.FROZEN:
            continue
        downstream = [o for op in lot.used_by for o in st.ops[op].outputs if live.get(o)]
        if downstream:
            names = ", ".join(label_of(o) for o in downstream[:5])
            flag("frozen-lot-used", lot.lot_id, f"lot is frozen, but material from it lives on in {names}", lot.block)

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

    return AuditReport(
        chain_id=deployment.chain_id, ledger=deployment.ledger, attestations=deployment.attestations,
        from_block=deployment.block, to_block=block, at=at, events=st.events, lots=len(st.lots), operations=len(st.ops),
        units=len(st.units), attestation_count=len(st.attestations), participants=len(st.participants), heads=head_checks,
        storage_checked=storage_checked, signatures_checked=signatures, transforms_checked=len(st.ops),
        declared_checked=len(declared_kg), flags=flags, seconds=time.perf_counter() - t0, claims=claim_checks,
    )


def end_products(st: LedgerState, live: Mapping[bytes, bool] | None = None) -> list[bytes]:
    """Return, in chain order, every live battery unit and every live material lot that nothing live was
    made from: the lots whose figures people read (a lot that lives on only inside a live product is
    covered by that product's claim)."""
    live = _live_downstream(st) if live is None else live
    out = []
    for lot in sorted(st.lots.values(), key=lambda x: x.pos):
        if lot.state not in (LotState.ACTIVE, LotState.FROZEN):
            continue
        if lot.kind == LotKind.UNIT or not any(
            live.get(o) for op in lot.used_by if st.ops[op].kind != OpKind.RECYCLE for o in st.ops[op].outputs
        ):
            out.append(lot.lot_id)
    return out


def claims_of(st: LedgerState, *, at: int, live: Mapping[bytes, bool] | None = None) -> list[ClaimCheck]:
    """Return the claim assurance of every end product (see :func:`end_products`), judged by
    :func:`ledger.provenance.claim_assurance` at `at`, the same judgement ``rinne verify`` reports."""
    out = []
    for lot_id in end_products(st, live):
        ca = claim_assurance(st, lot_id, at=at)
        message = _LEVEL_TEXT.get(ca.level, f"rests on {ca.level} figures")
        if ca.level not in STRICT_LEVELS and ca.weakest:  # name the weakest links (verify's "weakest")
            names = ", ".join(label_of(w) if w.startswith("0x") else w for w in ca.weakest[:5])
            message += f": {names}" + (f" and {len(ca.weakest) - 5} more" if len(ca.weakest) > 5 else "")
        if ca.late:
            # Accredited figures relayed after the use still count; the report says they came later.
            message += f" ({len(ca.late)} accredited attestation{'s' if len(ca.late) != 1 else ''} relayed after the lot was used)"
        out.append(
            ClaimCheck.model_construct(  # the fields come validated from ClaimAssurance
                lot_id=ca.lot_id, label=ca.label, kind=ca.kind, level=ca.level, weakest=list(ca.weakest),
                by_level=dict(ca.by_level), late=list(ca.late), message=message,
            )
        )
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


class _StoragePrefetch:
    """Reads lot() and unit() of every lot the index lists, at `block`, in a background thread."""

    def __init__(self, w3: Any, deployment: Any, index: EventIndex, block: int) -> None:
        self.lots: dict[bytes, bytes] = {}
        self.units: dict[bytes, bytes] = {}
        self._error: BaseException | None = None
        rows = index.conn.execute("SELECT lot_id, kind FROM lots").fetchall()
        self._thread = threading.Thread(target=self._run, args=(w3, deployment.ledger, rows, block), daemon=True)
        self._thread.start()

    def _run(self, w3: Any, ledger: str, rows: list[tuple[bytes, int]], block: int) -> None:
        lot_sel, unit_sel = _LEDGER_ABI.fn("lot").selector, _LEDGER_ABI.fn("unit").selector
        try:
            ids = [r[0] for r in rows if isinstance(r[0], bytes) and len(r[0]) == 32]
            units = [r[0] for r in rows if r[1] == 1 and isinstance(r[0], bytes) and len(r[0]) == 32]
            self.lots = dict(zip(ids, _read_all(w3, ledger, lot_sel, 9 * 32, ids, block)))
            self.units = dict(zip(units, _read_all(w3, ledger, unit_sel, 7 * 32, units, block)))
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
        """Wait for the reads; return (lot id → lot() data, unit id → unit() data)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.lots, self.units


def _check_storage(
    w3: Any, deployment: Any, st: LedgerState, block: int, flag: Callable[..., None],
    prefetched: tuple[dict[bytes, bytes], dict[bytes, bytes]] | None = None,
) -> int:
    lot_fn, unit_fn = _LEDGER_ABI.fn("lot"), _LEDGER_ABI.fn("unit")
    have_lots, have_units = prefetched or ({}, {})
    ids = list(st.lots)
    missing = [i for i in ids if i not in have_lots]
    fetched = dict(zip(missing, _read_all(w3, deployment.ledger, lot_fn.selector, 9 * 32, missing, block)))
    results = [have_lots[i] if i in have_lots else fetched[i] for i in ids]
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
    units = list(st.units)
    missing = [u for u in units if u not in have_units]
    fetched = dict(zip(missing, _read_all(w3, deployment.ledger, unit_fn.selector, 7 * 32, missing, block)))
    results = [have_units[u] if u in have_units else fetched[u] for u in units]
    for unit_id, raw in zip(units, results):
        u = st.units[unit_id]
        status, rated, soce, cap, cycles, thr, _at = _words(raw, 7, "unit()")
        last = u.soh[-1] if u.soh else None
        mine = (u.status, u.rated_wh, last.soce_bp if last else 0, last.capacity_wh if last else 0,
                last.cycles if last else 0, last.throughput_wh if last else 0)
        if (status, rated, soce, cap, cycles, thr) != mine:
            flag("storage-mismatch", unit_id, f"passport on-chain {(status, rated, soce, cap, cycles, thr)}, replayed {mine}", block)
    return len(ids) + len(units)


def _signer_codes(w3: Any, st: LedgerState) -> dict[tuple[str, int], str]:
    """Return each signer's code at each block where one of its attestations was relayed.

    The contract (OpenZeppelin SignatureChecker) chose ECDSA or ERC-1271 by the signer's code when it
    relayed the attestation; the code now says nothing about that (an EOA may have delegated its account
    with EIP-7702 since, or a delegation may have been cleared)."""
    pairs = sorted({(a.signer, a.block) for a in st.attestations.values()})
    codes: dict[tuple[str, int], str] = {}
    for start in range(0, len(pairs), _BATCH):
        part = pairs[start : start + _BATCH]
        for pair, code in zip(part, batch(w3, [("eth_getCode", [s, hex(b)]) for s, b in part])):
            codes[pair] = code or "0x"
    return codes


def _check_attestations(ledger: Any, deployment: Any, st: LedgerState, flag: Callable[..., None]) -> int:
    w3 = ledger.w3
    codes = _signer_codes(w3, st)
    checked = 0
    for att in st.attestations.values():
        checked += 1
        try:
            signed = SignedAttestation(
                attestation=GwpAttestation(
                    lot_id=att.lot_id, emissions_grams=att.emissions_grams, stage=att.stage, methodology=att.methodology,
                    evidence=att.evidence, issued_at=att.issued_at, valid_until=att.valid_until, nonce=att.nonce,
                    deadline=att.deadline,
                ),
                signer=att.signer, signature=att.signature, chain_id=deployment.chain_id, contract=deployment.attestations,
            )
        except Exception as exc:  # a malformed record cannot even be parsed
            flag("bad-signature", att.uid, f"attestation cannot be parsed: {str(exc).splitlines()[0]}", att.block)
            continue
        if signed.digest != att.uid:
            flag("bad-signature", att.uid, "uid is not the EIP-712 digest of the signed message", att.block)
            continue
        code = codes.get((att.signer, att.block), "0x")
        # An EIP-7702 delegation designator is code to SignatureChecker (so the contract asked ERC-1271),
        # but the account is still an EOA whose key signs for it (see verify_attestation).
        delegated = delegation_target(code) is not None
        contract_signer = code not in ("0x", "0x0")

        def check_1271(signer: str, digest: bytes, signature: bytes, _blk: int = att.block) -> bool:
            # The wallet's answer when the attestation was relayed (it may say no later).
            data = keccak(b"isValidSignature(bytes32,bytes)")[:4] + abi_encode(["bytes32", "bytes"], [digest, signature])
            try:
                result = call(w3, "eth_call", [{"to": signer, "data": _hex(data)}, hex(_blk)])
            except errors.ChainError:
                return False
            return bytes.fromhex(result[2:10]) == bytes.fromhex("1626ba7e") if len(result) >= 10 else False

        check = verify_attestation(
            signed, now=att.valid_until, is_contract=contract_signer, erc1271_check=check_1271 if contract_signer else None,
            delegated=delegated,
        )
        sig_problems = [p for p in check.problems if p in ("bad-signature", "high-s", "signer-mismatch", "contract-signer")]
        if sig_problems:
            flag("bad-signature", att.uid, f"signature of lot {label_of(att.lot_id)} fails offline: {', '.join(sig_problems)}", att.block)
        # Accreditation: when relayed (replayed registry just before the event) and when issued.
        relayed_ok = st.accredited(att.signer, pos=att.pos)
        if att.self_declared:
            if relayed_ok:
                flag("attestation-mismatch", att.uid, "marked self-declared although the signer was an accredited verifier", att.block)
            continue
        if not relayed_ok:
            flag("unaccredited-signer", att.uid, f"signer {att.signer} was not an active GWP verifier when the attestation was relayed", att.block)
        elif not st.accredited(att.signer, timestamp=att.issued_at):
            flag(
                "unaccredited-signer", att.uid,
                f"signer {att.signer} was not an active GWP verifier at issuedAt {att.issued_at} (accreditation came later "
                "or was suspended then)", att.block,
            )
    return checked


def _live_downstream(st: LedgerState) -> dict[bytes, bool]:
    """For every lot: whether it, or anything made from it (not through recycling), is still live."""
    live: dict[bytes, bool] = {}
    for lot in sorted(st.lots.values(), key=lambda x: -x.pos):
        alive = lot.state in (LotState.ACTIVE, LotState.FROZEN)
        if not alive:
            for op_index in lot.used_by:
                op = st.ops[op_index]
                if op.kind == OpKind.RECYCLE:
                    continue
                if any(live.get(o) for o in op.outputs):
                    alive = True
                    break
        live[lot.lot_id] = alive
    return live


__all__ = [
    "STRICT_LEVELS", "AuditReport", "ClaimCheck", "Flag", "HeadCheck", "audit", "claims_of", "commitment_of", "end_products",
    "replay_heads",
]
