"""`rinne gwp`: offline signing to a file, relaying, verifying with and without a chain, revoking."""

from __future__ import annotations

import json

import pytest
from cli_support import mint

from ledger import SignedAttestation, load_attestation, save_attestation, to_bytes32

pytestmark = pytest.mark.chain


def _sign(rinne, tmp_path, lot="G-1", signer="verifier", name="att.json", *extra):
    path = tmp_path / name
    out = rinne.json("gwp", "sign", lot, "--emissions", "1.25t", "--stage", "main-production", "--account", signer, "-o", path, *extra)
    return path, out


def test_sign_is_offline_and_writes_a_verifiable_file(rinne, tmp_path):
    mint(rinne, "G-1", mass="1t")
    seq = rinne.ledger().ledger_head("attestations")[0]
    # No --rpc-url and a dead ETH_RPC_URL: signing never touches a chain.
    path, out = _sign(rinne, tmp_path)
    assert seq == rinne.ledger().ledger_head("attestations")[0]
    signed = load_attestation(path)
    assert out["uid"] == signed.uid and out["signer"] == rinne.addr("verifier")
    assert out["emissions_g"] == 1_250_000 and out["stage"] == "main-production" and out["methodology"] == "ISO14067:2018"
    assert signed.chain_id == rinne.ledger().chain_id and signed.contract == rinne.ledger().deployment.attestations
    verified = rinne.json("gwp", "verify", str(path), rpc=False, env={"ETH_RPC_URL": "http://127.0.0.1:1"})
    assert verified["ok"] is True and verified["problems"] == [] and verified["uid"] == signed.uid
    # Offline says what it could not know: a never-accredited signer's file is "valid" only as a signature.
    assert "signer accreditation" in verified["not_checked"] and "signature" in verified["checked"]
    human = rinne.run("gwp", "verify", str(path), rpc=False).stdout
    assert "unchecked  signer accreditation, revocation" in human and "(--on-chain)" in human


def test_tampered_file_fails_verification_offline(rinne, tmp_path):
    path, _ = _sign(rinne, tmp_path, "G-2")
    data = json.loads(path.read_text())
    data["message"]["emissionsGrams"] = 1
    path.write_text(json.dumps(data))
    line = rinne.fail("gwp", "verify", str(path), rpc=False)
    assert "uid" in line and "does not match" in line
    # A consistent forgery (uid recomputed over the altered fields) does not recover to the signer.
    signed = load_attestation(_sign(rinne, tmp_path, "G-2", "verifier", "good.json")[0])
    forged = SignedAttestation(
        attestation=signed.attestation.model_copy(update={"emissions_grams": 1}),
        signer=signed.signer,
        signature=signed.signature,
        chain_id=signed.chain_id,
        contract=signed.contract,
    )
    save_attestation(forged, tmp_path / "forged.json")
    result = rinne.run("gwp", "verify", str(tmp_path / "forged.json"), "--json", rpc=False, code=1)
    assert json.loads(result.stdout)["problems"] == ["signer-mismatch"] and json.loads(result.stdout)["ok"] is False
    human = rinne.run("gwp", "verify", str(tmp_path / "forged.json"), rpc=False, code=1).stdout
    assert "NOT VALID" in human and "signer-mismatch" in human
    assert "signature" in rinne.fail("gwp", "submit", str(tmp_path / "forged.json"), "--account", "refiner", "--yes")


def test_submit_then_verify_on_chain_list_and_revoke(rinne, tmp_path):
    mint(rinne, "G-3", mass="1t")
    path, signed = _sign(rinne, tmp_path, "G-3")
    # Anyone registered may relay; here the lot's holder does.
    results = rinne.write("gwp", "submit", str(path), account="refiner")
    assert results == [{"file": str(path), "uid": signed["uid"], "lot_id": to_bytes32("G-3"), "recorded": True}]
    record = rinne.ledger().attestation(signed["uid"])
    assert record["signer"] == rinne.addr("verifier") and record["emissions_grams"] == 1_250_000 and record["valid"]
    # A retried submit is a no-op.
    again = rinne.write("gwp", "submit", str(path), account="refiner")
    assert again[0]["recorded"] is False
    on_chain = rinne.json("gwp", "verify", str(path), "--on-chain")
    assert on_chain["ok"] is True and on_chain["recorded"] is True and on_chain["accredited"] is True
    by_uid = rinne.json("gwp", "verify", signed["uid"])
    assert by_uid["ok"] is True and by_uid["lot_id"] == to_bytes32("G-3") and by_uid["emissions_g"] == 1_250_000
    listed = rinne.json("gwp", "list", "--lot", "G-3")
    assert [(a["uid"], a["signer"], a["emissions_g"], a["revoked"], a["valid"]) for a in listed] == [
        (signed["uid"], rinne.addr("verifier"), 1_250_000, False, True)
    ]
    assert rinne.json("gwp", "list", "--signer", "refiner") == []
    history = rinne.json("lot", "history", "G-3")
    assert history[-1]["event"] == "Attested" and history[-1]["uid"] == signed["uid"]
    # Only its signer or an auditor may revoke; the record stays, marked revoked.
    assert "only its signer or an AUDITOR" in rinne.fail("gwp", "revoke", signed["uid"], "--account", "refiner", "--yes")
    rinne.write("gwp", "revoke", str(path), "--reason", "meter error", account="verifier")
    assert rinne.ledger().attestation(signed["uid"])["revoked"] is True
    result = rinne.run("gwp", "verify", signed["uid"], "--json", code=1)
    assert json.loads(result.stdout)["problems"] == ["revoked"]
    assert rinne.json("gwp", "list")[0]["revoked"] is True
    assert "revoked already" in rinne.fail("gwp", "revoke", signed["uid"], "--account", "auditor", "--yes")


