"""Openings reach the parties entitled to them (issue 17, Annex XIII points 3 and 4), on a real Anvil.

* Every evidence and reason opening the client writes is wrapped to the deployment's authority vault key: a
  vault holding only that key opens and verifies each word the chain shows; a third party's key opens none.
* Participants publish their own vault keys in ``VaultKeys``; writers resolve a recipient by account. Played as
  a cheater: an outsider, a suspended participant or a malformed key is refused; one account cannot publish
  for another; a key replaced later reaches later openings only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from chain_support import honest_pack, relay_attestation

from ledger import (
    EVIDENCE_KINDS,
    EventIndex,
    LotSpec,
    PassportStatus,
    SohRecord,
    Vault,
    checked_vault_key,
    disclose,
    errors,
    evidence_vault_id,
    keccak,
    open_soh,
    soh_vault_id,
    verify_evidence,
)
from ledger.chain.abi import contract_abi

DAY = 86_400
DOC = "0x" + keccak(b"assay certificate 4711").hex()
REPORT = "0x" + keccak(b"grading report 17").hex()

#: The events whose word is an evidence or reason commitment: (kind, word field, subject field).
WORDS = {
    "LotCreated": ("lot", "evidence", "lotId"),
    "LotFrozen": ("freeze", "reason", "lotId"),
    "ParticipantSuspended": ("suspend", "reason", "account"),
    "StatusChanged": ("status", "evidence", "unitId"),
    "Revoked": ("revoke", "reason", "uid"),
}


@dataclass
class Keys:
    """The session chain with an authority key in its deployment record, and the parties writing to one vault."""

    chain: object
    folder: Path
    authority_private: bytes

    def __getattr__(self, name: str) -> object:
        return getattr(self.chain, name)

    def __getitem__(self, name: str) -> object:
        return self.chain[name]

    def vault_of(self, private: bytes) -> Vault:
        """A fresh view of the shared vault folder holding one key only (as a new process would)."""
        return Vault(self.folder / "vault", private)


@pytest.fixture
def keys(chain, tmp_path: Path) -> Iterator[Keys]:
    private = Vault.new_key()
    before = chain.base.deployment
    chain.base.deployment = before.model_copy(update={"authority_vault_key": "0x" + Vault.public_key_of(private).hex()})
    chain.base.use_vault(Vault(tmp_path / "vault", Vault.new_key()))  # the writers' key
    try:
        yield Keys(chain=chain, folder=tmp_path, authority_private=private)
    finally:
        chain.base.use_vault(None)
        chain.base.deployment = before


def _chain_words(base, folder: Path) -> list[tuple[str, str, str]]:
    """(kind, word, subject) of every non-zero evidence or reason word in the chain's events, and ("soh", root, unit)."""
    index = EventIndex.open(folder / "words.sqlite")
    try:
        index.sync(base, confirmations=0)
        events = list(index.raw_events())
    finally:
        index.close()
    out = []
    for ev in events:
        contract = "GwpAttestations" if ev.name == "Revoked" else "RinneLedger"
        if ev.name not in WORDS and ev.name != "SohRecorded":
            continue
        fields = contract_abi(contract).events[ev.name].decode(list(ev.topics), ev.data)
        kind, word, subject = WORDS.get(ev.name, ("soh", "root", "unitId"))
        if fields[word] == bytes(32):
            continue
        value = fields[subject]
        out.append((kind, "0x" + fields[word].hex(), value if isinstance(value, str) else "0x" + value.hex()))
    return out


