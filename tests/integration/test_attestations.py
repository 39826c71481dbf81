"""GWP attestations end to end: signed offline, relayed by anyone, checked on-chain and offline."""

from __future__ import annotations

import time

import pytest
from eth_abi import encode as abi_encode

from ledger import (
    AttestationError,
    Composition,
    ContractRevert,
    GwpAttestation,
    LifeCycleStage,
    LotSpec,
    errors,
    load_attestation,
    save_attestation,
    sign_attestation,
    to_bytes32,
)
from ledger.chain.abi import artifact
from ledger.chain.rpc import call


def _lot(chain) -> str:
    chain["miner"].mint(LotSpec(lot_id="ORE-1", material="ORE-NI", mass=10**8, composition=Composition.of({"Ni": 10**6})))
    return to_bytes32("ORE-1")


def _att(chain, lot_id: str, nonce: int = 1, **kw) -> GwpAttestation:
    now = int(call(chain.base.w3, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    fields = dict(
        lot_id=lot_id,
        emissions_grams=1_250_000_000,
        stage=LifeCycleStage.RawMaterialAcquisition,
        methodology="ISO14067:2018",
        evidence="0x" + "ab" * 32,
        issued_at=now - 10,
        valid_until=now + 365 * 86400,
        nonce=nonce,
        deadline=now + 3600,
    )
    fields.update(kw)
    return GwpAttestation(**fields)


def test_signed_offline_saved_submitted_by_anyone_and_verified(chain, tmp_path):
    lot_id = _lot(chain)
    d = chain.base.deployment
    signed = sign_attestation(_att(chain, lot_id), chain.accounts["verifier"], d.chain_id, d.attestations)
    path = tmp_path / "att.json"
    save_attestation(signed, path)
    loaded = load_attestation(path)
    uid = chain["oem"].submit_attestation(loaded)  # relayed by a party that did not sign it
    record = chain.base.attestation(uid)
    assert record["signer"] == chain.addr("verifier") and record["valid"] and not record["self_declared"]
    assert record["emissions_grams"] == 1_250_000_000
    verdict = chain.base.verify_attestation(loaded)
    assert verdict["ok"] and verdict["recorded"] and verdict["accredited"]
    chain["auditor"].revoke_attestation(uid, "double counted")
    assert chain.base.attestation(uid)["revoked"] and not chain.base.attestation(uid)["valid"]
    assert "revoked" in chain.base.verify_attestation(loaded)["problems"]


def test_replay_from_another_deployment_is_refused(chain):
    lot_id = _lot(chain)
    other = "0x" + "11" * 20
    signed = sign_attestation(_att(chain, lot_id), chain.accounts["verifier"], chain.base.chain_id, other)
    with pytest.raises(AttestationError, match="replay"):
        chain["oem"].submit_attestation(signed)
    # Sent anyway (bypassing the library's own check), the contract refuses it too.
    from ledger.attest.eip712 import to_contract_args

    with pytest.raises(errors.revert_class("GwpAttestationsInvalidSignature")):
        chain["oem"]._send("attestations", "attest", *to_contract_args(signed))


def test_unaccredited_signer_and_used_nonce_are_refused(chain):
    lot_id = _lot(chain)
    d = chain.base.deployment
    forged = sign_attestation(_att(chain, lot_id), chain.accounts["cathode"], d.chain_id, d.attestations)
    with pytest.raises(errors.revert_class("GwpAttestationsUnauthorizedSigner")):
        chain["oem"].submit_attestation(forged)
    good = sign_attestation(_att(chain, lot_id, nonce=7), chain.accounts["verifier"], d.chain_id, d.attestations)
    chain["oem"].submit_attestation(good)
    again = sign_attestation(_att(chain, lot_id, nonce=7, emissions_grams=1), chain.accounts["verifier"], d.chain_id, d.attestations)
    with pytest.raises(errors.revert_class("GwpAttestationsNonceUsed")):
        chain["oem"].submit_attestation(again)
    assert chain.base.nonce_used(chain.addr("verifier"), 7)


def test_holder_may_self_declare_and_it_is_marked(chain):
    lot_id = _lot(chain)
    d = chain.base.deployment
    signed = sign_attestation(_att(chain, lot_id), chain.accounts["miner"], d.chain_id, d.attestations)
    uid = chain["miner"].submit_attestation(signed)
    assert chain.base.attestation(uid)["self_declared"] is True


def test_erc1271_wallet_signer_says_yes_then_no(chain):
    lot_id = _lot(chain)
    d = chain.base.deployment
    owner = chain.accounts["verifier"]
    code = bytes.fromhex(artifact("ERC1271WalletMock")["bytecode"][2:]) + abi_encode(["address"], [owner.address])
    _, raw = chain["verifier"]._sender().transact(None, code)
    wallet = raw["contractAddress"]
    chain["admin"].register(wallet, "GWP_VERIFIER", "verifier multisig")
    signed = sign_attestation(_att(chain, lot_id, nonce=1), owner, d.chain_id, d.attestations)
    as_wallet = signed.model_copy(update={"signer": chain.base.w3.to_checksum_address(wallet)})
    assert chain.base.verify_attestation(as_wallet)["ok"]
    chain["oem"].submit_attestation(as_wallet)
    # The wallet's owner switches it off: the next signature is refused on-chain and by the verifier.
    chain["verifier"]._sender().transact(wallet, _set_enabled(False))
    second = sign_attestation(_att(chain, lot_id, nonce=2), owner, d.chain_id, d.attestations)
    second = second.model_copy(update={"signer": chain.base.w3.to_checksum_address(wallet)})
    assert not chain.base.verify_attestation(second)["ok"]
    with pytest.raises(errors.revert_class("GwpAttestationsInvalidSignature")):
        chain["oem"].submit_attestation(second)


def _set_enabled(flag: bool) -> bytes:
    from eth_utils import keccak

    return keccak(text="setEnabled(bool)")[:4] + abi_encode(["bool"], [flag])


def test_expired_deadline_is_refused(chain):
    lot_id = _lot(chain)
    d = chain.base.deployment
    now = int(time.time())
    signed = sign_attestation(
        _att(chain, lot_id, deadline=1, issued_at=0, valid_until=now + 10), chain.accounts["verifier"], d.chain_id, d.attestations
    )
    with pytest.raises(ContractRevert) as exc:
        chain["oem"].submit_attestation(signed)
    assert exc.value.error_name == "GwpAttestationsExpiredDeadline"


def _wallet_returning(word: bytes, length: int) -> bytes:
    """Creation code of a wallet whose isValidSignature (any call) returns `length` bytes of `word`."""
    runtime = b"\x7f" + word + bytes.fromhex("600052") + bytes([0x60, length]) + bytes.fromhex("6000f3")
    n = len(runtime)
    return bytes([0x60, n, 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xF3]) + runtime


@pytest.mark.parametrize(
    ("name", "word", "length", "approved"),
    [
        ("the magic word", bytes.fromhex("1626ba7e").ljust(32, b"\0"), 32, True),
        ("only the 4-byte selector", bytes.fromhex("1626ba7e").ljust(32, b"\0"), 4, False),
        ("the selector and a dirty word", bytes.fromhex("1626ba7e") + b"\0" * 27 + b"\x01", 32, False),
    ],
)
def test_a_wallet_answer_is_judged_as_the_contract_judges_it(chain, name, word, length, approved):
    """A cheating or sloppy wallet answer must not pass the library or the audit when the contract
    refuses it (OpenZeppelin SignatureChecker: at least 32 bytes, first word the padded selector)."""
    from ledger import EventIndex, audit

    lot_id = _lot(chain)
    d = chain.base.deployment
    wallet = chain["verifier"].deploy_code(_wallet_returning(word, length))
    chain["admin"].register(wallet, "GWP_VERIFIER", f"wallet answering {name}")
    signed = sign_attestation(_att(chain, lot_id), chain.accounts["verifier"], d.chain_id, d.attestations)
    as_wallet = signed.model_copy(update={"signer": wallet})
    assert chain.base.is_valid_signature_1271(wallet, as_wallet.digest, bytes.fromhex(as_wallet.signature[2:])) is approved
    assert chain.base.verify_attestation(as_wallet)["ok"] is approved
    if not approved:
        with pytest.raises(errors.revert_class("GwpAttestationsInvalidSignature")):
            chain["oem"].submit_attestation(as_wallet)
        return
    chain["oem"].submit_attestation(as_wallet)
    with EventIndex.open(":memory:") as index:
        index.sync(chain.base)
        report = audit(chain.base, index)
    assert not [f for f in report.flags if f.code == "bad-signature"], report.flags


def test_a_just_issued_attestation_waits_for_the_chain_clock_and_a_future_one_is_refused(chain):
    """Relayed the second it was signed, an attestation may be ahead of the next block's time: the
    relay waits for the chain (a few seconds at most); one issued far in the future is refused."""
    import time as _time

    from ledger.client.ledger import CLOCK_SLACK

    lot_id = _lot(chain)
    d = chain.base.deployment
    # Earlier tests' snapshots leave this node's clock pinned ahead of its blocks; let it run from now.
    chain.rpc("evm_setTime", [max(int(_time.time()), chain.now() + 1)])
    soon = int(chain.rpc("eth_getBlockByNumber", ["pending", False])["timestamp"], 16) + 2
    signed = sign_attestation(_att(chain, lot_id, nonce=1, issued_at=soon), chain.accounts["verifier"], d.chain_id, d.attestations)
    chain["oem"].submit_attestation(signed)
    assert chain.base.attestation(signed.uid)["valid"]
    later = soon + CLOCK_SLACK + 60
    far = sign_attestation(_att(chain, lot_id, nonce=2, issued_at=later), chain.accounts["verifier"], d.chain_id, d.attestations)
    t0 = _time.monotonic()
    with pytest.raises(errors.revert_class("GwpAttestationsInvalidPeriod")):
        chain["oem"].submit_attestation(far)
    assert _time.monotonic() - t0 < 2, "a relay must not wait for an attestation it cannot record"


# The contract stores no figures (two words: signer, validity, stage, flags; the lot): `attestation(uid)` reads
# emissions and issue time from the uid's Attested event. What a competitor could try against that reader:

#: Runtime code that emits LOG4 with its calldata's first four words as topics and the rest as data: any
#: contract can emit an event that looks like the attestation contract's.
_EMITTER = bytes.fromhex("606035604035602035600035608036038060806000376000a400")


def _attested_log_data(att: GwpAttestation, signature: bytes, self_declared: bool = False) -> bytes:
    from ledger.client.base import GWP_ABI

    ev = GWP_ABI.events["Attested"]
    message = (
        bytes.fromhex(att.lot_id[2:]),
        att.emissions_grams,
        int(att.stage),
        bytes.fromhex(att.methodology[2:]),
        bytes.fromhex(att.evidence[2:]),
        att.issued_at,
        att.valid_until,
        att.nonce,
        att.deadline,
    )
    return abi_encode(ev.data_types, [message, self_declared, signature])


def _relayed(chain):
    lot_id = _lot(chain)
    d = chain.base.deployment
    signed = sign_attestation(_att(chain, lot_id), chain.accounts["verifier"], d.chain_id, d.attestations)
    uid = chain["oem"].submit_attestation(signed)
    return signed, uid


def test_a_lookalike_event_from_another_contract_does_not_change_the_figures_shown(chain):
    from ledger.client.base import GWP_ABI

    signed, uid = _relayed(chain)
    fake = "0x" + "5a" * 20
    chain.rpc("anvil_setCode", [fake, "0x" + _EMITTER.hex()])
    forged = signed.attestation.model_copy(update={"emissions_grams": 1})
    topics = GWP_ABI.events["Attested"].topic0 + bytes.fromhex(uid[2:]) + bytes.fromhex(signed.attestation.lot_id[2:])
    topics += bytes(12) + bytes.fromhex(signed.signer[2:])
    chain["miner"].send_raw(fake, topics + _attested_log_data(forged, bytes.fromhex(signed.signature[2:])), gas=200_000)
    assert len(chain.rpc("eth_getLogs", [{"fromBlock": "0x0", "topics": [None, uid]}])) == 2  # the lookalike is on-chain
    record = chain.base.attestation(uid)
    assert record["emissions_grams"] == signed.attestation.emissions_grams == 1_250_000_000
    assert record["issued_at"] == signed.attestation.issued_at


def test_a_node_answering_with_altered_logs_cannot_change_the_figures_shown(chain, monkeypatch):
    import ledger.chain.logs as logs  # the reader's eth_getLogs goes through its range-halving fetch

    signed, uid = _relayed(chain)
    real_call = logs.call
    genuine = chain.base.attestation(uid)
    sig = bytes.fromhex(signed.signature[2:])

    def altered(log: dict, **changes) -> dict:
        att = signed.attestation.model_copy(update=changes)
        return {**log, "data": "0x" + _attested_log_data(att, sig).hex()}

    mode = {"drop_genuine": False}

    def lying_call(w3, method, params):
        out = real_call(w3, method, params)
        if method != "eth_getLogs":
            return out
        fakes = [altered(log, emissions_grams=1) for log in out] + [
            altered(log, issued_at=signed.attestation.issued_at - 86400) for log in out
        ]
        fakes += [{**altered(log, emissions_grams=2), "address": "0x" + "5a" * 20} for log in out]
        return fakes if mode["drop_genuine"] else [*fakes, *out]

    monkeypatch.setattr(logs, "call", lying_call)
    # Altered copies beside the genuine log: the one whose message hashes to the uid is the one shown.
    assert chain.base.attestation(uid) == genuine
    # Only altered logs: the reader refuses to show any figure rather than show a false one.
    mode["drop_genuine"] = True
    with pytest.raises(errors.ChainError, match="hashes to it"):
        chain.base.attestation(uid)
