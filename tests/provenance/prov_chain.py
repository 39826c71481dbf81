"""Helpers for the Anvil tests: a fresh node and deployment, funded participants, a small story."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from ledger.attest.eip712 import sign_attestation
from ledger.attest.records import GwpAttestation
from ledger.chain import node as _node
from ledger.chain.rpc import call
from ledger.client.inputs import Use
from ledger.client.ledger import Ledger
from ledger.domain.composition import Composition
from ledger.domain.enums import PassportStatus, Role
from ledger.domain.ids import origin_code
from ledger.domain.models import LotSpec, SohRecord, UnitSpec
from ledger.local.vault import local_vault


@dataclass
class World:
    """A deployed ledger with one account per role."""

    admin: Ledger
    miner: Ledger
    refiner: Ledger
    verifier: Ledger
    oem: Ledger
    recycler: Ledger
    auditor: Ledger
    node: Any
    data_dir: Path

    def now(self) -> int:
        return int(call(self.admin.w3, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def attest(
        self,
        lot: str,
        kg: float,
        stage: int,
        signer: Ledger | None = None,
        *,
        issued_at: int | None = None,
        valid_for: int = 10 * 365 * 86_400,
    ) -> str:
        signer = signer or self.verifier
        now = self.now()
        issued = now if issued_at is None else issued_at
        att = GwpAttestation(
            lot_id=Ledger_b32(lot),
            emissions_grams=round(kg * 1000),
            stage=stage,
            methodology="ISO14067:2018",
            evidence="0x" + "00" * 32,
            issued_at=issued,
            valid_until=issued + valid_for,
            nonce=secrets.randbits(64),
            deadline=now + 86_400,
        )
        d = self.admin.deployment
        signed = sign_attestation(att, signer.account, self.admin.chain_id, d.attestations)
        return self.admin.submit_attestation(signed)


def Ledger_b32(label: str) -> str:
    from ledger.domain.ids import to_bytes32

    return to_bytes32(label)


def start_world(tmp: Path) -> World:
    node = _node.start(tmp, persist=False)
    keys = [Account.create() for _ in range(7)]
    base = Ledger.connect(node.rpc_url, data_dir=tmp)
    base.use_vault(local_vault(tmp))  # the openings of salted serials, sites and names, for `rinne serve` to read
    for k in keys:
        base.fund(k.address)
    admin = base.with_account(keys[0])
    admin.deploy()
    ledgers = [admin.with_account(k) for k in keys]
    roles = [
        None,
        Role.MINER,
        Role.REFINER | Role.CATHODE_MAKER | Role.CELL_MAKER | Role.PACK_ASSEMBLER,
        Role.GWP_VERIFIER,
        Role.OEM | Role.SECOND_LIFE | Role.DIAGNOSTICIAN,
        Role.RECYCLER | Role.REFINER,
        Role.AUDITOR,
    ]
    names = ["admin", "miner", "refiner", "verifier", "oem", "recycler", "auditor"]
    for led, role, name in zip(ledgers[1:], roles[1:], names[1:]):
        admin.register(led.address, role, name)
    return World(*ledgers, node=node, data_dir=tmp)


def stop_world(w: World) -> None:
    _node.stop(w.data_dir)


def give(w: World, src: Ledger, dst: Ledger, lot: str) -> None:
    src.offer(lot, dst.address)
    dst.accept(lot)


def story(w: World) -> None:
    """Mine → refine → cathode → pack → use → ESS (two parents) → recycling, with attestations."""
    w.miner.mint(
        LotSpec(
            lot_id="ORE-NI",
            material="ORE-NI",
            mass=1_000_000,
            composition=Composition.of({"Ni": 20_000}),
            origin=origin_code("AU", "Ravensthorpe"),
        )
    )
    w.miner.mint(
        LotSpec(
            lot_id="ORE-CO",
            material="ORE-CO",
            mass=500_000,
            composition=Composition.of({"Co": 10_000}),
            origin=origin_code("CD", "Kolwezi"),
        )
    )
    w.attest("ORE-NI", 100, 0)
    w.attest("ORE-CO", 50, 0)
    give(w, w.miner, w.refiner, "ORE-NI")
    give(w, w.miner, w.refiner, "ORE-CO")
    w.refiner.transform(
        ["ORE-NI"],
        [
            LotSpec(lot_id="NISO4", material="NiSO4", mass=400_000, composition=Composition.of({"Ni": 18_000})),
            LotSpec(lot_id="SLAG", material="SLAG", mass=600_000),
        ],
    )
    w.attest("NISO4", 20, 1)
    w.refiner.split("NISO4", [("NISO4-A", 60_000), ("NISO4-B", 40_000)])
    cam = Composition.of({"Ni": 2_700, "Co": 2_000})
    w.refiner.transform(
        ["NISO4-A", Use(lot_id="ORE-CO", mass=100_000)], [LotSpec(lot_id="CAM", material="CAM-NMC811", mass=50_000, composition=cam)]
    )
    w.attest("CAM", 30, 1)
    w.refiner.build_unit(
        ["CAM"], LotSpec(lot_id="PACK1", material="PACK-60KWH", mass=50_000, composition=cam), UnitSpec(serial="SN-1", rated_wh=60_000)
    )
    w.attest("PACK1", 15, 1)
    w.refiner.build_unit(
        ["NISO4-B"],
        LotSpec(lot_id="PACK2", material="PACK-40KWH", mass=40_000, composition=Composition.of({"Ni": 1_800})),
        UnitSpec(serial="SN-2", rated_wh=40_000),
    )
    give(w, w.refiner, w.oem, "PACK1")
    give(w, w.refiner, w.oem, "PACK2")
    # SOH counters are bounded per elapsed day (class 4): a year of use passes before the first records.
    call(w.oem.w3, "evm_increaseTime", [365 * 86_400])
    w.oem.record_soh("PACK1", SohRecord(soce_bp=8_500, capacity_wh=51_000, cycles=500, throughput_wh=10_000_000))
    w.oem.set_status("PACK1", PassportStatus.REUSED)
    w.oem.record_soh("PACK2", SohRecord(soce_bp=7_000, capacity_wh=28_000, cycles=900, throughput_wh=8_000_000))
    w.oem.repurpose(
        ["PACK1", Use(lot_id="PACK2", mass=20_000)],
        LotSpec(lot_id="ESS1", material="ESS-80KWH", mass=70_000, composition=Composition.of({"Ni": 2_700 + 900, "Co": 2_000})),
        UnitSpec(serial="ESS-1", rated_wh=80_000),
    )
    call(w.oem.w3, "evm_increaseTime", [30 * 86_400])
    w.oem.record_soh("ESS1", SohRecord(soce_bp=9_500, capacity_wh=76_000, cycles=10, throughput_wh=1_000_000))
    w.oem.set_status("PACK2", PassportStatus.WASTE)
    give(w, w.oem, w.recycler, "PACK2")
    w.recycler.recycle(
        "PACK2",
        [
            LotSpec(lot_id="REC-NI", material="NiSO4", mass=5_000, composition=Composition.of({"Ni": 800})),
            LotSpec(lot_id="REC-BM", material="BLACK-MASS", mass=6_000, composition=Composition.of({"Ni": 100})),
        ],
    )
    w.attest("REC-NI", 4, 1)