def test_the_authority_key_alone_opens_every_evidence_word_and_a_third_party_none(keys):
    k = keys
    unit = honest_pack(k.chain, "EV-AUTH")
    k["miner"].mint(LotSpec(lot_id="EV-ORE", material="ORE-NI", mass=1_000, document=DOC))
    k["auditor"].freeze("EV-ORE", "assay dispute")
    k["oem"].set_status(unit, PassportStatus.WASTE, document=REPORT)
    k.rpc("evm_increaseTime", [100 * DAY])
    k["oem"].record_soh(unit, SohRecord(soce_bp=9_000, capacity_wh=67_000, cycles=200, throughput_wh=14_000_000))
    uid = relay_attestation(k["miner"], k.accounts["verifier"], "EV-ORE", 1_000)
    k["verifier"].revoke_attestation(uid, "wrong scope")
    k["admin"].suspend(k.addr("miner2"), "key leak")

    words = _chain_words(k.chain.base, k.folder)
    assert {kind for kind, _, _ in words} >= {"lot", "freeze", "status", "soh", "revoke", "suspend"}
    authority, stranger = k.vault_of(k.authority_private), k.vault_of(Vault.new_key())
    for kind, word, subject in words:
        if kind == "soh":
            opened = authority.openings(soh_vault_id(word))
            assert open_soh(word, opened, subject)["cycles"] == 200
            vault_id = soh_vault_id(word)
        else:
            vault_id = evidence_vault_id(word)
            opened = authority.openings(vault_id)
            field = EVIDENCE_KINDS[kind][0]
            got = verify_evidence(word, disclose(opened, [field]), kind, subject)
            assert got[field] in {DOC, REPORT, "assay dispute", "wrong scope", "key leak"}
        with pytest.raises(errors.DisclosureError):
            stranger.openings(vault_id)


def test_without_an_authority_key_in_the_deployment_evidence_stays_with_its_writer(chain, tmp_path):
    chain.base.use_vault(Vault(tmp_path / "vault", Vault.new_key()))
    try:
        chain["miner"].mint(LotSpec(lot_id="EV-MINE", material="ORE-NI", mass=1_000, document=DOC))
        ((_, word, _),) = [w for w in _chain_words(chain.base, tmp_path) if w[2] == "0x" + b"EV-MINE".ljust(32, b"\0").hex()]
        assert chain.base.vault.openings(evidence_vault_id(word)).fields["document"].value == DOC
        with pytest.raises(errors.DisclosureError):
            Vault(tmp_path / "vault", Vault.new_key()).openings(evidence_vault_id(word))
    finally:
        chain.base.use_vault(None)


# ------------------------------------------------------------------------------------ the registry


def test_a_participant_publishes_its_key_and_writers_resolve_it_by_account(keys):
    k = keys
    oem_private = Vault.new_key()
    oem_public = Vault.public_key_of(oem_private)
    with pytest.raises(errors.DisclosureError, match="published no vault key"):
        k.chain.base.vault_key_of(k.addr("oem"))
    k["oem"].publish_vault_key(oem_public)
    assert k.chain.base.vault_key_of(k.addr("oem")) == oem_public
    # Another account's lookup is untouched: a participant publishes for its own account only (msg.sender).
    with pytest.raises(errors.DisclosureError, match="published no vault key"):
        k.chain.base.vault_key_of(k.addr("recycler"))
    unit = honest_pack(k.chain, "VK-RESOLVE")
    k["oem"].authorise_diagnostician(unit, k.addr("diagnostician"))
    k.rpc("evm_increaseTime", [50 * DAY])
    k["diagnostician"].record_soh(
        unit, SohRecord(soce_bp=9_500, capacity_wh=70_000, cycles=60, throughput_wh=4_000_000), recipients=[k.addr("oem")]
    )
    root = k.chain.base.unit(unit).soh_root
    assert open_soh(root, k.vault_of(oem_private).openings(soh_vault_id(root)), unit)["cycles"] == 60


def test_a_recipient_without_a_key_stops_the_write_before_it_is_sent(keys):
    k = keys
    unit = honest_pack(k.chain, "VK-NOKEY")
    k.rpc("evm_increaseTime", [50 * DAY])
    with pytest.raises(errors.DisclosureError, match="published no vault key"):
        k["oem"].record_soh(
            unit, SohRecord(soce_bp=9_500, capacity_wh=70_000, cycles=60, throughput_wh=4_000_000), recipients=[k.addr("recycler")]
        )
    assert k.chain.base.unit(unit).soh_root is None  # nothing was recorded that no one it was meant for can open


