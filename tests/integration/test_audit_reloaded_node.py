"""An audit of a chain whose node was restarted from its state dump (the demo's reopened chain, `rinne
node start` after a stop): Anvil then has no state of the old blocks, and the signer-code check of every
attestation at its relay block must not fail the audit for it."""

from __future__ import annotations

import pytest
from chain_support import relay_attestation
from eth_account import Account

from ledger import (
    Composition,
    EventIndex,
    Ledger,
    LifeCycleStage,
    LotSpec,
    Role,
    audit,
    start_node,
    stop_node,
)

pytestmark = pytest.mark.chain


def test_audit_after_the_node_reloaded_its_state(tmp_path):
    home = tmp_path / "home"
    info = start_node(home, persist=True)
    try:
        base = Ledger.connect(info.rpc_url, data_dir=home)
        admin, miner, verifier = Account.create(), Account.create(), Account.create()
        for a in (admin, miner, verifier):
            base.fund(a.address)
        boss = base.with_account(admin)
        boss.deploy()
        boss.register(miner.address, Role.MINER, "miner")
        boss.register(verifier.address, Role.GWP_VERIFIER, "verifier")
        base = Ledger.connect(info.rpc_url, data_dir=home)
        base.with_account(miner).mint(LotSpec(lot_id="ORE-R", material="ORE", mass=10**6, composition=Composition.of({"Ni": 20_000})))
        relay_attestation(base.with_account(verifier), verifier, "ORE-R", 1_000, stage=LifeCycleStage.RawMaterialAcquisition, days=365)
        # A state dump keeps the states of recent blocks only: the relay block must be older than those.
        for _ in range(3):
            base.rpc("anvil_mine", [hex(100)])
    finally:
        stop_node(home)
    info = start_node(home, persist=True)
    try:
        base = Ledger.connect(info.rpc_url, data_dir=home)
        with EventIndex.open(tmp_path / "ix.sqlite") as ix:
            report = audit(base, ix)
        assert report.passed, [f.message for f in report.flags]
        assert report.signatures_checked == 1
    finally:
        stop_node(home)
