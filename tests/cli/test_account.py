"""`rinne account`: keystores, funding, and keys never on the command line."""

from __future__ import annotations

import json

import pytest
from cli_support import PASSWORD
from eth_account import Account

from ledger import load_account
from ledger.chain.rpc import call

pytestmark = pytest.mark.chain

# Anvil's second dev key: a public test key.
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
KEY_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _balance(rinne, address):
    return int(call(rinne.ledger().w3, "eth_getBalance", [address, "latest"]), 16)


def test_new_creates_an_encrypted_keystore_and_lists_it(rinne, tmp_path):
    keys = tmp_path / "keys"
    out = rinne.json("account", "new", "alice", "--keystore-dir", keys, "--no-fund")
    assert out["name"] == "alice" and out["funded"] is False
    stored = json.loads((keys / "alice").read_text())
    assert stored["crypto"]["kdf"] == "scrypt" and stored["crypto"]["kdfparams"]["n"] == 1024
    assert load_account("alice", PASSWORD, keys).address == out["address"]
    listed = rinne.json("account", "list", "--keystore-dir", keys)
    assert listed == [{"name": "alice", "address": out["address"]}]
    human = rinne.run("account", "list", "--keystore-dir", keys).stdout
    assert "alice" in human and out["address"] in human


def test_new_prompts_twice_for_the_password(rinne, tmp_path):
    keys = tmp_path / "keys"
    result = rinne.run(
        "account", "new", "bob", "--keystore-dir", keys, "--no-fund", input="s3cret\ns3cret\n", env={"RINNE_PASSWORD": None}
    )
    assert "Password for bob" in result.stderr and "s3cret" not in result.stdout + result.stderr
    assert load_account("bob", "s3cret", keys)
    mismatch = rinne.run(
        "account", "new", "carol", "--keystore-dir", keys, "--no-fund", input="one\ntwo\n", env={"RINNE_PASSWORD": None}, code=None
    )
    assert mismatch.exit_code != 0 and not (keys / "carol").exists()


def test_fund_gives_test_eth_only_when_asked(rinne, tmp_path):
    keys = tmp_path / "keys"
    unfunded = rinne.json("account", "new", "poor", "--keystore-dir", keys)
    assert unfunded["funded"] is False and _balance(rinne, unfunded["address"]) == 0
    funded = rinne.json("account", "new", "rich", "--keystore-dir", keys, "--fund")
    assert funded["funded"] is True and _balance(rinne, funded["address"]) == 10**21


def test_import_reads_the_key_from_a_file_or_stdin_never_argv(rinne, tmp_path):
    keys = tmp_path / "keys"
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    out = rinne.json("account", "import", "dev1", "--keystore-dir", keys, "--key-file", key_file, "--no-fund")
    assert out["address"] == KEY_ADDRESS
    # From stdin through '-': the key never appears in any output.
    result = rinne.run("account", "import", "dev2", "--keystore-dir", keys, "--key-file", "-", "--no-fund", input=KEY + "\n")
    assert KEY_ADDRESS in result.stdout and KEY[2:] not in result.stdout + result.stderr
    # From the hidden prompt.
    prompted = rinne.run("account", "import", "dev3", "--keystore-dir", keys, "--no-fund", input=KEY + "\n")
    assert "Private key" in prompted.stderr and KEY[2:] not in prompted.stdout + prompted.stderr
    # There is no way to pass the key as an argument.
    line = rinne.fail("account", "import", "dev4", "--keystore-dir", keys, "--private-key", KEY, code=2)
    assert "--private-key" in line and KEY[2:] not in line


def test_bad_key_and_taken_name_are_refused(rinne, tmp_path):
    keys = tmp_path / "keys"
    bad = tmp_path / "bad.txt"
    bad.write_text("not a key")
    line = rinne.fail("account", "import", "x", "--keystore-dir", keys, "--key-file", bad, "--no-fund")
    assert "64 hex digits" in line and not (keys / "x").exists()
    rinne.json("account", "new", "taken", "--keystore-dir", keys, "--no-fund")
    before = (keys / "taken").read_bytes()
    line = rinne.fail("account", "new", "taken", "--keystore-dir", keys, "--no-fund", code=2)
    assert "exists already" in line and (keys / "taken").read_bytes() == before
    assert "invalid account name" in rinne.fail("account", "new", "../evil", "--keystore-dir", keys, code=2)