def test_an_outsider_or_a_suspended_or_roleless_participant_cannot_publish(keys):
    k = keys
    key = Vault.public_key_of(Vault.new_key())
    k.chain.base.fund(k.addr("outsider"))
    with pytest.raises(errors.ContractRevert, match="VaultKeysNotParticipant"):
        k["outsider"].publish_vault_key(key)
    k["recycler"].publish_vault_key(key)
    k["admin"].suspend(k.addr("recycler"))
    with pytest.raises(errors.ContractRevert, match="VaultKeysNotParticipant"):
        k["recycler"].publish_vault_key(Vault.public_key_of(Vault.new_key()))
    # A suspended account may have lost its keys: no writer resolves its key any more.
    with pytest.raises(errors.DisclosureError, match="not an active participant"):
        k.chain.base.vault_key_of(k.addr("recycler"))
    k["admin"].revoke_roles(k.addr("second_life"), "SECOND_LIFE")
    with pytest.raises(errors.ContractRevert, match="VaultKeysNotParticipant"):
        k["second_life"].publish_vault_key(key)


def test_a_malformed_key_is_refused_by_the_client_and_the_zero_key_by_the_contract(keys):
    k = keys
    for bad in (b"\x01" * 31, bytes(32), (1).to_bytes(32, "little"), "0x" + "zz" * 32):
        with pytest.raises(errors.InvalidInput):
            checked_vault_key(bad)
        with pytest.raises(errors.InvalidInput):
            k["oem"].publish_vault_key(bad)
    d = k.chain.base.deployment
    f = contract_abi("VaultKeys").fn("publishVaultKey")
    with pytest.raises(errors.ContractRevert, match="VaultKeysInvalidKey"):
        k["oem"].send_raw(d.vault_keys, f.encode(bytes(32)))
    with pytest.raises(errors.ChainError, match="reverted"):
        k["oem"].send_raw(d.vault_keys, f.encode(bytes(32))[:20])  # a key cut short: the ABI decoder refuses it
    with pytest.raises(errors.DisclosureError, match="published no vault key"):
        k.chain.base.vault_key_of(k.addr("oem"))


def test_a_replaced_key_reaches_later_openings_only(keys):
    k = keys
    first, second = Vault.new_key(), Vault.new_key()
    unit = honest_pack(k.chain, "VK-ROTATE")
    k["oem"].authorise_diagnostician(unit, k.addr("diagnostician"))
    k["oem"].publish_vault_key(Vault.public_key_of(first))
    k.rpc("evm_increaseTime", [50 * DAY])
    record = SohRecord(soce_bp=9_500, capacity_wh=70_000, cycles=60, throughput_wh=4_000_000)
    k["diagnostician"].record_soh(unit, record, recipients=[k.addr("oem")])
    old_root = k.chain.base.unit(unit).soh_root
    k["oem"].publish_vault_key(Vault.public_key_of(second))
    k.rpc("evm_increaseTime", [50 * DAY])
    later = SohRecord(soce_bp=9_300, capacity_wh=69_000, cycles=120, throughput_wh=8_000_000)
    k["diagnostician"].record_soh(unit, later, recipients=[k.addr("oem")])
    new_root = k.chain.base.unit(unit).soh_root
    old_vault, new_vault = k.vault_of(first), k.vault_of(second)
    assert open_soh(old_root, old_vault.openings(soh_vault_id(old_root)), unit)["cycles"] == 60
    assert open_soh(new_root, new_vault.openings(soh_vault_id(new_root)), unit)["cycles"] == 120
    with pytest.raises(errors.DisclosureError):
        old_vault.openings(soh_vault_id(new_root))
    with pytest.raises(errors.DisclosureError):
        new_vault.openings(soh_vault_id(old_root))
