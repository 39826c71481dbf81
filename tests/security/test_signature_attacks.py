"""Signature attacks on GWP attestations, each refused on-chain (GwpAttestations.attest) and by the
verifiers: `verify_attestation` with no chain at all, and `Ledger.verify_attestation`, which adds
what only the chain knows (nonces, accreditation now, ERC-1271 answers), or the audit replay.

| attack                                   | on-chain                         | offline, no chain    | with the chain          |
| high-s twin of a valid signature         | InvalidSignature                 | high-s               | high-s                  |
| same message, another chain id           | InvalidSignature                 | wrong-chain          | wrong-chain             |
| same message, another deployment         | InvalidSignature                 | wrong-contract       | wrong-contract          |
| used nonce (replay, or a second message) | NonceUsed                        | (cannot know)        | nonce-used              |
| expired relay deadline                   | ExpiredDeadline                  | deadline-passed      | expired-deadline        |
| accreditation removed before relaying    | UnauthorizedSigner               | (cannot know)        | signer-not-accredited   |
| any field, the signer or a bit tampered  | InvalidSignature                 | signer-mismatch / bad| signer-mismatch / bad   |
| ERC-1271 wallet says yes, then no        | InvalidSignature                 | contract-signer      | bad-signature; audit ok |

The other chain is a second Anvil with chain id 31338 on which the same admin key deployed the same
contracts at the same addresses, with the same verifier accredited and the same lot: only the
chain id differs. The other deployment is a second suite on the same chain, set up the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from ledger import (
    AttestationError,
    Composition,
    GwpAttestation,
    Ledger,
    LifeCycleStage,
    LotSpec,
    Role,
    SignedAttestation,
    errors,
    sign_attestation,
    to_bytes32,
    verify_attestation,
)
from ledger.attest.eip712 import to_contract_args
from ledger.auditor.run import audit
from ledger.chain import node as _node
from ledger.chain.abi import artifact
from ledger.chain.rpc import call
from ledger.index.store import EventIndex

pytestmark = pytest.mark.chain

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
LOT = LotSpec(lot_id="ATT-LOT", material="ORE-NI", mass=10**8, composition=Composition.of({"Ni": 10**6}))
OTHER_CHAIN_ID = 31338


def now_of(ledger: Ledger) -> int:
    return int(call(ledger.w3, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


def make(ledger: Ledger, nonce: int = 1, **kw: Any) -> GwpAttestation:
    now = now_of(ledger)
    fields: dict[str, Any] = dict(
        lot_id=to_bytes32(LOT.lot_id),
        emissions_grams=1_250_000,
        stage=LifeCycleStage.MainProduction,
        methodology="ISO14067:2018",
        evidence="0x" + "ab" * 32,
        issued_at=now - 10,
        valid_until=now + 365 * 86400,
        nonce=nonce,
        deadline=now + 3600,
    )
    fields.update(kw)
    return GwpAttestation(**fields)


def sign(
    chain: Any, att: GwpAttestation, who: str = "verifier", *, chain_id: int | None = None, contract: str | None = None
) -> SignedAttestation:
    d = chain.base.deployment
    return sign_attestation(att, chain.accounts[who], chain_id or d.chain_id, contract or d.attestations)


def relay(ledger: Ledger, signed: SignedAttestation) -> Any:
    """Send attest() straight to the contract, past the library's own domain check."""
    return ledger._send("attestations", "attest", *to_contract_args(signed))


def refused(error: str):
    return pytest.raises(errors.revert_class(error))


def offline(signed: SignedAttestation, **kw: Any) -> list[str]:
    """Problems found with no chain at all."""
    return verify_attestation(signed, **kw).problems


@pytest.fixture
def lot_chain(chain: Any) -> Any:
    chain["miner"].mint(LOT)
    return chain


