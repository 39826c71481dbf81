"""Encrypted keystores: Foundry layout and compatibility, file modes, passwords, secrets hygiene."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.errors import (
    AccountExists,
    AccountNotFound,
    InvalidInput,
    KeystoreError,
    LedgerError,
    WeakKeyDerivation,
    WrongPassword,
)
from ledger.local import keys as _keys
from ledger.local.keys import (
    DEFAULT_SCRYPT_N,
    INSECURE_FAST_KEYS_ENV,
    MIN_SCRYPT_N,
    create_account,
    default_keystore_dir,
    import_private_key,
    list_accounts,
    load_account,
    load_keystore,
    read_password,
)

REPO = Path(__file__).resolve().parents[3]
FAST_N = 2**12  # tests only: the default (2**18) costs about a second per encrypt/decrypt
PASSWORD = "correct horse battery staple"
# Anvil's first dev key: a public test key.
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
KEY_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
# Written by `cast wallet import alice --private-key KEY --unsafe-password pw` (Foundry 1.7.1):
# no "address" field, scrypt n = 2**13.
CAST_KEYSTORE = (
    '{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"3df2584a39898f89223f314f3b348084"},'
    '"ciphertext":"6cd1d96061f80307023c98fb1e37cf78e4258d3d8037cbd45e19aee708bf6e14","kdf":"scrypt",'
    '"kdfparams":{"dklen":32,"n":8192,"p":1,"r":8,"salt":"50291db7d4b434426fbf1255b54771e78fbc5c704d62a364f33e0bb13303829e"},'
    '"mac":"b2c936e9c22f76f4dd459089e51e6506cc53456b4be3d21525696bff1d4a9f5b"},'
    '"id":"37e61efc-aa13-4a70-adfb-e7655b00197e","version":3}'
)


@pytest.fixture(autouse=True)
def fast_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests write FAST_N keystores: under the documented development switch (tests that play
    the weak-KDF attack turn it off)."""
    monkeypatch.setenv(INSECURE_FAST_KEYS_ENV, "1")


@pytest.fixture
def ks(tmp_path: Path) -> Path:
    return tmp_path / "keystores"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- folder --------------------------------------------------------------------------------------------


def test_default_dir_is_foundrys_unless_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RINNE_KEYSTORE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_keystore_dir() == tmp_path / ".foundry" / "keystores"
    monkeypatch.setenv("RINNE_KEYSTORE_DIR", str(tmp_path / "mine"))
    assert default_keystore_dir() == tmp_path / "mine"


def test_env_dir_is_used_when_no_folder_given(monkeypatch: pytest.MonkeyPatch, ks: Path) -> None:
    monkeypatch.setenv("RINNE_KEYSTORE_DIR", str(ks))
    address = create_account("envacct", PASSWORD, scrypt_n=FAST_N)
    assert (ks / "envacct").is_file()
    assert list_accounts() == [("envacct", address)]
    assert load_account("envacct", PASSWORD).address == address


# --- create / import -----------------------------------------------------------------------------------


