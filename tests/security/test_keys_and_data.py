"""Keys and data: keystores are private scrypt files; no secret is taken on the command line, left in
the node's environment, or written to any output, log or file; and the chain holds only what the
design puts there, with names, metadata, sites, serials, reasons and documents as hashes.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from cli_run import Cli
from eth_utils import keccak

from ledger import Ledger, to_bytes32
from ledger.chain import node as _node
from ledger.chain.rpc import call
from ledger.local import keys as _keys
from rinne_cli.main import cli as rinne_cli

pytestmark = pytest.mark.chain

PASSWORD = "Tr0ub4dor&3 battery-loop " + secrets.token_hex(4)
SECRET_WORDS = {
    "display name": "Nordic Refining Oy",
    "metadata": "LEI 5493001KJTIIGC8Y1R12 contract terms 12.34 EUR/kg",
    "site": "Harjavalta",
    "assay document": "CONFIDENTIAL assay 22.41% Ni, buyer price 12.34 EUR/kg",
    "LCA report": "CONFIDENTIAL LCA: grid mix from supplier contract 7731",
    "suspension reason": "signing key copied by former employee",
    "revocation reason": "meter calibration error on line 3",
    "serial": "SN-SECRET-PACK-000117",
}


@pytest.fixture(scope="module")
def rolled_back(anvil: _node.NodeInfo) -> Iterator[_node.NodeInfo]:
    """The session Anvil, rolled back after the module (these tests deploy their own suite)."""
    w3 = Ledger.connect(anvil.rpc_url, data_dir=Path(anvil.state_file).parent).w3
    snap = call(w3, "evm_snapshot", [])
    # Earlier tests' evm_revert rewinds Anvil's clock; `gwp sign` stamps issued-at from the wall clock.
    latest = int(call(w3, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    call(w3, "evm_setTime", [max(int(time.time()), latest + 1)])
    yield anvil
    call(w3, "evm_revert", [snap])


def test_no_command_takes_a_secret_on_the_command_line() -> None:
    """Passwords and keys come from a prompt, a file or the environment, never argv (shell history, ps)."""
    found = []

    def walk(cmd: click.Command, path: str) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")
            return
        for p in cmd.params:
            words = " ".join([p.name or "", *p.opts]).lower()
            secret = any(w in words for w in ("password", "passphrase", "private", "secret", "mnemonic", "key"))
            if secret and not getattr(p, "is_flag", False) and not isinstance(p.type, (click.Path, click.File)):
                found.append(f"{path} {'/'.join(p.opts)}")

    walk(rinne_cli, "rinne")
    assert found == [], f"options that take a secret as a value: {found}"


def test_keystores_are_private_scrypt_files(tmp_path: Path) -> None:
    c = Cli(home=tmp_path / "home", keystores=tmp_path / "ks", rpc_url=None, password=PASSWORD, scrypt_n=None)
    key = "0x" + secrets.token_hex(32)
    (tmp_path / "key.txt").write_text(key + "\n")
    old = os.umask(0)  # even with a permissive umask
    try:
        c.ok("account", "new", "alice", "--no-fund", env={"RINNE_INSECURE_FAST_KEYS": None})
        c.ok(
            "account",
            "import",
            "bob",
            "--key-file",
            tmp_path / "key.txt",
            "--no-fund",
            env={"RINNE_SCRYPT_N": "1024", "RINNE_INSECURE_FAST_KEYS": "1"},
        )
        refused = c.run("account", "new", "carol", "--no-fund", env={"RINNE_SCRYPT_N": "16", "RINNE_INSECURE_FAST_KEYS": "1"})
    finally:
        os.umask(old)
    assert refused.exit_code in (1, 2) and not (c.keystores / "carol").exists()  # a too-cheap KDF is refused
    assert stat.S_IMODE(c.keystores.stat().st_mode) == 0o700
    for name, n in (("alice", 2**18), ("bob", 1024)):
        path = c.keystores / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        crypto = json.loads(path.read_text())["crypto"]
        assert crypto["kdf"] == "scrypt" and crypto["kdfparams"]["n"] == n and crypto["cipher"] == "aes-128-ctr"
        assert key[2:] not in path.read_text()
    assert _keys.load_account("bob", PASSWORD, c.keystores).key.hex().removeprefix("0x") == key[2:]
    assert "Traceback" not in "".join(c.transcript) and key[2:] not in "".join(c.transcript)


@pytest.mark.parametrize("how", [("RINNE_SCRYPT_N", "1024"), ("RINNE_SCRYPT_N", "8192"), ("--scrypt-n", "1024")])
def test_weak_key_derivation_is_refused_without_the_dev_switch(tmp_path: Path, how: tuple[str, str]) -> None:
    """Attack: a cheap scrypt cost slipped in through the environment or the option, without the
    documented development switch: refused in one line naming the switch, and no keystore written."""
    c = Cli(home=tmp_path / "home", keystores=tmp_path / "ks", rpc_url=None, password=PASSWORD, scrypt_n=None)
    off: dict[str, str | None] = {"RINNE_INSECURE_FAST_KEYS": None}
    if how[0] == "--scrypt-n":
        result = c.run("account", "new", "mallory", "--no-fund", "--scrypt-n", how[1], env=off)
    else:
        result = c.run("account", "new", "mallory", "--no-fund", env={**off, how[0]: how[1]})
    assert result.exit_code == 1 and not (c.keystores / "mallory").exists()
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert f"scrypt n = {how[1]} is weaker than the 262144 floor" in line and "RINNE_INSECURE_FAST_KEYS=1" in line
    # Honest development use: the switch is explicit and every cheap keystore is announced on stderr.
    dev = c.run("account", "new", "dev", "--no-fund", env={"RINNE_SCRYPT_N": None, "RINNE_INSECURE_FAST_KEYS": "1"})
    assert dev.exit_code == 0, dev.stderr
    assert "warning: RINNE_INSECURE_FAST_KEYS=1: keystore 'dev' written with scrypt n = 1024" in dev.stderr
    assert json.loads((c.keystores / "dev").read_text())["crypto"]["kdfparams"]["n"] == 1024


def test_open_keystore_and_data_folders_are_made_private(tmp_path: Path) -> None:
    """Attack: keystore and data folders left 0755/0777 by an earlier tool or a careless umask (others
    copy keystores for an offline search, or rewrite the deployment record). Rinne makes them 0700."""
    c = Cli(home=tmp_path / "home", keystores=tmp_path / "ks", rpc_url=None, password=PASSWORD, scrypt_n="1024")
    for folder, mode in ((c.keystores, 0o755), (c.home, 0o777)):
        folder.mkdir()
        os.chmod(folder, mode)
    c.ok("account", "new", "alice", "--no-fund", env={"RINNE_INSECURE_FAST_KEYS": "1"})
    assert stat.S_IMODE(c.keystores.stat().st_mode) == 0o700
    assert stat.S_IMODE((c.keystores / "alice").stat().st_mode) == 0o600
    os.chmod(c.keystores, 0o755)
    c.ok("account", "list")
    assert stat.S_IMODE(c.keystores.stat().st_mode) == 0o700
    from ledger.local.deployments import load_deployment

    assert load_deployment(c.home, 31337) is None  # read on every connect
    assert stat.S_IMODE(c.home.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a folder to another uid")
def test_open_folder_of_another_user_is_refused_in_one_line(tmp_path: Path) -> None:
    """A folder someone else owns can be rewritten by them whatever its mode: refused, not trusted."""
    c = Cli(home=tmp_path / "home", keystores=tmp_path / "ks", rpc_url=None, password=PASSWORD, scrypt_n="1024")
    c.keystores.mkdir()
    os.chown(c.keystores, 65534, 65534)
    os.chmod(c.keystores, 0o755)
    result = c.run("account", "new", "alice", "--no-fund", env={"RINNE_INSECURE_FAST_KEYS": "1"})
    assert result.exit_code == 1 and not (c.keystores / "alice").exists()
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "belongs to uid 65534, not to you" in line
    assert stat.S_IMODE(c.keystores.stat().st_mode) == 0o755


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_managed_node_does_not_inherit_the_password(tmp_path: Path) -> None:
    """The node outlives the command; $RINNE_PASSWORD must not sit in its /proc/<pid>/environ."""
    c = Cli(home=tmp_path / "home", keystores=tmp_path / "ks", rpc_url=None, password=PASSWORD)
    info = c.json("node", "start", env={"SOME_PRIVATE_KEY": "0x" + "ab" * 32})
    try:
        environ = Path(f"/proc/{info['pid']}/environ").read_bytes()
        assert PASSWORD.encode() not in environ and b"ab" * 32 not in environ
        assert b"RINNE_HOME" in environ  # the rest of the environment is passed on
        assert PASSWORD not in c.ok("node", "status", "--json").stdout
    finally:
        c.ok("node", "stop")


def test_full_cli_run_leaks_no_key_and_the_chain_holds_only_hashes(rolled_back: _node.NodeInfo, tmp_path: Path) -> None:
    node = rolled_back
    c = Cli(home=tmp_path / "home", keystores=tmp_path / "ks", rpc_url=node.rpc_url, password=PASSWORD)
    records: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda r: records.append(f"{r.name}: {r.getMessage()}")  # type: ignore[method-assign]
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    docs = {}
    for name in ("assay document", "LCA report"):
        docs[name] = tmp_path / f"{name.replace(' ', '-')}.pdf"
        docs[name].write_text(SECRET_WORDS[name])
    imported_key = "0x" + secrets.token_hex(32)
    (tmp_path / "ops.key").write_text(imported_key)
    try:
        head = int(call(Ledger.connect(node.rpc_url, data_dir=c.home).w3, "eth_blockNumber", []), 16)
        for name in ("admin", "refiner", "verifier", "packs"):
            c.addresses[name] = c.json("account", "new", name, "--fund", "-v")["address"]
        c.addresses["ops"] = c.json("account", "import", "ops", "--key-file", tmp_path / "ops.key", "--fund", "-v")["address"]
        c.write("deploy", "-v", account="admin")
        c.write(
            "party",
            "register",
            "refiner",
            "--roles",
            "REFINER",
            "--name",
            SECRET_WORDS["display name"],
            "--metadata",
            SECRET_WORDS["metadata"],
            "-v",
            account="admin",
        )
        c.write("party", "register", "verifier", "--roles", "GWP_VERIFIER", "--name", "Verifier GmbH", "-v", account="admin")
        c.write(
            "party", "register", "packs", "--roles", "REFINER,CELL_MAKER,PACK_ASSEMBLER", "--name", "Packs AB", "-v", account="admin"
        )
        c.write("party", "register", "ops", "--roles", "REFINER", "--name", "Ops", "-v", account="admin")
        c.write(
            "lot",
            "mint",
            "R-NI-1",
            "--material",
            "NiSO4",
            "--mass",
            "10t",
            "--elements",
            "Ni=22%",
            "--origin",
            f"FI:{SECRET_WORDS['site']}",
            "--evidence",
            docs["assay document"],
            "-v",
            account="refiner",
        )
        c.write("transfer", "offer", "R-NI-1", "packs", "-v", account="refiner")
        c.write("transfer", "accept", "R-NI-1", "-v", account="packs")
        c.write("lot", "mint", "CELLS-1", "--material", "CELL", "--mass", "300kg", "--elements", "Ni=10%", "-v", account="packs")
        c.write(
            "unit",
            "build",
            "PACK-1",
            "--cells",
            "CELLS-1",
            "--material",
            "PACK",
            "--mass",
            "300kg",
            "--serial",
            SECRET_WORDS["serial"],
            "--rated",
            "60kWh",
            "-v",
            account="packs",
        )
        att = tmp_path / "att.json"
        # Issued at the chain's time: the fixture's clock may run ahead of the wall clock, and a figure issued
        # before its verifier's accreditation is (rightly) flagged unaccredited-signer.
        chain_now = int(
            call(Ledger.connect(node.rpc_url, data_dir=tmp_path / "probe").w3, "eth_getBlockByNumber", ["latest", False])["timestamp"],
            16,
        )
        c.json(
            "gwp",
            "sign",
            "R-NI-1",
            "--emissions",
            "1.5t",
            "--stage",
            "main-production",
            "--evidence",
            docs["LCA report"],
            "--issued-at",
            f"@{chain_now}",
            "--account",
            "verifier",
            "-o",
            att,
            "-v",
        )
        c.write("gwp", "submit", att, "-v", account="ops")
        c.write("gwp", "revoke", att, "--reason", SECRET_WORDS["revocation reason"], "-v", account="verifier")
        c.write("party", "suspend", "ops", "--reason", SECRET_WORDS["suspension reason"], "-v", account="admin")
        # Failures with -v print tracebacks: they must not carry secrets either.
        wrong = c.run(
            "lot",
            "mint",
            "X-1",
            "--material",
            "NiSO4",
            "--mass",
            "1t",
            "--account",
            "refiner",
            "--yes",
            "-v",
            env={"RINNE_PASSWORD": "not the password"},
        )
        assert wrong.exit_code == 1
        refused = c.run("lot", "mint", "X-2", "--material", "NiSO4", "--mass", "1t", "--account", "ops", "--yes", "-v")
        assert refused.exit_code == 1
        report = c.run("audit", "--strict", "-v", "--json")  # fails on purpose: the revoked figure is a weak claim
        data = json.loads(report.stdout)
        assert report.exit_code == 1 and data["passed"] is True and data["strict_passed"] is False and data["flags"] == []
        assert {cl["label"]: cl["level"] for cl in data["claims"]}["R-NI-1"] == "revoked"
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

    # 1. No key material anywhere: outputs, logs, files written (keystores aside), the node's log.
    keys = [imported_key[2:]] + [
        _keys.load_account(n, PASSWORD, c.keystores).key.hex().removeprefix("0x") for n in ("admin", "refiner", "verifier", "packs")
    ]
    haystack = "\n".join(c.transcript + records)
    files = [p for p in c.home.rglob("*") if p.is_file()] + [Path(node.log_file)]
    files += [p for p in tmp_path.glob("*.json")]
    for k in keys:
        for form in (k, k.upper(), "0x" + k):
            assert form not in haystack, "a private key was printed or logged"
        raw = bytes.fromhex(k)
        for f in files:
            data = f.read_bytes()
            assert k.encode() not in data and raw not in data, f"a private key is in {f}"
    assert PASSWORD not in haystack
    assert all(PASSWORD.encode() not in f.read_bytes() for f in files)
    assert records, "the run logged nothing at all: the log check saw nothing"

    # 2. On-chain: none of the confidential words in any transaction or log since the run began.
    w3 = Ledger.connect(node.rpc_url, data_dir=c.home).w3
    blobs = []
    for n in range(head + 1, int(call(w3, "eth_blockNumber", []), 16) + 1):
        block = call(w3, "eth_getBlockByNumber", [hex(n), True])
        for tx in block["transactions"]:
            blobs.append(bytes.fromhex(tx["input"][2:]))
            for log in call(w3, "eth_getTransactionReceipt", [tx["hash"]])["logs"]:
                blobs.append(b"".join(bytes.fromhex(t[2:]) for t in log["topics"]) + bytes.fromhex(log["data"][2:]))
    chain_bytes = b"\n".join(blobs)
    for what, text in SECRET_WORDS.items():
        assert text.encode() not in chain_bytes, f"the {what} is on-chain in clear"
        assert text[:16].encode() not in chain_bytes, f"part of the {what} is on-chain in clear"
    # Nor their plain hashes: a competitor holding the assay or the LCA report would confirm it by hashing.
    # Evidence words are salted commitments bound to their lot (issue 17); the documents' hashes are in the
    # vault, encrypted.
    ledger = Ledger.connect(node.rpc_url, data_dir=c.home)
    for what in ("assay document", "LCA report"):
        assert keccak(docs[what].read_bytes()) not in chain_bytes, f"the plain hash of the {what} is on-chain"
    # Names, serials and sites are salted commitments (issue 17): not even their plain hashes, which a list of
    # company names, serials or mines would confirm, are on-chain.
    for what in ("display name", "serial", "metadata"):
        assert keccak(text=SECRET_WORDS[what]) not in chain_bytes, f"the plain hash of the {what} is on-chain"
    assert keccak(text=SECRET_WORDS["site"])[:30] not in chain_bytes, "the plain hash of the site is on-chain"
    # The openings are in the vault, encrypted: none of the words in clear in any of its files.
    vault_files = [p for p in (c.home / "vault").rglob("*") if p.is_file()]
    assert vault_files and all(oct(p.stat().st_mode & 0o777) == "0o600" for p in vault_files)
    for p in vault_files:
        for what in ("display name", "serial", "site"):
            assert SECRET_WORDS[what].encode() not in p.read_bytes(), f"the {what} is in clear in {p}"
        for what in ("assay document", "LCA report"):
            assert keccak(docs[what].read_bytes()).hex().encode() not in p.read_bytes(), f"the {what}'s hash is in clear in {p}"
    assert ledger.lot("R-NI-1").holder == c.addresses["packs"]
    assert bytes.fromhex(to_bytes32("R-NI-1")[2:]) in chain_bytes  # lot ids are labels, readable by design