def _suite_like(base_url: str, chain: Any, data_dir: Path, admin: str) -> Ledger:
    """Deploy a second suite with `admin`'s key, accredit the same verifier, mint the same lot."""
    other = Ledger.connect(base_url, data_dir=data_dir)
    for name in (admin, "verifier", "miner"):
        other.fund(chain.addr(name))
    other.with_account(chain.accounts[admin]).deploy(record=False)
    a = other.with_account(chain.accounts[admin])
    a.register(chain.addr("verifier"), Role.GWP_VERIFIER, "verifier")
    a.register(chain.addr("miner"), Role.MINER, "miner")
    other.with_account(chain.accounts["miner"]).mint(LOT)
    return other


@pytest.fixture(scope="module")
def twin(deployed_chain: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """Chain 31338 with the same contracts at the same addresses (same deployer key, same nonces)."""
    data_dir = tmp_path_factory.mktemp("twin")
    node = _node.start(data_dir, chain_id=OTHER_CHAIN_ID, persist=False)
    try:
        yield _suite_like(node.rpc_url, deployed_chain, data_dir, "admin")
    finally:
        _node.stop(data_dir)


def test_high_s_twin_is_refused(lot_chain: Any) -> None:
    good = sign(lot_chain, make(lot_chain.base))
    raw = bytes.fromhex(good.signature[2:])
    s = int.from_bytes(raw[32:64], "big")
    twin_sig = raw[:32] + (N - s).to_bytes(32, "big") + bytes([55 - raw[64]])  # same signer under plain ecrecover
    evil = good.model_copy(update={"signature": "0x" + twin_sig.hex()})
    with refused("GwpAttestationsInvalidSignature"):
        relay(lot_chain["oem"], evil)
    assert "high-s" in offline(evil)
    assert "high-s" in lot_chain.base.verify_attestation(evil)["problems"]
    relay(lot_chain["oem"], good)  # the low-s original is fine, and its nonce was not burnt by the attempt


def test_same_message_on_another_chain_id_is_refused(lot_chain: Any, twin: Ledger) -> None:
    here = lot_chain.base.deployment
    assert twin.chain_id == OTHER_CHAIN_ID and twin.deployment.attestations == here.attestations  # only the chain id differs
    signed = sign(lot_chain, make(lot_chain.base))
    lot_chain["oem"].submit_attestation(signed)
    replayer = twin.with_account(lot_chain.accounts["miner"])
    with pytest.raises(AttestationError, match="replay"):
        replayer.submit_attestation(signed)
    with refused("GwpAttestationsInvalidSignature"):
        relay(replayer, signed)
    assert offline(signed, chain_id=OTHER_CHAIN_ID, contract=here.attestations) == ["wrong-chain"]
    assert "wrong-chain" in twin.verify_attestation(signed)["problems"]
    # Signed for the twin itself, the same figure is accepted there: the refusal was the domain.
    relay(replayer, sign(lot_chain, make(twin, nonce=1), chain_id=OTHER_CHAIN_ID))


def test_same_message_on_another_deployment_is_refused(lot_chain: Any, tmp_path: Path) -> None:
    other = _suite_like(lot_chain.base.w3.provider.endpoint_uri, lot_chain, tmp_path, "outsider")
    assert other.deployment.attestations != lot_chain.base.deployment.attestations
    signed = sign(lot_chain, make(lot_chain.base))
    lot_chain["oem"].submit_attestation(signed)
    replayer = other.with_account(lot_chain.accounts["miner"])
    with pytest.raises(AttestationError, match="replay"):
        replayer.submit_attestation(signed)
    with refused("GwpAttestationsInvalidSignature"):
        relay(replayer, signed)
    assert offline(signed, chain_id=other.chain_id, contract=other.deployment.attestations) == ["wrong-contract"]
    assert "wrong-contract" in other.verify_attestation(signed)["problems"]
    relay(replayer, sign(lot_chain, make(other), contract=other.deployment.attestations))


def test_used_nonce_is_refused_and_reported(lot_chain: Any) -> None:
    first = sign(lot_chain, make(lot_chain.base, nonce=42))
    lot_chain["oem"].submit_attestation(first)
    with refused("GwpAttestationsNonceUsed"):
        relay(lot_chain["oem"], first)  # the very same attestation a second time
    second = sign(lot_chain, make(lot_chain.base, nonce=42, emissions_grams=1))  # a new figure on a spent nonce
    with refused("GwpAttestationsNonceUsed"):
        relay(lot_chain["oem"], second)
    assert offline(second) == []  # a lone file cannot show that its nonce was spent: only the chain knows
    verdict = lot_chain.base.verify_attestation(second)
    assert not verdict["ok"] and "nonce-used" in verdict["problems"] and not verdict["recorded"]
    assert lot_chain.base.verify_attestation(first)["ok"]  # the recorded one is still fine


def test_expired_deadline_is_refused_and_reported(lot_chain: Any) -> None:
    signed = sign(lot_chain, make(lot_chain.base, deadline=now_of(lot_chain.base) + 60))
    lot_chain.rpc("evm_increaseTime", [120])
    lot_chain.rpc("evm_mine")
    t = now_of(lot_chain.base)
    with refused("GwpAttestationsExpiredDeadline"):
        relay(lot_chain["oem"], signed)
    assert offline(signed, now=t) == ["deadline-passed"]  # reported; it only limits relaying
    verdict = lot_chain.base.verify_attestation(signed, now=t)
    assert not verdict["ok"] and "expired-deadline" in verdict["problems"]


@pytest.mark.parametrize("removal", ["revoke GWP_VERIFIER", "suspend"])
def test_signer_whose_accreditation_was_removed_is_refused(lot_chain: Any, removal: str) -> None:
    signed = sign(lot_chain, make(lot_chain.base))  # signed while accredited
    assert lot_chain.base.verify_attestation(signed)["ok"]
    if removal == "suspend":
        lot_chain["admin"].suspend(lot_chain.addr("verifier"), "accreditation withdrawn")
    else:
        lot_chain["admin"].revoke_roles(lot_chain.addr("verifier"), Role.GWP_VERIFIER)
    with refused("GwpAttestationsUnauthorizedSigner"):
        relay(lot_chain["oem"], signed)
    verdict = lot_chain.base.verify_attestation(signed)
    assert not verdict["ok"] and "signer-not-accredited" in verdict["problems"]
    assert not lot_chain.base.nonce_used(lot_chain.addr("verifier"), 1)


def test_deaccredited_verifier_holding_the_lot_is_only_a_self_declaration(lot_chain: Any) -> None:
    """The one way an unaccredited signature still lands: its signer holds the lot and is still a
    participant in another role. It is recorded, but marked self-declared; without another role it is refused."""
    lot_chain["admin"].grant_roles(lot_chain.addr("verifier"), Role.OEM)
    lot_chain["miner"].offer(LOT.lot_id, lot_chain.addr("verifier"))
    lot_chain["verifier"].accept(LOT.lot_id)
    signed = sign(lot_chain, make(lot_chain.base))
    lot_chain["admin"].revoke_roles(lot_chain.addr("verifier"), Role.GWP_VERIFIER)
    uid = lot_chain["oem"].submit_attestation(signed)
    assert lot_chain.base.attestation(uid)["self_declared"] is True
    lot_chain["admin"].revoke_roles(lot_chain.addr("verifier"), Role.OEM)
    with refused("GwpAttestationsUnauthorizedSigner"):
        relay(lot_chain["oem"], sign(lot_chain, make(lot_chain.base, nonce=2)))


def _tampered() -> list[Any]:
    t = {
        "lot_id": lambda a, c: to_bytes32("OTHER-LOT"),
        "emissions_grams": lambda a, c: a.emissions_grams - 1,
        "stage": lambda a, c: LifeCycleStage.EndOfLife,
        "methodology": lambda a, c: "EU-BATT-CFB-2024",
        "evidence": lambda a, c: "0x" + "cd" * 32,
        "issued_at": lambda a, c: a.issued_at - 1,
        "valid_until": lambda a, c: a.valid_until + 86400,
        "nonce": lambda a, c: a.nonce + 1,
        "deadline": lambda a, c: a.deadline + 1,
    }
    return [pytest.param(name, fn, id=name) for name, fn in t.items()]


@pytest.mark.parametrize(("field", "change"), _tampered())
def test_tampered_field_is_refused(lot_chain: Any, field: str, change: Any) -> None:
    if field == "lot_id":
        lot_chain["miner"].mint(LotSpec(**{**LOT.model_dump(), "lot_id": "OTHER-LOT"}))
    good = sign(lot_chain, make(lot_chain.base))
    att = GwpAttestation(**{**good.attestation.model_dump(), field: change(good.attestation, lot_chain)})
    evil = good.model_copy(update={"attestation": att})
    with refused("GwpAttestationsInvalidSignature"):
        relay(lot_chain["oem"], evil)
    assert "signer-mismatch" in offline(evil)
    assert not lot_chain.base.verify_attestation(evil)["ok"]


def test_claimed_signer_or_signature_bits_tampered_are_refused(lot_chain: Any) -> None:
    lot_chain["admin"].grant_roles(lot_chain.addr("auditor"), Role.GWP_VERIFIER)  # an accredited, innocent address
    good = sign(lot_chain, make(lot_chain.base))
    claimed = good.model_copy(update={"signer": lot_chain.addr("auditor")})
    raw = bytearray(bytes.fromhex(good.signature[2:]))
    raw[5] ^= 0x01
    flipped = good.model_copy(update={"signature": "0x" + raw.hex()})
    for evil in (claimed, flipped):
        with refused("GwpAttestationsInvalidSignature"):
            relay(lot_chain["oem"], evil)
        problems = offline(evil)
        assert problems and set(problems) <= {"signer-mismatch", "bad-signature"}
    assert lot_chain.base.attestation(good.uid)["signer"] is None


def _deploy_wallet(chain: Any, owner: str) -> str:
    code = bytes.fromhex(artifact("ERC1271WalletMock")["bytecode"][2:]) + abi_encode(["address"], [chain.addr(owner)])
    _, raw = chain[owner]._sender().transact(None, code)
    return to_checksum_address(raw["contractAddress"])


def test_erc1271_wallet_that_says_yes_then_no(lot_chain: Any, tmp_path: Path) -> None:
    """Checked when relayed: a wallet that turns to "no" after an offline check cannot get a figure on
    chain; what it approved before stays valid for the audit, which asks the wallet at the relay block."""
    wallet = _deploy_wallet(lot_chain, "verifier")
    lot_chain["admin"].register(wallet, Role.GWP_VERIFIER, "verifier multisig")
    as_wallet = lambda s: s.model_copy(update={"signer": wallet})  # noqa: E731
    t = now_of(lot_chain.base)
    first = as_wallet(sign(lot_chain, make(lot_chain.base, nonce=1, issued_at=t)))
    lot_chain["oem"].submit_attestation(first)
    second = as_wallet(sign(lot_chain, make(lot_chain.base, nonce=2, issued_at=t)))
    assert lot_chain.base.verify_attestation(second)["ok"]  # yes ...
    set_enabled = keccak(text="setEnabled(bool)")[:4] + abi_encode(["bool"], [False])
    lot_chain["verifier"]._sender().transact(wallet, set_enabled)
    with refused("GwpAttestationsInvalidSignature"):  # ... then no, between the check and the relay
        relay(lot_chain["oem"], second)
    assert "bad-signature" in lot_chain.base.verify_attestation(second)["problems"]
    assert offline(second, is_contract=True) == ["contract-signer"]  # no chain, no answer: never "ok"
    index = EventIndex.open(tmp_path / "index.sqlite")
    report = audit(lot_chain.base, index)
    assert report.passed, report.flags  # the first one was approved when it was relayed
    assert report.attestation_count == 1
