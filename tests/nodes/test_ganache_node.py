"""The library's Ganache 7.9 support (npm `ganache`, pinned in package.json): the managed node started
and stopped like Anvil's, its chain kept across a restart (a LevelDB folder), funding
(evm_setAccountBalance), deployment, roles, a bulk mint and reverts decoded from Ganache's own error
shape. Ganache has no Cancun EVM (its newest hardfork is Shanghai), so the library deploys the Shanghai
build of the contracts there (ledger/artifacts/shanghai/, chosen by a probe for MCOPY) and records it:
a transform and an attestation work, and the trust check compares the code with that build. The rest of
the library's paths run on Ganache in test_other_nodes.py (tests/nodes/conftest.py: ENGINES).
"""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger import Composition, GwpAttestation, Ledger, LifeCycleStage, LotSpec, Role, errors, sign_attestation, to_bytes32
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
        admin, refiner, verifier = Account.create(), Account.create(), Account.create()
        for acct in (admin, refiner, verifier):
            base.fund(acct.address)
        assert base.w3.eth.get_balance(refiner.address) == 10**21
        assert base.evm_build() == "shanghai"
        deployment = base.with_account(admin).deploy()
        assert deployment.evm_version == "shanghai"
        base.with_account(admin).register(refiner.address, Role.REFINER, "refiner")
        base.with_account(admin).register(verifier.address, Role.GWP_VERIFIER, "verifier")
        ledger = base.with_account(refiner)
        specs = [LotSpec(lot_id=f"N{i}", material="NiSO4", mass=1_000 * KG, composition=NI) for i in range(12)]
        assert ledger.mint_many(specs).done == 12  # Ganache estimates a 40-lot batch in ~7 s: keep it small
        # Reverts: Ganache nests eth_estimateGas's revert data under error.data.result.
        with pytest.raises(errors.revert_class("RinneLedgerLotExists")):
            ledger.mint(specs[0], idempotent=False)
        with pytest.raises(errors.revert_class("ParticipantRegistryUnauthorized")):
            base.with_account(admin).mint(LotSpec(lot_id="X", material="NiSO4", mass=1_000 * KG, composition=NI))
        # The Shanghai build has no MCOPY: a transform (which reaches it in the Cancun build) and an attestation work.
        ledger.transform(["N0"], [LotSpec(lot_id="N0-OUT", material="NiSO4", mass=900 * KG, composition=NI)])
        now = int(base.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        attestation = GwpAttestation(
            lot_id=to_bytes32("N0-OUT"),
            emissions_grams=1_200 * KG,
            stage=LifeCycleStage.MainProduction,
            methodology="ISO14067:2018",
            evidence="0x" + "ab" * 32,
            issued_at=now,
            valid_until=now + 365 * 86_400,
            nonce=1,
            deadline=now + 3600,
        )
        ledger.submit_attestation(sign_attestation(attestation, verifier, deployment.chain_id, deployment.attestations))
        assert base.check_deployment() == deployment  # the code on chain is the recorded (Shanghai) build
    finally:
        assert _node.stop(home)
    assert _node.status(home) is None
    # The chain survives a restart.
    again = _node.start(home, engine="ganache")
    try:
        ledger = Ledger.connect(again.rpc_url, data_dir=home)
        assert ledger.check_deployment().evm_version == "shanghai"
        assert ledger.lot("N0-OUT").holder.lower() == refiner.address.lower()
        assert ledger.lot("N11").holder.lower() == refiner.address.lower()
    finally:
        _node.stop(home)