def test_create_writes_a_private_v3_file(ks: Path) -> None:
    nested = ks / "deeper"
    address = create_account("alice", PASSWORD, nested, scrypt_n=FAST_N)
    path = nested / "alice"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(nested.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data["version"] == 3
    assert data["crypto"]["kdf"] == "scrypt" and data["crypto"]["kdfparams"]["n"] == FAST_N
    assert data["crypto"]["cipher"] == "aes-128-ctr"
    assert os.listdir(nested) == ["alice"]  # no temp file left
    account = load_account("alice", PASSWORD, nested)
    assert account.address == address
    assert address.startswith("0x") and address != address.lower()  # checksummed


def test_existing_open_folder_is_made_private(ks: Path) -> None:
    # Attack: a keystore folder left 0755 (another user lists the accounts and copies the keystores
    # for an offline password search). Writing, listing or unlocking makes it 0700 again.
    ks.mkdir(mode=0o755)
    os.chmod(ks, 0o755)
    create_account("a", PASSWORD, ks, scrypt_n=FAST_N)
    assert stat.S_IMODE(ks.stat().st_mode) == 0o700
    for use in (lambda: list_accounts(ks), lambda: load_account("a", PASSWORD, ks)):
        os.chmod(ks, 0o775)
        use()
        assert stat.S_IMODE(ks.stat().st_mode) == 0o700


def test_private_folder_is_left_alone(ks: Path) -> None:
    ks.mkdir(mode=0o700)
    os.chmod(ks, 0o500)  # stricter than ours: not loosened
    assert list_accounts(ks) == []
    assert stat.S_IMODE(ks.stat().st_mode) == 0o500


def test_open_keystore_file_is_made_0600(ks: Path) -> None:
    create_account("a", PASSWORD, ks, scrypt_n=FAST_N)
    os.chmod(ks / "a", 0o644)
    load_account("a", PASSWORD, ks)
    assert stat.S_IMODE((ks / "a").stat().st_mode) == 0o600


def _folder_of_another_user(tmp_path: Path) -> Path | None:
    if os.geteuid() == 0:  # root can hand a folder to another uid
        folder = tmp_path / "theirs"
        folder.mkdir()
        os.chown(folder, 65534, 65534)
        os.chmod(folder, 0o777)
        return folder
    return next(
        (
            p
            for p in (Path("/tmp"), Path("/var/tmp"))
            if p.is_dir() and p.stat().st_uid != os.geteuid() and stat.S_IMODE(p.stat().st_mode) & 0o077
        ),
        None,
    )


def test_open_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    # A folder another user owns can be rewritten by them whatever its mode: refused, never trusted.
    theirs = _folder_of_another_user(tmp_path)
    if theirs is None:
        pytest.skip("no world-open folder owned by another user")
    mode = stat.S_IMODE(theirs.stat().st_mode)
    with pytest.raises(KeystoreError, match="belongs to uid .* not to you"):
        list_accounts(theirs)
    with pytest.raises(KeystoreError, match="not to you"):
        create_account("a", PASSWORD, theirs, scrypt_n=FAST_N)
    assert not (theirs / "a").exists() and stat.S_IMODE(theirs.stat().st_mode) == mode


def test_new_keys_differ(ks: Path) -> None:
    a = create_account("a", PASSWORD, ks, scrypt_n=FAST_N)
    b = create_account("b", PASSWORD, ks, scrypt_n=FAST_N)
    assert a != b


@pytest.mark.parametrize("key", [KEY, KEY[2:], KEY.upper().replace("0X", "0x"), "  " + KEY + "\n", bytes.fromhex(KEY[2:])])
def test_import_known_key(ks: Path, key: Any) -> None:
    assert import_private_key("dev", key, PASSWORD, ks, scrypt_n=FAST_N) == KEY_ADDRESS
    account = load_account("dev", PASSWORD, ks)
    assert account.address == KEY_ADDRESS
    assert account.key.hex().removeprefix("0x") == KEY[2:]


def test_create_with_private_key(ks: Path) -> None:
    assert create_account("dev", PASSWORD, ks, private_key=KEY, scrypt_n=FAST_N) == KEY_ADDRESS


def test_overwrite_is_refused(ks: Path) -> None:
    create_account("alice", PASSWORD, ks, scrypt_n=FAST_N)
    before = (ks / "alice").read_bytes()
    with pytest.raises(AccountExists, match="alice"):
        import_private_key("alice", KEY, "other password", ks, scrypt_n=FAST_N)
    assert (ks / "alice").read_bytes() == before
    assert os.listdir(ks) == ["alice"]


def test_a_dangling_symlink_is_not_followed(ks: Path, tmp_path: Path) -> None:
    ks.mkdir()
    target = tmp_path / "elsewhere"
    (ks / "alice").symlink_to(target)
    with pytest.raises(AccountExists):
        create_account("alice", PASSWORD, ks, scrypt_n=FAST_N)
    assert not target.exists()


def test_exclusive_write_refuses_a_file_that_appears_meanwhile(ks: Path) -> None:
    # The early existence check can be raced; the final link must still refuse to replace.
    ks.mkdir()
    (ks / "alice").write_text("someone else's")
    with pytest.raises(AccountExists):
        _keys._write_new_file(ks / "alice", b"{}")
    assert (ks / "alice").read_text() == "someone else's"
    assert os.listdir(ks) == ["alice"]


@pytest.mark.parametrize("name", ["", ".", "..", "../evil", "a/b", "a\\b", ".hidden", "-rf", "has space", "x" * 129, "naïve", None, 5])
def test_invalid_names(ks: Path, name: Any) -> None:
    with pytest.raises(InvalidInput, match="invalid account name"):
        create_account(name, PASSWORD, ks, scrypt_n=FAST_N)
    with pytest.raises(InvalidInput):
        load_account(name, PASSWORD, ks)
    assert not ks.exists()


@pytest.mark.parametrize("name", ["alice", "GWP_verifier-1", "deployer.local", "0", "_x"])
def test_valid_names(ks: Path, name: str) -> None:
    create_account(name, PASSWORD, ks, scrypt_n=FAST_N)
    assert [n for n, _ in list_accounts(ks)] == [name]


@pytest.mark.parametrize(
    "key",
    [
        KEY[:-2],
        KEY + "00",
        "0x" + "g" * 64,
        "0x" + "00" * 32,  # zero
        "0x" + "ff" * 32,  # >= curve order
        "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",  # = curve order
        bytes(31),
        12345,
    ],
)
def test_invalid_private_keys_are_not_echoed(ks: Path, key: Any) -> None:
    with pytest.raises(InvalidInput) as e:
        import_private_key("dev", key, PASSWORD, ks, scrypt_n=FAST_N)
    text = str(e.value)
    if isinstance(key, str):
        assert key[2:10] not in text and key[-8:] not in text
    assert e.value.__cause__ is None
    assert not ks.exists()


def test_empty_password_is_refused(ks: Path) -> None:
    with pytest.raises(InvalidInput, match="password"):
        create_account("a", "", ks, scrypt_n=FAST_N)


@pytest.mark.parametrize("n", [2**9, 3000, 2**21, True, 2.0])
def test_invalid_scrypt_cost(ks: Path, n: Any) -> None:
    with pytest.raises(InvalidInput, match="scrypt_n"):
        create_account("a", PASSWORD, ks, scrypt_n=n)


@pytest.mark.parametrize("n", [2**10, 2**13, 2**17])
def test_weak_scrypt_cost_is_refused_without_the_switch(
    ks: Path, n: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Attack: a cheaper scrypt cost than eth-keyfile's default (even Foundry's 2**13) asked for
    # quietly, through the API or an environment variable. Refused, nothing written.
    for value in (None, "0", "true", "yes"):  # only "1" turns the switch on
        if value is None:
            monkeypatch.delenv(INSECURE_FAST_KEYS_ENV, raising=False)
        else:
            monkeypatch.setenv(INSECURE_FAST_KEYS_ENV, value)
        with pytest.raises(
            WeakKeyDerivation, match=f"scrypt n = {n} is weaker than the {MIN_SCRYPT_N} floor.*{INSECURE_FAST_KEYS_ENV}=1"
        ):
            create_account("a", PASSWORD, ks, scrypt_n=n)
        with pytest.raises(WeakKeyDerivation):
            import_private_key("b", KEY, PASSWORD, ks, scrypt_n=n)
    assert not ks.exists() or os.listdir(ks) == []
    assert capsys.readouterr().err == ""


def test_switch_writes_fast_keys_and_warns_once_per_key(ks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    create_account("a", PASSWORD, ks)  # under the switch the default is the development cost
    create_account("b", PASSWORD, ks, scrypt_n=2**12)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith(f"rinne: warning: {INSECURE_FAST_KEYS_ENV}=1: keystore") for line in err)
    assert "'a'" in err[0] and "n = 1024" in err[0] and "'b'" in err[1] and "n = 4096" in err[1]
    assert json.loads((ks / "a").read_text())["crypto"]["kdfparams"]["n"] == _keys.DEV_SCRYPT_N


def test_honest_cost_needs_no_switch_and_warns_nothing(
    ks: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(INSECURE_FAST_KEYS_ENV)
    seen: list[int | None] = []
    real = Account.encrypt

    def spy(key: Any, password: str, kdf: str | None = None, iterations: int | None = None) -> Any:
        seen.append(iterations)
        return real(key, password, kdf=kdf, iterations=FAST_N)  # keep the test fast

    monkeypatch.setattr(Account, "encrypt", staticmethod(spy))
    create_account("a", PASSWORD, ks)
    create_account("b", PASSWORD, ks, scrypt_n=2**19)
    assert seen == [2**18, 2**19] and MIN_SCRYPT_N == 2**18
    assert capsys.readouterr().err == ""


def test_default_scrypt_cost_is_geths(ks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    real = Account.encrypt

    def spy(key: Any, password: str, kdf: str | None = None, iterations: int | None = None) -> Any:
        seen.update(kdf=kdf, iterations=iterations)
        return real(key, password, kdf=kdf, iterations=FAST_N)  # keep the test fast

    monkeypatch.delenv(INSECURE_FAST_KEYS_ENV)
    monkeypatch.setattr(Account, "encrypt", staticmethod(spy))
    create_account("a", PASSWORD, ks)
    assert seen == {"kdf": "scrypt", "iterations": 2**18} and DEFAULT_SCRYPT_N == 2**18


# --- load ---------------------------------------------------------------------------------------------


def test_wrong_password(ks: Path) -> None:
    create_account("alice", PASSWORD, ks, scrypt_n=FAST_N)
    with pytest.raises(WrongPassword) as e:
        load_account("alice", "not the password", ks)
    assert "alice" in str(e.value) and "\n" not in str(e.value)
    assert "not the password" not in str(e.value) and PASSWORD not in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__
    assert isinstance(e.value, KeystoreError) and isinstance(e.value, LedgerError)


def test_missing_account(ks: Path) -> None:
    with pytest.raises(AccountNotFound, match="bob"):
        load_account("bob", PASSWORD, ks)
    create_account("alice", PASSWORD, ks, scrypt_n=FAST_N)
    with pytest.raises(LookupError):
        load_account("bob", PASSWORD, ks)


def test_load_keystore_by_path(ks: Path) -> None:
    address = create_account("alice", PASSWORD, ks, scrypt_n=FAST_N)
    assert load_keystore(ks / "alice", PASSWORD).address == address
    with pytest.raises(AccountNotFound):
        load_keystore(ks / "nobody", PASSWORD)


def test_address_field_must_match_the_key(ks: Path) -> None:
    create_account("alice", PASSWORD, ks, scrypt_n=FAST_N)
    path = ks / "alice"
    data = json.loads(path.read_text())
    data["address"] = KEY_ADDRESS[2:].lower()
    path.write_text(json.dumps(data))
    assert list_accounts(ks) == [("alice", KEY_ADDRESS)]
    with pytest.raises(KeystoreError, match="records address"):
        load_account("alice", PASSWORD, ks)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "not a JSON keystore"),
        ("[]", "not a JSON keystore"),
        ('{"version": 1, "crypto": {}}', "not a version 3"),
        (CAST_KEYSTORE.replace('"n":8192', '"n":1073741824'), "exceed"),
        (CAST_KEYSTORE.replace('"kdf":"scrypt"', '"kdf":"argon2"'), "unsupported key derivation"),
        (CAST_KEYSTORE.replace("aes-128-ctr", "aes-256-gcm"), "unsupported cipher"),
        (CAST_KEYSTORE.replace('"p":1', '"p":"1"'), "malformed scrypt"),
        (CAST_KEYSTORE.replace('"ciphertext":"6cd1', '"ciphertext":"zzzz'), "cannot decrypt"),
    ],
)
def test_broken_keystores(ks: Path, content: str, expected: str) -> None:
    ks.mkdir()
    (ks / "bad").write_text(content)
    with pytest.raises(KeystoreError, match=expected) as e:
        load_account("bad", "pw", ks)
    assert "\n" not in str(e.value) and e.value.__cause__ is None


