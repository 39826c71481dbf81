"""SOH records behind salted commitments (ledger/domain/identity.py `commit_soh`, `verify_soh`, `open_soh`).

Each attack is one a cheater can mount with the chain's root and the openings it was given: guess the
values of a record from its root, move an opening to another unit or another record of the same unit,
alter a value or smuggle in a value of the wrong kind.
"""

from __future__ import annotations

import itertools

import pytest

from ledger import commit_soh, disclose, errors, open_soh, soh_vault_id, verify_soh
from ledger.domain.disclosure import canonical_json, commit
from ledger.domain.hashing import keccak
from ledger.domain.identity import SOH_POINTS, soh_unit, vault_id

DOC = "0x" + keccak(b"diagnosis report 17").hex()


def test_a_grid_search_over_soce_and_cycles_finds_nothing() -> None:
    """Every plain hash of a guessed record, over the whole grid of SOCE and a range of cycles, misses the root.

    SOCE has 10,001 values and cycles a few thousand, so an unsalted commitment would fall to this grid; the
    salts (32 random bytes per field) leave nothing to check a guess against.
    """
    root, opened = commit_soh("LF001", 9_150, 70_000, 412, 33_000_000, DOC)
    true = {n: o.value for n, o in opened.fields.items()}
    guesses: set[str] = set()
    for soce, cycles in itertools.product(range(8_900, 9_400), range(380, 440)):
        guess = {**true, "soceBp": soce, "cycles": cycles}
        guesses.add("0x" + keccak(canonical_json(guess)).hex())
        guesses.add("0x" + keccak(canonical_json([soce, true["capacityWh"], cycles, true["throughputWh"]])).hex())
    assert len(guesses) == 2 * 500 * 60
    assert root not in guesses
    # Committing the very same values again gives an unrelated root: two equal records do not show as equal.
    assert commit_soh("LF001", 9_150, 70_000, 412, 33_000_000, DOC)[0] != root


def test_the_opening_verifies_and_gives_every_value() -> None:
    root, opened = commit_soh("LF001", 9_150, 70_000, 412, 33_000_000, DOC)
    assert open_soh(root, opened, "LF001") == {
        "soceBp": 9_150,
        "capacityWh": 70_000,
        "cycles": 412,
        "throughputWh": 33_000_000,
        "document": DOC,
    }
    assert set(opened.fields) == set(SOH_POINTS) and {o.point for o in opened.fields.values()} == {4}
    # One field disclosed alone verifies alone, and says nothing of the others.
    assert verify_soh(root, disclose(opened, ["soceBp"]), "LF001") == {"soceBp": 9_150}
    assert soh_unit(opened.record_id) == "0x" + b"LF001".ljust(32, b"\0").hex()
    assert vault_id(opened) == soh_vault_id(root) == "word:" + root


def test_a_record_without_a_document_commits_null() -> None:
    root, opened = commit_soh("LF001", 10_000, 75_000, 0, 0)
    assert open_soh(root, opened, "LF001")["document"] is None


def test_an_opening_moved_to_another_unit_or_record_fails() -> None:
    root_a, opened_a = commit_soh("LF001", 9_150, 70_000, 412, 33_000_000)
    root_b, _ = commit_soh("LF001", 9_100, 69_000, 430, 34_000_000)
    root_c, _ = commit_soh("LF002", 9_150, 70_000, 412, 33_000_000)
    with pytest.raises(errors.DisclosureError, match="not an SOH record of"):
        open_soh(root_c, opened_a, "LF002")
    # The same unit's next record: the record id (its nonce) and the salts differ, so the proofs do not fold.
    with pytest.raises(errors.DisclosureError, match="does not verify"):
        open_soh(root_b, opened_a, "LF001")
    # Asked of the right root but of another unit: refused by the record id.
    with pytest.raises(errors.DisclosureError):
        open_soh(root_a, opened_a, "LF002")


def test_an_altered_value_or_a_value_of_the_wrong_kind_fails() -> None:
    root, opened = commit_soh("LF001", 9_150, 70_000, 412, 33_000_000)
    better = opened.model_copy(
        update={"fields": {**opened.fields, "soceBp": opened.fields["soceBp"].model_copy(update={"value": 9_900})}}
    )
    with pytest.raises(errors.DisclosureError, match="does not verify"):
        open_soh(root, better, "LF001")
    # A committer may put anything in its own record: a string where a count goes is refused by the reader.
    _, odd = commit_soh("LF001", 9_150, 70_000, 412, 33_000_000)
    odd_root, odd = commit({**{n: o.value for n, o in odd.fields.items()}, "cycles": "412"}, SOH_POINTS, record_id=odd.record_id)
    with pytest.raises(errors.DisclosureError, match="non-negative integer"):
        open_soh(odd_root, odd, "LF001")
    partial = odd.model_copy(update={"fields": {n: o for n, o in odd.fields.items() if n != "throughputWh"}})
    with pytest.raises(errors.DisclosureError, match="no field 'throughputWh'"):
        open_soh(odd_root, partial, "LF001")


@pytest.mark.parametrize("bad", [-1, 1.5, True, "9000"])
def test_commit_refuses_what_is_no_count(bad: object) -> None:
    with pytest.raises(errors.InvalidInput):
        commit_soh("LF001", bad, 1, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        commit_soh("LF001", 1, 1, 1, 1, document="0x1234")
