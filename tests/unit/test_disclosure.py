"""Salted Merkle commitments: a reader of the roots learns nothing, an entitled party checks each field offline,
and every way a cheater might alter a disclosure is refused (issue 17, docs/confidentiality.md)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

import ledger.domain.disclosure as disclosure_module
from ledger.domain.disclosure import (
    POINTS,
    DisclosedField,
    Disclosure,
    Opening,
    Openings,
    canonical_json,
    commit,
    disclose,
    leaf_hash,
    verify_disclosure,
)
from ledger.domain.hashing import keccak
from ledger.errors import DisclosureError, InvalidInput, LedgerError

SERIAL = "SN-LF003-2026"
UNIT = {
    "serialNumber": SERIAL,
    "ratedEnergyWh": 75_000,
    "manufacturingSite": "Gigafactory Nord, Skellefteå",
    "cathodeComposition": {"Ni": 412_000, "Co": 51_000, "Mn": 48_000, "Li": 37_000},
    "stateOfCertifiedEnergyBp": 9_120,
    "fullCycles": 412,
    "testReport": "0x" + "ab" * 32,
}
POINT = {
    "serialNumber": 1,
    "ratedEnergyWh": 1,
    "manufacturingSite": 2,
    "cathodeComposition": 2,
    "testReport": 3,
    "stateOfCertifiedEnergyBp": 4,
    "fullCycles": 4,
}


def committed(record_id: str = "LF003") -> tuple[str, Any]:
    return commit(UNIT, POINT, record_id=record_id)


def tampered(d: Disclosure, index: int = 0, **changes: Any) -> Disclosure:
    fields = list(d.fields)
    fields[index] = fields[index].model_copy(update=changes)
    return d.model_copy(update={"fields": tuple(fields)})


# ------------------------------------------------------------------- a public reader learns nothing


def dictionary() -> list[str]:
    # Every serial of the pattern, 10,000 candidates; the true one among them.
    return [f"SN-LF{n:03d}-{y}" for n in range(1000) for y in range(2024, 2034)]


def test_the_unsalted_serial_hash_of_today_falls_to_a_dictionary() -> None:
    on_chain = keccak(SERIAL.encode())  # what UnitSpec.serial_hash put in UnitCreated before salting
    found = [c for c in dictionary() if keccak(c.encode()) == on_chain]
    assert found == [SERIAL]


def test_a_dictionary_attack_on_a_salted_serial_fails() -> None:
    root, openings = committed()
    # The reader holds the root and a public-tier disclosure of the field beside the serial: its salt and its
    # proof, whose first sibling is the serial's own leaf.
    public = disclose(openings, ["ratedEnergyWh"])
    (rated,) = public.fields
    serial_leaf = bytes.fromhex(rated.proof[0][2:])
    assert serial_leaf == leaf_hash("serialNumber", SERIAL, bytes.fromhex(openings.fields["serialNumber"].salt[2:]))
    # Every salt the reader knows (the disclosed one, none, zeros), every candidate serial: no match.
    known_salts = [bytes.fromhex(rated.salt[2:]), b"", b"\0" * 32]
    candidates = dictionary()
    assert SERIAL in candidates
    for salt, cand in itertools.product(known_salts, candidates):
        assert leaf_hash("serialNumber", cand, salt) != serial_leaf
        assert keccak(cand.encode()) != bytes.fromhex(root[2:])
    # Nor does the disclosure carry the serial, or any value it does not disclose, in any form.
    wire = json.loads(public.to_json())
    assert [(f["name"], f["value"]) for f in wire["fields"]] == [("ratedEnergyWh", 75_000)]
    text = public.to_json().decode()
    assert SERIAL not in text and "Skellefte" not in text and "ab" * 32 not in text


def test_two_commitments_of_one_record_are_unrelated() -> None:
    (r1, o1), (r2, o2) = committed(), committed()
    assert r1 != r2
    salts = [o.salt for o in o1.fields.values()] + [o.salt for o in o2.fields.values()]
    assert len(set(salts)) == len(salts) == 2 * len(UNIT)


# --------------------------------------------------------------- an entitled party checks each field


def test_each_field_verifies_offline_with_its_proof() -> None:
    root, openings = committed()
    for name in UNIT:
        wire = disclose(openings, [name]).to_json()  # what travels: JSON, no chain
        assert verify_disclosure(root, Disclosure.from_json(wire), record_id="LF003") == {name: UNIT[name]}


def test_a_whole_tier_is_disclosed_and_only_that_tier() -> None:
    root, openings = committed()
    d = disclose(openings, openings.names([4]))
    assert verify_disclosure(root, d) == {"fullCycles": 412, "stateOfCertifiedEnergyBp": 9_120}
    assert {f.point for f in d.fields} == {4}


def test_openings_survive_their_json_form() -> None:
    root, openings = committed()
    again = type(openings).from_json(openings.to_json())
    assert again.root() == root
    assert verify_disclosure(root, disclose(again, list(UNIT))) == UNIT


records = st.dictionaries(
    st.text(min_size=1, max_size=12),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(records, st.data())
def test_any_record_every_field_verifies_and_any_altered_value_fails(record: dict[str, Any], data: st.DataObject) -> None:
    points = {n: data.draw(st.sampled_from(POINTS)) for n in record}
    root, openings = commit(record, points, record_id="R")
    assert openings.root() == root  # commit's leaves (hashed as it salts) and the openings' tree agree
    assert openings.to_json() == canonical_json(openings.model_dump(mode="json"))  # its one byte form
    assert len({o.salt for o in openings.fields.values()}) == len(record)  # a salt of its own for each field
    for name in record:
        d = disclose(openings, [name])
        assert verify_disclosure(root, d) == {name: record[name]}
        with pytest.raises(DisclosureError):
            verify_disclosure(root, tampered(d, value=[record[name]]))


# ------------------------------------------------------------------------ a cheater's disclosures


@pytest.mark.parametrize(
    ("field", "forged"),
    [
        ("stateOfCertifiedEnergyBp", 9_500),  # a better battery than diagnosed
        ("stateOfCertifiedEnergyBp", "9120"),  # same digits, another type
        ("fullCycles", 411),
        ("cathodeComposition", {"Ni": 412_000, "Co": 51_000, "Mn": 48_000, "Li": 37_001}),
        ("cathodeComposition", {"Ni": 412_000, "Co": 51_000, "Mn": 48_000}),
        ("serialNumber", "SN-LF004-2026"),
        ("testReport", "0x" + "ab" * 31 + "ac"),
    ],
)
def test_a_tampered_value_fails(field: str, forged: Any) -> None:
    root, openings = committed()
    with pytest.raises(DisclosureError, match="does not verify"):
        verify_disclosure(root, tampered(disclose(openings, [field]), value=forged))


def test_a_true_value_is_not_a_truthy_one() -> None:
    root, openings = commit({"used": True, "count": 1}, {"used": 4, "count": 4}, record_id="U1")
    with pytest.raises(DisclosureError):
        verify_disclosure(root, tampered(disclose(openings, ["used"]), value=1))
    with pytest.raises(DisclosureError):
        verify_disclosure(root, tampered(disclose(openings, ["count"]), value=True))


def test_a_swapped_or_renamed_field_fails() -> None:
    root, openings = committed()
    d = disclose(openings, ["stateOfCertifiedEnergyBp", "fullCycles"])
    a, b = d.fields
    swapped = d.model_copy(update={"fields": (a.model_copy(update={"name": b.name}), b.model_copy(update={"name": a.name}))})
    with pytest.raises(DisclosureError):
        verify_disclosure(root, swapped)
    # The diagnosed SOH shown as the rated energy's value under the rated energy's name: refused.
    with pytest.raises(DisclosureError):
        verify_disclosure(root, tampered(disclose(openings, ["stateOfCertifiedEnergyBp"]), name="ratedEnergyWh"))


def test_a_restricted_field_cannot_pass_as_a_public_one() -> None:
    root, openings = committed()
    d = disclose(openings, ["stateOfCertifiedEnergyBp"])
    for point in (1, 2, 3):
        with pytest.raises(DisclosureError):
            verify_disclosure(root, tampered(d, point=point))


def test_a_tampered_salt_or_proof_fails() -> None:
    root, openings = committed()
    d = disclose(openings, ["manufacturingSite"])
    (f,) = d.fields
    flip = "0x" + ("0" if f.salt[2] != "0" else "1") + f.salt[3:]
    forged_proofs = {
        "salt": {"salt": flip},
        "proof dropped": {"proof": f.proof[1:]},
        "proof extended": {"proof": (*f.proof, "0x" + "00" * 32)},
        "proof altered": {"proof": ("0x" + "11" * 32, *f.proof[1:])},
        "tier proof dropped": {"tier_proof": f.tier_proof[:-1]},
        "tier proof reversed": {"tier_proof": tuple(reversed(f.tier_proof))},
        "proofs exchanged": {"proof": f.tier_proof, "tier_proof": f.proof},
    }
    assert len(f.tier_proof) >= 2  # four points: the reversal really changes the path
    for what, change in forged_proofs.items():
        with pytest.raises(DisclosureError):
            verify_disclosure(root, tampered(d, **change))
            pytest.fail(what)


def test_a_proof_for_another_record_fails() -> None:
    root_a, openings_a = committed("LF003")
    root_b, _ = committed("LF004")
    d = disclose(openings_a, ["serialNumber"])
    with pytest.raises(DisclosureError):
        verify_disclosure(root_b, d)  # LF003's proof against LF004's root
    with pytest.raises(DisclosureError):
        verify_disclosure(root_b, d.model_copy(update={"record_id": "LF004"}))
    with pytest.raises(DisclosureError, match="not 'LF004'"):
        verify_disclosure(root_a, d, record_id="LF004")  # a true disclosure, of the wrong record
    # The same fields and salts committed under another id give another root: one commitment, one record.
    assert openings_a.model_copy(update={"record_id": "LF004"}).root() != root_a


def test_a_reused_salt_fails() -> None:
    root, openings = committed()
    d = disclose(openings, ["fullCycles", "stateOfCertifiedEnergyBp"])
    cycles, soce = d.fields
    # A salt borrowed from a disclosed field does not open another field's leaf.
    with pytest.raises(DisclosureError):
        verify_disclosure(root, tampered(d, 1, salt=cycles.salt))
    # A committer who gave two fields one salt (so that opening one lets a reader test guesses of the other):
    # the disclosure is refused even though each proof verifies.
    reused = openings.model_copy(
        update={"fields": {**openings.fields, "fullCycles": openings.fields["fullCycles"].model_copy(update={"salt": soce.salt})}}
    )
    d2 = disclose(reused, ["fullCycles", "stateOfCertifiedEnergyBp"])
    for f in d2.fields:
        assert verify_disclosure(reused.root(), Disclosure(record_id="LF003", fields=(f,))) == {f.name: UNIT[f.name]}
    with pytest.raises(DisclosureError, match="reuses the salt"):
        verify_disclosure(reused.root(), d2)


def test_a_field_disclosed_twice_or_nothing_disclosed_fails() -> None:
    root, openings = committed()
    (f,) = disclose(openings, ["fullCycles"]).fields
    with pytest.raises(DisclosureError, match="twice"):
        verify_disclosure(root, Disclosure(record_id="LF003", fields=(f, f)))
    with pytest.raises(DisclosureError, match="no field"):
        verify_disclosure(root, Disclosure(record_id="LF003", fields=()))


@pytest.mark.parametrize(
    "wire",
    [
        b"{",
        b'{"record_id": "LF003", "fields": [{"name": "x", "point": 5, "value": 1, "salt": "0x' + b"00" * 32 + b'"}]}',
        b'{"record_id": "LF003", "fields": [{"name": "x", "point": 1, "value": 1, "salt": "0x00"}]}',
        b'{"record_id": "LF003", "fields": [{"name": "x", "point": true, "value": 1, "salt": "0x' + b"00" * 32 + b'"}]}',
    ],
)
def test_a_malformed_disclosure_is_a_ledger_error(wire: bytes) -> None:
    with pytest.raises(DisclosureError):
        Disclosure.from_json(wire)


def test_a_float_in_a_disclosure_is_refused_not_crashed() -> None:
    root, openings = committed()
    with pytest.raises(DisclosureError, match="float"):
        verify_disclosure(root, tampered(disclose(openings, ["fullCycles"]), value=412.0))
    with pytest.raises(DisclosureError, match="not a commitment root"):
        verify_disclosure("0x1234", disclose(openings, ["fullCycles"]))


# --------------------------------------------------------------------------- commit and canonical JSON


def test_canonical_json_is_one_byte_form() -> None:
    assert canonical_json({"b": [1, {"z": None, "a": True}], "a": "é"}) == '{"a":"é","b":[1,{"a":true,"z":null}]}'.encode()
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})
    assert canonical_json(2**80) == b"1208925819614629174706176"
    for bad in (1.0, float("nan"), {1: "x"}, b"bytes", {"a": {1, 2}}, "\ud800"):
        with pytest.raises(InvalidInput):
            canonical_json(bad)


@pytest.mark.parametrize(
    ("record", "points"),
    [
        ({}, {}),
        ({"mass": 5}, {}),
        ({"mass": 5}, {"mass": 5}),
        ({"mass": 5}, {"mass": 0}),
        ({"mass": 5}, {"mass": True}),
        ({"mass": 5.5}, {"mass": 1}),
        ({"": 5}, {"": 1}),
    ],
)
def test_commit_refuses_what_it_cannot_commit(record: dict[str, Any], points: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        commit(record, points, record_id="LF001")


@pytest.mark.parametrize("value", [5.5, [1, 2.5], {"a": {"b": 0.5}}, {"a": {1: "x"}}])
def test_commit_names_the_field_whose_value_is_no_json_value(value: Any) -> None:
    with pytest.raises(InvalidInput, match="field 'mass'"):
        commit({"name": "ok", "mass": value}, {"name": 1, "mass": 1}, record_id="LF001")


def test_canonical_json_refuses_nesting_deeper_than_64_levels() -> None:
    deep: Any = "x"
    for _ in range(64):
        deep = [deep]
    assert canonical_json(deep) == b"[" * 64 + b'"x"' + b"]" * 64  # a string 64 levels down
    with pytest.raises(InvalidInput, match="deeper than 64"):
        canonical_json([deep])
    with pytest.raises(InvalidInput, match="deeper than 64"):
        canonical_json({"a": deep})


@pytest.mark.parametrize("value", [1.5, [1, 2.5], {"a": {"b": 0.5}}])
def test_openings_with_a_value_that_is_no_json_value_are_not_serialised(value: Any) -> None:
    salt = "0x" + "11" * 32
    openings = Openings(
        record_id="R", fields={"ok": Opening(point=1, value="x", salt=salt), "bad": Opening(point=1, value=value, salt=salt)}
    )
    with pytest.raises(InvalidInput, match="bad"):
        openings.to_json()


def test_values_that_compare_equal_keep_their_own_json_in_the_leaf() -> None:
    # The leaf's JSON is cached per (name, value): True == 1 and False == 0 in Python, not in JSON.
    for value in (True, 1, "1", False, 0, None, "true"):
        root, openings = commit({"v": value}, {"v": 1}, record_id="R")
        (f,) = disclose(openings, ["v"]).fields
        assert f.value is value or f.value == value and type(f.value) is type(value)
        assert verify_disclosure(root, disclose(openings, ["v"])) == {"v": value}
        assert leaf_hash("v", value, b"\x01" * 32) == keccak(b"\x01" * 32 + json.dumps(["v", value], separators=(",", ":")).encode())


def test_errors_are_ledger_errors() -> None:
    assert issubclass(DisclosureError, LedgerError)
    assert DisclosedField.__doc__ and Disclosure.__doc__


# ------------------------------------------------------------------------------ the format, pinned


def test_the_root_follows_the_documented_format(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rebuilt by hand from docs/confidentiality.md with eth-utils' keccak, so that a verifier in another
    # language has a known answer, and a change of the format cannot pass unnoticed.
    from eth_utils import keccak as k

    def pair(a: bytes, b: bytes) -> bytes:
        return k(min(a, b) + max(a, b))

    salt = {n: bytes([i]) * 32 for i, n in enumerate(["serialNumber", "ratedEnergyWh", "manufacturingSite", "soce"], 1)}
    openings = Openings(
        record_id="LF003",
        fields={
            "serialNumber": Opening(point=1, value="SN-LF003-2026", salt="0x" + salt["serialNumber"].hex()),
            "ratedEnergyWh": Opening(point=1, value=75_000, salt="0x" + salt["ratedEnergyWh"].hex()),
            "manufacturingSite": Opening(point=2, value="Kolwezi", salt="0x" + salt["manufacturingSite"].hex()),
            "soce": Opening(point=4, value=9_120, salt="0x" + salt["soce"].hex()),
        },
    )
    rated = k(salt["ratedEnergyWh"] + b'["ratedEnergyWh",75000]')
    serial = k(salt["serialNumber"] + b'["serialNumber","SN-LF003-2026"]')
    site = k(salt["manufacturingSite"] + b'["manufacturingSite","Kolwezi"]')
    soce = k(salt["soce"] + b'["soce",9120]')
    t1, t2, t4 = k(b"\x01" + pair(rated, serial)), k(b"\x02" + site), k(b"\x04" + soce)
    root = k(b"rinne.disclosure.v1" + k(b"LF003") + pair(pair(t1, t2), t4))
    assert openings.root() == "0x" + root.hex() == "0xae951c6eec5ccd25fd4138d8aca1aae814d869e08b4bf4ab33c3a517ebd08aba"
    # commit() builds its root on its own path (no re-validation): with the same salts, the same known answer.
    # One read of the generator for the record's salts, field by field in the record's order.
    monkeypatch.setattr(disclosure_module.secrets, "token_bytes", lambda n: b"".join(salt.values())[:n])
    record = {n: o.value for n, o in openings.fields.items()}
    points = {n: o.point for n, o in openings.fields.items()}
    assert commit(record, points, record_id="LF003") == ("0x" + root.hex(), openings)
    (f,) = disclose(openings, ["serialNumber"]).fields
    assert f.proof == ("0x" + rated.hex(),) and f.tier_proof == ("0x" + t2.hex(), "0x" + t4.hex())
