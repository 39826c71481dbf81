"""The library's Ganache 7.9 support (npm `ganache`, pinned in package.json): the managed node started
and stopped like Anvil's, its chain kept across a restart (a LevelDB folder), funding
(evm_setAccountBalance), deployment, roles, a bulk mint and reverts decoded from Ganache's own error
shape, and the limit that keeps Ganache out of the other-node suite: it has no Cancun EVM, so the first
operation that reaches an MCOPY (a transform; any attestation) fails with "invalid opcode".
"""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger import Composition, Ledger, LotSpec, Role, errors
from ledger.chain import node as _node

pytestmark = pytest.mark.chain

KG = 1000
NI = Composition.of({"Ni": 220 * KG, "Co": 8 * KG})


def test_ganache_as_the_managed_node(tmp_path):
    home = tmp_path / "home"
    info = _node.start(home, engine="ganache")
    try:
        assert info.engine == "ganache" and info.chain_id == 31337 and info.state_file.endswith("ganache-db")
        assert _node.status(home) == info
        base = Ledger.connect(info.rpc_url, data_dir=home)
        assert base.node_kind() == "ganache"
        admin, refiner = Account.create(), Account.create()
        for acct in (admin, refiner):
            base.fund(acct.address)
        assert base.w3.eth.get_balance(refiner.address) == 10**21
        base.with_account(admin).deploy()
        base.with_account(admin).register(refiner.address, Role.REFINER, "refiner")
        ledger = base.with_account(refiner)
        specs = [LotSpec(lot_id=f"N{i}", material="NiSO4", mass=1_000 * KG, composition=NI) for i in range(12)]
        assert ledger.mint_many(specs).done == 12  # Ganache estimates a 40-lot batch in ~7 s: keep it small
        # Reverts: Ganache nests eth_estimateGas's revert data under error.data.result.
        with pytest.raises(errors.revert_class("RinneLedgerLotExists")):
            ledger.mint(specs[0], idempotent=False)
        with pytest.raises(errors.revert_class("ParticipantRegistryUnauthorized")):
            base.with_account(admin).mint(LotSpec(lot_id="X", material="NiSO4", mass=1_000 * KG, composition=NI))
        # The limit: no Cancun, so RinneLedger's MCOPY (reached by transform) is an invalid opcode.
        with pytest.raises(errors.ChainError, match="invalid opcode"):
            ledger.transform(["N0"], [LotSpec(lot_id="N0-OUT", material="NiSO4", mass=900 * KG, composition=NI)])
    finally:
        assert _node.stop(home)
    assert _node.status(home) is None
    # The chain survives a restart.
    again = _node.start(home, engine="ganache")
    try:
        ledger = Ledger.connect(again.rpc_url, data_dir=home)
        assert ledger.check_deployment() is not None
        assert ledger.lot("N11").holder.lower() == refiner.address.lower()
    finally:
        _node.stop(home)