def test_list_is_empty_for_a_new_folder(rinne, tmp_path):
    assert rinne.json("account", "list", "--keystore-dir", tmp_path / "none") == []
    result = rinne.run("account", "list", "--keystore-dir", tmp_path / "none")
    assert result.stdout == "" and "no accounts" in result.stderr


def test_wrong_password_is_one_line(rinne):
    line = rinne.fail(
        "lot", "mint", "PW-1", "--material", "NiSO4", "--mass", "1t", "--account", "refiner", "--yes", env={"RINNE_PASSWORD": "wrong"}
    )
    assert "wrong password" in line and "RINNE_PASSWORD" in line


def test_password_file(rinne, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    out = rinne.json(
        "lot",
        "mint",
        "PW-2",
        "--material",
        "NiSO4",
        "--mass",
        "1t",
        "--account",
        "refiner",
        "--yes",
        "--password-file",
        pw,
        env={"RINNE_PASSWORD": None},
    )
    assert out["created"] is True
    assert rinne.ledger().lot("PW-2").holder == rinne.addr("refiner")


def test_an_account_created_by_cast_style_import_of_a_known_key_signs(rinne, tmp_path):
    # Keystores are plain V3 files: one encrypted elsewhere (eth-account) is usable with --keystore-dir.
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "ext").write_text(json.dumps(Account.encrypt(KEY, PASSWORD, kdf="scrypt", iterations=1024)))
    assert rinne.json("account", "list", "--keystore-dir", keys)[0]["name"] == "ext"


def test_fund_on_an_unreachable_chain_fails_before_writing_a_keystore(rinne, tmp_path):
    from ledger.chain import node as _node

    keys = tmp_path / "keys"
    url = f"http://127.0.0.1:{_node.free_port()}"
    line = rinne.fail("account", "new", "lost", "--keystore-dir", keys, "--fund", "--rpc-url", url)
    assert "cannot reach" in line and not (keys / "lost").exists()


def test_weak_scrypt_cost_needs_the_dev_switch(rinne, tmp_path):
    # Attack: RINNE_SCRYPT_N=1024 alone (the variable the test helpers once set) writes a cheap keystore.
    keys = tmp_path / "keys"
    line = rinne.fail(
        "account", "new", "weak", "--keystore-dir", keys, "--no-fund", env={"RINNE_SCRYPT_N": "1024", "RINNE_INSECURE_FAST_KEYS": None}
    )
    assert "weaker than the 262144 floor" in line and "RINNE_INSECURE_FAST_KEYS=1" in line
    assert not (keys / "weak").exists()
    # With the switch it is written, and announced once on stderr.
    result = rinne.run(
        "account", "new", "fast", "--keystore-dir", keys, "--no-fund", env={"RINNE_SCRYPT_N": "1024", "RINNE_INSECURE_FAST_KEYS": "1"}
    )
    assert result.stderr.count("warning: RINNE_INSECURE_FAST_KEYS=1") == 1
    assert json.loads((keys / "fast").read_text())["crypto"]["kdfparams"]["n"] == 1024


def test_list_formats(rinne, tmp_path):
    keys = tmp_path / "keys"
    a = rinne.json("account", "new", "alpha", "--keystore-dir", keys, "--no-fund")["address"]
    b = rinne.json("account", "new", "beta", "--keystore-dir", keys, "--no-fund")["address"]
    table = rinne.run("account", "list", "--keystore-dir", keys, "--table").stdout.splitlines()
    assert table[0].split() == ["NAME", "ADDRESS"] and table[1].split() == ["alpha", a] and table[2].split() == ["beta", b]
    assert rinne.run("account", "list", "--keystore-dir", keys, "--csv").stdout == f"name,address\nalpha,{a}\nbeta,{b}\n"
    lines = rinne.run("account", "list", "--keystore-dir", keys, "--nl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == [{"name": "alpha", "address": a}, {"name": "beta", "address": b}]
    assert "one output format" in rinne.fail("account", "list", "--keystore-dir", keys, "--csv", "--nl", code=2)


def test_no_password_and_nothing_on_stdin_is_one_line(rinne, tmp_path):
    line = rinne.fail("account", "new", "nopw", "--keystore-dir", tmp_path / "keys", "--no-fund", env={"RINNE_PASSWORD": None})
    assert "no password for nopw" in line and "--password-file" in line and not (tmp_path / "keys" / "nopw").exists()
    line = rinne.fail(
        "lot", "mint", "NOPW-1", "--material", "NiSO4", "--mass", "1t", "--account", "refiner", "--yes", env={"RINNE_PASSWORD": None}
    )
    assert "no password for refiner" in line
