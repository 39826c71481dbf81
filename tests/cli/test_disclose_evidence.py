"""Salted evidence and reason words through the CLI, as a cheater would try them (issue 17, Annex XIII point 3).

An evidence word (an assay certificate, a grading record, a diagnosis report, an LCA report) and a reason word
(freeze, revoke) used to be the plain keccak of a document or a text: a competitor holding a known document, or
a dictionary of common reasons, confirmed it by hashing. Now each is a salted commitment bound to its subject:
the dictionary fails, the opening in the writer's vault verifies (`rinne disclose word:0x...`,
`rinne verify-disclosure`), an altered or moved opening fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import mint
from eth_utils import keccak

from ledger import Disclosure, disclose, evidence_vault_id, local_vault, verify_evidence

pytestmark = pytest.mark.chain

REASONS = [
    "contamination", "fraud", "assay dispute", "key leak", "meter error", "meter calibration error",
    "investigation", "counterfeit", "quality", "recall", "sanctions", "child labour", "double counting",
]  # fmt: skip


def _plain_words(texts: list[str]) -> set[str]:
    return {"0x" + keccak(text=t).hex() for t in texts}


def _disclose(rinne, word: str, path: Path, *extra: str) -> dict:
    return rinne.json("disclose", f"word:{word}", "--out", str(path), *extra, rpc=False)


def _vault_words(rinne) -> set[str]:
    """The evidence and reason words this data directory's vault holds openings for (record ids are public words)."""
    vault = local_vault(rinne.home, create=False)  # record files and batches alike
    ids = set(vault.records()) if vault is not None else set()
    return {i.removeprefix("word:") for i in ids if i.startswith("word:")}


def test_a_dictionary_of_reasons_does_not_confirm_a_freeze_reason_and_the_opening_does(rinne, tmp_path: Path) -> None:
    mint(rinne, "EV-FRZ")
    mint(rinne, "EV-FRZ2")
    rinne.write("lot", "freeze", "EV-FRZ", "--reason", "contamination", account="auditor")
    frozen = next(e for e in rinne.json("lot", "history", "EV-FRZ") if e["event"] == "LotFrozen")
    word = frozen["reason"]
    # Before: keccak("contamination") stood on the chain, and this list found it. Now nothing matches.
    assert word not in _plain_words(REASONS)
    out = tmp_path / "reason.json"
    assert _disclose(rinne, word, out)["disclosed"] == ["reason"]
    checked = rinne.json("verify-disclosure", str(out), "--root", word)
    assert checked["verified"] is True and checked["fields"] == {"reason": "contamination"}

    doc = json.loads(out.read_text())

    def fails(name: str, changed: dict, *extra: str) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(changed))
        return rinne.fail("verify-disclosure", str(path), *extra)

    # A softer reason on the genuine proof, or a harsher one: neither verifies.
    softer = json.loads(json.dumps(doc))
    softer["fields"][0]["value"] = "routine check"
    assert "does not verify" in fails("softer.json", softer, "--root", word)
    # The same opening claimed for another lot: the record id binds the reason to EV-FRZ.
    moved = json.loads(json.dumps(doc))
    moved["record_id"] = moved["record_id"].replace(frozen["lot_id"], "0x" + "ee" * 32)
    assert "does not verify" in fails("moved.json", moved, "--root", word)
    # A freeze reason passed off as a revocation reason: the kind is bound too.
    kind = json.loads(json.dumps(doc))
    kind["record_id"] = kind["record_id"].replace("evidence:freeze:", "evidence:revoke:")
    assert "does not verify" in fails("kind.json", kind, "--root", word)
    # The auditor's own machine shows the reason it wrote (its vault opens it); the chain shows only the word.
    line = next(x for x in rinne.run("lot", "history", "EV-FRZ").stdout.splitlines() if "LotFrozen" in x)
    assert line.endswith("'contamination'")
    # Without --root a freeze reason is not looked up (the replay keeps no freeze reasons): one line, exit 1.
    assert "pass --root" in rinne.fail("verify-disclosure", str(out))


