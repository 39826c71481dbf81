#!/usr/bin/env python3
"""The battery reincarnation demo: the whole material loop on a local Anvil this script starts.

Mines and a refinery log lots, precursor and cathode makers transform them, four 75 kWh NMC811
packs (LF001-LF004) are built and driven, diagnosed and sent to their next lives: LF001 is reused,
LF003 + LF004 become the stationary store ESS001, LF002 is recycled, and its recovered nickel,
cobalt, manganese and lithium go into a second-generation cathode and the new pack LF005.
Every step is signed by the party doing it and GWP-attested by an accredited verifier. Three frauds
are tried and stopped. The script ends with a summary, an audit replay, LF005's passport and its
provenance graph under ``demo-output/``.

LF005 goes into a new car, so its passport has a putting-into-service date and a battery condition. What
the ledger cannot hold (manufacturer's address, plant, model, documents, rated values, the BMS read-out,
the Art. 7 functional-unit inputs and performance-class bands) comes from the operators' declarations,
built in ``demo_passport.operator_declarations`` and written beside the passport (``LF005-declarations.json``, the
format ``rinne passport --declarations`` reads). Every company, address, link and rated value in them is
fictional demo data: the example.com links lead nowhere.

Emission figures are illustrative, chosen to land in the published range for cell production
(61-106 kg CO2e/kWh, IVL 2019): roughly ore mining 1-3 kg CO2e per kg metal-bearing ore step,
sulphate refining 5-15 kg CO2e/kg metal, cathode and cell making dominated by calcination and
dry-room electricity. They are not data about any real company.

    python scripts/demo.py [--out demo-output] [--quiet]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo_passport import COMPANIES, IDTA_EXPORT, PACK_WH, PASSPORT_UNITS, serial_of, write_idta_passport, write_passport
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import (
    AttestationError,
    Composition,
    ContractRevert,
    EventIndex,
    GwpAttestation,
    Ledger,
    LedgerError,
    LifeCycleStage,
    LotSpec,
    ProcessInventory,
    ProcessRoute,
    Role,
    SohRecord,
    UnitSpec,
    Use,
    Vault,
    audit,
    commit_evidence,
    contract_abi,
    keccak,
    label_of,
    local_vault,
    origin_code,
    pact_footprint_v3,
    sign_attestation,
    sign_inventory,
    start_node,
    stop_node,
    to_bytes32,
    to_contract_args,
    triage,
)

ROOT = Path(__file__).resolve().parent.parent


def document_hash(text: str) -> str:
    """The content hash of an (illustrative) evidence document: the library commits it salted, never sends it."""
    return "0x" + keccak(text.encode()).hex()


KG = 1_000  # grams
T = 1_000_000
YEAR = 365 * 86_400
#: Modules a pack is taken apart into for its second life (Battery Pass circularity: module-level reuse).
MODULES_PER_PACK = 4

PARTIES: dict[str, tuple[str, Role]] = {
    "mine_au": ("Kambalda & Greenbushes Mining (AU)", Role.MINER),
    "mine_cd": ("Kolwezi Cobalt (CD)", Role.MINER),
    "refiner": ("Kwinana Refinery", Role.REFINER),
    "precursor": ("pCAM Works", Role.PRECURSOR_MAKER),
    "cathode": ("Cathode Materials Co", Role.CATHODE_MAKER),
    "cells": ("Cell Gigafactory", Role.CELL_MAKER),
    "packs": ("Pack Assembly Plant", Role.PACK_ASSEMBLER),
    "oem": ("EV Maker", Role.OEM),
    "second_life": ("Second Life Storage", Role.SECOND_LIFE),
    "diagnostician": ("Battery Diagnostics Lab", Role.DIAGNOSTICIAN),
    "recycler": ("Hydromet Recycling", Role.RECYCLER),
    "verifier": ("Accredited GWP Verifier", Role.GWP_VERIFIER),
    "auditor": ("Regulator Audit Office", Role.AUDITOR),
}


def comp(**kg: float) -> Composition:
    """Element content given in kilograms (rounded to grams)."""
    return Composition.of({e: round(v * KG) for e, v in kg.items()})


@dataclass
class Demo:
    """The running story: parties, their ledgers, and what happened."""

    base: Ledger
    out: Path
    quiet: bool
    keys: dict[str, LocalAccount] = field(default_factory=dict)
    nonce: int = 0
    frauds: list[dict[str, str]] = field(default_factory=list)
    triage: dict[str, str] = field(default_factory=dict)
    txs: int = 0
    #: The authority tier's vault key (a notified body's or market surveillance authority's): every SOH
    #: record's opening is wrapped to its public key, named in the deployment record; the audit opens with it.
    authority_key: bytes = field(default_factory=Vault.new_key)

    def __getitem__(self, name: str) -> Ledger:
        return self.base.with_account(self.keys[name])

    def addr(self, name: str) -> str:
        return self.keys[name].address

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"  {text}", file=sys.stderr)

    def now(self) -> int:
        return int(self.base.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def advance(self, seconds: int) -> None:
        self.base.rpc("evm_increaseTime", [seconds])
        self.base.rpc("evm_mine")

    def give(self, frm: str, lot: str, to: str) -> None:
        self[frm].offer(lot, self.addr(to))
        self[to].accept(lot)

    def report(self, lot: str, kind: str, text: str) -> str:
        """The evidence word of a signed message: the report's hash committed salted, its opening in the vault."""
        word, opened = commit_evidence(kind, to_bytes32(lot), document_hash(text))
        assert self.base.vault is not None
        self.base.vault.put_openings(opened)
        return word

    def attest(self, lot: str, kg_co2e: float, stage: LifeCycleStage, method: str = "ISO14067:2018") -> str:
        """The verifier signs offline; the lot's holder relays it (anyone may)."""
        self.nonce += 1
        now = self.now()
        att = GwpAttestation(
            lot_id=to_bytes32(lot),
            emissions_grams=round(kg_co2e * KG),
            stage=stage,
            methodology=method,
            evidence=self.report(lot, "attestation", f"verification report {lot}"),
            issued_at=now,
            valid_until=now + 25 * YEAR,
            nonce=self.nonce,
            deadline=now + 86_400,
        )
        d = self.base.deployment
        signed = sign_attestation(att, self.keys["verifier"], d.chain_id, d.attestations)
        return self[_holder_name(self, lot)].submit_attestation(signed)

    def inventory(
        self,
        lot: str,
        kwh: float,
        renewable: float,
        withdrawn_m3: float,
        consumed_m3: float,
        route: ProcessRoute = ProcessRoute.UNSPECIFIED,
    ) -> str:
        """The verifier signs a step's process inventory offline (illustrative figures); the lot's holder relays it."""
        self.nonce += 1  # one nonce space with the GWP attestations
        now = self.now()
        inv = ProcessInventory(
            lot_id=to_bytes32(lot),
            energy_wh=round(kwh * 1000),
            renewable_bps=round(renewable * 10_000),
            water_withdrawn_litres=round(withdrawn_m3 * 1000),
            water_consumed_litres=round(consumed_m3 * 1000),
            route=route,
            evidence=self.report(lot, "inventory", f"inventory report {lot}"),
            issued_at=now,
            valid_until=now + 25 * YEAR,
            nonce=self.nonce,
            deadline=now + 86_400,
        )
        d = self.base.deployment
        return self[_holder_name(self, lot)].submit_inventory(sign_inventory(inv, self.keys["verifier"], d.chain_id, d.attestations))


