"""The deployed suite the chain tests share: one Ledger per party on a real node, whatever the engine.

The root conftest starts it on Anvil, tests/nodes/conftest.py on the other development nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import (
    Composition,
    GwpAttestation,
    Ledger,
    LifeCycleStage,
    LotSpec,
    NodeInfo,
    ProcessInventory,
    ProcessRoute,
    Role,
    SignedInventory,
    UnitSpec,
    sign_attestation,
    sign_inventory,
    to_bytes32,
)

#: Grams in a kilogram, and the element content the honest pack path gives its cathode, cells and pack.
KG = 1000
CELL_COMP = Composition.of({"Li": 7 * KG, "Ni": 30 * KG, "Co": 4 * KG, "Mn": 4 * KG})


@dataclass
class Chain:
    """A deployed suite on a test node and one Ledger per party."""

    base: Ledger
    accounts: dict[str, LocalAccount]
    data_dir: Path
    parties: dict[str, Ledger] = field(default_factory=dict)
    node: NodeInfo | None = None

    @property
    def engine(self) -> str:
        """The node's engine: anvil, hardhat or ganache."""
        return self.node.engine if self.node is not None else "anvil"

    def __getitem__(self, name: str) -> Ledger:
        return self.parties[name]

    def addr(self, name: str) -> str:
        return self.accounts[name].address

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.base.rpc(method, params or [])

    def give(self, lot_id: str, frm: str, to: str) -> None:
        """Hand a lot from party `frm` to party `to` (offer, then accept)."""
        self[frm].offer(lot_id, self.addr(to))
        self[to].accept(lot_id)

    def now(self) -> int:
        """The latest block's timestamp."""
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


def deploy_suite(node: NodeInfo, data_dir: Path, parties: dict[str, Role]) -> Chain:
    """Fund a fresh account per party on `node`, deploy the contracts as "admin" and register the rest."""
    base = Ledger.connect(node.rpc_url, data_dir=data_dir)
    accounts = {name: Account.create() for name in parties}
    for acct in accounts.values():
        base.fund(acct.address)
    chain = Chain(base=base, accounts=accounts, data_dir=data_dir, node=node)
    chain.parties = {name: base.with_account(a) for name, a in accounts.items()}
    chain["admin"].deploy()
    for name, roles in parties.items():
        if roles:
            chain["admin"].register(accounts[name].address, roles, name)
    return chain


def relay_attestation(
    ledger: Ledger,
    signer: LocalAccount,
    lot_id: str,
    grams: int,
    *,
    stage: LifeCycleStage = LifeCycleStage.MainProduction,
    nonce: int = 1,
    days: int = 3650,
) -> str:
    """Sign an attestation of `grams` CO2e for `lot_id` with `signer`, issued at the chain's time, and relay it
    through `ledger` (whose deployment it is bound to); return its uid."""
    now = int(ledger.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    att = GwpAttestation(
        lot_id=to_bytes32(lot_id),
        emissions_grams=grams,
        stage=stage,
        methodology="ISO14067:2018",
        evidence=to_bytes32("report"),
        issued_at=now,
        valid_until=now + days * 86_400,
        nonce=nonce,
        deadline=now + 3_600,
    )
    d = ledger.deployment
    assert d is not None
    return ledger.submit_attestation(sign_attestation(att, signer, d.chain_id, d.attestations))


def sign_inventory_for(
    ledger: Ledger,
    signer: LocalAccount,
    lot_id: str,
    *,
    kwh: float,
    renewable: float = 0.0,
    withdrawn_m3: float = 0.0,
    consumed_m3: float = 0.0,
    route: ProcessRoute = ProcessRoute.UNSPECIFIED,
    grade: str = "",
    nonce: int = 1,
    days: int = 3650,
    deadline_s: int = 3_600,
) -> SignedInventory:
    """Sign a process inventory for `lot_id` with `signer`, issued at the chain's time, bound to `ledger`'s deployment."""
    now = int(ledger.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    inv = ProcessInventory(
        lot_id=to_bytes32(lot_id),
        energy_wh=round(kwh * 1000),
        renewable_bps=round(renewable * 10_000),
        water_withdrawn_litres=round(withdrawn_m3 * 1000),
        water_consumed_litres=round(consumed_m3 * 1000),
        route=route,
        grade=grade,
        evidence=to_bytes32("inventory report"),
        issued_at=now,
        valid_until=now + days * 86_400,
        nonce=nonce,
        deadline=now + deadline_s,
    )
    d = ledger.deployment
    assert d is not None
    return sign_inventory(inv, signer, d.chain_id, d.attestations)


def honest_pack(chain: Chain, unit_id: str = "LF001", holder: str = "oem") -> str:
    """The honest path to a pack: a cathode lot, cells made from it by the cell maker, a pack built from them,
    handed to `holder` (parties miner, cells, packs and `holder` of the chain)."""
    cam, cells = f"CAM-{unit_id}", f"CELLS-{unit_id}"
    chain["admin"].grant_roles(chain.addr("miner"), "REFINER")
    chain["miner"].mint(LotSpec(lot_id=cam, material="CAM-NMC811", mass=150 * KG, composition=CELL_COMP))
    chain.give(cam, "miner", "cells")
    chain["cells"].transform([cam], [LotSpec(lot_id=cells, material="CELL-NMC811", mass=300 * KG, composition=CELL_COMP)])
    chain.give(cells, "cells", "packs")
    chain["packs"].build_unit(
        [cells],
        LotSpec(lot_id=unit_id, material="PACK-75KWH", mass=450 * KG, composition=CELL_COMP),
        UnitSpec(serial="SN-" + unit_id, rated_wh=75_000),
    )
    if holder != "packs":
        chain.give(unit_id, "packs", holder)
    return unit_id
