"""SOH disclosures checked by `rinne verify-disclosure`, and openings sent to an account's published vault key
(issue 17, Annex XIII point 4), through the CLI against a real Anvil, played as a cheater.

The parties of the CLI world share one data directory (one vault key); a second party's own key is a second
:class:`Vault` key over the same vault folder, published for its account with ``--public``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import mint

from ledger import Vault, local_vault, soh_vault_id
from ledger.local.deployments import save_deployment

pytestmark = pytest.mark.chain

RINNE = Path(sys.executable).parent / "rinne"


def _two_units_with_soh(rinne, prefix: str) -> tuple[str, str]:
    """Two packs built by `pack`, each with an SOH record; return their on-chain SOH roots."""
    cells = f"{prefix}-C"
    mint(rinne, cells, material="CELL-NMC811", mass="800kg", elements="Ni=40kg")
    rinne.write("transfer", "offer", cells, "pack", account="refiner")
    rinne.write("transfer", "accept", cells, account="pack")
    roots = []
    for n, cycles in ((1, "120"), (2, "340")):
        unit = f"{prefix}-{n}"
        rinne.write(
            "unit", "build", unit, "--cells", f"{cells}=400kg", "--material", "PACK-75KWH", "--mass", "400kg",
            "--serial", f"SN-{unit}", "--rated", "75kWh", account="pack",
        )  # fmt: skip
        rinne.write(
            "unit", "soh", unit, "--soh", "91%", "--capacity", "68kWh", "--cycles", cycles, "--throughput", "15MWh",
            account="pack",
        )  # fmt: skip
        roots.append(next(e for e in rinne.json("lot", "history", unit) if e["event"] == "SohRecorded")["root"])
    return roots[0], roots[1]


def test_verify_disclosure_of_an_soh_record_passes_and_each_tampering_fails(rinne, tmp_path: Path) -> None:
    root, other_root = _two_units_with_soh(rinne, "VD-SOH")
    out = tmp_path / "soh.json"
    rinne.json("disclose", f"word:{root}", "--field", "cycles", "--field", "soceBp", "--out", str(out), rpc=False)
    good = rinne.run("verify-disclosure", str(out), "--json")  # against the roots the index holds for the unit
    checked = json.loads(good.stdout)
    assert checked["verified"] is True and checked["root"] == root
    assert checked["fields"] == {"cycles": 120, "soceBp": 9_100}
    doc = json.loads(out.read_text())

    def fails(name: str, changed: dict, *extra: str) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(changed))
        return rinne.fail("verify-disclosure", str(path), *extra)

    # Fewer cycles on the genuine proof: the leaf no longer folds to the root.
    fewer = json.loads(json.dumps(doc))
    fewer["fields"][0]["value"] = 60
    assert "does not verify" in fails("fewer.json", fewer)
    # The same opening claimed for the other pack: its record id names a unit whose records it is not.
    unit_a, unit_b = (json.loads(json.dumps(doc))["record_id"].split(":")[1], None)
    other = rinne.ledger().unit("VD-SOH-2")
    assert other.soh_root == other_root
    moved = json.loads(json.dumps(doc))
    unit_b = "0x" + b"VD-SOH-2".ljust(32, b"\0").hex()
    moved["record_id"] = moved["record_id"].replace(unit_a, unit_b)
    assert "does not verify" in fails("moved.json", moved)
    # The genuine file against the other pack's root (a wrong root): refused.
    assert "does not verify" in rinne.fail("verify-disclosure", str(out), "--root", other_root)

    # Offline through the installed command, in a fresh home with no node: the good file passes with its root,
    # the tampered one fails with one line and a non-zero exit.
    env = {"RINNE_HOME": str(tmp_path / "elsewhere"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(RINNE), "verify-disclosure", str(out), "--root", root, "--json"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["fields"] == {"cycles": 120, "soceBp": 9_100}
    bad = subprocess.run(
        [str(RINNE), "verify-disclosure", str(tmp_path / "fewer.json"), "--root", root],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and bad.stdout == ""
    assert [line for line in bad.stderr.splitlines() if line.strip()][-1].startswith("Error: ")
    assert "does not verify" in bad.stderr and "Traceback" not in bad.stderr


def test_an_account_publishes_its_vault_key_and_receives_openings_by_name(rinne, tmp_path: Path) -> None:
    oem_private = Vault.new_key()
    oem_key = "0x" + Vault.public_key_of(oem_private).hex()
    published = rinne.write("account", "publish-vault-key", "--public", oem_key, account="oem")
    assert published["public_key"] == oem_key and published["tx_hash"].startswith("0x")
    oem_vault = Vault(rinne.home / "vault", oem_private)
    root, _ = _two_units_with_soh(rinne, "VK-CLI")
    with pytest.raises(Exception, match="not granted"):
        oem_vault.openings(soh_vault_id(root))
    # Granted by the account's name: the registry gives its key.
    granted = rinne.json("disclose", f"word:{root}", "--to", "oem", "--rpc-url", rinne.rpc_url)
    assert granted["granted"] == [oem_key]
    assert oem_vault.openings(soh_vault_id(root)).fields["cycles"].value == 120
    # An SOH record wrapped at write time to the holder by address.
    rinne.write(
        "unit", "soh", "VK-CLI-2", "--soh", "90%", "--capacity", "67kWh", "--cycles", "400", "--throughput", "25MWh",
        "--to", rinne.addr("oem"), account="pack",
    )  # fmt: skip
    later = rinne.ledger().unit("VK-CLI-2").soh_root
    assert oem_vault.openings(soh_vault_id(later)).fields["cycles"].value == 400
    # A party that published no key: one line, nothing granted, nothing recorded.
    assert "published no vault key" in rinne.fail("disclose", f"word:{root}", "--to", "recycler", "--rpc-url", rinne.rpc_url)
    assert "published no vault key" in rinne.fail(
        "unit", "soh", "VK-CLI-2", "--soh", "89%", "--capacity", "66kWh", "--cycles", "450", "--throughput", "27MWh",
        "--to", "recycler", "--account", "pack", "--yes",
    )  # fmt: skip
    assert rinne.ledger().unit("VK-CLI-2").soh_root == later
    # Without --public, the data directory's own vault key (the CLI world has one: its parties wrote openings).
    mine = "0x" + local_vault(rinne.home, create=False).public_key.hex()
    assert rinne.write("account", "publish-vault-key", account="second")["public_key"] == mine
    assert rinne.ledger().vault_key_of(rinne.addr("second")).hex() == mine[2:]
    # A non-participant cannot publish; nor can anyone publish a malformed key.
    assert "may not publish a vault key" in rinne.fail(
        "account", "publish-vault-key", "--public", oem_key, "--account", "outsider", "--yes"
    )
    assert "low-order" in rinne.fail("account", "publish-vault-key", "--public", "0x" + "00" * 32, "--account", "oem", "--yes")
    assert "32 bytes" in rinne.fail("account", "publish-vault-key", "--public", "0x" + "11" * 31, "--account", "oem", "--yes")


def _vault_words(home: Path) -> set[str]:
    """The evidence, reason and SOH words this data directory's vault holds openings for."""
    vault = local_vault(home, create=False)
    return {i.removeprefix("word:") for i in (vault.records() if vault is not None else []) if i.startswith("word:")}


