"""The Ledger client: connect, deploy, and every operation of the contracts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.attest.inventory import SignedInventory
    from ledger.attest.records import SignedAttestation
    from ledger.domain.grade import Grade

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eth_utils import to_checksum_address

from ledger import errors
from ledger.chain.rpc import batch, call
from ledger.client.base import _ZERO32, _ZERO_WORDS, LEDGER_ABI, LedgerBase
from ledger.client.bulk import BulkMixin
from ledger.client.identity import IdentityMixin
from ledger.client.inputs import Use, commitment, declared_loss, held_composition
from ledger.client.reads import ReadMixin
from ledger.domain.composition import Composition
from ledger.domain.disclosure import Openings
from ledger.domain.enums import LotKind, LotState, PassportStatus, Role
from ledger.domain.identity import commit_party, open_soh, soh_vault_id
from ledger.domain.ids import hex_of, id_bytes, label_of, to_bytes32
from ledger.domain.models import Lot, LotSpec, Receipt, SohRecord, Unit, UnitSpec
from ledger.domain.soh import SohValues, believable, soh_problems, soh_values

#: Seconds :meth:`Ledger.submit_attestation` waits for a chain whose clock lags an attestation's issued-at.
CLOCK_SLACK = 10


class Ledger(BulkMixin, IdentityMixin, ReadMixin, LedgerBase):
    """A connection to the Rinne contracts on one chain, optionally acting as one account.

    Create it with :meth:`Ledger.connect`; switch the acting account with :meth:`with_account`.
    """

    # ------------------------------------------------------------------------- connection

    # ------------------------------------------------------------------------ plumbing

    # ------------------------------------------------------------------------ registry

    def register(self, account: str, roles: Role | int | str, name: str, metadata: str = "") -> Receipt:
        """Register a participant with its roles (admin only).

        The name and metadata go on-chain as the root of the participant's salted identity record (bound to
        the account; ``nameHash``, and ``metadataHash`` too when there is metadata), never as plain hashes a
        list of company names would confirm; the opening is kept (:meth:`openings`, ``party:<account>``).
        """
        roles = Role.parse(roles) if isinstance(roles, str) else Role(roles)
        account = to_checksum_address(account)
        root, opening = commit_party(account, name, metadata)
        receipt = self._send("ledger", "register", account, int(roles), id_bytes(root), id_bytes(root) if metadata else _ZERO32)
        self._keep([opening])
        return receipt

    def grant_roles(self, account: str, roles: Role | int | str) -> Receipt:
        """Add roles to a participant (admin only)."""
        roles = Role.parse(roles) if isinstance(roles, str) else Role(roles)
        return self._send("ledger", "grantRoles", to_checksum_address(account), int(roles))

    def revoke_roles(self, account: str, roles: Role | int | str) -> Receipt:
        """Remove roles from a participant (admin only)."""
        roles = Role.parse(roles) if isinstance(roles, str) else Role(roles)
        return self._send("ledger", "revokeRoles", to_checksum_address(account), int(roles))

    def suspend(self, account: str, reason: str = "") -> Receipt:
        """Suspend a participant, e.g. after a key leak (admin only).

        The reason goes on-chain as a salted commitment bound to the account (a guessed reason does not confirm
        against it); the opening is kept (:meth:`openings`, ``word:`` and the word).
        """
        account = to_checksum_address(account)
        pending: list[Openings] = []
        word = self._reason("suspend", [account], reason, pending)
        receipt = self._send("ledger", "suspend", account, word)
        self._keep(pending)
        return receipt

    def reinstate(self, account: str) -> Receipt:
        """Lift a suspension (admin only)."""
        return self._send("ledger", "reinstate", to_checksum_address(account))

    def transfer_admin(self, new_admin: str) -> Receipt:
        """Name a successor admin; it takes over by calling :meth:`accept_admin`."""
        return self._send("ledger", "transferAdmin", to_checksum_address(new_admin))

    def accept_admin(self) -> Receipt:
        """Take over as admin (pending admin only)."""
        return self._send("ledger", "acceptAdmin")

    # ---------------------------------------------------------------------------- lots

    def mint(self, spec: LotSpec, *, idempotent: bool = True) -> Receipt | None:
        """Create a lot (MINER or REFINER). With `idempotent`, re-minting the same lot returns None."""
        pending: list[Openings] = []
        (sent,) = self._commit_lots([spec], pending)
        try:
            receipt = self._send("ledger", "mint", sent.abi())
            self._keep(pending)
            return receipt
        except errors.ContractRevert as exc:
            if idempotent and exc.error_name == "RinneLedgerLotExists" and self._same_lot_exists(spec):
                return None
            raise

    def _same_lot_exists(self, spec: LotSpec) -> bool:
        info = self._call("ledger", "lot", id_bytes(spec.lot_id))[0]
        return to_checksum_address(info[0]) == self.address and hex_of(info[8]) == commitment(spec.material, spec.composition)

    def offer(self, lot_id: str, to: str) -> Receipt:
        """Offer a held lot to a registered recipient (replaces any earlier offer)."""
        return self._send("ledger", "offer", id_bytes(lot_id), to_checksum_address(to))

    def accept(self, lot_id: str) -> Receipt:
        """Accept a current offer and become the holder."""
        return self._send("ledger", "accept", id_bytes(lot_id))

    def reject(self, lot_id: str) -> Receipt:
        """Reject an offer made to the acting account."""
        return self._send("ledger", "reject", id_bytes(lot_id))

    def cancel(self, lot_id: str) -> Receipt:
        """Withdraw the acting account's pending offer of a lot."""
        return self._send("ledger", "cancel", id_bytes(lot_id))

    def split(self, lot_id: str, parts: Sequence[tuple[str, int]]) -> Receipt:
        """Split a lot into new lots of the same material: `parts` are (new id, grams).

        When the parts add up to less than the lot's mass, the rest stays in the original lot.
        Element content is shared pro rata by mass (Composition.take / divide keep every part valid).
        """
        lot = self.lot(lot_id)
        total = sum(m for _, m in parts)
        if not parts or total <= 0 or total > lot.mass:
            raise errors.InvalidInput(f"parts weigh {total} g; lot {lot.label} holds {lot.mass} g")
        held = held_composition(lot)
        whole = total == lot.mass
        used = held.take(total, lot.mass)
        comps = used.divide([m for _, m in parts], total)
        outputs = [
            LotSpec(lot_id=new_id, material=lot.material, mass=mass, composition=comp) for (new_id, mass), comp in zip(parts, comps)
        ]
        use = self._input(Use(lot_id=lot_id, mass=None if whole else total, composition=None if whole else used), lot)
        return self._send("ledger", "split", use[0], [o.abi() for o in outputs])

    def merge(self, lot_ids: Sequence[str], new_id: str, *, evidence: str | None = None, document: str | None = None) -> Receipt:
        """Merge whole lots of one material into a new lot.

        `document` (the content hash of the merge's process record) is committed salted into the new lot's
        evidence word, its opening kept; `evidence` is an evidence word sent as given.
        """
        lots = [self.lot(i) for i in lot_ids]
        materials = {lot.material for lot in lots}
        if len(materials) != 1:
            raise errors.InvalidInput(
                "merge needs lots of one material, got " + ", ".join(sorted(label_of(m) for m in materials if m))
            )
        comp = sum((held_composition(lot) for lot in lots), Composition())
        out = LotSpec(
            lot_id=new_id,
            material=lots[0].material,
            mass=sum(lot.mass for lot in lots),
            composition=comp,
            evidence=to_bytes32(evidence) if evidence else "0x" + "00" * 32,
            document=document,
        )
        inputs = [self._input(Use(lot_id=lot.lot_id), lot)[0] for lot in lots]
        pending: list[Openings] = []
        (sent,) = self._commit_lots([out], pending)
        receipt = self._send("ledger", "merge", inputs, sent.abi())
        self._keep(pending)
        return receipt

    def transform(
        self,
        inputs: Sequence[str | Use],
        outputs: Sequence[LotSpec],
        loss: Composition | None = None,
        *,
        require_grade: str | Mapping[str, str] | None = None,
        attested_grades: Mapping[str, Grade | None] | None = None,
    ) -> Receipt:
        """Consume inputs and create outputs (PRODUCER roles). Without `loss`, the loss is what the
        inputs give beyond the outputs, per element; it may not be negative.

        `require_grade` (one grade for every input, or input lot id → grade) refuses, before anything is sent,
        an input that does not meet the grade (``ledger.domain.grade.grade_refusal``): GradeError, one line.
        The grade is derived from the lot's element content where its material names a compound; where it
        cannot be, pass the lots' grades from a synced index as `attested_grades` (lot id → ``ledger.lot_grade``):
        only a verified attested grade meets a requirement, and it never overrides a derived one.
        """
        uses = [u if isinstance(u, Use) else Use(lot_id=u) for u in inputs]
        if require_grade is not None:
            self._check_grades(uses, require_grade, attested_grades or {})
        ins, used = self._inputs(uses)
        pending: list[Openings] = []
        sent = self._commit_lots(outputs, pending)
        receipt = self._send("ledger", "transform", ins, [o.abi() for o in sent], declared_loss(used, sent, loss))
        self._keep(pending)
        return receipt

    def _check_grades(self, uses: Sequence[Use], required: str | Mapping[str, str], attested: Mapping[str, Grade | None]) -> None:
        from ledger.domain.grade import derive_grade, grade_refusal

        wanted = {id_bytes(k): v for k, v in required.items()} if isinstance(required, Mapping) else None
        given = {id_bytes(k): v for k, v in attested.items()}
        for use in uses:
            grade = wanted.get(id_bytes(use.lot_id)) if wanted is not None else required if isinstance(required, str) else None
            if grade is None:
                continue
            lot = self.lot(use.lot_id)
            material = lot.material_label or ""
            got = derive_grade(material, lot.mass, held_composition(lot).total)
            if got is None:
                # Only an attestation can grade this material; a caller's "derived" grade is not taken on trust.
                got = given.get(id_bytes(use.lot_id))
                got = got if got is not None and got.basis == "attested" else None
            refusal = grade_refusal(label_of(use.lot_id), material, got, grade)
            if refusal is not None:
                raise errors.GradeError(refusal)

    def freeze(self, lot_id: str, reason: str = "") -> Receipt:
        """Freeze a lot under investigation (AUDITOR).

        The reason goes on-chain as a salted commitment bound to the lot; the opening is kept (:meth:`openings`).
        """
        pending: list[Openings] = []
        word = self._reason("freeze", [lot_id], reason, pending)
        receipt = self._send("ledger", "freeze", id_bytes(lot_id), word)
        self._keep(pending)
        return receipt

    def freeze_many(self, lot_ids: Sequence[str], reason: str = "") -> Receipt:
        """Freeze many lots in one transaction (AUDITOR); lots no longer active are skipped, an unknown id reverts.

        The reason is committed once, bound to every lot of the batch."""
        ids = [id_bytes(i) for i in lot_ids]
        pending: list[Openings] = []
        word = self._reason("freeze", ids, reason, pending) if ids else bytes(32)
        receipt = self._send("ledger", "freezeBatch", ids, word)
        self._keep(pending)
        return receipt

    def freeze_lineage(self, lot_id: str, reason: str = "", *, rounds: int = 4) -> list[str]:
        """Freeze a lot and every active lot made from it (AUDITOR), so that material under investigation
        cannot escape by being split or transformed first; return the ids frozen (0x-hex, in lineage order).

        Descendants come from the LotsTransformed events up to the chain head. A split mined between that
        read and the freeze only consumes a listed lot (the contract skips it) and makes new ones: the read
        is repeated until a round finds nothing active left to freeze (at most `rounds` transactions, each
        of up to 200 lots).
        """
        from ledger.client.lineage import descendants

        root = id_bytes(lot_id)
        if self._call("ledger", "holderOf", root)[1] == LotState.NONE:
            raise errors.InvalidInput(f"no lot {label_of(root)} on this ledger")
        frozen: list[str] = []
        for round_ in range(rounds):
            lineage = descendants(self, root)
            states = self._states(lineage)
            active = [i for i, st in zip(lineage, states) if st == LotState.ACTIVE]
            if not active:
                if round_ == 0:  # nothing to freeze: still refuse a caller who may not (the contract decides)
                    data = LEDGER_ABI.fn("freezeBatch").encode([root], _ZERO32)
                    call(
                        self.w3, "eth_call", [{"from": self.address, "to": self._deployment().ledger, "data": hex_of(data)}, "latest"]
                    )
                break
            for start in range(0, len(active), 200):
                part = active[start : start + 200]
                pending: list[Openings] = []
                self._send("ledger", "freezeBatch", part, self._reason("freeze", part, reason, pending))
                self._keep(pending)
                frozen.extend(hex_of(i) for i, st in zip(part, self._states(part)) if st == LotState.FROZEN)
        return frozen

    def _states(self, lot_ids: Sequence[bytes]) -> list[int]:
        """Return the state of each lot (one batched JSON-RPC request per 500 lots)."""
        fn = LEDGER_ABI.fn("holderOf")
        d = self._deployment()
        out: list[int] = []
        for start in range(0, len(lot_ids), 500):
            part = lot_ids[start : start + 500]
            reqs = [("eth_call", [{"to": d.ledger, "data": hex_of(fn.selector + i)}, "latest"]) for i in part]
            out.extend(int(r[-64:], 16) for r in batch(self.w3, reqs))
        return out

    def unfreeze(self, lot_id: str) -> Receipt:
        """Release a frozen lot (AUDITOR)."""
        return self._send("ledger", "unfreeze", id_bytes(lot_id))

    def compositions_of(self, uses: Sequence[str | Use]) -> list[Composition]:
        """Return the composition each use would take, as an operation consuming `uses` would declare it (read from the chain).

        A lot id or a :class:`Use` without `mass` takes the whole lot and all it holds; a partial use takes its
        explicit `composition`, else the lot's composition pro rata by mass (Composition.take). Their sum is
        what the inputs of the operation give (the loss an operation declares without an explicit one is that
        sum minus what its outputs carry).
        """
        return self._inputs(uses)[1]

    def _inputs(self, uses: Sequence[str | Use]) -> tuple[list[tuple[Any, ...]], list[Composition]]:
        """The contract's input tuples of `uses` and the composition each takes (see :meth:`compositions_of`)."""
        out, used = [], []
        for u in uses:
            use = u if isinstance(u, Use) else Use(lot_id=u)
            abi, comp = self._input(use, self.lot(use.lot_id))
            out.append(abi)
            used.append(comp)
        return out, used

    def _input(self, use: Use, lot: Lot) -> tuple[tuple[Any, ...], Composition]:
        if lot.state == LotState.NONE:
            raise errors.InvalidInput(f"no lot {label_of(use.lot_id)} on this ledger")
        held = held_composition(lot)
        material = id_bytes(lot.material or "0x" + "00" * 32)
        if use.mass is None or (use.mass == lot.mass and use.composition in (None, held)):
            return (id_bytes(lot.lot_id), material, held.words(), 0, _ZERO_WORDS), held
        if not 0 < use.mass < lot.mass:
            raise errors.InvalidInput(f"cannot use {use.mass} g of lot {lot.label}, which holds {lot.mass} g")
        part = use.composition or held.take(use.mass, lot.mass)
        return (id_bytes(lot.lot_id), material, held.words(), use.mass, part.words()), part

    # --------------------------------------------------------------------------- units

    def build_unit(self, cells: Sequence[str | Use], unit_lot: LotSpec, unit: UnitSpec, loss: Composition | None = None) -> Receipt:
        """Build a battery unit from cell lots (CELL_MAKER or PACK_ASSEMBLER); status Original."""
        ins, used = self._inputs(cells)
        return self._send_unit("buildUnit", ins, unit_lot, unit, declared_loss(used, [unit_lot], loss))

    def record_soh(self, unit_id: str, soh: SohRecord, *, recipients: Iterable[bytes | str] = ()) -> Receipt:
        """Record a state-of-health diagnosis: the holder, or a DIAGNOSTICIAN the holder authorised for the
        unit (:meth:`authorise_diagnostician`).

        The values are Annex XIII point 4 (legitimate interest and authorities): the record is committed (a
        salted root bound to the unit, :func:`ledger.commit_soh`) and only the root and ``used`` (throughput
        > 0) are sent. The opening is kept once the transaction went through, in memory and in the vault,
        wrapped to this party, to each of `recipients` (vault public keys, or accounts whose key the registry holds:
        the holder's, when a diagnostician records; :meth:`recipient_keys`) and to the authority tier's key of the deployment record, so that no recorder can withhold
        it from the audit. The contract no longer sees the values: this client refuses what the contract
        used to (:func:`ledger.domain.soh.soh_problems`: SOCE above 100 %, capacity above the rating,
        throughput beyond (cycles + 1) x rating x 2, counters running backwards when the previous record
        opens here) with :class:`~ledger.errors.InvalidInput`; the authority's audit re-checks every record.
        """
        return self._write_soh("recordSoh", unit_id, soh, recipients)

    def correct_soh(self, unit_id: str, soh: SohRecord, *, recipients: Iterable[bytes | str] = ()) -> Receipt:
        """Supersede the latest state-of-health record with a correction (holder or authorised diagnostician):
        it may lower cycles and throughput, not raise them, keeps the corrected record's time, and shows in
        the history. Committed and kept as :meth:`record_soh`."""
        return self._write_soh("correctSoh", unit_id, soh, recipients)

    def record_soh_root(self, unit_id: str, root: str | bytes, used: bool, *, correction: bool = False) -> Receipt:
        """Send an SOH record committed elsewhere (its root and the claim of use), checking nothing.

        For a recorder that commits and keeps its own openings (and so answers for them at the audit); the
        contract refuses only a zero root and a withdrawn claim of use.
        """
        fn = "correctSoh" if correction else "recordSoh"
        return self._send("ledger", fn, id_bytes(unit_id), (id_bytes(root), bool(used)))

    def soh(self, unit_id: str) -> SohValues | None:
        """Return the values of a unit's latest SOH record, verified against its on-chain root; None when there
        is no record, this Ledger (its memory or vault) holds no opening that verifies ("not disclosed"), or the
        opened values break a record's own physical bounds (:func:`ledger.domain.soh.believable`)."""
        return self._soh_of(unit_id, self.unit(unit_id))

    def _soh_of(self, unit_id: str, u: Unit) -> SohValues | None:
        if u.soh_root is None:
            return None
        try:
            values = soh_values(open_soh(u.soh_root, self.openings(soh_vault_id(u.soh_root)), unit_id))
            believable(values, u.rated_wh)  # a root binds values, not physics: SOCE 120 % is not shown
            return values
        except errors.DisclosureError:
            return None

    def _write_soh(self, fn: str, unit_id: str, soh: SohRecord, recipients: Iterable[bytes | str]) -> Receipt:
        u = self.unit(unit_id)
        last = self._soh_of(unit_id, u)  # the unit just read, not a second read of it
        correction = fn == "correctSoh"
        problems = soh_problems(
            soh.soce_bp,
            soh.capacity_wh,
            soh.cycles,
            soh.throughput_wh,
            rated_wh=u.rated_wh,
            last=(last.cycles, last.throughput_wh) if last is not None else None,
            correction=correction,
        )
        if problems:
            raise errors.InvalidInput(f"SOH record of {label_of(to_bytes32(unit_id))} refused: {problems[0]}")
        if u.used and not soh.used:
            raise errors.InvalidInput(
                f"SOH record of {label_of(to_bytes32(unit_id))} refused: it was used before (throughput cannot fall to 0)"
            )
        keys = self.recipient_keys(recipients)  # before sending: a party without a key stops the write, not the wrap
        root, openings = soh.commit(unit_id)
        receipt = self.record_soh_root(unit_id, root, soh.used, correction=correction)
        self._keep([openings], keys)
        return receipt

    def authorise_diagnostician(self, unit_id: str, diagnostician: str, authorised: bool = True) -> Receipt:
        """Authorise (or with `authorised` False, stop authorising) a diagnostician to record the unit's state
        of health (holder only); the authorisation ends when the unit changes hands."""
        return self._send("ledger", "authoriseDiagnostician", id_bytes(unit_id), to_checksum_address(diagnostician), authorised)

    def set_status(self, unit_id: str, status: PassportStatus, evidence: str = "", *, document: str | None = None) -> Receipt:
        """Move a unit's passport status along an allowed edge (holder).

        `document` (the content hash of the grading or decision record) is committed salted into the evidence
        word, bound to the unit, its opening kept; `evidence` is an evidence word sent as given.
        """
        pending: list[Openings] = []
        word = self._document("status", unit_id, evidence, document, pending)
        receipt = self._send("ledger", "setStatus", id_bytes(unit_id), int(status), word)
        self._keep(pending)
        return receipt

    def repurpose(self, parents: Sequence[str | Use], unit_lot: LotSpec, unit: UnitSpec, loss: Composition | None = None) -> Receipt:
        """Build a new unit (e.g. an ESS) from used units, linked to every parent (SECOND_LIFE)."""
        ins, used = self._inputs(parents)
        return self._send_unit("repurpose", ins, unit_lot, unit, declared_loss(used, [unit_lot], loss))

    def dismantle(
        self, unit_id: str, modules: Sequence[LotSpec], specs: Sequence[UnitSpec], loss: Composition | None = None
    ) -> Receipt:
        """Take a unit apart into module units, each with its own passport linked to the unit (PACK_ASSEMBLER,
        SECOND_LIFE or RECYCLER). Modules keep the unit's status and end-user standing; their ratings add up to
        at most the unit's. :meth:`module_lots` divides the unit's content among modules of given masses."""
        if len(modules) != len(specs):
            raise errors.InvalidInput(f"{len(modules)} module lot(s) but {len(specs)} passport spec(s): give one of each per module")
        ins, used = self._inputs([unit_id])
        pending: list[Openings] = []
        sent = self._commit_units(list(zip(modules, specs)), pending)
        lots = self._commit_lots(modules, pending)
        receipt = self._send(
            "ledger", "dismantle", ins[0], [m.abi() for m in lots], [s.abi() for s in sent], declared_loss(used, modules, loss)
        )
        self._keep(pending)
        return receipt

    def _send_unit(self, op: str, ins: Any, unit_lot: LotSpec, unit: UnitSpec, loss: Any) -> Receipt:
        pending: list[Openings] = []
        (sent,) = self._commit_units([(unit_lot, unit)], pending)
        (lot,) = self._commit_lots([unit_lot], pending)
        receipt = self._send("ledger", op, ins, lot.abi(), sent.abi(), loss)
        self._keep(pending)
        return receipt

    def module_lots(self, unit_id: str, masses: Sequence[tuple[str, int]], material: str) -> list[LotSpec]:
        """The module lots a unit divides into: each `(lot id, grams)` gets its pro-rata share of the unit's
        element content by mass among the modules (housing and wiring carry no tracked elements), the last one
        the rest, so nothing tracked is lost and no module's recycled share exceeds the unit's."""
        lot = self.lot(unit_id)
        if lot.kind != LotKind.UNIT:
            raise errors.InvalidInput(f"{lot.label} is a {lot.kind.name.lower()} lot, not a battery unit (expected a unit)")
        total = sum(g for _, g in masses)
        if not masses or total > lot.mass:
            raise errors.InvalidInput(f"modules of {total} g in all cannot come from {lot.label}, which holds {lot.mass} g")
        rest, left, out = held_composition(lot), total, []
        for lot_id, grams in masses:
            part = rest.take(grams, left) if grams < left else rest
            out.append(LotSpec(lot_id=lot_id, material=material, mass=grams, composition=part))
            rest, left = rest - part, left - grams
        return out

    def remanufacture(self, parts: Sequence[str | Use], unit_lot: LotSpec, unit: UnitSpec, loss: Composition | None = None) -> Receipt:
        """Build a remanufactured unit from used and new module units, linked to every part (PACK_ASSEMBLER or
        SECOND_LIFE); status Remanufactured, rated at most what its parts were."""
        ins, used = self._inputs(parts)
        return self._send_unit("remanufacture", ins, unit_lot, unit, declared_loss(used, [unit_lot], loss))

    def recycle(self, unit_id: str, recovered: Sequence[LotSpec], loss: Composition | None = None) -> Receipt:
        """Recycle a Waste unit into recovered lots (RECYCLER).

        Their content counts as post-consumer recycled when the unit reached an end user and was used
        (ISO 14021, :attr:`Unit.post_consumer`, as the contract decides), and as pre-consumer otherwise.
        """
        post = self.unit(unit_id).post_consumer
        outs = [
            r.model_copy(update={"composition": r.composition.all_post_consumer() if post else r.composition.all_pre_consumer()})
            for r in recovered
        ]
        ins, used = self._inputs([unit_id])
        pending: list[Openings] = []
        outs = self._commit_lots(outs, pending)
        receipt = self._send("ledger", "recycle", ins[0], [o.abi() for o in outs], declared_loss(used, outs, loss))
        self._keep(pending)
        return receipt

    # --------------------------------------------------------------------------- reads

    # -------------------------------------------------------------------- attestations

    def submit_attestation(self, signed: SignedAttestation) -> str:
        """Relay a signed GWP attestation on-chain (any account may) and return its uid.

        An attestation issued in the last seconds may be ahead of the chain's clock (the next block's
        time, which the contract compares issued-at with, can lag this machine's by a second or two):
        up to :data:`CLOCK_SLACK` seconds ahead, the relay waits for the chain instead of failing.
        """
        from ledger.attest.eip712 import to_contract_args

        d = self._deployment()
        if signed.chain_id != self.chain_id or to_checksum_address(signed.contract) != d.attestations:
            raise errors.AttestationError(
                f"attestation is bound to chain {signed.chain_id} contract {signed.contract}; this ledger is "
                f"chain {self.chain_id} contract {d.attestations} (a replay from another deployment?)"
            )
        self._wait_for_chain_time(signed.attestation.issued_at)
        self._send("attestations", "attest", *to_contract_args(signed))
        return str(signed.uid)

    def submit_inventory(self, signed: SignedInventory) -> str:
        """Relay a signed process inventory on-chain (any account may) and return its uid (see :meth:`submit_attestation`)."""
        from ledger.attest.inventory import to_inventory_args

        d = self._deployment()
        if signed.chain_id != self.chain_id or to_checksum_address(signed.contract) != d.attestations:
            raise errors.AttestationError(
                f"process inventory is bound to chain {signed.chain_id} contract {signed.contract}; this ledger is "
                f"chain {self.chain_id} contract {d.attestations} (a replay from another deployment?)"
            )
        self._wait_for_chain_time(signed.inventory.issued_at)
        self._send("attestations", "attestInventory", *to_inventory_args(signed))
        return str(signed.uid)

    def _wait_for_chain_time(self, at: int) -> None:
        deadline = time.monotonic() + CLOCK_SLACK
        while time.monotonic() < deadline:
            pending = self.rpc("eth_getBlockByNumber", ["pending", False]) or self.rpc("eth_getBlockByNumber", ["latest", False])
            chain_now = int(pending["timestamp"], 16)
            if chain_now >= at or at - chain_now > CLOCK_SLACK:
                return  # caught up, or too far ahead to wait for: the contract will say so
            time.sleep(0.2)

    def revoke_attestation(self, uid: str, reason: str = "") -> Receipt:
        """Revoke an attestation (its signer or an AUDITOR); the record stays, marked revoked.

        The reason goes on-chain as a salted commitment bound to the attestation; the opening is kept."""
        pending: list[Openings] = []
        word = self._reason("revoke", [uid], reason, pending)
        receipt = self._send("attestations", "revoke", id_bytes(uid), word)
        self._keep(pending)
        return receipt


# ------------------------------------------------------------------------- bulk encoding
# The bulk methods encode their calls directly: eth_abi takes about 0.5 ms per lot spec, which was
# half the time of a bulk import. Only arrays of static words are needed, whose encoding is exact.
