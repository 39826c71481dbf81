"""Issue 11, class 7 on a real Anvil (hardfork Prague): a GWP verifier signs an attestation with its key,
it is relayed, and later the verifier delegates its account with an EIP-7702 (type-4) transaction.

The contract checks signatures with OpenZeppelin 5.4's ``SignatureChecker.isValidSignatureNow``: ECDSA
when the signer has no code, ERC-1271 otherwise (a delegation designator ``0xef0100 ‖ delegate`` is code).
So the audit decides whether a signer was a contract at the block the attestation was relayed, not
now, and an EIP-7702 account, which still holds its key, keeps its ECDSA signatures. Reading the code at
"latest", as the audit did before, turns the verifier's valid attestation into a bad signature.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from ledger import (
    Composition,
    EventIndex,
    GwpAttestation,
    Ledger,
    LifeCycleStage,
    LotSpec,
    Role,
    errors,
    sign_attestation,
    to_bytes32,
    verify_attestation,
)
from ledger.attest.eip712 import DELEGATION_PREFIX, delegation_target
from ledger.auditor.run import audit
from ledger.chain import node as _node
from ledger.chain.abi import artifact
from ledger.chain.rpc import call

pytestmark = pytest.mark.chain

try:
    _node.find_anvil()
except Exception as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"anvil is not installed ({exc}): run `npm ci`", allow_module_level=True)

LOT = LotSpec(lot_id="NI-7702", material="NiSO4", mass=10**6, composition=Composition.of({"Ni": 220_000}))


class World:
    """A Prague Anvil with the suite deployed: admin, a refiner holding LOT, and an accredited verifier key."""

    def __init__(self, data_dir: Path) -> None:
        self.node = _node.start(data_dir, persist=False, extra_args=["--hardfork", "prague"])
        self.data_dir = data_dir
        self.keys = {
            name: Account.create() for name in ("admin", "refiner", "verifier", "verifier2", "sponsor", "wallet_owner", "other")
        }
        self.base = Ledger.connect(self.node.rpc_url, data_dir=data_dir)
        for acct in self.keys.values():
            self.base.fund(acct.address)
        self.admin = self.base.with_account(self.keys["admin"])
        self.admin.deploy()
        self.admin.register(self.keys["refiner"].address, Role.REFINER, "refiner")
        self.admin.register(self.keys["verifier"].address, Role.GWP_VERIFIER, "verifier")
        self.admin.register(self.keys["verifier2"].address, Role.GWP_VERIFIER, "verifier two")
        self.refiner = self.base.with_account(self.keys["refiner"])
        self.refiner.mint(LOT)

    def rpc(self, method: str, params: list[Any]) -> Any:
        return call(self.base.w3, method, params)

    def now(self) -> int:
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("anvil-prague")
    try:
        yield World(data_dir)
    finally:
        _node.stop(data_dir)


def _signed(w: World, nonce: int, key: str = "verifier") -> Any:
    now = w.now()
    att = GwpAttestation(
        lot_id=to_bytes32(LOT.lot_id),
        emissions_grams=3_800_000,
        stage=LifeCycleStage.RawMaterialAcquisition,
        methodology="ISO14067:2018",
        evidence="0x" + "ab" * 32,
        issued_at=now,
        valid_until=now + 365 * 86_400,
        nonce=nonce,
        deadline=now + 3600,
    )
    d = w.admin.deployment
    return sign_attestation(att, w.keys[key], d.chain_id, d.attestations)


def _delegate(w: World, target: str, who: str = "verifier") -> None:
    """`who` signs an EIP-7702 authorization to `target` (the zero address clears it); a sponsor sends it
    in a type-4 transaction."""
    verifier, sponsor = w.keys[who], w.keys["sponsor"]
    chain_id = w.base.chain_id
    auth = Account.sign_authorization(
        {"chainId": chain_id, "address": target, "nonce": int(w.rpc("eth_getTransactionCount", [verifier.address, "latest"]), 16)},
        verifier.key,
    )
    base_fee = int(w.rpc("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    tx = {
        "type": 4,
        "chainId": chain_id,
        "nonce": int(w.rpc("eth_getTransactionCount", [sponsor.address, "latest"]), 16),
        "gas": 200_000,
        "maxFeePerGas": 2 * base_fee + 10**9,
        "maxPriorityFeePerGas": 10**9,
        "to": sponsor.address,
        "value": 0,
        "data": "0x",
        "accessList": (),
        "authorizationList": [auth],
    }
    raw = Account.sign_transaction(tx, sponsor.key).raw_transaction
    tx_hash = w.rpc("eth_sendRawTransaction", ["0x" + bytes(raw).hex()])
    receipt = None
    for _ in range(50):  # Anvil mines it on arrival; the receipt may take a moment
        receipt = w.rpc("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            break
        time.sleep(0.1)
    assert receipt is not None and int(receipt["status"], 16) == 1 and int(receipt["type"], 16) == 4


def _is_valid_1271(w: World, signer: str, digest: bytes, signature: bytes, block: str) -> bool:
    data = keccak(text="isValidSignature(bytes32,bytes)")[:4] + abi_encode(["bytes32", "bytes"], [digest, signature])
    try:
        result = w.rpc("eth_call", [{"to": signer, "data": "0x" + data.hex()}, block])
    except errors.ChainError:
        return False
    return result[:10] == "0x1626ba7e"


def test_a_verifier_that_delegates_later_keeps_its_attestations(world: World, tmp_path: Path) -> None:
    w = world
    signed = _signed(w, nonce=1)
    uid = w.refiner.submit_attestation(signed)
    relayed_at = int(w.rpc("eth_blockNumber", []), 16)
    assert uid == signed.uid and w.base.attestation(uid)["valid"]
    # The delegate: an ERC-1271 wallet of another key (run in the verifier's account, it approves nothing).
    code = bytes.fromhex(artifact("ERC1271WalletMock")["bytecode"][2:]) + abi_encode(["address"], [w.keys["wallet_owner"].address])
    _, deployed = w.base.with_account(w.keys["wallet_owner"])._sender().transact(None, code)
    wallet = to_checksum_address(deployed["contractAddress"])
    _delegate(w, wallet)

    # The delegation is really there: the verifier's code is the designator 0xef0100 ‖ wallet.
    now_code = w.rpc("eth_getCode", [signed.signer, "latest"])
    assert now_code.startswith("0xef0100") and bytes.fromhex(now_code[2:]) == DELEGATION_PREFIX + bytes.fromhex(wallet[2:])
    assert delegation_target(now_code) == wallet
    assert w.rpc("eth_getCode", [signed.signer, hex(relayed_at)]) == "0x"  # and was not when the figure was relayed

    # What the audit did before (contract-ness read at "latest") flags the valid ECDSA attestation: asked
    # via ERC-1271, neither the account as it was at the relay block nor its delegate now says yes.
    for block in (hex(relayed_at), "latest"):
        then = verify_attestation(signed, is_contract=True, erc1271_check=lambda s, d, sig, b=block: _is_valid_1271(w, s, d, sig, b))
        assert "bad-signature" in then.problems
    # Offline, as EIP-7702 and SignatureChecker define it: the delegated account still holds its key.
    assert verify_attestation(signed, is_contract=True, delegated=True).ok
    assert verify_attestation(signed).ok

    index = EventIndex.open(tmp_path / "index.sqlite")
    report = audit(w.base, index)
    assert "bad-signature" not in report.flag_codes() and report.passed, report.flags
    assert report.signatures_checked == 1
    claim = next(c for c in report.claims if c.label == "NI-7702")
    assert claim.level == "verified" and report.strict_passed

    # On-chain, from now on the contract asks the delegate (ERC-1271), which refuses the key's new signature.
    with pytest.raises(errors.revert_class("GwpAttestationsInvalidSignature")):
        w.refiner.submit_attestation(_signed(w, nonce=2))


def test_delegation_designator_is_recognised_exactly() -> None:
    target = "0x" + "12" * 20
    assert delegation_target("0xef0100" + "12" * 20) == to_checksum_address(target)
    assert delegation_target(DELEGATION_PREFIX + bytes.fromhex("12" * 20)) == to_checksum_address(target)
    for code in (None, "0x", "0x6080604052", "0xef0100" + "12" * 19, "0xef0100" + "12" * 21, "0xef0101" + "12" * 20):
        assert delegation_target(code) is None


#: Runtime code that answers every isValidSignature call with the ERC-1271 magic value, behind the
#: usual constructor that returns it: PUSH4 0x1626ba7e PUSH1 0xe0 SHL PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN.
_ALWAYS_YES = bytes.fromhex("601080600b6000396000f3" + "631626ba7e60e01b60005260206000f3")


def test_a_signature_the_delegate_approved_at_the_relay_block_stays_valid(world: World, tmp_path: Path) -> None:
    """While delegated, the contract asks the delegate (ERC-1271), so a figure it approved is on-chain
    although the key did not sign it; the audit asks the same delegate at the same block, even after the
    delegation was cleared and ECDSA alone (what reading the code at "latest" gives) would refuse it."""
    w = world
    _, deployed = w.base.with_account(w.keys["wallet_owner"])._sender().transact(None, _ALWAYS_YES)
    yes = to_checksum_address(deployed["contractAddress"])
    _delegate(w, yes, "verifier2")
    signer = w.keys["verifier2"].address
    # Signed by another key, claimed for verifier2: only its delegate's approval can carry it.
    signed = _signed(w, nonce=7, key="other").model_copy(update={"signer": signer})
    assert "signer-mismatch" in verify_attestation(signed).problems
    uid = w.refiner.submit_attestation(signed)
    relayed_at = int(w.rpc("eth_blockNumber", []), 16)
    assert w.base.attestation(uid)["valid"]
    assert delegation_target(w.rpc("eth_getCode", [signer, hex(relayed_at)])) == yes
    _delegate(w, "0x" + "00" * 20, "verifier2")  # EIP-7702: delegating to the zero address clears the code
    assert w.rpc("eth_getCode", [signer, "latest"]) == "0x"

    report = audit(w.base, EventIndex.open(tmp_path / "index.sqlite"))
    assert "bad-signature" not in report.flag_codes() and report.passed, report.flags
