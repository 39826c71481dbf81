"""A tiny in-Python stand-in for the contracts: emits the same raw logs (eth-abi encoded, in the
contracts' event order) so that the index, the replay and every derived figure can be tested
without a chain, on graphs whose answers are computed by hand."""

from __future__ import annotations

from typing import Any, Sequence

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_hash.auto import keccak

from ledger._abi import contract_abi
from ledger._attest import GwpAttestation, sign_attestation
from ledger._logs import advance_head, event_hash
from ledger.index import EventIndex
from ledger.models import Composition, OpKind, PassportStatus, Role, to_bytes32

LEDGER_ADDR = "0x" + "11" * 20
GWP_ADDR = "0x" + "22" * 20
CHAIN_ID = 31337
T0 = 1_700_000_000
ZERO32 = b"\0" * 32


def b32(label: str) -> bytes:
    return bytes.fromhex(to_bytes32(label)[2:])


def account(n: int) -> Any:
    return Account.from_key((n + 1).to_bytes(32, "big"))


class Synth:
    """Build a ledger history event by event; ``ingest`` it into an EventIndex."""

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []
        self.block = 1
        self.ts = T0
        self.log_index = 0
        self.heads = {LEDGER_ADDR: 0, GWP_ADDR: 0}
        self.lots: dict[bytes, dict[str, Any]] = {}
        self.nonce = 0
        self.admin = account(0)
        self._emit(LEDGER_ADDR, "AdminTransferred", previousAdmin="0x" + "00" * 20, newAdmin=self.admin.address)

    # ------------------------------------------------------------------------ plumbing

    def _emit(self, address: str, name: str, **args: Any) -> None:
        abi = contract_abi("RinneLedger" if address == LEDGER_ADDR else "GwpAttestations")
        ev = abi.events[name]
        topics = [ev.topic0]
        for pname, ptype in ev.indexed:
            topics.append(abi_encode([ptype], [args[pname]]))
        data = abi_encode(ev.data_types, [args[n] for n in ev.data_names]) if ev.data_names else b""
        self.heads[address] = advance_head(self.heads[address], event_hash(topics, data))
        self.logs.append(
            {
                "address": address, "blockNumber": hex(self.block), "blockHash": "0x" + keccak(self.block.to_bytes(8, "big")).hex(),
                "blockTimestamp": hex(self.ts), "logIndex": hex(self.log_index), "transactionHash": "0x" + "ab" * 32,
                "topics": ["0x" + t.hex() for t in topics], "data": "0x" + data.hex(),
            }
        )
        self.log_index += 1

    def mine(self, seconds: int = 12) -> None:
        """Close the current block."""
        self.block += 1
        self.ts += seconds
        self.log_index = 0

    def ingest(self, index: EventIndex | None = None) -> EventIndex:
        """Store every log in an (in-memory by default) index."""
        index = index or EventIndex.open(":memory:")
        stamps = {int(log["blockNumber"], 16): int(log["blockTimestamp"], 16) for log in self.logs}
        index.ingest(
            self.logs, {LEDGER_ADDR: 0, GWP_ADDR: 1}, stamps,
            (self.block, keccak(self.block.to_bytes(8, "big")), self.ts),
        )
        return index

    # ------------------------------------------------------------------------ registry

    def register(self, acct: Any, roles: Role) -> None:
        self._emit(LEDGER_ADDR, "ParticipantRegistered", account=acct.address, roles=int(roles), nameHash=ZERO32, metadataHash=ZERO32)
        self.mine()

    def set_roles(self, acct: Any, roles: Role) -> None:
        self._emit(LEDGER_ADDR, "RolesChanged", account=acct.address, roles=int(roles))
        self.mine()

    # ----------------------------------------------------------------------------- lots

    def _create(self, holder: Any, lot: str, material: str, mass: int, comp: Composition, origin: str | None = None) -> None:
        lid = b32(lot)
        o = bytes.fromhex(origin[2:]) if origin else ZERO32
        self._emit(
            LEDGER_ADDR, "LotCreated", lotId=lid, holder=holder.address, material=b32(material), mass=mass, origin=o,
            evidence=ZERO32, composition=comp.words(),
        )
        self.lots[lid] = {"mass": mass, "comp": comp, "material": material, "holder": holder.address}

    def mint(self, holder: Any, lot: str, material: str, mass: int, comp: Composition, origin: str | None = None) -> None:
        self._create(holder, lot, material, mass, comp, origin)
        self.mine()

    def op(
        self,
        kind: OpKind,
        operator: Any,
        inputs: Sequence[tuple[str, int]],
        outputs: Sequence[tuple[str, str, int, Composition]],
        *,
        unit: tuple[int, Sequence[str]] | None = None,
        used_comps: dict[str, Composition] | None = None,
        loss: Composition | None = None,
    ) -> None:
        """Run an operation: `inputs` are (lot, grams used; 0 = whole), `outputs` (lot, material, grams, composition).
        A partial input gives its composition pro rata (or `used_comps[lot]`)."""
        used_masses, used_total = [], Composition()
        for lot, used in inputs:
            rec = self.lots[b32(lot)]
            if used == 0:
                used_total = used_total + rec["comp"]
            else:
                part = (used_comps or {}).get(lot) or rec["comp"].part(used, rec["mass"])
                rest = rec["comp"] - part
                rec["mass"] -= used
                rec["comp"] = rest
                self._emit(LEDGER_ADDR, "LotUpdated", lotId=b32(lot), material=b32(rec["material"]), mass=rec["mass"], composition=rest.words())
                used_total = used_total + part
            used_masses.append(used)
        if kind == OpKind.REPURPOSE:
            for lot, used in inputs:
                if used == 0:
                    self.status(lot, PassportStatus.REPURPOSED, evidence=b32(outputs[0][0]), mine=False)
        for out, material, mass, comp in outputs:
            self._create(operator, out, material, mass, comp)
        if unit is not None:
            rated, parents = unit
            status = PassportStatus.REPURPOSED if kind == OpKind.REPURPOSE else PassportStatus.ORIGINAL
            self._emit(
                LEDGER_ADDR, "UnitCreated", unitId=b32(outputs[0][0]), serialHash=keccak(outputs[0][0].encode()), ratedWh=rated,
                status=int(status), parents=[b32(p) for p in parents],
            )
        if kind == OpKind.RECYCLE:
            self.status(inputs[0][0], PassportStatus.RECYCLED, mine=False, frm=PassportStatus.WASTE)
        if loss is None:
            made = Composition()
            for _, _, _, comp in outputs:
                made = made + comp
            loss = Composition(total=[a - b for a, b in zip(used_total.total, made.total)])
        self._emit(
            LEDGER_ADDR, "LotsTransformed", kind=int(kind), operator=operator.address, inputs=[b32(i) for i, _ in inputs],
            usedMasses=used_masses, outputs=[b32(o[0]) for o in outputs], loss=loss.words()[0],
        )
        self.mine()

    def transfer(self, lot: str, to: Any) -> None:
        rec = self.lots[b32(lot)]
        self._emit(LEDGER_ADDR, "OfferMade", lotId=b32(lot), **{"from": rec["holder"]}, to=to.address, epoch=0)
        self.mine()
        self._emit(LEDGER_ADDR, "OfferAccepted", lotId=b32(lot), **{"from": rec["holder"]}, to=to.address)
        rec["holder"] = to.address
        self.mine()

    def freeze(self, lot: str, auditor: Any) -> None:
        self._emit(LEDGER_ADDR, "LotFrozen", lotId=b32(lot), auditor=auditor.address, reason=ZERO32)
        self.mine()

    # ---------------------------------------------------------------------------- units

    def status(self, unit: str, to: PassportStatus, *, evidence: bytes = ZERO32, mine: bool = True, frm: PassportStatus | None = None) -> None:
        rec = self.lots[b32(unit)]
        frm = rec.get("status", PassportStatus.ORIGINAL) if frm is None else frm
        self._emit(LEDGER_ADDR, "StatusChanged", unitId=b32(unit), **{"from": int(frm)}, to=int(to), evidence=evidence)
        rec["status"] = to
        if mine:
            self.mine()

    def soh(self, unit: str, recorder: Any, throughput_wh: int, soce_bp: int = 9_000, cycles: int = 0, dt: int = 86_400) -> None:
        self.ts += dt
        self._emit(
            LEDGER_ADDR, "SohRecorded", unitId=b32(unit), recorder=recorder.address,
            soh=(soce_bp, 50_000, cycles, throughput_wh, ZERO32),
        )
        self.mine()

    # --------------------------------------------------------------------- attestations

    def attest(
        self,
        lot: str,
        kg: float,
        stage: int,
        signer: Any,
        *,
        self_declared: bool = False,
        issued_at: int | None = None,
        valid_for: int = 10 * 365 * 86_400,
    ) -> bytes:
        self.nonce += 1
        issued = self.ts if issued_at is None else issued_at
        att = GwpAttestation(
            lot_id=b32(lot), emissions_grams=round(kg * 1000), stage=stage, methodology="ISO14067:2018", evidence=ZERO32,
            issued_at=issued, valid_until=issued + valid_for, nonce=self.nonce, deadline=issued + 86_400,
        )
        signed = sign_attestation(att, signer, CHAIN_ID, GWP_ADDR)
        struct = (b32(lot), att.emissions_grams, stage, bytes.fromhex(att.methodology[2:]), ZERO32, issued, att.valid_until, att.nonce, att.deadline)
        self._emit(
            GWP_ADDR, "Attested", uid=signed.digest, lotId=b32(lot), signer=signer.address, attestation=struct,
            selfDeclared=self_declared, signature=bytes.fromhex(signed.signature[2:]),
        )
        self.mine()
        return signed.digest

    def revoke(self, uid: bytes, revoker: Any) -> None:
        self._emit(GWP_ADDR, "Revoked", uid=uid, revoker=revoker.address, reason=ZERO32)
        self.mine()
