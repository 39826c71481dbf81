"""A tiny in-Python stand-in for the contracts: emits the same raw logs (eth-abi encoded, in the
contracts' event order) so that the index, the replay and every derived figure can be tested
without a chain, on graphs whose answers are computed by hand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_hash.auto import keccak

from ledger.attest.eip712 import sign_attestation
from ledger.attest.records import GwpAttestation
from ledger.chain.abi import contract_abi
from ledger.chain.logs import advance_head, event_hash
from ledger.domain.composition import Composition
from ledger.domain.disclosure import Openings
from ledger.domain.enums import OpKind, PassportStatus, Role
from ledger.domain.identity import commit_soh, soh_vault_id
from ledger.domain.ids import origin_code, to_bytes32
from ledger.errors import DisclosureError
from ledger.index.store import EventIndex

LEDGER_ADDR = "0x" + "11" * 20
GWP_ADDR = "0x" + "22" * 20
CHAIN_ID = 31337
T0 = 1_700_000_000
ZERO32 = b"\0" * 32


#: The status a unit rebuilt from units gets, and its wholly consumed parents move to.
REBUILT_STATUS = {OpKind.REPURPOSE: PassportStatus.REPURPOSED, OpKind.REMANUFACTURE: PassportStatus.REMANUFACTURED}


class SynthVault:
    """Every SOH opening any Synth emitted, by vault id: what a reader's vault holding them all answers
    (roots are salted, so one store serves every synthetic ledger without clashes)."""

    def __init__(self) -> None:
        self.kept: dict[str, Openings] = {}

    def __contains__(self, record_id: object) -> bool:
        return record_id in self.kept

    def openings(self, record_id: str) -> Openings:
        if record_id not in self.kept:
            raise DisclosureError(f"record {record_id!r} is not in the vault")
        return self.kept[record_id]


SYNTH_VAULT = SynthVault()


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
        #: The openings of every SOH record emitted, by vault id: the synth is its own vault (an OpeningsSource).
        self.soh_openings: dict[str, Openings] = {}
        self.rated: dict[str, int] = {}  # unit label -> rated Wh, for SOH records a reader believes
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
                "address": address,
                "blockNumber": hex(self.block),
                "blockHash": "0x" + keccak(self.block.to_bytes(8, "big")).hex(),
                "blockTimestamp": hex(self.ts),
                "logIndex": hex(self.log_index),
                "transactionHash": "0x" + "ab" * 32,
                "topics": ["0x" + t.hex() for t in topics],
                "data": "0x" + data.hex(),
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
            self.logs,
            {LEDGER_ADDR: 0, GWP_ADDR: 1},
            stamps,
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
            LEDGER_ADDR,
            "LotCreated",
            lotId=lid,
            holder=holder.address,
            material=b32(material),
            mass=mass,
            origin=o,
            evidence=ZERO32,
            composition=comp.words(),
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
                self._emit(
                    LEDGER_ADDR,
                    "LotUpdated",
                    lotId=b32(lot),
                    material=b32(rec["material"]),
                    mass=rec["mass"],
                    composition=rest.words(),
                )
                used_total = used_total + part
            used_masses.append(used)
        # Rebuilding a unit from units moves each wholly consumed parent to the new unit's status, as the
        # contract does before it creates the unit; a parent that gave only a part keeps its status.
        rebuilt = REBUILT_STATUS.get(kind)
        if rebuilt is not None:
            for lot, used in inputs:
                if used == 0:
                    self.status(lot, rebuilt, evidence=b32(outputs[0][0]), mine=False)
        for out, material, mass, comp in outputs:
            self._create(operator, out, material, mass, comp)
        if unit is not None:
            rated, parents = unit
            self.rated[outputs[0][0]] = rated
            status = rebuilt if rebuilt is not None else PassportStatus.ORIGINAL
            self._emit(
                LEDGER_ADDR,
                "UnitCreated",
                unitId=b32(outputs[0][0]),
                serialHash=keccak(outputs[0][0].encode()),
                ratedWh=rated,
                status=int(status),
                parents=[b32(p) for p in parents],
            )
        if kind == OpKind.RECYCLE:
            self.status(inputs[0][0], PassportStatus.RECYCLED, mine=False, frm=PassportStatus.WASTE)
        if loss is None:
            made = Composition()
            for _, _, _, comp in outputs:
                made = made + comp
            loss = Composition(total=[a - b for a, b in zip(used_total.total, made.total)])
        self._emit(
            LEDGER_ADDR,
            "LotsTransformed",
            kind=int(kind),
            operator=operator.address,
            inputs=[b32(i) for i, _ in inputs],
            usedMasses=used_masses,
            outputs=[b32(o[0]) for o in outputs],
            loss=loss.words()[0],
        )
        self.mine()

    def dismantle(self, operator: Any, unit: str, modules: Sequence[tuple[str, str, int, int]]) -> None:
        """Take a whole unit apart into module units, as the contract's ``dismantle`` does: `modules` are (lot,
        material, grams, rated Wh); each gets its share of the unit's content by mass among the modules (the
        last the rest) and the unit's status, and names the unit as its only parent."""
        rec = self.lots[b32(unit)]
        status = rec.get("status", PassportStatus.ORIGINAL)
        rest, left = rec["comp"], sum(g for _, _, g, _ in modules)
        for lot, material, grams, rated in modules:
            part = rest.part(grams, left) if grams < left else rest
            rest, left = rest - part, left - grams
            self._create(operator, lot, material, grams, part)
            self.lots[b32(lot)]["status"] = status
            self.rated[lot] = rated
            self._emit(
                LEDGER_ADDR,
                "UnitCreated",
                unitId=b32(lot),
                serialHash=keccak(lot.encode()),
                ratedWh=rated,
                status=int(status),
                parents=[b32(unit)],
            )
        self._emit(
            LEDGER_ADDR,
            "LotsTransformed",
            kind=int(OpKind.DISMANTLE),
            operator=operator.address,
            inputs=[b32(unit)],
            usedMasses=[0],
            outputs=[b32(m[0]) for m in modules],
            loss=Composition().words()[0],
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

    def status(
        self, unit: str, to: PassportStatus, *, evidence: bytes = ZERO32, mine: bool = True, frm: PassportStatus | None = None
    ) -> None:
        rec = self.lots[b32(unit)]
        frm = rec.get("status", PassportStatus.ORIGINAL) if frm is None else frm
        self._emit(LEDGER_ADDR, "StatusChanged", unitId=b32(unit), **{"from": int(frm)}, to=int(to), evidence=evidence)
        rec["status"] = to
        if mine:
            self.mine()

    def soh(
        self, unit: str, recorder: Any, throughput_wh: int, soce_bp: int = 9_000, cycles: int | None = None, dt: int = 86_400
    ) -> None:
        """An SOH record as the contract emits it: a salted root and the claim of use; the opening kept here.

        Capacity and (by default) cycles are made physically possible for the unit's rating, as readers believe
        no other record (ledger.domain.soh.believable).
        """
        self.ts += dt
        rated = self.rated.get(unit, 75_000)
        if cycles is None:
            cycles = -(-throughput_wh // (2 * rated))  # throughput <= (cycles + 1) x rated x 2
        root, opened = commit_soh(b32(unit), soce_bp, min(50_000, rated), cycles, throughput_wh)
        self.soh_openings[soh_vault_id(root)] = opened
        SYNTH_VAULT.kept[soh_vault_id(root)] = opened
        self._emit(
            LEDGER_ADDR,
            "SohRecorded",
            unitId=b32(unit),
            recorder=recorder.address,
            root=bytes.fromhex(root[2:]),
            used=throughput_wh > 0,
        )
        self.mine()

    def openings(self, record_id: str) -> Openings:
        """The openings of an SOH record this synth emitted (what a vault holding them answers)."""
        if record_id not in self.soh_openings:
            raise DisclosureError(f"record {record_id!r} is not in the vault")
        return self.soh_openings[record_id]

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
            lot_id=b32(lot),
            emissions_grams=round(kg * 1000),
            stage=stage,
            methodology="ISO14067:2018",
            evidence=ZERO32,
            issued_at=issued,
            valid_until=issued + valid_for,
            nonce=self.nonce,
            deadline=issued + 86_400,
        )
        signed = sign_attestation(att, signer, CHAIN_ID, GWP_ADDR)
        struct = (
            b32(lot),
            att.emissions_grams,
            stage,
            bytes.fromhex(att.methodology[2:]),
            ZERO32,
            issued,
            att.valid_until,
            att.nonce,
            att.deadline,
        )
        self._emit(
            GWP_ADDR,
            "Attested",
            uid=signed.digest,
            lotId=b32(lot),
            signer=signer.address,
            attestation=struct,
            selfDeclared=self_declared,
            signature=bytes.fromhex(signed.signature[2:]),
        )
        self.mine()
        return signed.digest

    def revoke(self, uid: bytes, revoker: Any) -> None:
        self._emit(GWP_ADDR, "Revoked", uid=uid, revoker=revoker.address, reason=ZERO32)
        self.mine()


# ------------------------------------------------------------------ the reference graph

MINER, REFINER, VERIFIER, OEM, RECYCLER, AUDITOR = (account(i) for i in range(1, 7))


def ni(g: int, post: int = 0) -> Composition:
    return Composition.of({"Ni": g}, post={"Ni": post} if post else None)


def build_reference() -> Synth:
    """The reference story of DESIGN §2 in miniature; every figure is worked out in test_known_answers."""
    s = Synth()
    s.register(MINER, Role.MINER)
    s.register(REFINER, Role.REFINER | Role.CATHODE_MAKER | Role.CELL_MAKER | Role.PACK_ASSEMBLER)
    s.register(VERIFIER, Role.GWP_VERIFIER)
    s.register(OEM, Role.OEM | Role.SECOND_LIFE | Role.DIAGNOSTICIAN)
    s.register(RECYCLER, Role.RECYCLER)
    s.register(AUDITOR, Role.AUDITOR)
    # Mines.
    s.mint(MINER, "ORE-NI", "ORE-NI", 1_000_000, ni(20_000), origin_code("AU", "Ravensthorpe"))
    s.mint(MINER, "ORE-CO", "ORE-CO", 500_000, Composition.of({"Co": 10_000}), origin_code("CD", "Kolwezi"))
    s.mint(MINER, "LI-BRINE", "LI-BRINE", 200_000, Composition.of({"Li": 4_000}), origin_code("CL", "Atacama"))
    s.attest("ORE-NI", 100, 0, VERIFIER)
    s.attest("ORE-CO", 50, 0, VERIFIER)
    s.attest("LI-BRINE", 10, 0, VERIFIER)
    for lot in ("ORE-NI", "ORE-CO", "LI-BRINE"):
        s.transfer(lot, REFINER)
    # Refining: one ore lot into sulphate and slag (multi-output transform).
    s.op(
        OpKind.TRANSFORM, REFINER, [("ORE-NI", 0)], [("NISO4", "NiSO4", 400_000, ni(18_000)), ("SLAG", "SLAG", 600_000, Composition())]
    )
    s.attest("NISO4", 20, 1, VERIFIER)
    # A partial split: 100 kg of the 400 kg, in two parts.
    s.op(
        OpKind.SPLIT, REFINER, [("NISO4", 100_000)], [("NISO4-A", "NiSO4", 60_000, ni(2_700)), ("NISO4-B", "NiSO4", 40_000, ni(1_800))]
    )
    # Purchased sulphate entering the ledger, merged with part A.
    s.mint(REFINER, "NISO4-X", "NiSO4", 40_000, ni(1_800), origin_code("FI", "Harjavalta"))
    s.attest("NISO4-X", 8, 1, VERIFIER)
    s.op(OpKind.MERGE, REFINER, [("NISO4-A", 0), ("NISO4-X", 0)], [("NISO4-M", "NiSO4", 100_000, ni(4_500))])
    # Cathode: the merged sulphate, a fifth of the cobalt ore, all the brine.
    cam = Composition.of({"Ni": 4_500, "Co": 2_000, "Li": 4_000})
    s.op(OpKind.TRANSFORM, REFINER, [("NISO4-M", 0), ("ORE-CO", 100_000), ("LI-BRINE", 0)], [("CAM", "CAM-NMC811", 50_000, cam)])
    s.attest("CAM", 30, 1, VERIFIER)
    # Packs.
    s.op(OpKind.BUILD, REFINER, [("CAM", 0)], [("PACK1", "PACK-60KWH", 50_000, cam)], unit=(60_000, []))
    s.attest("PACK1", 13, 1, VERIFIER)
    s.attest("PACK1", 2, 2, VERIFIER)
    s.mint(REFINER, "CELL2", "CELL-NMC", 30_000, ni(3_000), origin_code("AU", "Kambalda"))
    s.attest("CELL2", 24, 0, VERIFIER)
    s.op(OpKind.BUILD, REFINER, [("CELL2", 0)], [("PACK2", "PACK-40KWH", 30_000, ni(3_000))], unit=(40_000, []))
    s.attest("PACK2", 6, 1, VERIFIER)
    s.transfer("PACK1", OEM)
    s.transfer("PACK2", OEM)
    # First life, reuse, and the ESS built from all of PACK1 and half of PACK2.
    s.soh("PACK1", OEM, 10_000_000, soce_bp=8_500)
    s.status("PACK1", PassportStatus.REUSED)
    s.soh("PACK1", OEM, 14_000_000, soce_bp=7_000)
    s.soh("PACK2", OEM, 8_000_000, soce_bp=6_500)
    s.op(
        OpKind.REPURPOSE,
        OEM,
        [("PACK1", 0), ("PACK2", 15_000)],
        [("ESS1", "ESS-70KWH", 65_000, Composition.of({"Ni": 6_000, "Co": 2_000, "Li": 4_000}))],
        unit=(70_000, ["PACK1", "PACK2"]),
    )
    s.attest("ESS1", 5, 1, VERIFIER)
    s.soh("ESS1", OEM, 6_000_000, soce_bp=9_000)
    # End of life for the rest of PACK2: recycling into two recovered lots.
    s.status("PACK2", PassportStatus.WASTE)
    s.transfer("PACK2", RECYCLER)
    s.op(
        OpKind.RECYCLE,
        RECYCLER,
        [("PACK2", 0)],
        [("REC-NI", "NiSO4", 5_000, ni(1_200, post=1_200)), ("REC-BM", "BLACK-MASS", 8_000, ni(200, post=200))],
    )
    s.attest("REC-NI", 4, 1, VERIFIER)
    s.transfer("REC-NI", REFINER)
    # New cathode with recovered nickel and a third of the remaining fresh sulphate.
    s.op(OpKind.TRANSFORM, REFINER, [("REC-NI", 0), ("NISO4", 100_000)], [("CAM3", "CAM-NMC811", 30_000, ni(5_700, post=1_200))])
    s.attest("CAM3", 7, 1, REFINER, self_declared=True)
    return s
