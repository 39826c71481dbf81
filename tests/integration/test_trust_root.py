"""The trust root (issue 11, class 10): a recorded deployment is used only if the chain holds the shipped
contracts at its addresses, wired to each other. Each attack rewrites the record or the chain's code on a
real Anvil and must end in a named error; the honest deployments must still pass.
"""

from __future__ import annotations

import statistics
import time

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import to_checksum_address

from ledger import Ledger
from ledger.chain.abi import artifact
from ledger.chain.trust import immutable_slots, strip_metadata, verify_deployment
from ledger.chain.tx import Sender
from ledger.errors import DeploymentMismatch, NotDeployed

pytestmark = pytest.mark.chain


def _deployer(chain):
    """A fresh funded account with its own nonces, so the session's senders are not disturbed."""
    acct = Account.create()
    chain.base.fund(acct.address)
    return acct


def _create(chain, acct, name: str, *args: tuple[str, object]) -> str:
    code = bytes.fromhex(artifact(name)["bytecode"][2:])
    if args:
        code += abi_encode([t for t, _ in args], [v for _, v in args])
    _, raw = Sender(chain.base.w3, acct, chain.base.chain_id, 0).transact(None, code)
    return to_checksum_address(raw["contractAddress"])


def _code(chain, address: str) -> bytes:
    return bytes.fromhex(chain.rpc("eth_getCode", [address, "latest"])[2:])


def _set_code(chain, address: str, code: bytes) -> None:
    chain.rpc("anvil_setCode", [address, "0x" + code.hex()])


def test_honest_deployment_is_accepted_and_the_check_is_cheap(chain):
    d = chain.base.deployment
    verify_deployment(chain.base.w3, d)
    # A second suite deployed the ordinary way (by the library) passes too: nothing is pinned to one.
    other = Ledger.connect(chain.base.w3.provider.endpoint_uri, data_dir=chain.data_dir).with_account(_deployer(chain))
    verify_deployment(chain.base.w3, other.deploy(record=False))
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        verify_deployment(chain.base.w3, d)
        times.append((time.perf_counter() - t0) * 1000)
    print(f"verify_deployment: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms over {len(times)} runs")
    assert statistics.median(times) < 250


def test_record_pointing_at_another_contract_is_refused(chain):
    d = chain.base.deployment
    mock = _create(chain, _deployer(chain), "ERC1271WalletMock", ("address", chain.addr("admin")))
    with pytest.raises(DeploymentMismatch, match="not the shipped GwpAttestations"):
        verify_deployment(chain.base.w3, d.model_copy(update={"attestations": mock}))
    with pytest.raises(DeploymentMismatch, match="not the shipped RinneLedger"):
        verify_deployment(chain.base.w3, d.model_copy(update={"ledger": mock}))
    # The two addresses swapped: each holds the other's code.
    with pytest.raises(DeploymentMismatch, match="not the shipped RinneLedger"):
        verify_deployment(chain.base.w3, d.model_copy(update={"ledger": d.attestations, "attestations": d.ledger}))
    # An address with no code at all is a reset node, not a forgery.
    with pytest.raises(NotDeployed):
        verify_deployment(chain.base.w3, d.model_copy(update={"attestations": chain.addr("outsider")}))


def test_attestations_of_another_suite_are_refused(chain):
    d = chain.base.deployment
    other = Ledger.connect(chain.base.w3.provider.endpoint_uri, data_dir=chain.data_dir).with_account(_deployer(chain))
    d2 = other.deploy(record=False)
    # The shipped GwpAttestations, but bound to another ledger (its immutables and ledger() say so).
    with pytest.raises(DeploymentMismatch, match="no deployment bound to ledger"):
        verify_deployment(chain.base.w3, d.model_copy(update={"attestations": d2.attestations}))
    # The other ledger with our attestations: ours are not bound to it.
    with pytest.raises(DeploymentMismatch, match="bound to ledger|not bound to the recorded ledger"):
        verify_deployment(chain.base.w3, d.model_copy(update={"ledger": d2.ledger, "block": d2.block}))


def test_a_second_copy_bound_to_the_same_ledger_is_refused(chain):
    # Attack: deploy the shipped GwpAttestations again for the real ledger, relay the attestations but not
    # their revocations, and point the record at the copy. Code, immutables and ledger() all check out;
    # it is not the contract the ledger's deployer created with the ledger.
    d = chain.base.deployment
    copy = _create(chain, _deployer(chain), "GwpAttestations", ("address", d.ledger))
    with pytest.raises(DeploymentMismatch, match="is not the one deployed with ledger"):
        verify_deployment(chain.base.w3, d.model_copy(update={"attestations": copy}))
    # A record moved to another block loses the ledger's creation and is refused as well.
    with pytest.raises(DeploymentMismatch, match=f"block {d.block + 1} of the record holds no creation"):
        verify_deployment(chain.base.w3, d.model_copy(update={"block": d.block + 1}))


