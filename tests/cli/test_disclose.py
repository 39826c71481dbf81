"""Salted identity commitments through the CLI, as a cheater would try them (issue 17).

A public reader of the chain cannot confirm a guessed serial, site or name against the on-chain word; the party
that wrote it grants the opening (`rinne disclose --to`) or hands out a disclosure (`--out`) that anyone checks
offline (`rinne verify-disclosure`); an altered value, a swapped field, or a proof of another record fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import mint
from eth_utils import keccak

from ledger import Vault, lot_record_id, unit_record_id

pytestmark = pytest.mark.chain

RINNE = Path(sys.executable).parent / "rinne"
SERIALS = [f"SN-D{i:03d}-2026" for i in range(1000)]  # the pattern a cheater would enumerate
SITES = ["Kolwezi", "Mutanda", "Tenke", "Kambalda", "Greenbushes", "Harjavalta"]


def _unit(rinne, unit: str, serial: str) -> str:
    """Build a unit through the CLI; return its on-chain serialHash (from the index)."""
    cells = f"{unit}-C"
    mint(rinne, cells, material="CELL-NMC811", mass="500kg", elements="Ni=40kg")
    rinne.write("transfer", "offer", cells, "pack", account="refiner")
    rinne.write("transfer", "accept", cells, account="pack")
    rinne.write(
        "unit", "build", unit, "--cells", f"{cells}=400kg", "--material", "PACK-75KWH", "--mass", "400kg",
        "--serial", serial, "--rated", "75kWh", account="pack",
    )  # fmt: skip
    return _serial_hash(rinne, unit)


def _serial_hash(rinne, unit: str) -> str:
    history = rinne.json("lot", "history", unit)
    created = next(e for e in history if e["event"] == "UnitCreated")
    return created["serial_hash"]


def test_a_guessed_serial_or_site_cannot_be_confirmed_against_the_chain(rinne) -> None:
    word = _unit(rinne, "PK-DICT", "SN-D417-2026")
    # The plain keccak(serial) of before fell to this dictionary; the salted root does not.
    assert word != "0x" + keccak(text="SN-D417-2026").hex()
    assert not any("0x" + keccak(text=s).hex() == word for s in SERIALS)
    mint(rinne, "ORE-DICT", material="ORE-CO", mass="10t", elements="Co=1t", extra=("--origin", "CD:Kolwezi"))
    created = rinne.json("lot", "history", "ORE-DICT")[0]
    origin = bytes.fromhex(created["origin"][2:])
    assert origin[:2] == b"CD"  # the country stays in clear: it feeds the public origin mix
    assert not any(keccak(text=s)[:30] == origin[2:] for s in SITES)
    # The machine that minted it still shows the site to its people (the names book, never the chain).
    human = rinne.run("lot", "history", "ORE-DICT").stdout.splitlines()[0]
    assert human.endswith("origin CD:Kolwezi")


def test_an_entitled_party_gets_the_serial_with_a_proof_that_verifies_offline(rinne, tmp_path: Path) -> None:
    root = _unit(rinne, "PK-DISC", "SN-D001-2026")
    out = tmp_path / "serial.json"
    made = rinne.json("disclose", "unit:PK-DISC", "--field", "serialNumber", "--out", str(out), rpc=False)
    assert made == {"record_id": unit_record_id("PK-DISC"), "granted": [], "disclosed": ["serialNumber"], "file": str(out)}
    checked = rinne.json("verify-disclosure", str(out))  # against the chain's serialHash, read from the index
    assert checked == {
        "record_id": unit_record_id("PK-DISC"),
        "root": root,
        "verified": True,
        "fields": {"serialNumber": "SN-D001-2026"},
    }
    # The passport of that unit carries the serial with the same kind of proof.
    doc = rinne.json("passport", "PK-DISC", "--tier", "public")
    assert doc["extensions"]["rinne"]["identity"]["fields"][0]["value"] == "SN-D001-2026"

    # Offline, through the installed command: no node, only the file and the root read from the chain once.
    done = subprocess.run(
        [str(RINNE), "verify-disclosure", str(out), "--root", root, "--json"],
        capture_output=True, text=True, env={"RINNE_HOME": str(tmp_path / "elsewhere"), "PATH": "/usr/bin:/bin"}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["fields"] == {"serialNumber": "SN-D001-2026"}


def test_a_grant_rewraps_the_key_and_never_the_data(rinne) -> None:
    _unit(rinne, "PK-GRANT", "SN-D002-2026")
    mine = Vault(rinne.home / "vault", (rinne.home / "vault.key").read_bytes())
    before = mine.address(unit_record_id("PK-GRANT"))
    theirs = Vault.new_key()
    outsider = Vault(rinne.home / "vault", Vault.new_key())
    with pytest.raises(Exception, match="not granted"):
        outsider.openings(unit_record_id("PK-GRANT"))
    key = "0x" + Vault.public_key_of(theirs).hex()
    made = rinne.json("disclose", "unit:PK-GRANT", "--to", key, rpc=False)
    assert made["granted"] == [key] and made["file"] is None
    recipient = Vault(rinne.home / "vault", theirs)
    assert recipient.openings(unit_record_id("PK-GRANT")).fields["serialNumber"].value == "SN-D002-2026"
    assert mine.address(unit_record_id("PK-GRANT")) == before  # the ciphertext was not touched


def test_a_tampered_disclosure_fails(rinne, tmp_path: Path) -> None:
    _unit(rinne, "PK-TAMP", "SN-D003-2026")
    other = _unit(rinne, "PK-OTHER", "SN-D004-2026")
    good = tmp_path / "good.json"
    rinne.json("disclose", "unit:PK-TAMP", "--field", "serialNumber", "--out", str(good), rpc=False)
    doc = json.loads(good.read_text())

    def fails(name: str, changed: dict, *extra: str) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(changed))
        return rinne.fail("verify-disclosure", str(path), *extra)

    changed = json.loads(json.dumps(doc))
    changed["fields"][0]["value"] = "SN-D999-2026"  # a counterfeiter's serial on a genuine proof
    assert "does not verify" in fails("value.json", changed)
    swapped = json.loads(json.dumps(doc))
    swapped["fields"][0]["name"] = "uniqueIdentifier"
    assert "does not verify" in fails("swapped.json", swapped)
    # The genuine disclosure of PK-TAMP passed off as PK-OTHER's: the record id binds it to its unit.
    moved = json.loads(json.dumps(doc))
    moved["record_id"] = unit_record_id("PK-OTHER")
    assert "does not verify" in fails("moved.json", moved)
    assert "does not verify" in fails("other-root.json", doc, "--root", other)


def test_a_site_is_disclosed_to_the_authority_tier_and_checked_against_the_origin(rinne, tmp_path: Path) -> None:
    mint(rinne, "ORE-SITE", material="ORE-CO", mass="10t", elements="Co=1t", extra=("--origin", "CD:Mutanda"))
    out = tmp_path / "site.json"
    rinne.json("disclose", "lot:ORE-SITE", "--tier", "authority", "--out", str(out), rpc=False)
    checked = rinne.json("verify-disclosure", str(out))
    assert checked["record_id"] == lot_record_id("ORE-SITE") and checked["fields"] == {"country": "CD", "site": "Mutanda"}
    # The site is point 3 (due-diligence evidence): a public-tier disclosure leaves it out.
    rinne.json("disclose", "lot:ORE-SITE", "--tier", "public", "--out", str(out), rpc=False)
    assert rinne.json("verify-disclosure", str(out))["fields"] == {"country": "CD"}