def test_unaccredited_signer_cannot_get_on_chain(rinne, tmp_path):
    mint(rinne, "G-4", mass="1t")
    path, signed = _sign(rinne, tmp_path, "G-4", "cam")
    line = rinne.fail("gwp", "submit", str(path), "--account", "refiner", "--yes")
    assert "not an accredited GWP verifier" in line
    assert rinne.ledger().attestation(signed["uid"])["signer"] is None
    assert rinne.json("gwp", "verify", signed["uid"], code=1)["problems"] == ["not-on-chain"]


def test_submit_checks_every_file_first(rinne, tmp_path):
    mint(rinne, "G-5", mass="1t")
    good, _ = _sign(rinne, tmp_path, "G-5", "verifier", "good.json")
    expired, _ = _sign(rinne, tmp_path, "G-5", "verifier", "old.json", "--issued-at", "2020-01-01", "--valid-for", "30d")
    line = rinne.fail("gwp", "submit", str(good), str(expired), "--account", "refiner", "--yes")
    assert "old.json" in line and "past its valid-until" in line and "nothing was sent" in line
    assert rinne.json("gwp", "list", "--lot", "G-5") == []


def test_sign_usage(rinne, tmp_path):
    line = rinne.fail("gwp", "sign", "G-6", "--emissions", "1t", "--stage", "mining", "--account", "verifier", code=2)
    assert "main-production" in line
    line = rinne.fail(
        "gwp", "sign", "G-6", "--emissions", "1t", "--stage", "distribution", "--account", "verifier", "--chain-id", "999", code=2
    )
    assert "no deployment recorded for chain 999" in line
    path, _ = _sign(rinne, tmp_path, "G-6")
    assert "exists" in rinne.fail(
        "gwp", "sign", "G-6", "--emissions", "1t", "--stage", "distribution", "--account", "verifier", "-o", path, code=2
    )
    assert "neither a file" in rinne.fail("gwp", "verify", "0x1234", code=2)


def test_sign_with_an_explicit_domain_and_no_recorded_deployment(rinne, tmp_path):
    contract = rinne.ledger().deployment.attestations
    path = tmp_path / "explicit.json"
    out = rinne.json(
        "gwp",
        "sign",
        "G-7",
        "--emissions",
        "500kg",
        "--stage",
        "end-of-life",
        "--account",
        "verifier",
        "--data-dir",
        tmp_path / "empty",
        "--chain-id",
        "31337",
        "--contract",
        contract,
        "-o",
        path,
    )
    signed = load_attestation(path)
    assert out["contract"] == signed.contract == contract and signed.chain_id == 31337
    assert "--chain-id" in rinne.fail(
        "gwp",
        "sign",
        "G-7",
        "--emissions",
        "1t",
        "--stage",
        "end-of-life",
        "--account",
        "verifier",
        "--contract",
        contract,
        "-o",
        tmp_path / "x.json",
        code=2,
    )
    # Verified offline without a recorded deployment: the signature holds, and the user is told the contract was not compared.
    result = rinne.run("gwp", "verify", str(path), "--data-dir", tmp_path / "empty", "--json", rpc=False)
    assert json.loads(result.stdout)["ok"] is True and "not compared" in result.stderr


def test_an_edited_index_is_refused_by_every_listing_read_from_it(rinne, tmp_path):
    # The index is a cache anyone with disk access can edit: delete the revocation from it and the
    # attestation would list as valid. Every command answering from the index must refuse it.
    import sqlite3
    from pathlib import Path

    mint(rinne, "G-7", mass="1t")
    path, signed = _sign(rinne, tmp_path, "G-7")
    rinne.write("gwp", "submit", str(path), account="refiner")
    rinne.write("gwp", "revoke", str(path), "--reason", "meter error", account="verifier")
    listed = rinne.json("gwp", "list", "--lot", "G-7")
    assert [(a["revoked"], a["revoked_by"], a["valid"]) for a in listed] == [(True, rinne.addr("verifier"), False)]
    d = rinne.ledger().deployment
    index = rinne.home / "index" / f"{d.chain_id}-{d.ledger.lower()}.sqlite"
    db = sqlite3.connect(index)
    assert db.execute("DELETE FROM events WHERE name = 'Revoked' AND key = ?", (bytes.fromhex(signed["uid"][2:]),)).rowcount == 1
    db.commit()
    db.close()
    try:
        for command in (
            ["gwp", "list", "--lot", "G-7"],
            ["lot", "history", "G-7"],
            ["party", "list"],
            ["transfer", "pending", "--account", "cam"],
        ):
            assert "differs from the chain" in rinne.fail(*command), command
        trusted = rinne.run("gwp", "list", "--lot", "G-7", "--trust-index", "--json")
        assert json.loads(trusted.stdout)[0]["valid"] is True, "the edit matters: unchecked, the revocation is gone"
        assert "not checked against the chain's ledger heads" in trusted.stderr
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{index}{suffix}").unlink(missing_ok=True)
    assert rinne.json("gwp", "list", "--lot", "G-7")[0]["valid"] is False  # rebuilt from the chain