# --- Foundry compatibility -------------------------------------------------------------------------------


def test_cast_written_keystore_loads(ks: Path) -> None:
    ks.mkdir()
    (ks / "alice").write_text(CAST_KEYSTORE)
    assert list_accounts(ks) == [("alice", None)]  # Foundry records no address
    account = load_account("alice", "pw", ks)
    assert account.address == KEY_ADDRESS
    with pytest.raises(WrongPassword):
        load_account("alice", "PW", ks)


def test_unlocking_a_cast_keystore_records_its_address_beside_it(ks: Path) -> None:
    ks.mkdir()
    (ks / "alice").write_text(CAST_KEYSTORE)
    with pytest.raises(WrongPassword):
        load_account("alice", "PW", ks)
    assert list_accounts(ks) == [("alice", None)]  # a failed unlock learns nothing
    load_account("alice", "pw", ks)
    assert list_accounts(ks) == [("alice", KEY_ADDRESS)]
    assert _keys.recorded_address("alice", ks) == KEY_ADDRESS
    record = ks / _keys.ADDRESS_DIR / "alice"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600 and stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    stored = json.loads(record.read_text())  # the address and the keystore's digest: no key, no password
    assert stored["address"] == KEY_ADDRESS and set(stored) == {"address", "keystore_sha256"}
    # The record belongs to those bytes: another keystore under the name shows no address, not the old one.
    (ks / "alice").write_text(
        json.dumps(Account.encrypt(Account.create().key, "pw", kdf="scrypt", iterations=FAST_N)).replace('"address"', '"x"')
    )
    assert list_accounts(ks) == [("alice", None)]
    # A forged record (another address for these bytes) is not trusted at unlock: the key's address replaces it.
    (ks / "alice").write_text(CAST_KEYSTORE)
    forged = json.loads(record.read_text())
    record.write_text(json.dumps({**forged, "address": "0x" + "11" * 20}))
    assert load_account("alice", "pw", ks).address == KEY_ADDRESS
    assert list_accounts(ks) == [("alice", KEY_ADDRESS)]
    with pytest.raises(AccountNotFound):
        _keys.recorded_address("nobody", ks)