def _holder_name(demo: Demo, lot: str) -> str:
    holder = demo.base.lot(lot, with_composition=False).holder
    return next(n for n, k in demo.keys.items() if k.address == holder)


def use_for(ledger: Ledger, lot_id: str, element: str, grams: int) -> Use:
    """Use just enough of a lot to supply `grams` of `element` (pro rata by mass)."""
    lot = ledger.lot(lot_id)
    have = lot.composition.as_dict()[element]
    mass = -(-lot.mass * grams // have)  # ceiling: the part carries at least `grams`
    return Use(lot_id=lot_id, mass=None if mass >= lot.mass else mass)


# ------------------------------------------------------------------------------- the story


def setup(demo: Demo) -> None:
    admin = Account.create()
    demo.keys["admin"] = admin
    for name in PARTIES:
        demo.keys[name] = Account.create()
    for acct in demo.keys.values():
        demo.base.fund(acct.address)
    d = demo["admin"].deploy(authority_vault_key=Vault.public_key_of(demo.authority_key))
    demo.say(f"deployed RinneLedger {d.ledger} and GwpAttestations {d.attestations} on chain {d.chain_id}")
    for name, (title, role) in PARTIES.items():
        demo["admin"].register(demo.addr(name), role, title)
    demo.say(f"registered {len(PARTIES)} parties")


def mine_and_refine(demo: Demo) -> None:
    au, cd = demo["mine_au"], demo["mine_cd"]
    au.mint(
        LotSpec(
            lot_id="NI-ORE-AU-01",
            material="ORE-NI-SULPHIDE",
            mass=25 * T,
            composition=comp(Ni=350, Co=10),
            origin=origin_code("AU", "Kambalda"),
            document=document_hash("assay NI-ORE-AU-01"),
        )
    )
    au.mint(
        LotSpec(
            lot_id="LI-ORE-AU-01",
            material="SPODUMENE-SC6",
            mass=2_200 * KG,
            composition=comp(Li=61),
            origin=origin_code("AU", "Greenbushes"),
            document=document_hash("assay LI-ORE-AU-01"),
        )
    )
    au.mint(
        LotSpec(
            lot_id="MN-ORE-AU-01",
            material="ORE-MN",
            mass=120 * KG,
            composition=comp(Mn=52),
            origin=origin_code("AU", "Groote Eylandt"),
            document=document_hash("assay MN-ORE-AU-01"),
        )
    )
    cd.mint(
        LotSpec(
            lot_id="CO-ORE-CD-01",
            material="ORE-CU-CO",
            mass=15 * T,
            composition=comp(Co=45, Cu=375),
            origin=origin_code("CD", "Kolwezi"),
            document=document_hash("assay CO-ORE-CD-01"),
        )
    )
    demo["refiner"].mint(
        LotSpec(
            lot_id="GRAPHITE-01",
            material="GRAPHITE-SPHERICAL",
            mass=500 * KG,
            composition=comp(C=480),
            origin=origin_code("CN", "Heilongjiang"),
            document=document_hash("coa GRAPHITE-01"),
        )
    )
    demo.say("mines logged Ni, Li, Mn (AU) and Co (CD) ore lots; the refiner brought in graphite (CN)")
    for lot, kg in (
        ("NI-ORE-AU-01", 2_200),
        ("LI-ORE-AU-01", 1_900),
        ("MN-ORE-AU-01", 60),
        ("CO-ORE-CD-01", 1_300),
        ("GRAPHITE-01", 2_400),
    ):
        demo.attest(lot, kg, LifeCycleStage.RawMaterialAcquisition)
    for lot in ("NI-ORE-AU-01", "LI-ORE-AU-01", "MN-ORE-AU-01"):
        demo.give("mine_au", lot, "refiner")
    demo.give("mine_cd", "CO-ORE-CD-01", "refiner")
    r = demo["refiner"]
    r.transform(["NI-ORE-AU-01"], [LotSpec(lot_id="NISO4-01", material="NiSO4.6H2O", mass=1_525 * KG, composition=comp(Ni=340))])
    r.transform(
        ["CO-ORE-CD-01"],
        [
            LotSpec(lot_id="COSO4-01", material="CoSO4.7H2O", mass=205 * KG, composition=comp(Co=43)),
            LotSpec(lot_id="CU-CATHODE-01", material="CU-CATHODE", mass=370 * KG, composition=comp(Cu=370)),
        ],
    )
    r.transform(["LI-ORE-AU-01"], [LotSpec(lot_id="LI2CO3-01", material="Li2CO3", mass=309 * KG, composition=comp(Li=58))])
    r.transform(["MN-ORE-AU-01"], [LotSpec(lot_id="MNSO4-01", material="MnSO4.H2O", mass=154 * KG, composition=comp(Mn=50))])
    for lot, kg in (("NISO4-01", 3_800), ("COSO4-01", 520), ("CU-CATHODE-01", 450), ("LI2CO3-01", 1_650), ("MNSO4-01", 90)):
        demo.attest(lot, kg, LifeCycleStage.RawMaterialAcquisition)
    # Energy and water of the refining steps (issue 19; illustrative figures), shared by their outputs like CO2e.
    for lot, kwh, ren, wd, wc in (
        ("NISO4-01", 5_200, 0.3, 60, 15),
        ("COSO4-01", 1_400, 0.3, 18, 5),
        ("LI2CO3-01", 7_800, 0.2, 95, 40),
    ):
        demo.inventory(lot, kwh, ren, wd, wc, ProcessRoute.HYDROMETALLURGY)
    demo.say("refined NiSO4, CoSO4, MnSO4 and Li2CO3 (copper cathode as by-product)")
    for lot in ("NISO4-01", "COSO4-01", "MNSO4-01"):
        demo.give("refiner", lot, "precursor")
    demo.give("refiner", "LI2CO3-01", "cathode")
    demo.give("refiner", "GRAPHITE-01", "cells")


def make_cathode(demo: Demo, gen: int, ni: float, co: float, mn: float, li: float, recovered: list[str]) -> str:
    """Co-precipitate a precursor, calcine it with Li2CO3 into NMC811; return the CAM lot id."""
    p, c = demo["precursor"], demo["cathode"]
    g = f"{gen:02d}"
    inputs = [Use(lot_id=x) for x in recovered if not x.startswith("R-LI")]
    have = {e: sum(p.lot(u.lot_id).composition.as_dict().get(e, 0) for u in inputs) for e in ("Ni", "Co", "Mn")}
    for element, lot, need in (("Ni", "NISO4-01", ni), ("Co", "COSO4-01", co), ("Mn", "MNSO4-01", mn)):
        top_up = round(need * KG) - have[element] + 200  # a little extra for process loss
        if top_up > 0:
            inputs.append(use_for(p, lot, element, top_up))
    pcam = LotSpec(
        lot_id=f"PCAM-{g}", material="pCAM-NMC811-OH2", mass=round((ni + co + mn) * 1.57 * KG), composition=comp(Ni=ni, Co=co, Mn=mn)
    )
    pcam = pcam.model_copy(update={"composition": _recycled_share(p, inputs, pcam.composition)})
    p.transform(inputs, [pcam])
    demo.attest(pcam.lot_id, 95 * (ni + co + mn) / 10, LifeCycleStage.MainProduction)
    demo.give("precursor", pcam.lot_id, "cathode")
    li_inputs = [Use(lot_id=x) for x in recovered if x.startswith("R-LI")]
    li_have = sum(c.lot(u.lot_id).composition.as_dict().get("Li", 0) for u in li_inputs)
    if round(li * KG) - li_have + 100 > 0:
        li_inputs.append(use_for(c, "LI2CO3-01", "Li", round(li * KG) - li_have + 100))
    cam_comp = comp(Li=li, Ni=ni, Co=co, Mn=mn)
    cam_inputs = [Use(lot_id=pcam.lot_id), *li_inputs]
    cam = LotSpec(
        lot_id=f"CAM-{g}",
        material="CAM-NMC811",
        mass=round(cam_comp.element_mass * 1.6),
        composition=_recycled_share(c, cam_inputs, cam_comp),
    )
    c.transform(cam_inputs, [cam])
    demo.attest(cam.lot_id, 140 * (ni + co + mn + li) / 10, LifeCycleStage.MainProduction)
    demo.give("cathode", cam.lot_id, "cells")
    return cam.lot_id


def _recycled_share(ledger: Ledger, uses: list[Use], out: Composition) -> Composition:
    """Give the output its inputs' recycled share of each element (ISO 22095 controlled blending, rounded down)."""
    return sum(ledger.compositions_of(uses), Composition()).blend(out.total)


def make_packs(demo: Demo, cam: str, packs: list[str], spare: int = 0) -> None:
    """Cells from CAM + graphite, then one pack per cell lot."""
    cl = demo["cells"]
    cam_lot = cl.lot(cam)
    n = len(packs) + spare
    shares = cam_lot.composition.divide([cam_lot.mass // n] * (n - 1) + [cam_lot.mass - (cam_lot.mass // n) * (n - 1)], cam_lot.mass)
    graphite = use_for(cl, "GRAPHITE-01", "C", 70 * KG * n)
    given = sum(cl.compositions_of([Use(lot_id=cam), graphite]), Composition())
    outputs = []
    for k in range(n):
        label = f"CELLS-{packs[k][2:]}" if k < len(packs) else f"CELLS-SPARE-{cam[-2:]}"
        # Each cell lot at the inputs' recycled share of each element (ISO 22095 controlled blending).
        c = given.blend((shares[k] + comp(C=70)).total)
        outputs.append(LotSpec(lot_id=label, material="CELL-NMC811-PRISMATIC", mass=c.element_mass + 150 * KG, composition=c))
    cl.transform([Use(lot_id=cam), graphite], outputs)
    for o in outputs:
        demo.attest(o.lot_id, 1_650, LifeCycleStage.MainProduction)
        demo.inventory(o.lot_id, 3_900, 0.6, 25, 10)  # cell making: formation and dry rooms
    for pack, cells in zip(packs, outputs):
        demo.give("cells", cells.lot_id, "packs")
        demo["packs"].build_unit(
            [cells.lot_id],
            LotSpec(lot_id=pack, material="PACK-NMC811-75KWH", mass=450 * KG, composition=cells.composition),
            UnitSpec(serial=serial_of(pack), rated_wh=PACK_WH),
        )
        demo.attest(pack, 180, LifeCycleStage.MainProduction)
        demo.attest(pack, 45, LifeCycleStage.Distribution, "GLEC-v3")
        demo.give("packs", pack, "oem")
    demo.say(f"built {', '.join(packs)} ({PACK_WH // 1000} kWh each) and delivered them to the OEM")


def first_life(demo: Demo) -> None:
    soce = {"LF001": 8_900, "LF002": 5_600, "LF003": 7_400, "LF004": 7_100}
    for pack in soce:  # only the holder, or a diagnostician it authorised for the unit, records its SOH
        demo["oem"].authorise_diagnostician(pack, demo.addr("diagnostician"))
    for year in range(1, 6):
        demo.advance(YEAR)
        for pack, final in soce.items():
            s = 10_000 - (10_000 - final) * year // 5
            cycles = 300 * year
            demo["diagnostician"].record_soh(
                pack,
                SohRecord(
                    soce_bp=s,
                    capacity_wh=PACK_WH * s // 10_000,
                    cycles=cycles,
                    throughput_wh=cycles * 70_000,
                    document=document_hash(f"diagnosis {pack} y{year}"),
                ),
            )
    demo.say("five years on the road: SOH recorded yearly by the diagnostics lab")


def next_lives(demo: Demo) -> None:
    for pack in ("LF001", "LF002", "LF003", "LF004"):
        u = demo.base.unit(pack)
        # The latest record's values, from the opening the lab's records left in the vault, verified against
        # the root on-chain (the chain itself shows no SOH value).
        latest = demo.base.soh(pack)
        assert latest is not None, f"no verified SOH record of {pack}"
        decision = triage(latest, current_status=u.status)
        demo.triage[pack] = decision.recommendation
        if decision.status is not None:
            demo["oem"].set_status(pack, decision.status, document=document_hash(f"triage {pack}"))
    demo.say("triage: " + ", ".join(f"{p} {r}" for p, r in demo.triage.items()))
    # Reuse: LF001 goes on in a second vehicle.
    for year in range(6, 10):
        demo.advance(YEAR)
        s = 8_900 - 150 * (year - 5)
        cycles = 1_500 + 250 * (year - 5)
        demo["diagnostician"].record_soh(
            "LF001",
            SohRecord(
                soce_bp=s,
                capacity_wh=PACK_WH * s // 10_000,
                cycles=cycles,
                throughput_wh=cycles * 68_000,
                document=document_hash(f"diagnosis LF001 y{year}"),
            ),
        )
    # Repurpose: LF003 and LF004 are taken apart into four modules each (each module a unit with its own
    # passport linked to its pack; the 10 kg of housing and wiring carry no tracked element), and their eight
    # modules become ESS001.
    sl = demo["second_life"]
    modules: list[str] = []
    for pack in ("LF003", "LF004"):
        demo.give("oem", pack, "second_life")
        ids = [f"{pack}-M{k}" for k in range(1, MODULES_PER_PACK + 1)]
        lots = sl.module_lots(pack, [(m, 110 * KG) for m in ids], "MODULE-NMC811-18KWH")
        sl.dismantle(pack, lots, [UnitSpec(serial=f"SN-{m}-2026", rated_wh=PACK_WH // MODULES_PER_PACK) for m in ids])
        for m in ids:
            demo.attest(m, 1.5, LifeCycleStage.EndOfLife)  # the dismantling, per module
        modules += ids
    ess_comp = sum(sl.compositions_of([Use(lot_id=m) for m in modules]), Composition())
    sl.repurpose(
        modules,
        LotSpec(lot_id="ESS001", material="ESS-NMC811-110KWH", mass=1_050 * KG, composition=ess_comp),
        UnitSpec(serial="SN-ESS001-2031", rated_wh=110_000),
    )
    demo.attest("ESS001", 120, LifeCycleStage.MainProduction)
    sl.authorise_diagnostician("ESS001", demo.addr("diagnostician"))
    for year in range(1, 9):
        demo.advance(YEAR // 2)
        s = 7_200 - 120 * year
        demo["diagnostician"].record_soh(
            "ESS001",
            SohRecord(
                soce_bp=s,
                capacity_wh=110_000 * s // 10_000,
                cycles=180 * year,
                throughput_wh=180 * year * 80_000,
                document=document_hash(f"diagnosis ESS001 h{year}"),
            ),
        )
    demo.say(
        f"LF001 reused in a second vehicle; LF003 + LF004 taken apart into {len(modules)} modules, repurposed into ESS001 (110 kWh stationary)"
    )


def recycle(demo: Demo) -> list[str]:
    demo.give("oem", "LF002", "recycler")
    rc = demo["recycler"]
    pack = rc.lot("LF002")
    t = pack.composition.as_dict()
    bm = comp(Li=t["Li"] * 0.96 / KG, Ni=t["Ni"] * 0.98 / KG, Co=t["Co"] * 0.98 / KG, Mn=t["Mn"] * 0.97 / KG, C=t["C"] * 0.9 / KG)
    rc.recycle(
        "LF002",
        [
            LotSpec(
                lot_id="BLACK-MASS-01",
                material="BLACK-MASS-NMC",
                mass=round(bm.element_mass * 1.45),
                composition=bm,
                origin=origin_code("DE", "Hydromet plant"),
            )
        ],
    )
    demo.attest("BLACK-MASS-01", 210, LifeCycleStage.RawMaterialAcquisition, "EU-BATT-CFB-2024")
    b = bm.as_dict()
    recovered = [
        LotSpec(
            lot_id="R-NISO4-01", material="NiSO4.6H2O", mass=round(b["Ni"] * 0.96 / 0.223), composition=comp(Ni=b["Ni"] * 0.96 / KG)
        ),
        LotSpec(
            lot_id="R-COSO4-01", material="CoSO4.7H2O", mass=round(b["Co"] * 0.96 / 0.21), composition=comp(Co=b["Co"] * 0.96 / KG)
        ),
        LotSpec(
            lot_id="R-MNSO4-01", material="MnSO4.H2O", mass=round(b["Mn"] * 0.92 / 0.325), composition=comp(Mn=b["Mn"] * 0.92 / KG)
        ),
        LotSpec(
            lot_id="R-LI2CO3-01", material="Li2CO3", mass=round(b["Li"] * 0.88 / 0.1875), composition=comp(Li=b["Li"] * 0.88 / KG)
        ),
    ]
    recovered = [r.model_copy(update={"composition": r.composition.all_post_consumer()}) for r in recovered]
    rc.transform(["BLACK-MASS-01"], recovered)
    for r, kg in zip(recovered, (420, 60, 25, 240)):
        demo.attest(label_of(r.lot_id), kg, LifeCycleStage.RawMaterialAcquisition, "EU-BATT-CFB-2024")
    # One inventory for the leaching step, attested on one output and shared by all four (methodology §10).
    demo.inventory("R-NISO4-01", 2_400, 0.5, 30, 12, ProcessRoute.HYDROMETALLURGY)
    labels = [label_of(r.lot_id) for r in recovered]
    for label in labels:
        demo.give("recycler", label, "cathode" if label.startswith("R-LI") else "precursor")
    demo.say("LF002 recycled: black mass, then recovered NiSO4, CoSO4, MnSO4 and Li2CO3 (post-consumer)")
    return labels


def second_generation_in_service(demo: Demo) -> None:
    """LF005 goes into a new car: a quarter later the lab reads it. That first in-use record is the
    passport's putting-into-service date and its battery condition (both are the ledger's, not declared)."""
    demo["oem"].authorise_diagnostician("LF005", demo.addr("diagnostician"))
    demo.advance(YEAR // 4)
    cycles = 75
    demo["diagnostician"].record_soh(
        "LF005",
        SohRecord(
            soce_bp=9_960,
            capacity_wh=PACK_WH * 9_960 // 10_000,
            cycles=cycles,
            throughput_wh=cycles * 70_000,
            document=document_hash("diagnosis LF005 q1"),
        ),
    )
    demo.say("LF005 in service in a new car: first diagnosis recorded after a quarter")


def frauds(demo: Demo) -> None:
    """Three frauds, each stopped: by the contract, by the library, or by both."""
    d = demo.base.deployment
    try:
        demo["refiner"].transform(
            ["NI-ORE-AU-01"], [LotSpec(lot_id="NISO4-FAKE", material="NiSO4.6H2O", mass=1_000 * KG, composition=comp(Ni=200))]
        )
        stopped = "NOT STOPPED"
    except ContractRevert as exc:
        stopped = exc.error_name
    demo.frauds.append({"fraud": "spend the consumed ore lot NI-ORE-AU-01 a second time", "stopped_by": stopped})
    rogue = Account.create()
    now = demo.now()
    fake = GwpAttestation(
        lot_id=to_bytes32("LF001"),
        emissions_grams=1,
        stage=LifeCycleStage.MainProduction,
        methodology="ISO14067:2018",
        evidence=to_bytes32("none"),
        issued_at=now - 60,
        valid_until=now + YEAR,
        nonce=1,
        deadline=now + 3600,
    )
    try:
        demo["oem"].submit_attestation(sign_attestation(fake, rogue, d.chain_id, d.attestations))
        stopped = "NOT STOPPED"
    except ContractRevert as exc:
        stopped = exc.error_name
    demo.frauds.append({"fraud": "a 1 g CO2e attestation for LF001 signed by an unaccredited key", "stopped_by": stopped})
    staging = Ledger(demo.base.w3, demo.base.chain_id, account=demo.keys["admin"], data_dir=demo.out / "staging")
    other = staging.deploy(record=False)
    genuine = GwpAttestation(
        lot_id=to_bytes32("LF005"),
        emissions_grams=100 * KG,
        stage=LifeCycleStage.MainProduction,
        methodology="ISO14067:2018",
        evidence=to_bytes32("staging"),
        issued_at=now - 60,
        valid_until=now + YEAR,
        nonce=99,
        deadline=now + 3600,
    )
    replay = sign_attestation(genuine, demo.keys["verifier"], other.chain_id, other.attestations)
    stops = []
    try:
        demo["oem"].submit_attestation(replay)
    except AttestationError:
        stops.append("library (domain mismatch)")
    try:
        # Past the library's check: straight to the contract, which must refuse it on its own.
        demo["oem"].send_raw(d.attestations, contract_abi("GwpAttestations").fn("attest").encode(*to_contract_args(replay)))
    except ContractRevert as exc:
        stops.append(f"contract ({exc.error_name})")
    demo.frauds.append(
        {"fraud": "replay an attestation signed for another deployment", "stopped_by": " and ".join(stops) or "NOT STOPPED"}
    )
    for f in demo.frauds:
        demo.say(f"fraud tried: {f['fraud']} -> stopped by {f['stopped_by']}")


# ------------------------------------------------------------------------------- results


def results(demo: Demo) -> dict[str, Any]:
    import ledger as provenance

    index = EventIndex.open(demo.out / "index.sqlite")
    # The authority's audit: with its vault key it opens every SOH record and re-checks the bounds.
    authority = Vault(demo.out / "home" / "vault", demo.authority_key)
    report = audit(demo.base, index, soh_openings=authority)
    (demo.out / "audit.json").write_text(report.to_json())
    (demo.out / "audit.html").write_text(report.to_html())
    summary: dict[str, Any] = {
        "chain_id": demo.base.chain_id,
        "ledger": demo.base.deployment.ledger,
        "units": {},
        "frauds": demo.frauds,
        "triage": demo.triage,
    }
    for unit in ("LF001", "LF002", "LF003", "LF004", "LF005", "ESS001"):
        fp = provenance.footprint(index, unit)
        rc = provenance.recycled_content(index, unit)
        om = provenance.origin_mix(index, unit)
        entry = {
            "kg_co2e": round(fp.kg_co2e, 1),
            "kg_co2e_per_kwh": round(fp.per_kwh.kg_co2e_per_kwh, 1) if fp.per_kwh else None,
            "stages_per_kwh": {k: round(v, 2) for k, v in (fp.per_kwh.stages.items() if fp.per_kwh else {})},
            "assurance": fp.assurance,
            "recycled": {e.element: round(e.recycled_share or 0.0, 4) for e in rc.elements if e.element in ("Li", "Ni", "Co", "Mn")},
            "targets_met": {str(k): v for k, v in rc.meets.items()},
            "origin": {e: {c: round(s, 3) for c, s in om.shares.get(e, {}).items()} for e in ("Li", "Ni", "Co", "Mn")},
            # Herfindahl-Hirschman index of the mined part per element (docs/methodology.md §9).
            "supply_hhi": {e: round(om.concentration[e].hhi) for e in ("Li", "Ni", "Co", "Mn") if e in om.concentration},
        }
        pi = provenance.process_inventory(index, unit)
        entry["inventory"] = {
            "energy_kwh": round(pi.energy_kwh),
            "renewable_share": round(pi.renewable_share, 3) if pi.renewable_share is not None else None,
            "water_consumed_m3": round(pi.water_consumed_m3, 2),
            "kwh_per_rated_kwh": round(pi.per_kwh.energy_kwh_per_kwh, 1) if pi.per_kwh else None,
            "assurance": pi.assurance,
        }
        if unit in ("LF001", "ESS001"):
            lc = provenance.lifetime_carbon(index, unit, openings=demo.base)
            assert lc.delivered_kwh is not None, f"the SOH records of {unit} do not open"
            entry["lifetime"] = {
                "delivered_kwh": round(lc.delivered_kwh),
                "kg_co2e_per_kwh_delivered": round(lc.kg_co2e_per_kwh_delivered, 3) if lc.kg_co2e_per_kwh_delivered else None,
                "lives_kwh": {k: round(v) for k, v in lc.lives.items()},
                "series": [
                    (p.timestamp, round(p.delivered_kwh), round(p.kg_co2e_per_kwh, 3) if p.kg_co2e_per_kwh else None)
                    for p in lc.series
                ],
            }
        summary["units"][unit] = entry
    tr = provenance.trace(index, "LF005", direction="up")
    (demo.out / "LF005-provenance.html").write_text(tr.to_html())
    (demo.out / "LF005-provenance.dot").write_text(tr.to_dot())
    for unit in PASSPORT_UNITS:
        decl = write_passport(demo, index, unit)
        if IDTA_EXPORT:
            write_idta_passport(demo, index, unit, decl)
    d = demo.base.deployment
    # The cathode maker made CAM-02 and is the footprint's data owner; its name is declared, like any party's.
    pact = pact_footprint_v3(
        index, "CAM-02", company_name=COMPANIES["cathode"]["contactName"], chain_id=d.chain_id, ledger_address=d.ledger
    )
    (demo.out / "CAM-02-pact.json").write_text(json.dumps(pact, indent=2))
    summary["audit"] = {
        "passed": report.passed,
        "strict_passed": report.strict_passed,
        "events": report.events,
        "flags": [f.code for f in report.flags],
        "claims": report.claim_counts(),
        "seconds": round(report.seconds, 2),
        "soh_records_opened": report.soh_records_opened,
    }
    summary["mines_of_LF005"] = sorted({m.label for m in tr.mines})
    summary["grades"] = {}
    for lot in ("NISO4-01", "LI2CO3-01", "R-LI2CO3-01", "BLACK-MASS-01"):
        g = provenance.lot_grade(index, lot)
        summary["grades"][lot] = None if g is None else {"grade": g.grade, "basis": g.basis, "purity": g.purity}
    # Yields of the refining, the recycling and the recycler's leaching (issue 19), and the recycler's
    # Annex XII figures over the whole demo.
    summary["yields"] = {}
    for lot in ("NISO4-01", "BLACK-MASS-01", "R-NISO4-01"):
        y = provenance.operation_yields(index, lot)
        if y is not None:
            summary["yields"][lot] = {"operation": y.operation, "yields": y.yields}
    st = index.state()
    rr = provenance.recycling_report(st, demo.addr("recycler"), start=0, end=index.chain_timestamp or st.last_timestamp)
    summary["recycler"] = {
        "units": rr.units,
        "recycling_efficiency": rr.recycling_efficiency,
        "recovery": rr.recovery,
        "targets": [[t.what, t.deadline, t.met] for t in rr.targets],
    }
    index.close()
    return summary


def print_summary(s: dict[str, Any], seconds: float, out: Path) -> None:
    p = print
    p(f"Rinne battery reincarnation demo: chain {s['chain_id']}, ledger {s['ledger']}")
    p("")
    p(
        f"{'unit':8} {'kgCO2e/kWh':>10} {'raw':>7} {'prod':>7} {'dist':>6} {'EoL':>6}  {'recycled Li/Ni/Co/Mn':22} {'Art.8 2031/2036':16} assurance"
    )
    for unit, e in s["units"].items():
        st = e["stages_per_kwh"]
        rec = "/".join(f"{100 * e['recycled'].get(x, 0):.0f}%" for x in ("Li", "Ni", "Co", "Mn"))
        tm = e["targets_met"]
        met = "/".join({True: "met", False: "missed", None: "n/a"}[tm.get(y)] for y in ("2031", "2036"))
        p(
            f"{unit:8} {e['kg_co2e_per_kwh'] or 0:>10.1f} {st.get('raw_material_acquisition', 0):>7.1f} {st.get('main_production', 0):>7.1f} {st.get('distribution', 0):>6.1f} {st.get('end_of_life', 0):>6.1f}  {rec:22} {met:16} {e['assurance']}"
        )
    p("")
    p(
        "origin of LF005's metals: "
        + "; ".join(
            f"{el} " + ", ".join(f"{c} {100 * v:.0f}%" for c, v in sorted(m.items(), key=lambda kv: -kv[1]))
            for el, m in s["units"]["LF005"]["origin"].items()
        )
    )
    p(
        "supply concentration of LF005's mined metals (HHI, 10,000 = one country): "
        + ", ".join(f"{el} {hhi:,}" for el, hhi in s["units"]["LF005"]["supply_hhi"].items())
    )
    p("LF005 traces back to: " + ", ".join(s["mines_of_LF005"]))
    p("")
    for unit in ("LF005", "ESS001"):
        iv = s["units"][unit]["inventory"]
        share = f"{100 * iv['renewable_share']:.0f}% renewable" if iv["renewable_share"] is not None else "no energy counted"
        p(
            f"{unit}: {iv['energy_kwh']:,} kWh cradle-to-gate ({share}, {iv['kwh_per_rated_kwh']} kWh per rated kWh), "
            f"{iv['water_consumed_m3']} m³ water consumed; inventory assurance {iv['assurance']}"
        )
    grades = []
    for lot, g in s["grades"].items():
        if g is None:
            grades.append(f"{lot} none (its material does not say what it is, and no grade is attested)")
        else:
            purity = f", purity {100 * g['purity']:.2f}%" if g["purity"] is not None else ""
            grades.append(f"{lot} {g['grade'] or 'below grade'} ({g['basis']}{purity})")
    p("grades: " + "; ".join(grades))
    for lot, y in s["yields"].items():
        p(f"yield of the {y['operation']} that made {lot}: " + ", ".join(f"{e} {100 * v:.1f}%" for e, v in y["yields"].items()))
    r = s["recycler"]
    eff = f"{100 * r['recycling_efficiency']:.0f}%" if r["recycling_efficiency"] is not None else "n/a"
    p(
        f"recycler ({', '.join(r['units']) or 'no units'}): recycling efficiency {eff}; recovery "
        + ", ".join(f"{e} {100 * v:.1f}%" for e, v in r["recovery"].items())
        + "; Annex XII: "
        + ", ".join(f"{what} by {when} {'met' if met else 'missed' if met is False else 'n/a'}" for what, when, met in r["targets"])
    )
    p("")
    for unit in ("LF001", "ESS001"):
        lt = s["units"][unit]["lifetime"]
        series = [x for x in lt["series"] if x[2] is not None]
        steps = " -> ".join(f"{x[2]:.3f}" for x in series[:: max(1, len(series) // 6)])
        p(
            f"{unit}: embodied kg CO2e per delivered kWh falls {steps} (now {lt['kg_co2e_per_kwh_delivered']}, {lt['delivered_kwh']:,} kWh over lives {lt['lives_kwh']})"
        )
    p("")
    for f in s["frauds"]:
        p(f"fraud: {f['fraud']}: stopped by {f['stopped_by']}")
    a = s["audit"]
    p("")
    claims = ", ".join(f"{n} {level}" for level, n in a["claims"].items()) or "none"
    p(
        f"audit replay: {'PASSED' if a['passed'] else 'FAILED ' + ', '.join(a['flags'])} ({a['events']} events, {a['seconds']} s); "
        f"claims of live units and end lots: {claims}"
    )
    p(f"files: {out}/audit.html, audit.json, LF005-passport.json (+ .html), LF005-provenance.html, CAM-02-pact.json")
    p(f"whole run: {seconds:.1f} s")


def run(out: Path, *, quiet: bool = False) -> dict[str, Any]:
    """Play the whole story on a fresh local Anvil and return the summary (also written to summary.json)."""
    t0 = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    home = out / "home"
    node = start_node(home)
    try:
        base = Ledger.connect(node.rpc_url, data_dir=home)
        # Serials, sites and names go on-chain as salted commitments; their openings are kept here.
        base.use_vault(local_vault(home))
        demo = Demo(base=base, out=out, quiet=quiet)
        setup(demo)
        mine_and_refine(demo)
        cam1 = make_cathode(demo, 1, ni=230.4, co=28.8, mn=26.8, li=34.4, recovered=[])
        make_packs(demo, cam1, ["LF001", "LF002", "LF003", "LF004"])
        first_life(demo)
        next_lives(demo)
        recovered = recycle(demo)
        cam2 = make_cathode(demo, 2, ni=115.2, co=14.4, mn=13.4, li=17.2, recovered=recovered)
        make_packs(demo, cam2, ["LF005"], spare=1)
        second_generation_in_service(demo)
        frauds(demo)
        summary = results(demo)
    finally:
        stop_node(home)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output", help="where to write reports (default: demo-output/)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args()
    t0 = time.perf_counter()
    try:
        summary = run(args.out, quiet=args.quiet)
    except LedgerError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print_summary(summary, time.perf_counter() - t0, args.out)
    return 0 if summary["audit"]["passed"] and all("NOT" not in f["stopped_by"] for f in summary["frauds"]) else 1


if __name__ == "__main__":
    sys.exit(main())
