"""Identity records (ledger/domain/identity.py): salted roots in place of keccak(serial), keccak(site), keccak(name).

Each attack is one a competitor can mount with only the chain and the disclosures it was given.
"""

from __future__ import annotations

import pytest

from ledger import LotSpec, UnitSpec, disclose, errors, origin_code
from ledger.domain.hashing import keccak
from ledger.domain.identity import commit_party, commit_site, commit_unit, verify_origin, verify_party, verify_unit

SITES = ["Kolwezi", "Mutanda", "Tenke Fungurume", "Kambalda", "Greenbushes", "Harjavalta", "Kalgoorlie"]


def test_the_same_serial_twice_gives_unrelated_roots_and_no_plain_hash() -> None:
    a, _ = commit_unit("PACK-A", "SN-1")
    b, _ = commit_unit("PACK-A", "SN-1")
    assert a != b and keccak(b"SN-1").hex() not in (a[2:], b[2:])


def test_a_root_copied_to_another_unit_does_not_verify_there() -> None:
    # A counterfeiter builds a unit with a genuine unit's serialHash and shows the genuine disclosure for it.
    root, opened = commit_unit("GENUINE", "SN-7", "UN999SN-7")
    shown = disclose(opened, ["serialNumber"])
    assert verify_unit(root, shown, "GENUINE") == {"serialNumber": "SN-7"}
    with pytest.raises(errors.DisclosureError, match="not 'unit:"):
        verify_unit(root, shown, "CLONE")


def test_a_guessed_site_cannot_be_confirmed_against_the_origin_word() -> None:
    word, opened = commit_site("ORE-1", "CD", "Kolwezi")
    raw = bytes.fromhex(word[2:])
    assert raw[:2] == b"CD"
    assert not any(keccak(s.encode())[:30] == raw[2:] for s in SITES)  # the plain packing of before
    assert verify_origin(word, disclose(opened, ["site"]), "ORE-1") == {"site": "Kolwezi"}


def test_an_origin_disclosure_fails_on_another_lot_another_word_or_another_country() -> None:
    word, opened = commit_site("ORE-1", "CD", "Kolwezi")
    other, _ = commit_site("ORE-2", "CD", "Kolwezi")
    shown = disclose(opened, ["country", "site"])
    with pytest.raises(errors.DisclosureError):
        verify_origin(word, shown, "ORE-2")
    with pytest.raises(errors.DisclosureError, match="does not verify"):
        verify_origin(other, shown, "ORE-1")  # another lot's word, same site: its own salts, its own root
    # The country in clear relabelled (AU instead of CD) while the 30 bytes are kept: refused.
    relabelled = "0x" + b"AU".hex() + word[6:]
    with pytest.raises(errors.DisclosureError):
        verify_origin(relabelled, shown, "ORE-1")


def test_a_party_name_is_bound_to_its_account() -> None:
    root, opened = commit_party("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "Nordic Refining", "LEI 5493001KJTIIGC8Y1R12")
    shown = disclose(opened, ["name"])
    assert verify_party(root, shown, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8") == {"name": "Nordic Refining"}
    with pytest.raises(errors.DisclosureError):
        verify_party(root, shown, "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")


def test_specs_carry_the_plaintext_to_the_client_and_never_to_the_abi() -> None:
    spec = LotSpec(lot_id="ORE-1", material="ORE-CO", mass=10, origin=origin_code("CD", "Kolwezi"))
    assert spec.site == "Kolwezi" and "site" not in spec.model_dump()
    assert spec.abi()[3] == b"CD" + bytes(30)  # unsent until the client commits the site
    with pytest.raises(ValueError, match="not committed yet"):
        UnitSpec(serial="SN-1", rated_wh=1).abi()
    precomputed = UnitSpec(serial_hash="0x" + "ab" * 32, rated_wh=1)  # a caller's own commitment: any bytes32
    assert precomputed.abi()[0] == bytes.fromhex("ab" * 32)
    with pytest.raises(ValueError, match="serial"):
        UnitSpec(rated_wh=1)
