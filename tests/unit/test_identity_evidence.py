"""Evidence and reason words (ledger/domain/identity.py): salted roots in place of keccak(document), keccak(reason).

Each attack is one a competitor (or a party with something to hide) can mount with the chain and the
disclosures it was given: confirm a guess, move an opening to another subject or kind, soften a reason.
"""

from __future__ import annotations

import pytest

from ledger import LotSpec, SohRecord, disclose, errors
from ledger.domain.hashing import keccak
from ledger.domain.identity import (
    EVIDENCE_KINDS,
    commit_evidence,
    evidence_subjects,
    evidence_vault_id,
    vault_id,
    verify_evidence,
)

REASONS = ["contamination", "fraud", "assay dispute", "key leak", "meter error", "counterfeit", "recall"]
DOCUMENT = "0x" + keccak(b"assay certificate 4711").hex()


def test_a_dictionary_of_reasons_or_a_known_document_does_not_confirm_the_word() -> None:
    word, _ = commit_evidence("freeze", ["LOT-1"], "fraud")
    assert word not in {"0x" + keccak(r.encode()).hex() for r in REASONS}
    doc_word, _ = commit_evidence("lot", "LOT-1", DOCUMENT)
    assert doc_word != DOCUMENT and doc_word != "0x" + keccak(bytes.fromhex(DOCUMENT[2:])).hex()
    # Committing the same reason twice gives unrelated words: two freezes do not show they share a reason.
    assert commit_evidence("freeze", ["LOT-1"], "fraud")[0] != word


@pytest.mark.parametrize("kind", sorted(EVIDENCE_KINDS))
def test_every_kind_opens_with_its_opening_and_fails_tampered(kind: str) -> None:
    field, _point = EVIDENCE_KINDS[kind]
    subject = "0x" + "11" * 20 if kind == "suspend" else "SUBJECT-1"
    value = DOCUMENT if field == "document" else "contamination"
    word, opened = commit_evidence(kind, [subject], value)
    shown = disclose(opened, [field])
    assert verify_evidence(word, shown, kind, subject) == {field: value}
    tampered = shown.model_copy(
        update={"fields": (shown.fields[0].model_copy(update={"value": "0x" + "00" * 32 if field == "document" else "routine"}),)}
    )
    with pytest.raises(errors.DisclosureError, match="does not verify"):
        verify_evidence(word, tampered, kind, subject)
    salted = shown.model_copy(update={"fields": (shown.fields[0].model_copy(update={"salt": "0x" + "00" * 32}),)})
    with pytest.raises(errors.DisclosureError, match="does not verify"):
        verify_evidence(word, salted, kind, subject)


def test_an_opening_is_bound_to_its_subject_and_kind() -> None:
    word, opened = commit_evidence("freeze", ["LOT-A", "LOT-B"], "contamination")  # one batch freeze
    shown = disclose(opened, ["reason"])
    assert verify_evidence(word, shown, "freeze", "LOT-B") == {"reason": "contamination"}
    with pytest.raises(errors.DisclosureError, match="not about"):
        verify_evidence(word, shown, "freeze", "LOT-C")
    with pytest.raises(errors.DisclosureError, match="not revoke"):
        verify_evidence(word, shown, "revoke", "LOT-A")
    # The record id rewritten to name LOT-C: the root no longer folds.
    kind, subjects = evidence_subjects(shown.record_id)
    assert kind == "freeze" and len(subjects) == 2
    moved = shown.model_copy(update={"record_id": shown.record_id.replace(subjects[1], "0x" + "cc" * 32)})
    with pytest.raises(errors.DisclosureError, match="does not verify"):
        verify_evidence(word, moved, "freeze", "0x" + "cc" * 32)
    # Another word of the same subject and kind (a second freeze) does not take this opening.
    other, _ = commit_evidence("freeze", ["LOT-A", "LOT-B"], "contamination")
    with pytest.raises(errors.DisclosureError, match="does not verify"):
        verify_evidence(other, shown, "freeze", "LOT-A")


def test_the_vault_finds_an_evidence_opening_by_its_on_chain_word() -> None:
    word, opened = commit_evidence("status", "PACK-1", DOCUMENT)
    assert vault_id(opened) == evidence_vault_id(word) == "word:" + word
    with pytest.raises(errors.DisclosureError, match="no evidence record id"):
        evidence_subjects("unit:0x" + "00" * 32)


def test_bad_inputs_are_refused_in_one_line() -> None:
    with pytest.raises(errors.InvalidInput, match="unknown evidence kind"):
        commit_evidence("diary", "LOT-1", "x")
    with pytest.raises(errors.InvalidInput, match="32-byte content hash"):
        commit_evidence("lot", "LOT-1", "contamination")
    with pytest.raises(errors.InvalidInput, match="non-empty text"):
        commit_evidence("freeze", ["LOT-1"], "")
    with pytest.raises(errors.InvalidInput, match="account"):
        commit_evidence("suspend", ["LOT-1"], "key leak")


def test_specs_carry_the_document_to_the_client_and_never_to_the_abi() -> None:
    spec = LotSpec(lot_id="L", material="NiSO4", mass=1, document=DOCUMENT)
    assert "document" not in spec.model_dump()
    # A path that forgot to commit it would send a zero evidence word: refused instead of lost.
    with pytest.raises(errors.InvalidInput, match="committed by the client"):
        spec.abi()
    # An SOH record is never sent at all: its document is a field of the record's own commitment.
    soh = SohRecord(soce_bp=9000, capacity_wh=1, cycles=0, throughput_wh=0, document=DOCUMENT)
    root, opened = soh.commit("U")
    assert not hasattr(soh, "abi") and opened.fields["document"].value == DOCUMENT and root != DOCUMENT