def test_every_evidence_opening_opens_in_a_fresh_home_holding_only_the_authority_key(rinne, tmp_path: Path) -> None:
    authority = Vault.new_key()
    ledger = rinne.ledger()
    before = ledger.deployment
    assert before is not None and before.authority_vault_key is None
    key = "0x" + Vault.public_key_of(authority).hex()
    save_deployment(rinne.home, before.model_copy(update={"authority_vault_key": key}))
    try:
        known = _vault_words(rinne.home)
        assay = tmp_path / "assay.pdf"
        assay.write_bytes(b"assay certificate AU-ORE")
        mint(rinne, "AU-ORE", mass="1t", extra=("--evidence", str(assay)))
        rows = tmp_path / "lots.csv"
        rows.write_text("lot_id,material,mass,Ni,evidence\nAU-IMP,NiSO4,1t,22%,0x" + "ab" * 32 + "\n")
        rinne.run("lot", "import", str(rows), "--account", "refiner", "--yes")  # the bulk path keeps its openings too
        rinne.write("lot", "freeze", "AU-IMP", "--reason", "assay dispute", account="auditor")
        lca = tmp_path / "lca.pdf"
        lca.write_bytes(b"LCA report AU-ORE")
        att = tmp_path / "att.json"
        rinne.json(
            "gwp", "sign", "AU-ORE", "--emissions", "1t", "--stage", "main-production", "--evidence", str(lca),
            "--account", "verifier", "-o", att,
        )  # fmt: skip
        rinne.write("gwp", "submit", str(att), account="refiner")
        rinne.write("gwp", "revoke", str(att), "--reason", "meter error", account="verifier")
        words = _vault_words(rinne.home) - known
    finally:
        save_deployment(rinne.home, before)
    assert len(words) == 5  # assay, imported row, freeze reason, LCA report, revocation reason

    def fresh_home(name: str, private: bytes) -> dict[str, str]:
        home = tmp_path / name
        home.mkdir(mode=0o700)
        shutil.copytree(rinne.home / "vault", home / "vault")  # the ciphertexts and wraps, no key
        (home / "vault.key").write_bytes(private)
        (home / "vault.key").chmod(0o600)
        return {"RINNE_HOME": str(home), "PATH": "/usr/bin:/bin"}

    def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(RINNE), *args], capture_output=True, text=True, env=env, check=False)

    auth_env, third_env = fresh_home("authority", authority), fresh_home("third", Vault.new_key())
    opened = {}
    for word in words:
        out = tmp_path / f"{word[2:10]}.json"
        made = run(auth_env, "disclose", f"word:{word}", "--out", str(out), "--json")
        assert made.returncode == 0, made.stderr
        checked = run(auth_env, "verify-disclosure", str(out), "--root", word, "--json")
        assert checked.returncode == 0, checked.stderr
        opened.update(json.loads(checked.stdout)["fields"])
        denied = run(third_env, "disclose", f"word:{word}", "--out", str(tmp_path / "third.json"))
        assert denied.returncode == 1 and "not granted" in denied.stderr
    assert opened["reason"] in ("assay dispute", "meter error")
