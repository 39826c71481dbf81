"""The ledger rebuilt in memory from decoded events alone: lots, operations, units, attestations,
participants. Pure Python, no chain: unit tests feed it synthetic events, the index feeds it stored
logs, and every derived figure (footprint, recycled content, origin, audit checks) reads from it.

Replaying also notices what the contracts would have refused (a consumer who is not the holder, a
frozen lot used, a transform that does not conserve an element, a signer not accredited at the
time). Those findings are kept in :attr:`LedgerState.issues` for the audit; a partial replay (a
subgraph loaded from the index) passes ``strict=False`` and records nothing about lots it never saw.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ledger.domain.composition import ELEMENTS, unpack_lanes
from ledger.domain.enums import UNIT_FROM_UNITS, LotKind, LotState, OpKind, PassportStatus, Role
from ledger.domain.ids import hex_of
from ledger.replay.lots import LotTable, pack_lots
from ledger.replay.records import (
    ZERO_COMP,
    AttRec,
    Comp,
    InvRec,
    Issue,
    LotRec,
    N,
    OpRec,
    ParticipantRec,
    SohRec,
    UnitRec,
    _scale,
    sub_comp,
    unpack_comp,
)


class LedgerState:
    """The ledger replayed from events: feed events in chain order with :meth:`apply`."""

    def __init__(self, *, strict: bool = True) -> None:
        self.strict = strict
        # A dict as replayed; a LotTable (columns, each record made when read) when loaded from a checkpoint.
        self.lots: MutableMapping[bytes, LotRec] = {}
        self.ops: list[OpRec] = []
        self.units: dict[bytes, UnitRec] = {}
        self.attestations: dict[bytes, AttRec] = {}
        self.by_lot: dict[bytes, list[bytes]] = {}  # lot id -> attestation uids
        self.inventories: dict[bytes, InvRec] = {}
        self.inventories_by_lot: dict[bytes, list[bytes]] = {}  # lot id -> process inventory uids
        self.participants: dict[str, ParticipantRec] = {}
        self.admin: str | None = None
        self.issues: list[Issue] = []
        self.events = 0
        self.last_block = 0
        self.last_timestamp = 0
        self._pending: dict[bytes, tuple[int, Comp]] = {}
        self._pos = 0
        self._shared: dict[Any, Any] = {}
        self._block = self._timestamp = 0

    # Equal values the replay meets again and again (a material, an origin, a holder's address, a composition
    # that many lots share) are kept once: a lot then holds references, not copies (issue 16: a lot took about
    # 1.2 KB traced, half of it composition tuples and byte strings equal to its neighbours'). The pool is a
    # cache, not state: it is left out of a checkpoint (pickle keeps the sharing it made) and capped, so that a
    # ledger of values all different costs at most _SHARED_MAX entries more.
    _SHARED_MAX = 1 << 16

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_shared"] = {}
        state["lots"] = pack_lots(self.lots)  # as columns: a later audit makes only the records it reads
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lots = LotTable(state["lots"])

    def _share(self, value: Any) -> Any:
        """The one kept copy of an immutable `value` (bytes, str or tuple; never ints, as 1 == True)."""
        kept = self._shared.get(value)
        if kept is not None:
            return kept
        if len(self._shared) < self._SHARED_MAX:
            self._shared[value] = value
        return value

    def _comp(self, comp: Comp) -> Comp:
        """A composition as one kept copy, its three vectors shared too (the zero vector above all)."""
        kept = self._shared.get(comp)
        if kept is not None:
            return kept  # type: ignore[no-any-return]
        return self._share((self._share(comp[0]), self._share(comp[1]), self._share(comp[2])))  # type: ignore[no-any-return]

    def _addr(self, address: str) -> str:
        return self._share(address.lower())  # type: ignore[no-any-return]

    # ------------------------------------------------------------------------- helpers

    def _issue(self, code: str, message: str, subject: bytes | str, block: int) -> None:
        subj = hex_of(subject) if isinstance(subject, bytes) else subject
        self.issues.append(Issue(code, message, subj, self._pos, block))

    def participant(self, account: str) -> ParticipantRec:
        """Return (creating when absent) the registry record of `account` (lowercase hex)."""
        p = self.participants.get(account)
        if p is None:
            p = self.participants[account] = ParticipantRec(account)
        return p

    def _active(self, account: str, roles: int = 0) -> bool:
        p = self.participants.get(account)
        return bool(p and p.registered and not p.suspended and (roles == 0 or p.roles & roles))

    def _record_participant(self, p: ParticipantRec, ts: int) -> None:
        p.history.append((ts, self._pos, p.roles, p.registered, p.suspended))

    def attestations_of(self, lot_id: bytes) -> list[AttRec]:
        """Return the attestations relayed for a lot, in chain order."""
        return [self.attestations[u] for u in self.by_lot.get(lot_id, ())]

    def inventories_of(self, lot_id: bytes) -> list[InvRec]:
        """Return the process inventories relayed for a lot, in chain order."""
        return [self.inventories[u] for u in self.inventories_by_lot.get(lot_id, ())]

    # -------------------------------------------------------------------------- replay

    def apply(self, name: str, args: dict[str, Any], block: int, timestamp: int, pos: int | None = None) -> None:
        """Apply one decoded event (names as in the ABI; addresses lowercase hex, ids as bytes)."""
        self._pos = self.events if pos is None else pos
        self.events += 1
        # The events of one block share one block number and time: keep one int of each, not one a lot.
        if block == self._block:
            block = self._block
        else:
            self._block = block
        if timestamp == self._timestamp:
            timestamp = self._timestamp
        else:
            self._timestamp = timestamp
        self.last_block = max(self.last_block, block)
        self.last_timestamp = max(self.last_timestamp, timestamp)
        handler = getattr(self, "_on_" + name, None)
        if handler is not None:
            handler(args, block, timestamp)

    def _on_LotCreated(self, a: dict[str, Any], block: int, ts: int) -> None:
        lot_id = a["lotId"]
        if lot_id in self.lots:
            self._issue("duplicate-lot", "a lot was created twice", lot_id, block)
            return
        comp = self._comp(unpack_comp(a["composition"]))
        holder = self._addr(a["holder"])
        self.lots[lot_id] = LotRec(
            lot_id=lot_id,
            material=self._share(a["material"]),
            origin=self._share(a["origin"]),
            evidence=self._share(a["evidence"]),
            creator=holder,
            mass0=a["mass"],
            comp0=comp,
            pos=self._pos,
            block=block,
            timestamp=ts,
            holder=holder,
            mass=a["mass"],
            comp=comp,
            cell=self._active(holder, Role.CELL_MAKER),
        )
        if self.strict and not (self._active(holder)):
            self._issue("inactive-actor", "a lot was created by an account that was not an active participant", lot_id, block)

    def _lot(self, lot_id: bytes, block: int, what: str) -> LotRec | None:
        lot = self.lots.get(lot_id)
        if lot is None and self.strict:
            self._issue("unknown-lot", f"{what} names a lot that was never created", lot_id, block)
        return lot

    def _on_LotUpdated(self, a: dict[str, Any], block: int, ts: int) -> None:
        lot = self._lot(a["lotId"], block, "LotUpdated")
        if lot is None:
            return
        rest = self._comp(unpack_comp(a["composition"]))
        self._pending[lot.lot_id] = (lot.mass - a["mass"], sub_comp(lot.comp, rest))
        if lot.state != LotState.ACTIVE and self.strict:
            self._issue("inactive-lot-used", f"lot used while {LotState(lot.state).name.lower()}", lot.lot_id, block)
        lot.mass = a["mass"]
        lot.comp = rest

    def _on_LotsTransformed(self, a: dict[str, Any], block: int, ts: int) -> None:
        kind, operator = a["kind"], self._addr(a["operator"])
        op = OpRec(
            index=len(self.ops),
            kind=kind,
            operator=operator,
            inputs=list(a["inputs"]),
            used_masses=list(a["usedMasses"]),
            used=[],
            used_comps=[],
            outputs=list(a["outputs"]),
            loss=unpack_lanes(a["loss"]),
            pos=self._pos,
            block=block,
            timestamp=ts,
        )
        self.ops.append(op)
        for lot_id, used_mass in zip(op.inputs, op.used_masses):
            lot = self._lot(lot_id, block, "an operation")
            if lot is None:
                op.used.append(used_mass)
                op.used_comps.append(ZERO_COMP)
                continue
            if used_mass == 0:
                if lot.state != LotState.ACTIVE and self.strict:
                    self._issue("inactive-lot-used", f"lot consumed while {LotState(lot.state).name.lower()}", lot_id, block)
                op.used.append(lot.mass)
                op.used_comps.append(lot.comp)
                lot.state = LotState.CONSUMED
            else:
                pending = self._pending.pop(lot_id, None)
                if pending is None or pending[0] != used_mass:
                    if self.strict:
                        self._issue("usage-mismatch", "partial use without a matching LotUpdated", lot_id, block)
                    pending = (used_mass, _scale(lot.comp0, used_mass, lot.mass0))
                op.used.append(pending[0])
                op.used_comps.append(pending[1])
            if lot.used_by:
                lot.used_by.append(op.index)
            else:
                lot.used_by = [op.index]  # in place of the shared empty default (records.NONE_YET)
            if self.strict and lot.holder != operator:
                self._issue("custody-gap", f"consumed by {operator}, but the replayed holder is {lot.holder}", lot_id, block)
        # The material taxonomy, by who made what: cells are what a cell maker makes (a transform it runs, or a
        # lot it brings in), a split or merge of cells is cells, and a unit is built from cells only.
        inputs = [self.lots.get(i) for i in op.inputs]
        cells = (kind == OpKind.TRANSFORM and self._active(operator, Role.CELL_MAKER)) or (
            kind in (OpKind.SPLIT, OpKind.MERGE) and all(i is not None and i.cell for i in inputs)
        )
        for out_id in op.outputs:
            out = self.lots.get(out_id)
            if out is None:
                if self.strict:
                    self._issue("unknown-lot", "an operation output was never created", out_id, block)
                continue
            out.made_by = op.index
            out.cell = cells and out.kind == LotKind.MATERIAL
        if kind in (OpKind.DISMANTLE, OpKind.REMANUFACTURE):
            self._standing(op)
        if self.strict:
            if kind == OpKind.BUILD:
                odd = [i.lot_id for i in inputs if i is not None and not i.cell]
                if odd:
                    subject = op.outputs[0] if op.outputs else odd[0]
                    self._issue("not-cells", f"a unit built from {len(odd)} lot(s) no cell maker made", subject, block)
            self._check_balance(op, block)
            if kind in UNIT_FROM_UNITS:
                self._check_rating(op, block)

    def _standing(self, op: OpRec) -> None:
        """The end-user standing of units made from units, as the contract sets it: a dismantled unit's modules
        keep its standing (post-consumer when it was, though their SOH starts again); a remanufactured unit is
        post-consumer only when every part was, else it reached an end user only if its maker is one."""
        parents = [self.units.get(i) for i in op.inputs]
        if op.kind == OpKind.DISMANTLE:
            pack = parents[0] if parents else None
            end_user = pack is not None and pack.end_user
            ended = pack is not None and pack.post_consumer
        else:
            ended = all(p is not None and p.post_consumer for p in parents)
            end_user = ended or self._active(op.operator, Role.OEM | Role.SECOND_LIFE)
        for o in op.outputs:
            unit = self.units.get(o)
            if unit is not None:
                unit.end_user, unit.ended_use = end_user, ended

    def _check_rating(self, op: OpRec, block: int) -> None:
        """A unit made from units is rated at most what they were (pro rata by mass for a part of a unit, in
        whole Wh as the contract floors it): taking a pack apart or rebuilding it adds no energy."""
        made = sum(self.units[o].rated_wh for o in op.outputs if o in self.units)
        rated = 0
        for i, part in zip(op.inputs, op.used_masses):
            unit, lot = self.units.get(i), self.lots.get(i)
            if unit is None or lot is None:
                return  # a partial replay, or an input the audit already reports
            rated += unit.rated_wh if part == 0 else unit.rated_wh * part // (lot.mass + part)
        if made > rated:
            subject = op.outputs[0] if op.outputs else b"\0" * 32
            self._issue("rating", f"{OpKind(op.kind).name.lower()}: rated {made} Wh from units rated {rated} Wh", subject, block)

    def _check_balance(self, op: OpRec, block: int) -> None:
        outs = [self.lots[o] for o in op.outputs if o in self.lots]
        subject = op.outputs[0] if op.outputs else b"\0" * 32
        used_t = [sum(c[0][k] for c in op.used_comps) for k in range(N)]
        made_t = [sum(o.comp0[0][k] for o in outs) for k in range(N)]
        for k, e in enumerate(ELEMENTS):
            if used_t[k] != made_t[k] + op.loss[k]:
                self._issue(
                    "conservation",
                    f"{OpKind(op.kind).name.lower()}: {e} in {used_t[k]} g, out {made_t[k]} g + loss {op.loss[k]} g",
                    subject,
                    block,
                )
                break
        if op.kind == OpKind.RECYCLE:
            unit = self.units.get(op.inputs[0]) if op.inputs else None
            post = unit is not None and unit.post_consumer
            for o in outs:
                if post and (any(o.comp0[1]) or o.comp0[2] != o.comp0[0]):
                    self._issue("recycled-credit", "a recovered lot is not entirely post-consumer recycled", o.lot_id, block)
                elif not post and (any(o.comp0[2]) or o.comp0[1] != o.comp0[0]):
                    self._issue(
                        "recycled-credit",
                        "a lot recovered from a unit that never reached an end user or was never used is not entirely pre-consumer",
                        o.lot_id,
                        block,
                    )
        else:
            for vec, name in ((1, "pre-consumer"), (2, "post-consumer")):
                used_v = [sum(c[vec][k] for c in op.used_comps) for k in range(N)]
                made_v = [sum(o.comp0[vec][k] for o in outs) for k in range(N)]
                if any(m > u for m, u in zip(made_v, used_v)):
                    self._issue("recycled-credit", f"outputs claim more {name} recycled mass than the inputs gave", subject, block)
                elif op.kind not in (OpKind.SPLIT, OpKind.MERGE) and not self._share_kept(op, outs, vec, used_t):
                    self._issue(
                        "recycled-credit", f"an output claims a larger {name} recycled share than the inputs gave", subject, block
                    )
        if op.kind in (OpKind.SPLIT, OpKind.MERGE):
            if sum(o.mass0 for o in outs) != sum(op.used):
                self._issue("conservation", f"{OpKind(op.kind).name.lower()} does not conserve mass", subject, block)
            materials = {o.material for o in outs} | {self.lots[i].material for i in op.inputs if i in self.lots}
            if len(materials) > 1:
                self._issue("conservation", f"{OpKind(op.kind).name.lower()} mixes materials", subject, block)

    @staticmethod
    def _share_kept(op: OpRec, outs: list[LotRec], vec: int, used_t: list[int]) -> bool:
        """ISO 22095 controlled blending, as the contract checks it: per element, the outputs' recycled share
        is at most the inputs' (exactly for the outputs together, within a gram's rounding for each)."""
        used_r = [sum(c[vec][k] for c in op.used_comps) for k in range(N)]
        made_t = [sum(o.comp0[0][k] for o in outs) for k in range(N)]
        made_r = [sum(o.comp0[vec][k] for o in outs) for k in range(N)]
        for k in range(N):
            if made_r[k] * used_t[k] > used_r[k] * made_t[k]:
                return False
            if used_t[k] and any(o.comp0[vec][k] * used_t[k] > used_r[k] * o.comp0[0][k] + used_t[k] - 1 for o in outs):
                return False
        return True

    def _on_OfferMade(self, a: dict[str, Any], block: int, ts: int) -> None:
        lot = self._lot(a["lotId"], block, "an offer")
        if lot is None:
            return
        if self.strict and (a["from"].lower() != lot.holder or lot.state != LotState.ACTIVE):
            self._issue("custody-gap", f"offered by {a['from'].lower()}, but the replayed holder is {lot.holder}", lot.lot_id, block)
        lot.offered_to = self._addr(a["to"])

    def _on_OfferAccepted(self, a: dict[str, Any], block: int, ts: int) -> None:
        lot = self._lot(a["lotId"], block, "an accepted offer")
        if lot is None:
            return
        frm, to = self._addr(a["from"]), self._addr(a["to"])
        if self.strict and (frm != lot.holder or lot.offered_to != to):
            self._issue(
                "custody-gap",
                f"handed over by {frm} to {to}, but the replayed holder is {lot.holder} and the replayed offer is to {lot.offered_to}",
                lot.lot_id,
                block,
            )
        if self.strict and lot.state != LotState.ACTIVE:
            self._issue("inactive-lot-used", f"lot handed over while {LotState(lot.state).name.lower()}", lot.lot_id, block)
        if lot.custody:
            lot.custody.append((self._pos, ts, frm, to))
        else:
            lot.custody = [(self._pos, ts, frm, to)]
        lot.holder = to
        lot.offered_to = None
        unit = self.units.get(lot.lot_id)
        if unit is not None:
            unit.custody += 1
            if self._active(to, Role.OEM | Role.SECOND_LIFE):
                unit.end_user = True

    def _on_OfferRejected(self, a: dict[str, Any], block: int, ts: int) -> None:
        lot = self.lots.get(a["lotId"])
        if lot is not None:
            lot.offered_to = None

    _on_OfferCancelled = _on_OfferRejected

    def _on_LotFrozen(self, a: dict[str, Any], block: int, ts: int) -> None:
        lot = self._lot(a["lotId"], block, "a freeze")
        if lot is not None:
            lot.state = LotState.FROZEN
            lot.freezes = [*lot.freezes, (self._pos, ts, True)]  # rare: a copy keeps the shared default intact

    def _on_LotUnfrozen(self, a: dict[str, Any], block: int, ts: int) -> None:
        lot = self._lot(a["lotId"], block, "an unfreeze")
        if lot is not None:
            lot.state = LotState.ACTIVE
            lot.freezes = [*lot.freezes, (self._pos, ts, False)]

    def _on_UnitCreated(self, a: dict[str, Any], block: int, ts: int) -> None:
        unit_id = a["unitId"]
        lot = self.lots.get(unit_id)
        if lot is not None:
            lot.kind = LotKind.UNIT
        unit = self.units[unit_id] = UnitRec(
            unit_id=unit_id,
            serial_hash=a["serialHash"],
            rated_wh=a["ratedWh"],
            status=a["status"],
            parents=list(a["parents"]),
            pos=self._pos,
            block=block,
            timestamp=ts,
        )
        if unit.parents:  # repurposed: made by a SECOND_LIFE party, post-consumer if every parent was
            unit.end_user = True
            unit.ended_use = all(p in self.units and self.units[p].post_consumer for p in unit.parents)
        elif lot is not None:
            unit.end_user = self._active(lot.creator, Role.OEM | Role.SECOND_LIFE)

    def _on_SohRecorded(self, a: dict[str, Any], block: int, ts: int) -> None:
        self._soh(a, block, ts, correction=False)

    def _on_SohCorrected(self, a: dict[str, Any], block: int, ts: int) -> None:
        self._soh(a, block, ts, correction=True)

    def _soh(self, a: dict[str, Any], block: int, ts: int, *, correction: bool) -> None:
        unit = self.units.get(a["unitId"])
        if unit is None or (correction and not unit.soh):
            if self.strict:
                what = (
                    "an SOH correction without a record to correct" if correction else "SOH recorded for a unit that was never created"
                )
                self._issue("unknown-lot", what, a["unitId"], block)
            return
        root, used = a["root"], a["used"]
        recorder = a["recorder"].lower()
        self._check_recorder(unit, recorder, block)
        if correction:
            # The correction supersedes the latest record and keeps its time (as the contract does); the
            # superseded record stays reachable for the history.
            old = unit.soh[-1]
            unit.soh[-1] = SohRec(old.timestamp, block, self._pos, recorder, root, used, unit.status, old)
        else:
            unit.soh.append(SohRec(ts, block, self._pos, recorder, root, used, unit.status))
        self._passport_changed(unit.unit_id)

    def _on_DiagnosticianAuthorised(self, a: dict[str, Any], block: int, ts: int) -> None:
        unit = self.units.get(a["unitId"])
        if unit is None:
            return
        diagnostician = a["diagnostician"].lower()
        if a["authorised"]:
            unit.diagnosticians[diagnostician] = (a["holder"].lower(), unit.custody)
        else:
            unit.diagnosticians.pop(diagnostician, None)

    def _check_recorder(self, unit: UnitRec, recorder: str, block: int) -> None:
        lot = self.lots.get(unit.unit_id)
        if not self.strict or lot is None or recorder == lot.holder:
            return
        if unit.diagnosticians.get(recorder) != (lot.holder, unit.custody) or not self._active(recorder, Role.DIAGNOSTICIAN):
            self._issue(
                "unauthorised-recorder",
                "an SOH record by someone who was neither the holder nor a diagnostician the holder authorised for the unit",
                unit.unit_id,
                block,
            )

    def _passport_changed(self, unit_id: bytes) -> None:
        # The contract bumps the lot's epoch on every status change and SOH record: a pending offer is dead.
        lot = self.lots.get(unit_id)
        if lot is not None:
            lot.offered_to = None

    def _on_StatusChanged(self, a: dict[str, Any], block: int, ts: int) -> None:
        unit = self.units.get(a["unitId"])
        if unit is None:
            return
        if self.strict and unit.status != a["from"]:
            self._issue(
                "status-gap",
                f"status changed from {PassportStatus(a['from']).name}, but the replayed status is {PassportStatus(unit.status).name}",
                unit.unit_id,
                block,
            )
        unit.statuses.append((ts, self._pos, a["from"], a["to"], a["evidence"]))
        unit.status = a["to"]
        self._passport_changed(unit.unit_id)

    # --------------------------------------------------------------------- registry

    def _on_AdminTransferred(self, a: dict[str, Any], block: int, ts: int) -> None:
        self.admin = a["newAdmin"].lower()

    def _on_ParticipantRegistered(self, a: dict[str, Any], block: int, ts: int) -> None:
        p = self.participant(a["account"].lower())
        p.roles, p.registered, p.suspended = a["roles"], True, False
        self._record_participant(p, ts)

    def _on_RolesChanged(self, a: dict[str, Any], block: int, ts: int) -> None:
        p = self.participant(a["account"].lower())
        p.roles = a["roles"]
        self._record_participant(p, ts)

    def _on_ParticipantSuspended(self, a: dict[str, Any], block: int, ts: int) -> None:
        p = self.participant(a["account"].lower())
        p.suspended = True
        self._record_participant(p, ts)

    def _on_ParticipantReinstated(self, a: dict[str, Any], block: int, ts: int) -> None:
        p = self.participant(a["account"].lower())
        p.suspended = False
        self._record_participant(p, ts)

    # ----------------------------------------------------------------- attestations

    def _on_Attested(self, a: dict[str, Any], block: int, ts: int) -> None:
        lot_id, emissions, stage, methodology, evidence, issued, valid_until, nonce, deadline = a["attestation"]
        uid = a["uid"]
        rec = AttRec(
            uid=uid,
            lot_id=a["lotId"],
            signer=a["signer"].lower(),
            emissions_grams=emissions,
            stage=stage,
            methodology=methodology,
            evidence=evidence,
            issued_at=issued,
            valid_until=valid_until,
            nonce=nonce,
            deadline=deadline,
            self_declared=bool(a["selfDeclared"]),
            signature=a["signature"],
            pos=self._pos,
            block=block,
            timestamp=ts,
        )
        self._store_signed(self.attestations, self.by_lot, rec, lot_id, "an attestation", block)
        if self.strict and rec.self_declared:
            self._check_self_declared(rec.lot_id, rec.signer, uid, block)

    def _store_signed(
        self, store: dict[bytes, Any], by_lot: dict[bytes, list[bytes]], rec: AttRec | InvRec, signed_lot: bytes, what: str, block: int
    ) -> None:
        """Keep a relayed signed record (GWP attestation or process inventory) under its uid and its lot, noting a
        uid relayed twice and an indexed lot that is not the one the message signed."""
        uid = rec.uid
        if uid in store and self.strict:
            self._issue("duplicate-attestation", f"{what} uid was relayed twice", uid, block)
        store[uid] = rec
        by_lot.setdefault(rec.lot_id, []).append(uid)
        if signed_lot != rec.lot_id and self.strict:
            self._issue("attestation-mismatch", "the indexed lot differs from the signed lot", uid, block)

    def _check_self_declared(self, lot_id: bytes, signer: str, uid: bytes, block: int) -> None:
        """What the contract enforces of a self-declaration (GWP or inventory): the lot's active holder, while Active."""
        lot = self.lots.get(lot_id)
        if lot is None or lot.holder != signer or not self._active(signer):
            self._issue(
                "unaccredited-signer",
                "a self-declared figure was signed by someone who was not the lot's active holder",
                uid,
                block,
            )
        elif lot.state != LotState.ACTIVE:
            self._issue(
                "unaccredited-signer",
                f"a self-declared figure was relayed for a lot already {LotState(lot.state).name.lower()}",
                uid,
                block,
            )

    def _on_InventoryAttested(self, a: dict[str, Any], block: int, ts: int) -> None:
        (lot_id, energy, bps, withdrawn, consumed, route, grade, evidence, issued, valid_until, nonce, deadline) = a["inventory"]
        uid = a["uid"]
        rec = InvRec(
            uid=uid,
            lot_id=a["lotId"],
            signer=a["signer"].lower(),
            energy_wh=energy,
            renewable_bps=bps,
            water_withdrawn_l=withdrawn,
            water_consumed_l=consumed,
            route=route,
            grade=grade,
            evidence=evidence,
            issued_at=issued,
            valid_until=valid_until,
            nonce=nonce,
            deadline=deadline,
            self_declared=bool(a["selfDeclared"]),
            signature=a["signature"],
            pos=self._pos,
            block=block,
            timestamp=ts,
        )
        self._store_signed(self.inventories, self.inventories_by_lot, rec, lot_id, "a process inventory", block)
        if self.strict and (bps > 10_000 or consumed > withdrawn):
            self._issue(
                "invalid-inventory",
                "a process inventory with more than 100 % renewable or more water consumed than withdrawn",
                uid,
                block,
            )
        if self.strict and rec.self_declared:
            self._check_self_declared(rec.lot_id, rec.signer, uid, block)

    def _on_Revoked(self, a: dict[str, Any], block: int, ts: int) -> None:
        rec: AttRec | InvRec | None = self.attestations.get(a["uid"]) or self.inventories.get(a["uid"])
        if rec is None:
            if self.strict:
                self._issue("unknown-attestation", "a revocation names an unknown attestation", a["uid"], block)
            return
        rec.revoked = (self._pos, ts, a["revoker"].lower(), a["reason"])

    # ------------------------------------------------------------------------ views

    def accredited(self, account: str, *, timestamp: int | None = None, pos: int | None = None) -> bool:
        """Whether `account` was an active GWP_VERIFIER at a time (seconds) or before an event position."""
        p = self.participants.get(account.lower())
        if p is None:
            return False
        roles, reg, susp = p.at(timestamp) if timestamp is not None else p.at_pos(pos if pos is not None else 1 << 62)
        return reg and not susp and bool(roles & Role.GWP_VERIFIER)

    def creation_order(self) -> list[LotRec]:
        """Return all lots in creation order (a topological order of the material graph)."""
        return sorted(self.lots.values(), key=lambda lot: lot.pos)