def test_a_known_assay_certificate_does_not_confirm_a_lot_evidence_word(rinne, tmp_path: Path) -> None:
    assay = tmp_path / "assay.pdf"
    assay.write_bytes(b"%PDF-1.7 assay certificate NiSO4 22.1 % Ni, lab 4711")
    other = tmp_path / "other.pdf"
    other.write_bytes(b"%PDF-1.7 assay certificate NiSO4 21.0 % Ni, lab 4712")
    mint(rinne, "EV-DOC", extra=("--evidence", str(assay)))
    created = rinne.json("lot", "history", "EV-DOC")[0]
    word = created["evidence"]
    # A competitor holding the certificate (leaked, or its own copy) hashes it: no match.
    assert word not in {"0x" + keccak(p.read_bytes()).hex() for p in (assay, other)}
    out = tmp_path / "assay.json"
    _disclose(rinne, word, out)
    # Checked against the lot's evidence word read from the index: the hash of exactly this certificate.
    checked = rinne.json("verify-disclosure", str(out))
    assert checked["root"] == word and checked["fields"] == {"document": "0x" + keccak(assay.read_bytes()).hex()}
    # Another certificate's hash on the genuine proof fails.
    doc = json.loads(out.read_text())
    doc["fields"][0]["value"] = "0x" + keccak(other.read_bytes()).hex()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    assert "does not verify" in rinne.fail("verify-disclosure", str(forged))


def test_status_and_soh_evidence_open_for_the_writer_and_for_no_other_unit(rinne, tmp_path: Path) -> None:
    cells = "EV-U-C"
    mint(rinne, cells, material="CELL-NMC811", mass="500kg", elements="Ni=40kg")
    rinne.write("transfer", "offer", cells, "pack", account="refiner")
    rinne.write("transfer", "accept", cells, account="pack")
    build = tmp_path / "build.pdf"
    build.write_bytes(b"build record EV-U")
    rinne.write(
        "unit", "build", "EV-U", "--cells", f"{cells}=400kg", "--material", "PACK-75KWH", "--mass", "400kg",
        "--serial", "SN-EV-U", "--rated", "75kWh", "--evidence", str(build), account="pack",
    )  # fmt: skip
    # The build record goes in as the unit lot's evidence word, committed like a mint's.
    built = next(e for e in rinne.json("lot", "history", "EV-U") if e["event"] == "LotCreated")["evidence"]
    assert built not in ("0x" + "00" * 32, "0x" + keccak(build.read_bytes()).hex())
    _disclose(rinne, built, tmp_path / "build.json")
    assert rinne.json("verify-disclosure", str(tmp_path / "build.json"))["fields"] == {
        "document": "0x" + keccak(build.read_bytes()).hex()
    }
    report = tmp_path / "bms.json"
    report.write_bytes(b'{"soh": 0.82}')
    grading = tmp_path / "grading.pdf"
    grading.write_bytes(b"grading: waste")
    rinne.write(
        "unit", "soh", "EV-U", "--soh", "82%", "--capacity", "61kWh", "--cycles", "0", "--throughput", "0kWh",
        "--evidence", str(report), account="pack",
    )  # fmt: skip
    rinne.write("unit", "status", "EV-U", "waste", "--evidence", str(grading), account="pack")
    history = rinne.json("lot", "history", "EV-U")
    # The SOH record's word is its own salted root: the report's hash is one of its fields.
    soh_word = next(e for e in history if e["event"] == "SohRecorded")["root"]
    status_word = next(e for e in history if e["event"] == "StatusChanged")["evidence"]
    plain = {"0x" + keccak(p.read_bytes()).hex() for p in (report, grading)}
    assert soh_word not in plain and status_word not in plain
    for word, document, name in ((soh_word, report, "soh.json"), (status_word, grading, "status.json")):
        out = tmp_path / name
        _disclose(rinne, word, out, "--tier", "legitimate-interest")  # point 4: the battery's condition and status
        checked = rinne.json("verify-disclosure", str(out))
        assert checked["fields"]["document"] == "0x" + keccak(document.read_bytes()).hex()
        assert checked["root"] == word
        # The public tier may not see it.
        assert "no field the public tier may see" in rinne.fail("disclose", f"word:{word}", "--tier", "public", "--out", str(out))
    # The status evidence checked against the SOH word (another record of the same unit) fails.
    out = tmp_path / "status.json"
    assert "does not verify" in rinne.fail("verify-disclosure", str(out), "--root", soh_word)