def test_keystores_with_an_address_field_get_no_record(ks: Path) -> None:
    import_private_key("dev", KEY, PASSWORD, ks, scrypt_n=FAST_N)
    load_account("dev", PASSWORD, ks)
    assert not (ks / _keys.ADDRESS_DIR).exists()


def test_standard_eth_account_keystores_load(ks: Path) -> None:
    ks.mkdir()
    for name, kdf in [("scrypt", "scrypt"), ("pbkdf2", "pbkdf2")]:
        (ks / name).write_text(json.dumps(Account.encrypt(KEY, "pw", kdf=kdf, iterations=FAST_N)))
    assert list_accounts(ks) == [("pbkdf2", KEY_ADDRESS), ("scrypt", KEY_ADDRESS)]
    assert load_account("scrypt", "pw", ks).address == KEY_ADDRESS
    assert load_account("pbkdf2", "pw", ks).address == KEY_ADDRESS


def _cast() -> str | None:
    local = REPO / "node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("cast")


@pytest.mark.skipif(_cast() is None, reason="Foundry's cast is not installed")
def test_cast_reads_our_keystore_by_account_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # End to end through the default folder: cast looks up --account NAME in $HOME/.foundry/keystores.
    monkeypatch.delenv("RINNE_KEYSTORE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    import_private_key("dev", KEY, PASSWORD, scrypt_n=FAST_N)
    assert (tmp_path / ".foundry" / "keystores" / "dev").is_file()
    cast = _cast()
    assert cast is not None
    env = {**os.environ, "HOME": str(tmp_path)}

    def address(password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [cast, "wallet", "address", "--account", "dev", "--password", password],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    ok = address(PASSWORD)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == KEY_ADDRESS
    assert address("nope").returncode != 0


# --- listing ------------------------------------------------------------------------------------------


def test_list_accounts(ks: Path) -> None:
    assert list_accounts(ks) == []  # missing folder
    b = create_account("bob", PASSWORD, ks, scrypt_n=FAST_N)
    a = import_private_key("alice", KEY, PASSWORD, ks, scrypt_n=FAST_N)
    (ks / "notes.txt").write_text("hello")  # unreadable as a keystore: skipped
    (ks / "empty").write_text("")
    (ks / ".alice.0123.tmp").write_text(CAST_KEYSTORE)  # a hidden temp file is not an account
    (ks / "sub").mkdir()
    (ks / "v1").write_text('{"version": 1}')
    assert list_accounts(ks) == [("alice", a), ("bob", b)]
    assert a == KEY_ADDRESS


# --- passwords ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"pw\n", "pw"), (b"pw", "pw"), (b"pw\r\n", "pw"), (b"pw\n\n", "pw\n"), (b" pw \n", " pw "), (b"\n", "")],
)
def test_password_file_drops_one_newline(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "pw").write_bytes(content)
    assert read_password(password_file=tmp_path / "pw") == expected


def test_password_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def prompt() -> str:
        calls.append(1)
        return "typed"

    (tmp_path / "pw").write_text("from-file\n")
    monkeypatch.setenv("RINNE_PASSWORD", "from-env")
    assert read_password(password_file=tmp_path / "pw", prompt=prompt) == "from-file"
    assert read_password(prompt=prompt) == "from-env"
    assert read_password(env_var="OTHER_PW", prompt=prompt) == "typed"
    assert calls == [1]
    monkeypatch.setenv("RINNE_PASSWORD", "")  # empty counts as unset
    assert read_password(prompt=prompt) == "typed"
    monkeypatch.delenv("RINNE_PASSWORD")
    with pytest.raises(KeystoreError, match="no password: use --password-file or RINNE_PASSWORD"):
        read_password()


def test_casts_eth_password_file_comes_after_rinnes_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # cast reads ETH_PASSWORD as the path of a password file and drops trailing whitespace (trim_end).
    (tmp_path / "cast-pw").write_text("from-cast \t\n\n")
    (tmp_path / "pw").write_text("from-file\n")
    monkeypatch.setenv("ETH_PASSWORD", str(tmp_path / "cast-pw"))
    monkeypatch.setenv("RINNE_PASSWORD", "from-env")
    assert read_password(password_file=tmp_path / "pw") == "from-file"
    assert read_password() == "from-env"
    monkeypatch.delenv("RINNE_PASSWORD")
    assert read_password(prompt=lambda: "typed") == "from-cast"
    monkeypatch.setenv("ETH_PASSWORD", str(tmp_path / "missing"))
    with pytest.raises(KeystoreError, match=r"cannot read \$ETH_PASSWORD password file"):
        read_password()
    monkeypatch.setenv("ETH_PASSWORD", "")  # empty counts as unset
    assert read_password(prompt=lambda: "typed") == "typed"


def test_missing_password_file(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="cannot read password file"):
        read_password(password_file=tmp_path / "nope")


# --- secrets stay secret -----------------------------------------------------------------------------------


def test_no_secrets_in_reprs_messages_or_logs(ks: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    import_private_key("dev", KEY, PASSWORD, ks, scrypt_n=FAST_N)
    account = load_account("dev", PASSWORD, ks)
    errors: list[str] = []
    for attempt in (
        lambda: load_account("dev", PASSWORD + "x", ks),
        lambda: import_private_key("dev", KEY, PASSWORD, ks, scrypt_n=FAST_N),
        lambda: import_private_key("dev2", KEY[:-1], PASSWORD, ks, scrypt_n=FAST_N),
    ):
        with pytest.raises(LedgerError) as e:
            attempt()
        errors.append(str(e.value) + repr(e.value))
    key_hex = KEY[2:].lower()
    exposed = [repr(account), str(account), *errors, caplog.text, (ks / "dev").read_text()]
    for text in exposed:
        assert key_hex not in text.lower()
        assert key_hex[:16] not in text.lower()
        assert PASSWORD not in text
    assert "dev" in caplog.text  # the log did record the operations, just not the secrets
