"""Offline GWP attestations: model validation, EIP-712 digest, signatures, verification, files."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from coincurve import PublicKey
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import ValidationError

from ledger.attest.eip712 import (
    ATTESTATION_TYPE_STRING,
    ATTESTATION_TYPEHASH,
    attestation_digest,
    attestation_typed_data,
    sign_attestation,
    to_contract_args,
    verify_attestation,
)
from ledger.attest.files import FILE_TYPE, attestation_from_dict, attestation_to_dict, load_attestation, save_attestation
from ledger.attest.records import AttestationCheck, GwpAttestation, SignedAttestation
from ledger.domain.stages import LifeCycleStage
from ledger.errors import AttestationError, InvalidInput, LedgerError, SignatureError

REPO = Path(__file__).resolve().parents[3]
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
CHAIN = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OTHER_CONTRACT = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
# Anvil's first two dev keys: public test keys, never funded outside a dev chain.
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"

FIELDS = {
    "lot_id": "0x" + "ab" * 32,
    "emissions_grams": 12_345_678,
    "stage": LifeCycleStage.MainProduction,
    "methodology": "ISO14067:2018",
    "evidence": "0x" + "11" * 32,
    "issued_at": 1_700_000_000,
    "valid_until": 1_800_000_000,
    "nonce": 42,
    "deadline": 1_700_086_400,
}
NOW = 1_700_000_100


def make(**overrides: Any) -> GwpAttestation:
    return GwpAttestation(**{**FIELDS, **overrides})


@pytest.fixture(scope="module")
def account() -> Any:
    return Account.from_key(KEY)


@pytest.fixture(scope="module")
def signed(account: Any) -> SignedAttestation:
    return sign_attestation(make(), account, CHAIN, CONTRACT)


def eth_account_digest(att: GwpAttestation, chain_id: int, contract: str) -> bytes:
    m = encode_typed_data(full_message=attestation_typed_data(att, chain_id, contract))
    return keccak(b"\x19" + m.version + m.header + m.body)


# --- the model -------------------------------------------------------------------------------------


def test_model_normalises_hex_and_labels() -> None:
    a = make(lot_id="0x" + "AB" * 32, methodology="EU-BATT-CFB-2024", stage="end_of_life")
    assert a.lot_id == "0x" + "ab" * 32
    assert a.methodology == "0x" + b"EU-BATT-CFB-2024".ljust(32, b"\0").hex()
    assert a.methodology_label == "EU-BATT-CFB-2024"
    assert a.stage is LifeCycleStage.EndOfLife
    assert make(methodology="0x" + "ff" * 32).methodology_label is None
    assert make(lot_id=bytes(range(32))).lot_id == "0x" + bytes(range(32)).hex()


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (0, LifeCycleStage.RawMaterialAcquisition),
        ("RawMaterialAcquisition", LifeCycleStage.RawMaterialAcquisition),
        ("main-production", LifeCycleStage.MainProduction),
        ("DISTRIBUTION", LifeCycleStage.Distribution),
        ("3", LifeCycleStage.EndOfLife),
    ],
)
def test_stage_accepts_numbers_and_names(stage: Any, expected: LifeCycleStage) -> None:
    assert make(stage=stage).stage is expected


def test_stage_values_match_the_solidity_enum() -> None:
    source = (REPO / "contracts/interfaces/IGwpAttestations.sol").read_text()
    body = re.search(r"enum LifeCycleStage \{([^}]*)\}", source)
    assert body is not None
    names = [n.strip() for n in body.group(1).split(",") if n.strip()]
    assert names == [s.name for s in sorted(LifeCycleStage)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lot_id", "0x1234"),
        ("lot_id", "ab" * 32),  # no 0x
        ("lot_id", "0x" + "zz" * 32),
        ("lot_id", b"\x01" * 31),
        ("emissions_grams", -1),
        ("emissions_grams", 2**64),
        ("emissions_grams", 1.5),
        ("emissions_grams", True),
        ("emissions_grams", "12kg"),
        ("stage", 4),
        ("stage", -1),
        ("stage", "recycling"),
        ("methodology", "x" * 33),
        ("methodology", "ISO\u00a014067"),
        ("methodology", ""),
        ("methodology", "0x1234"),
        ("evidence", None),
        ("evidence", "0x" + "1" * 63),
        ("issued_at", -5),
        ("valid_until", 2**64),
        ("nonce", 2**256),
        ("nonce", -1),
        ("deadline", "soon"),
    ],
)
def test_invalid_values_fail_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as e:
        make(**{field: value})
    assert field in str(e.value)


def test_empty_validity_window_is_rejected() -> None:
    with pytest.raises(ValidationError, match="valid_until .* must be later than issued_at"):
        make(issued_at=100, valid_until=100)


def test_models_are_frozen(signed: SignedAttestation) -> None:
    with pytest.raises(ValidationError):
        signed.attestation.emissions_grams = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        signed.signer = CONTRACT  # type: ignore[misc]
    check = verify_attestation(signed, now=NOW)
    with pytest.raises(ValidationError):
        check.ok = False  # type: ignore[misc]


def test_signed_attestation_checks_addresses_and_signature() -> None:
    base = {"attestation": make(), "signer": CONTRACT, "signature": "0x00", "chain_id": CHAIN, "contract": CONTRACT}
    assert SignedAttestation(**{**base, "signer": CONTRACT.lower()}).signer == CONTRACT
    for key, bad in [
        ("signer", CONTRACT[:-1] + ("A" if CONTRACT[-1] != "A" else "B")),  # broken EIP-55 checksum
        ("signer", "0x1234"),
        ("contract", "not an address"),
        ("signature", "0x123"),
        ("chain_id", 0),
    ]:
        with pytest.raises(ValidationError) as e:
            SignedAttestation(**{**base, key: bad})
        assert key in str(e.value)


# --- the digest ------------------------------------------------------------------------------------


def test_typehash_matches_the_contract_source() -> None:
    source = (REPO / "contracts/GwpAttestations.sol").read_text()
    assert f'"{ATTESTATION_TYPE_STRING}"' in source
    assert 'EIP712("Rinne GWP Attestations", "1")' in source
    assert ATTESTATION_TYPEHASH == keccak(ATTESTATION_TYPE_STRING.encode())


def test_typehash_is_embedded_in_the_compiled_contract() -> None:
    artifact = json.loads((REPO / "ledger/artifacts/GwpAttestations.json").read_text())
    assert ATTESTATION_TYPEHASH.hex() in artifact["deployedBytecode"].lower()


def test_contract_args_follow_the_abi_struct_order(signed: SignedAttestation) -> None:
    artifact = json.loads((REPO / "ledger/artifacts/GwpAttestations.json").read_text())
    attest = next(x for x in artifact["abi"] if x.get("name") == "attest")
    components = attest["inputs"][0]["components"]
    struct, signer, signature = to_contract_args(signed)
    a = signed.attestation
    by_abi_name = dict(zip([c["name"] for c in components], struct))
    assert by_abi_name == {
        "lotId": bytes.fromhex(a.lot_id[2:]),
        "emissionsGrams": a.emissions_grams,
        "stage": 1,
        "methodology": bytes.fromhex(a.methodology[2:]),
        "evidence": bytes.fromhex(a.evidence[2:]),
        "issuedAt": a.issued_at,
        "validUntil": a.valid_until,
        "nonce": a.nonce,
        "deadline": a.deadline,
    }
    assert [a["type"] for a in attest["inputs"][1:]] == ["address", "bytes"]
    assert signer == signed.signer and signature == bytes.fromhex(signed.signature[2:]) and len(signature) == 65
    # The struct hash the contract computes is keccak(abi.encode(TYPEHASH, fields...)) over these args.
    types = ["bytes32"] + [c["type"] for c in components]
    struct_hash = keccak(abi_encode(types, [ATTESTATION_TYPEHASH, *struct]))
    m = encode_typed_data(full_message=attestation_typed_data(a, CHAIN, CONTRACT))
    assert struct_hash == m.body


def test_digest_depends_on_chain_and_contract() -> None:
    a = make()
    d = attestation_digest(a, CHAIN, CONTRACT)
    assert d == eth_account_digest(a, CHAIN, CONTRACT)
    assert d != attestation_digest(a, CHAIN + 1, CONTRACT)
    assert d != attestation_digest(a, CHAIN, OTHER_CONTRACT)
    assert d == attestation_digest(a, CHAIN, CONTRACT.lower())


@pytest.mark.parametrize(("chain_id", "contract"), [(0, CONTRACT), (-1, CONTRACT), (CHAIN, "0x12"), (True, CONTRACT)])
def test_bad_domain_is_invalid_input(chain_id: Any, contract: str) -> None:
    with pytest.raises(InvalidInput, match="domain"):
        attestation_digest(make(), chain_id, contract)


bytes32s = st.binary(min_size=32, max_size=32)
u64 = st.integers(0, 2**64 - 1)


@st.composite
def attestations(draw: st.DrawFn) -> GwpAttestation:
    issued = draw(st.integers(0, 2**64 - 2))
    return GwpAttestation(
        lot_id=draw(bytes32s),
        emissions_grams=draw(u64),
        stage=draw(st.sampled_from(list(LifeCycleStage))),
        methodology=draw(bytes32s),
        evidence=draw(bytes32s),
        issued_at=issued,
        valid_until=draw(st.integers(issued + 1, 2**64 - 1)),
        nonce=draw(st.integers(0, 2**256 - 1)),
        deadline=draw(u64),
    )


@settings(max_examples=200, deadline=None)
@given(att=attestations(), chain_id=st.integers(1, 2**256 - 1), contract=st.binary(min_size=20, max_size=20))
def test_digest_equals_eth_account_typed_data_hash(att: GwpAttestation, chain_id: int, contract: bytes) -> None:
    address = to_checksum_address(contract)
    assert attestation_digest(att, chain_id, address) == eth_account_digest(att, chain_id, address)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(att=attestations(), key=st.integers(1, N - 1))
def test_random_keys_sign_and_verify(att: GwpAttestation, key: int) -> None:
    acct = Account.from_key(key.to_bytes(32, "big"))
    s = sign_attestation(att, acct, CHAIN, CONTRACT)
    check = verify_attestation(s, now=att.issued_at)
    assert "bad-signature" not in check.problems and "signer-mismatch" not in check.problems
    assert check.recovered == acct.address
    assert int(s.signature[66:130], 16) <= N // 2


# --- signing and verification ------------------------------------------------------------------------


def test_sign_and_verify_round_trip(signed: SignedAttestation, account: Any) -> None:
    assert signed.signer == account.address
    assert signed.contract == CONTRACT and signed.chain_id == CHAIN
    assert signed.uid == "0x" + eth_account_digest(signed.attestation, CHAIN, CONTRACT).hex()
    check = verify_attestation(signed, now=NOW, chain_id=CHAIN, contract=CONTRACT)
    assert check == AttestationCheck(ok=True, problems=[], uid=signed.uid, recovered=account.address)


TAMPERED = {
    "lot_id": "0x" + "ac" * 32,
    "emissions_grams": FIELDS["emissions_grams"] - 1,
    "stage": LifeCycleStage.RawMaterialAcquisition,
    "methodology": "ISO14067:2019",
    "evidence": "0x" + "12" * 32,
    "issued_at": FIELDS["issued_at"] - 1,
    "valid_until": FIELDS["valid_until"] + 1,
    "nonce": FIELDS["nonce"] + 1,
    "deadline": FIELDS["deadline"] + 1,
}


def test_every_field_is_tampered() -> None:
    assert set(TAMPERED) == set(GwpAttestation.model_fields)


@pytest.mark.parametrize("field", sorted(TAMPERED))
def test_tampering_any_field_breaks_verification(signed: SignedAttestation, field: str) -> None:
    forged = signed.model_copy(update={"attestation": make(**{field: TAMPERED[field]})})
    check = verify_attestation(forged, now=NOW)
    assert not check.ok
    assert check.problems == ["signer-mismatch"]
    assert check.uid != signed.uid


@pytest.mark.parametrize(
    "update",
    [{"chain_id": CHAIN + 1}, {"contract": OTHER_CONTRACT}, {"signer": Account.from_key(OTHER_KEY).address}],
    ids=["chain_id", "contract", "signer"],
)
def test_tampering_domain_or_signer_breaks_verification(signed: SignedAttestation, update: dict[str, Any]) -> None:
    forged = SignedAttestation(**{**dict(signed), **update})
    check = verify_attestation(forged, now=NOW)
    assert not check.ok and check.problems == ["signer-mismatch"]


def test_signature_by_someone_else_is_a_mismatch(signed: SignedAttestation) -> None:
    other = sign_attestation(make(), Account.from_key(OTHER_KEY), CHAIN, CONTRACT)
    forged = signed.model_copy(update={"signature": other.signature})
    check = verify_attestation(forged, now=NOW)
    assert check.problems == ["signer-mismatch"]
    assert check.recovered == Account.from_key(OTHER_KEY).address


def high_s_twin(signature: str) -> str:
    raw = bytes.fromhex(signature[2:])
    s = int.from_bytes(raw[32:64], "big")
    v = raw[64]
    return "0x" + (raw[:32] + (N - s).to_bytes(32, "big") + bytes([55 - v])).hex()


def test_high_s_twin_is_flagged(signed: SignedAttestation, account: Any) -> None:
    twin = high_s_twin(signed.signature)
    raw = bytes.fromhex(twin[2:])
    # The twin is a mathematically valid signature by the same key: only the low-s rule rejects it.
    pub = PublicKey.from_signature_and_message(raw[:64] + bytes([raw[64] - 27]), signed.digest, hasher=None)
    assert keccak(pub.format(compressed=False)[1:])[12:] == bytes.fromhex(account.address[2:])
    check = verify_attestation(signed.model_copy(update={"signature": twin}), now=NOW)
    assert not check.ok and check.problems == ["high-s"]


def _with_sig(signed: SignedAttestation, raw: bytes) -> SignedAttestation:
    return signed.model_copy(update={"signature": "0x" + raw.hex()})


@pytest.mark.parametrize(
    "mangle",
    [
        lambda r: r[:64],  # 64 bytes: EIP-2098 compact form is not accepted by OZ 5
        lambda r: r + b"\0",
        lambda r: b"",
        lambda r: r[:64] + bytes([r[64] - 27]),  # v as 0/1
        lambda r: r[:64] + b"\x1d",  # v = 29
        lambda r: bytes(32) + r[32:],  # r = 0
        lambda r: r[:32] + bytes(32) + r[64:],  # s = 0
        lambda r: N.to_bytes(32, "big") + r[32:],  # r = n
        lambda r: r[:32] + (2**256 - 1).to_bytes(32, "big") + r[64:],  # s >= n
    ],
    ids=["64-bytes", "66-bytes", "empty", "v-0-1", "v-29", "r-zero", "s-zero", "r-n", "s-max"],
)
def test_malformed_signatures_are_bad(signed: SignedAttestation, mangle: Any) -> None:
    raw = bytes.fromhex(signed.signature[2:])
    check = verify_attestation(_with_sig(signed, mangle(raw)), now=NOW)
    assert not check.ok and check.problems == ["bad-signature"]


def test_wrong_expected_chain_and_contract(signed: SignedAttestation) -> None:
    assert verify_attestation(signed, now=NOW, chain_id=1).problems == ["wrong-chain"]
    assert verify_attestation(signed, now=NOW, contract=OTHER_CONTRACT).problems == ["wrong-contract"]
    both = verify_attestation(signed, now=NOW, chain_id=1, contract=OTHER_CONTRACT)
    assert not both.ok and both.problems == ["wrong-chain", "wrong-contract"]
    assert verify_attestation(signed, now=NOW, chain_id=CHAIN, contract=CONTRACT.lower()).ok


def test_validity_window_and_deadline(signed: SignedAttestation) -> None:
    a = signed.attestation
    assert verify_attestation(signed, now=a.issued_at - 1).problems == ["not-yet-valid"]
    assert verify_attestation(signed, now=a.issued_at).ok
    # The contract's isValid holds while block.timestamp <= validUntil.
    at_end = verify_attestation(signed, now=a.valid_until)
    assert at_end.ok and at_end.problems == ["deadline-passed"]
    late = verify_attestation(signed, now=a.valid_until + 1)
    assert not late.ok and late.problems == ["expired", "deadline-passed"]
    relay_late = verify_attestation(signed, now=a.deadline + 1)
    assert relay_late.ok and relay_late.problems == ["deadline-passed"]


def test_now_defaults_to_the_clock(account: Any) -> None:
    s = sign_attestation(make(issued_at=1, valid_until=2, deadline=2), account, CHAIN, CONTRACT)
    assert "expired" in verify_attestation(s).problems


def test_contract_signer_needs_a_chain(signed: SignedAttestation) -> None:
    calls: list[tuple[str, bytes, bytes]] = []

    def wallet(answer: bool) -> Any:
        def check(signer: str, digest: bytes, signature: bytes) -> bool:
            calls.append((signer, digest, signature))
            return answer

        return check

    offline = verify_attestation(signed, now=NOW, is_contract=True)
    assert not offline.ok and offline.problems == ["contract-signer"]
    assert verify_attestation(signed, now=NOW, is_contract=True, erc1271_check=wallet(True)).ok
    assert calls[-1] == (signed.signer, signed.digest, bytes.fromhex(signed.signature[2:]))
    refused = verify_attestation(signed, now=NOW, is_contract=True, erc1271_check=wallet(False))
    assert not refused.ok and refused.problems == ["bad-signature"]

    # An arbitrary wallet signature (not ECDSA by the signer) passes only when the wallet vouches for it.
    wallet_sig = signed.model_copy(update={"signature": "0x" + "ee" * 130})
    calls.clear()
    assert verify_attestation(wallet_sig, now=NOW, erc1271_check=wallet(True)).ok
    assert len(calls) == 1
    assert verify_attestation(wallet_sig, now=NOW, erc1271_check=wallet(False)).problems == ["bad-signature"]
    calls.clear()
    assert verify_attestation(wallet_sig, now=NOW, is_contract=False, erc1271_check=wallet(True)).problems == ["bad-signature"]
    assert verify_attestation(signed, now=NOW, erc1271_check=wallet(True)).ok
    assert calls == []  # an EOA signature that recovers needs no wallet call


class _HighSSigner:
    """A signer that returns the malleable twin of a correct signature."""

    def __init__(self) -> None:
        self._inner = Account.from_key(KEY)
        self.address = self._inner.address

    def sign_message(self, message: Any) -> Any:
        good = self._inner.sign_message(message)
        twin = bytes.fromhex(high_s_twin("0x" + bytes(good.signature).hex())[2:])
        return type("Signed", (), {"signature": twin})()


def test_sign_refuses_a_high_s_signature() -> None:
    with pytest.raises(SignatureError, match="high-s"):
        sign_attestation(make(), _HighSSigner(), CHAIN, CONTRACT)


def test_sign_rejects_a_bad_domain(account: Any) -> None:
    with pytest.raises(InvalidInput):
        sign_attestation(make(), account, 0, CONTRACT)


# --- files -------------------------------------------------------------------------------------------


def test_file_round_trip(tmp_path: Path, signed: SignedAttestation) -> None:
    path = tmp_path / "att.json"
    save_attestation(signed, path)
    assert load_attestation(path) == signed
    data = json.loads(path.read_text())
    assert data["type"] == FILE_TYPE
    assert data["uid"] == signed.uid
    assert data["chainId"] == CHAIN and data["contract"] == CONTRACT
    assert data["signer"] == signed.signer and data["signature"] == signed.signature
    assert data["message"]["lotId"] == signed.attestation.lot_id
    assert data["message"]["nonce"] == "42"  # a string: doubles would round a 256-bit nonce
    assert sorted(os.listdir(tmp_path)) == ["att.json"]  # no temp file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 & ~umask  # a public document, not a 0600 temp file


def test_file_round_trip_with_a_huge_nonce(tmp_path: Path, account: Any) -> None:
    s = sign_attestation(make(nonce=2**256 - 1, emissions_grams=2**64 - 1), account, CHAIN, CONTRACT)
    save_attestation(s, tmp_path / "a.json")
    loaded = load_attestation(tmp_path / "a.json")
    assert loaded.attestation.nonce == 2**256 - 1
    assert verify_attestation(loaded, now=NOW).ok


def test_save_replaces_atomically(tmp_path: Path, signed: SignedAttestation, account: Any) -> None:
    path = tmp_path / "att.json"
    path.write_text("old")
    save_attestation(signed, path)
    assert load_attestation(path) == signed


def test_save_into_missing_folder_is_an_attestation_error(tmp_path: Path, signed: SignedAttestation) -> None:
    with pytest.raises(AttestationError, match="cannot write"):
        save_attestation(signed, tmp_path / "nope" / "att.json")


def _mutate(signed: SignedAttestation, fn: Any) -> str:
    data = attestation_to_dict(signed)
    out = fn(data)
    return out if isinstance(out, str) else json.dumps(data)


def _set(path: str, value: Any) -> Any:
    def fn(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for p in parents:
            d = d[p]
        d[last] = value

    return fn


def _delete(path: str) -> Any:
    def fn(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for p in parents:
            d = d[p]
        del d[last]

    return fn


MALFORMED: list[tuple[str, Any, str]] = [
    ("empty", lambda d: "", "not JSON"),
    ("garbage", lambda d: "{not json", "not JSON"),
    ("array", lambda d: "[1, 2]", "expected a JSON object"),
    ("nan", lambda d: json.dumps(d).replace('"emissionsGrams": 12345678', '"emissionsGrams": NaN'), "NaN"),
    ("wrong-type", _set("type", "eas.attestation/v1"), "not a Rinne GWP attestation"),
    ("no-type", _delete("type"), "not a Rinne GWP attestation"),
    ("no-uid", _delete("uid"), "uid: missing"),
    ("no-signature", _delete("signature"), "signature: missing"),
    ("no-lot", _delete("message.lotId"), "message.lotId: missing"),
    ("extra-key", _set("comment", "hi"), "comment: unexpected key"),
    ("extra-field", _set("message.gwp", 1), "message.gwp: unexpected key"),
    ("message-list", _set("message", []), "message: expected a JSON object"),
    ("bad-lot", _set("message.lotId", "0x12"), "message.lotId: expected 0x followed by 64 hex digits"),
    ("float", _set("message.emissionsGrams", 1.5), "message.emissionsGrams"),
    ("bool", _set("message.deadline", True), "message.deadline"),
    ("negative", _set("message.issuedAt", -1), "message.issuedAt"),
    ("stage", _set("message.stage", 9), "message.stage"),
    ("period", _set("message.validUntil", 1), "valid_until"),
    ("signer", _set("signer", "0xnope"), "signer:"),
    ("signature", _set("signature", "0xabc"), "signature:"),
    ("chain", _set("chainId", 0), "chainId:"),
    ("contract", _set("contract", 12), "contract:"),
    ("uid", _set("uid", "0x" + "00" * 32), "uid:"),
    ("uid-type", _set("uid", 5), "uid:"),
    ("tampered", _set("message.emissionsGrams", 1), "does not match"),
    ("tampered-chain", _set("chainId", 1), "does not match"),
    ("duplicate", lambda d: json.dumps(d)[:-1] + ', "signer": "' + CONTRACT + '"}', "signer: duplicate key"),
]


@pytest.mark.parametrize(("mutation", "expected"), [(m, e) for _, m, e in MALFORMED], ids=[i for i, _, _ in MALFORMED])
def test_malformed_files_raise_one_line(tmp_path: Path, signed: SignedAttestation, mutation: Any, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(_mutate(signed, mutation))
    with pytest.raises(AttestationError) as e:
        load_attestation(path)
    message = str(e.value)
    assert "\n" not in message
    assert expected in message
    assert message.startswith(str(path))
    assert "validation error" not in message and "pydantic" not in message
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(AttestationError, match="cannot read"):
        load_attestation(tmp_path / "missing.json")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(AttestationError, match="not UTF-8"):
        load_attestation(tmp_path / "bin")
    (tmp_path / "big").write_bytes(b" " * 70_000)
    with pytest.raises(AttestationError, match="larger than"):
        load_attestation(tmp_path / "big")
    assert issubclass(AttestationError, LedgerError)


def test_tampered_file_with_recomputed_uid_fails_verification(tmp_path: Path, signed: SignedAttestation) -> None:
    data = attestation_to_dict(signed)
    data["message"]["emissionsGrams"] = 1  # the verifier's figure, lowered
    forged_uid = "0x" + attestation_digest(make(emissions_grams=1), CHAIN, CONTRACT).hex()
    data["uid"] = forged_uid
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(data))
    loaded = load_attestation(path)
    assert loaded.uid == forged_uid
    check = verify_attestation(loaded, now=NOW)
    assert not check.ok and check.problems == ["signer-mismatch"]


def test_from_dict_accepts_decimal_strings_and_upper_hex(signed: SignedAttestation) -> None:
    data = attestation_to_dict(signed)
    data["message"]["emissionsGrams"] = str(data["message"]["emissionsGrams"])
    data["uid"] = data["uid"].upper().replace("0X", "0x")
    assert attestation_from_dict(data) == signed


def test_verification_is_fast() -> None:
    # The auditor's replay re-verifies every attestation; the brief asks for >= 2,000/s on two cores.
    pool = [sign_attestation(make(nonce=i), Account.from_key((i + 1).to_bytes(32, "big")), CHAIN, CONTRACT) for i in range(100)]
    best = 0.0
    for _ in range(3):  # best of three: a busy CI neighbour should not fail the build
        start = time.perf_counter()
        for s in pool * 4:
            verify_attestation(s, now=NOW)
        best = max(best, len(pool) * 4 / (time.perf_counter() - start))
    assert best >= 2000, f"{best:.0f} verifications/s"