def test_a_vault_key_registry_of_someone_elses_choosing_is_refused(chain):
    # Attack: point the record at a registry that answers the attacker's keys for the parties' accounts, so
    # that writers wrap openings to the attacker. Another contract, another suite's registry and a second
    # shipped copy bound to the same ledger are each refused.
    d = chain.base.deployment
    assert d.vault_keys is not None
    mock = _create(chain, _deployer(chain), "ERC1271WalletMock", ("address", chain.addr("admin")))
    with pytest.raises(DeploymentMismatch, match="not the shipped VaultKeys"):
        verify_deployment(chain.base.w3, d.model_copy(update={"vault_keys": mock}))
    other = Ledger.connect(chain.base.w3.provider.endpoint_uri, data_dir=chain.data_dir).with_account(_deployer(chain))
    with pytest.raises(DeploymentMismatch, match="VaultKeys .* is not bound to the recorded ledger"):
        verify_deployment(chain.base.w3, d.model_copy(update={"vault_keys": other.deploy(record=False).vault_keys}))
    copy = _create(chain, _deployer(chain), "VaultKeys", ("address", d.ledger))
    with pytest.raises(DeploymentMismatch, match="VaultKeys .* is not the one deployed with ledger"):
        verify_deployment(chain.base.w3, d.model_copy(update={"vault_keys": copy}))
    with pytest.raises(NotDeployed):
        verify_deployment(chain.base.w3, d.model_copy(update={"vault_keys": chain.addr("outsider")}))
    # A record from before the registry (none named) is still accepted: it resolves no account.
    verify_deployment(chain.base.w3, d.model_copy(update={"vault_keys": None}))


def test_ledger_code_replaced_on_the_node_is_refused(chain):
    d = chain.base.deployment
    honest = _code(chain, d.ledger)
    # Other code at the ledger's address (what a node operator could serve).
    _set_code(chain, d.ledger, _code(chain, d.attestations))
    with pytest.raises(DeploymentMismatch, match="not the shipped RinneLedger"):
        verify_deployment(chain.base.w3, d)
    # One byte of the executable code changed.
    body = strip_metadata(honest)
    flipped = bytearray(honest)
    flipped[len(body) // 2] ^= 0x01
    _set_code(chain, d.ledger, bytes(flipped))
    with pytest.raises(DeploymentMismatch, match=r"differs at byte \d+"):
        verify_deployment(chain.base.w3, d)
    # Honest variant: the metadata trailer (a hash of the sources, never executed) is not compared.
    meta = bytearray(honest)
    meta[len(body) + 10] ^= 0x01
    _set_code(chain, d.ledger, bytes(meta))
    verify_deployment(chain.base.w3, d)


def test_attestations_code_with_another_ledger_immutable_is_refused(chain):
    # Attack: the shipped GwpAttestations code served with its ledger immutable pointing elsewhere.
    d = chain.base.deployment
    code = bytearray(_code(chain, d.attestations))
    expected = strip_metadata(bytes.fromhex(artifact("GwpAttestations")["deployedBytecode"][2:]))
    slots = immutable_slots(expected)
    ledger_word = bytes.fromhex(d.ledger[2:]).rjust(32, b"\0")
    ledger_slots = [s for s in slots if code[s : s + 32] == ledger_word]
    assert ledger_slots, "the ledger address is among GwpAttestations' immutables"
    evil = bytes.fromhex(chain.addr("outsider")[2:]).rjust(32, b"\0")
    for s in ledger_slots:
        code[s : s + 32] = evil
    _set_code(chain, d.attestations, bytes(code))
    with pytest.raises(DeploymentMismatch, match="holds an immutable"):
        verify_deployment(chain.base.w3, d)


def test_immutable_slots_are_found_in_the_current_artifact():
    # Whatever the current compile: slots are PUSH32 immediates, inside the code, 32 bytes apart at least.
    code = strip_metadata(bytes.fromhex(artifact("GwpAttestations")["deployedBytecode"][2:]))
    slots = immutable_slots(code)
    assert slots and all(code[s - 1] == 0x7F and not any(code[s : s + 32]) for s in slots)
    assert immutable_slots(strip_metadata(bytes.fromhex(artifact("RinneLedger")["deployedBytecode"][2:]))) == []