def test_an_attestation_report_and_its_revocation_reason_are_salted_and_open(rinne, tmp_path: Path) -> None:
    mint(rinne, "EV-G", mass="1t")
    report = tmp_path / "lca.pdf"
    report.write_bytes(b"LCA report EV-G, ISO 14067")
    path = tmp_path / "att.json"
    signed = rinne.json(
        "gwp", "sign", "EV-G", "--emissions", "1.25t", "--stage", "main-production", "--evidence", str(report),
        "--account", "verifier", "-o", path,
    )  # fmt: skip
    word = signed["evidence"]
    assert word != "0x" + keccak(report.read_bytes()).hex()
    # Signed offline, the opening is kept before the file is written.
    opened = local_vault(rinne.home, create=False).openings(evidence_vault_id(word))
    assert opened.fields["document"].value == "0x" + keccak(report.read_bytes()).hex()
    rinne.write("gwp", "submit", str(path), account="refiner")
    out = tmp_path / "lca.json"
    _disclose(rinne, word, out, "--tier", "authority")
    assert rinne.json("verify-disclosure", str(out))["fields"] == {"document": "0x" + keccak(report.read_bytes()).hex()}

    before = _vault_words(rinne)
    rinne.write("gwp", "revoke", str(path), "--reason", "meter error", account="verifier")
    (reason_word,) = _vault_words(rinne) - before
    assert reason_word not in _plain_words(REASONS)
    out = tmp_path / "revoke.json"
    _disclose(rinne, reason_word, out)
    # Looked up from the index: the revocation reason of that attestation.
    checked = rinne.json("verify-disclosure", str(out))
    assert checked["root"] == reason_word and checked["fields"] == {"reason": "meter error"}
    assert verify_evidence(reason_word, Disclosure.from_json(out.read_bytes()), "revoke", signed["uid"]) == {"reason": "meter error"}
    line = next(x for x in rinne.run("lot", "history", "EV-G").stdout.splitlines() if "Revoked" in x)
    assert line.endswith("'meter error'")


def test_a_bulk_import_commits_every_rows_evidence_and_keeps_each_opening(rinne, tmp_path: Path) -> None:
    docs = {f"EV-IMP-{i}": "0x" + keccak(text=f"assay {i}").hex() for i in range(3)}
    rows = "".join(f"{lot},NiSO4,1t,22%,CD:Mutanda,{doc}\n" for lot, doc in docs.items())
    path = tmp_path / "lots.csv"
    path.write_text("lot_id,material,mass,Ni,origin,evidence\n" + rows)
    rinne.run("lot", "import", str(path), "--account", "refiner", "--yes")
    vault = local_vault(rinne.home, create=False)
    assert vault is not None
    for lot, doc in docs.items():
        word = rinne.json("lot", "history", lot)[0]["evidence"]
        assert word != doc  # the hash in the file is not what went on-chain
        opened = vault.openings(evidence_vault_id(word))
        assert verify_evidence(word, disclose(opened, ["document"]), "lot", lot) == {"document": doc}


def test_a_suspension_reason_is_found_in_the_admins_vault_listing_and_checks_against_its_event(rinne, tmp_path: Path) -> None:
    before = {r["record"] for r in rinne.json("disclose", "--list", rpc=False)}
    done = rinne.write("party", "suspend", "refiner", "--reason", "key leak", account="admin")
    listed = [r for r in rinne.json("disclose", "--list", rpc=False) if r["record"] not in before]
    assert [(r["kind"], r["subjects"]) for r in listed] == [("suspend", [rinne.addr("refiner").lower()])]
    word = listed[0]["record"].removeprefix("word:")
    # The word is what the suspension put on-chain (in its event), and no plain keccak of a common reason.
    receipt = rinne.ledger().rpc("eth_getTransactionReceipt", [done["tx_hash"]])
    assert any(word[2:] in log["data"] or word in log["topics"] for log in receipt["logs"])
    assert word not in _plain_words(REASONS)
    out = tmp_path / "suspend.json"
    _disclose(rinne, word, out)
    assert rinne.json("verify-disclosure", str(out), "--root", word)["fields"] == {"reason": "key leak"}
