"""Encrypted keystores in Foundry's layout: V3 JSON files named by the account, in ~/.foundry/keystores.

Files written here are read by ``cast wallet ... --account NAME`` and files ``cast wallet import``
wrote are read here. Foundry's files carry no "address" field: the first unlock of such a keystore records
its address beside it (:data:`ADDRESS_DIR`, one 0600 file per account holding the address and the
SHA-256 of the keystore it belongs to, never the key or the password), so that listing shows it from then
on. Passwords and keys never appear in messages, logs or reprs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from ledger.domain.hashing import checksum_address
from ledger.errors import (
    AccountExists,
    AccountNotFound,
    InvalidInput,
    KeystoreError,
    WeakKeyDerivation,
    WrongPassword,
)
from ledger.local.files import ensure_private_folder, private_folder, write_atomic

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount


__all__ = [
    "ADDRESS_DIR",
    "CAST_PASSWORD_ENV",
    "DEFAULT_SCRYPT_N",
    "DEV_SCRYPT_N",
    "INSECURE_FAST_KEYS_ENV",
    "MIN_SCRYPT_N",
    "create_account",
    "default_keystore_dir",
    "import_private_key",
    "insecure_fast_keys",
    "list_accounts",
    "load_account",
    "load_keystore",
    "read_password",
    "recorded_address",
]

log = logging.getLogger(__name__)

#: geth's "standard" scrypt cost and eth-keyfile's default (n = 2**18, r = 8, p = 1: 256 MiB, about a second).
DEFAULT_SCRYPT_N = 2**18
#: The cheapest cost a keystore is written with outside the development switch. eth-keyfile (which
#: writes our files, r = 8, p = 1) defaults to n = 2**18; Foundry's eth-keystore writes n = 2**13 with
#: the same r and p. The floor is the stronger of the two, so no Rinne keystore is easier to guess
#: offline than what either tool writes by default.
MIN_SCRYPT_N = 2**18
#: The development switch: set to 1, keystores may be written as cheaply as :data:`DEV_SCRYPT_N`
#: (and are by default), for throwaway keys in tests and demos. Never for keys that hold value.
INSECURE_FAST_KEYS_ENV = "RINNE_INSECURE_FAST_KEYS"
#: Scrypt cost of keystores written under the development switch when no cost is given.
DEV_SCRYPT_N = 2**10
_MIN_SCRYPT_N = DEV_SCRYPT_N
# Decrypting a hostile keystore must not exhaust memory: scrypt needs 128 * n * r bytes.
_MAX_SCRYPT_MEMORY = 2**30

#: The hidden folder, inside the keystore folder, of the addresses learnt by unlocking keystores that record
#: none (Foundry's). A folder, not files: `cast wallet list` lists only the folder's files without an extension.
ADDRESS_DIR = ".rinne-addresses"
#: cast's password convention: the path of a file holding the keystore password (``--password-file``'s variable).
CAST_PASSWORD_ENV = "ETH_PASSWORD"

_MAX_KEYSTORE_BYTES = 64 * 1024
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# The name is the file name: no separators, no leading dot (hidden, "." and "..") or dash (looks like an option).
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_HEX_KEY_RE = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")


def _positive_int(x: object) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0


def default_keystore_dir() -> Path:
    """Return the keystore folder: $RINNE_KEYSTORE_DIR if set, else Foundry's ~/.foundry/keystores."""
    env = os.environ.get("RINNE_KEYSTORE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".foundry" / "keystores"


def _dir(keystore_dir: str | os.PathLike[str] | None) -> Path:
    return default_keystore_dir() if keystore_dir is None else Path(keystore_dir).expanduser()


def check_account_name(name: Any) -> str:
    """Return `name` if it is a valid account name (a safe file name), else raise InvalidInput."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidInput(f"invalid account name {name!r}: use 1-128 letters, digits, '-', '_' or '.', not starting with '.' or '-'")
    return name


def _parse_private_key(private_key: str | bytes) -> bytes:
    # Messages here must never echo the input: it is (nearly) a private key.
    if isinstance(private_key, (bytes, bytearray)):
        key = bytes(private_key)
        if len(key) != 32:
            raise InvalidInput("private key must be 32 bytes")
    elif isinstance(private_key, str):
        m = _HEX_KEY_RE.fullmatch(private_key.strip())
        if m is None:
            raise InvalidInput("private key must be 64 hex digits (optionally 0x-prefixed)")
        key = bytes.fromhex(m.group(1))
    else:
        raise InvalidInput("private key must be a hex string or 32 bytes")
    if not 0 < int.from_bytes(key, "big") < _SECP256K1_N:
        raise InvalidInput("private key is out of range for secp256k1")
    return key


def _new_private_key() -> bytes:
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < _SECP256K1_N:
            return key


def insecure_fast_keys() -> bool:
    """Whether the development switch ``RINNE_INSECURE_FAST_KEYS=1`` is set (any other value is off)."""
    return os.environ.get(INSECURE_FAST_KEYS_ENV, "").strip() == "1"


def _scrypt_cost(scrypt_n: int | None) -> int:
    """The scrypt n to write ``name`` with: the default, a stronger one, or (dev switch only) a weaker one."""
    fast = insecure_fast_keys()
    n = (DEV_SCRYPT_N if fast else DEFAULT_SCRYPT_N) if scrypt_n is None else scrypt_n
    if isinstance(n, bool) or not isinstance(n, int) or n < _MIN_SCRYPT_N or n & (n - 1) or 128 * 8 * n > _MAX_SCRYPT_MEMORY:
        lowest = _MIN_SCRYPT_N if fast else MIN_SCRYPT_N
        raise InvalidInput(f"scrypt_n must be a power of two from {lowest} to {_MAX_SCRYPT_MEMORY // (128 * 8)}")
    if n < MIN_SCRYPT_N and not fast:
        raise WeakKeyDerivation(
            f"scrypt n = {n} is weaker than the {MIN_SCRYPT_N} floor (eth-keyfile's default; Foundry writes 8192): "
            f"keystores are written with n >= {MIN_SCRYPT_N} unless {INSECURE_FAST_KEYS_ENV}=1 is set for throwaway development keys"
        )
    return n


def _private_file(path: Path) -> None:
    # A keystore readable by others can be attacked offline: it is the owner's alone, like the folder.
    try:
        st = os.stat(path)
        if stat.S_IMODE(st.st_mode) & 0o077 and (not hasattr(os, "geteuid") or st.st_uid == os.geteuid()):
            os.chmod(path, 0o600)
            log.warning("keystore %s was readable by other users (mode %04o): made it 0600", path, stat.S_IMODE(st.st_mode))
    except OSError:
        pass  # reading it will report what is wrong


def create_account(
    name: str,
    password: str,
    keystore_dir: str | os.PathLike[str] | None = None,
    *,
    private_key: str | bytes | None = None,
    scrypt_n: int | None = None,
) -> str:
    """Create an encrypted keystore named ``name`` (a new key, or ``private_key``) and return its address.

    The key is encrypted with scrypt (n = ``scrypt_n``, r = 8, p = 1; default :data:`DEFAULT_SCRYPT_N`).
    A cost below :data:`MIN_SCRYPT_N` is refused with :class:`~ledger.errors.WeakKeyDerivation` unless the
    development switch ``RINNE_INSECURE_FAST_KEYS=1`` is set; with it, the default becomes
    :data:`DEV_SCRYPT_N` and every weak keystore written prints a one-line warning on stderr. The folder
    is created 0700, or made 0700 if it exists open to others (refused if it is not the user's), and the
    file is written 0600.
    """
    check_account_name(name)
    if not isinstance(password, str) or not password:
        raise InvalidInput("the password must not be empty")
    n = _scrypt_cost(scrypt_n)
    key = _new_private_key() if private_key is None else _parse_private_key(private_key)
    directory = _dir(keystore_dir)
    path = directory / name
    # Checked before the (slow) scrypt so that a clash fails at once; the exclusive write re-checks.
    if path.exists() or path.is_symlink():
        raise AccountExists(f"an account named {name!r} exists already in {directory}")
    # Account's methods are combomethods, which eth-account leaves untyped.
    from eth_account import Account  # loaded when a key is made: the scrypt figures stay cheap to read

    address: str = Account.from_key(key).address
    keyfile = Account.encrypt(key, password, kdf="scrypt", iterations=n)
    ensure_private_folder(directory, what="keystore folder", error=KeystoreError)
    try:
        _write_new_file(path, (json.dumps(keyfile) + "\n").encode("utf-8"))
    except OSError as e:
        raise KeystoreError(f"cannot write keystore {path}: {e.strerror or e}") from None
    if n < MIN_SCRYPT_N:
        # One line on stderr whatever logging is configured: a cheap key must never go unnoticed.
        print(
            f"rinne: warning: {INSECURE_FAST_KEYS_ENV}=1: keystore {name!r} written with scrypt n = {n} "
            f"(< {MIN_SCRYPT_N}), for throwaway development keys only",
            file=sys.stderr,
        )
    log.info("created keystore %s for %s", path, address)
    return address


def import_private_key(
    name: str,
    private_key_hex: str | bytes,
    password: str,
    keystore_dir: str | os.PathLike[str] | None = None,
    *,
    scrypt_n: int | None = None,
) -> str:
    """Encrypt an existing private key into a keystore named ``name`` and return its address."""
    return create_account(name, password, keystore_dir, private_key=private_key_hex, scrypt_n=scrypt_n)


def _read_keystore(path: Path) -> dict[str, Any]:
    return _parse_keystore(path, _read_raw(path))


def _read_raw(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            raw = f.read(_MAX_KEYSTORE_BYTES + 1)
    except OSError as e:
        raise KeystoreError(f"cannot read keystore {path}: {e.strerror or e}") from None
    if len(raw) > _MAX_KEYSTORE_BYTES:
        raise KeystoreError(f"{path} is too large to be a keystore")
    return raw


def _parse_keystore(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise KeystoreError(f"{path} is not a JSON keystore") from None
    if not isinstance(data, dict):
        raise KeystoreError(f"{path} is not a JSON keystore")
    crypto = data.get("crypto", data.get("Crypto"))
    if data.get("version") != 3 or not isinstance(crypto, Mapping):
        raise KeystoreError(f"{path} is not a version 3 keystore")
    kdf, params = crypto.get("kdf"), crypto.get("kdfparams")
    if not isinstance(params, Mapping) or kdf not in ("scrypt", "pbkdf2"):
        raise KeystoreError(f"{path}: unsupported key derivation {kdf!r}")
    if kdf == "scrypt":
        n, r, p = params.get("n"), params.get("r"), params.get("p")
        if not (_positive_int(n) and _positive_int(r) and _positive_int(p)):
            raise KeystoreError(f"{path}: malformed scrypt parameters")
        if 128 * n * r > _MAX_SCRYPT_MEMORY or p > 16:
            raise KeystoreError(f"{path}: scrypt parameters exceed the {_MAX_SCRYPT_MEMORY >> 20} MiB limit")
    elif not isinstance(params.get("c"), int) or not 0 < params["c"] <= 10_000_000:
        raise KeystoreError(f"{path}: malformed pbkdf2 parameters")
    if crypto.get("cipher") != "aes-128-ctr":
        raise KeystoreError(f"{path}: unsupported cipher {crypto.get('cipher')!r}")
    return data


def _address_field(data: Mapping[str, Any]) -> str | None:
    value = data.get("address")
    if not isinstance(value, str):
        return None
    body = value[2:] if value[:2] in ("0x", "0X") else value
    if not re.fullmatch(r"[0-9a-fA-F]{40}", body):
        return None
    return checksum_address("0x" + body.lower())


def list_accounts(keystore_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, str | None]]:
    """List (name, address) of the keystores in a folder, sorted by name; address None if the file has none."""
    directory = _dir(keystore_dir)
    private_folder(directory, what="keystore folder", error=KeystoreError)
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as e:
        raise KeystoreError(f"cannot list keystore folder {directory}: {e.strerror or e}") from None
    out: list[tuple[str, str | None]] = []
    for entry in entries:
        # Names load_account would refuse (and our own hidden temp files) are not accounts.
        if not _NAME_RE.fullmatch(entry.name):
            continue
        try:
            if not entry.is_file():
                continue
            raw = _read_raw(Path(entry.path))
            data = _parse_keystore(Path(entry.path), raw)
        except (OSError, KeystoreError):
            continue
        out.append((entry.name, _address_field(data) or _learnt_address(directory, entry.name, raw)))
    return out


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _learnt_address(directory: Path, name: str, raw: bytes) -> str | None:
    """The address recorded at an earlier unlock of keystore `name`, if it was recorded for exactly these bytes.

    The record names the SHA-256 of the keystore it was learnt from: a keystore replaced under the same
    name (another key) shows no address rather than the old one.
    """
    try:
        with (directory / ADDRESS_DIR / name).open("rb") as f:
            record = json.loads(f.read(4096).decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(record, dict) or record.get("keystore_sha256") != _digest(raw):
        return None
    return _address_field(record)


def _record_address(directory: Path, name: str, raw: bytes, address: str) -> None:
    """Record `address` for keystore `name` (0600, in the 0700 :data:`ADDRESS_DIR`); a failure only loses the convenience."""
    if _learnt_address(directory, name, raw) == address:
        return
    folder = directory / ADDRESS_DIR
    record = {"address": address, "keystore_sha256": _digest(raw)}
    try:
        ensure_private_folder(folder, what="keystore address folder", error=KeystoreError)
        write_atomic(folder / name, (json.dumps(record) + "\n").encode("utf-8"), mode=0o600)
    except (OSError, KeystoreError) as e:
        log.warning("could not record the address of keystore %r: %s", name, e)
        return
    log.info("recorded the address of keystore %r (%s) in %s", name, address, folder)


def recorded_address(name: str, keystore_dir: str | os.PathLike[str] | None = None) -> str | None:
    """The address of keystore `name` without unlocking it: its "address" field, else the one recorded when it was
    last unlocked (Foundry's files have no such field), else None. Raises AccountNotFound if there is no such keystore."""
    check_account_name(name)
    directory = _dir(keystore_dir)
    private_folder(directory, what="keystore folder", error=KeystoreError)
    path = directory / name
    if not path.is_file():
        raise AccountNotFound(f"no account named {name!r} in {directory}")
    raw = _read_raw(path)
    return _address_field(_parse_keystore(path, raw)) or _learnt_address(directory, name, raw)


def load_keystore(path: str | os.PathLike[str], password: str) -> LocalAccount:
    """Unlock a keystore file at ``path`` (like ``cast --keystore PATH``) and return the account."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise AccountNotFound(f"no keystore file at {p}")
    _private_file(p)
    return _unlock(p, _read_keystore(p), password, label=str(p))


def load_account(name: str, password: str, keystore_dir: str | os.PathLike[str] | None = None) -> LocalAccount:
    """Unlock the keystore named ``name`` in the keystore folder and return the account."""
    check_account_name(name)
    directory = _dir(keystore_dir)
    path = directory / name
    private_folder(directory, what="keystore folder", error=KeystoreError)
    if not path.is_file():
        raise AccountNotFound(f"no account named {name!r} in {directory}")
    _private_file(path)
    raw = _read_raw(path)
    data = _parse_keystore(path, raw)
    account = _unlock(path, data, password, label=repr(name))
    if _address_field(data) is None:
        # Foundry's files record no address: keep the one just learnt, so that listings show it without a password.
        _record_address(directory, name, raw, account.address)
    return account


def _unlock(path: Path, data: dict[str, Any], password: str, *, label: str) -> LocalAccount:
    if not isinstance(password, str):
        raise InvalidInput("the password must be a string")
    try:
        from eth_account import Account

        key = Account.decrypt(data, password)
    except ValueError as e:
        # eth-keyfile says "MAC mismatch" for a wrong password; a corrupted ciphertext looks the same.
        if "MAC mismatch" in str(e):
            raise WrongPassword(f"wrong password for keystore {label}") from None
        raise KeystoreError(f"cannot decrypt keystore {label}: {type(e).__name__}") from None
    except Exception as e:
        raise KeystoreError(f"cannot decrypt keystore {label}: {type(e).__name__}") from None
    account: LocalAccount = Account.from_key(key)
    recorded = _address_field(data)
    if recorded is not None and recorded != account.address:
        # A swapped "address" field would make list_accounts show an address the key cannot sign for.
        raise KeystoreError(f"keystore {label} records address {recorded} but its key is for {account.address}")
    log.debug("unlocked keystore %s (%s)", path, account.address)
    return account


def read_password(
    *,
    password_file: str | os.PathLike[str] | None = None,
    env_var: str = "RINNE_PASSWORD",
    prompt: Callable[[], str] | None = None,
) -> str:
    """Get a keystore password: from a file, else the environment variable, else cast's, else the prompt callable.

    One trailing newline of ``password_file`` is dropped (``echo pw > file`` adds one). An empty environment
    variable counts as unset. Then cast's convention: ``$ETH_PASSWORD`` names a password file, read as
    cast reads it (trailing whitespace dropped). ``prompt`` is called without arguments (e.g. ``getpass.getpass``).
    """
    if password_file is not None:
        text = _read_password_file(password_file)
        if text.endswith("\r\n"):
            return text[:-2]
        if text.endswith("\n"):
            return text[:-1]
        return text
    value = os.environ.get(env_var) if env_var else None
    if value:
        return value
    cast_file = os.environ.get(CAST_PASSWORD_ENV)
    if cast_file:
        return _read_password_file(cast_file, what=f"${CAST_PASSWORD_ENV} password file").rstrip()
    if prompt is not None:
        return prompt()
    raise KeystoreError(f"no password: use --password-file or {env_var or 'RINNE_PASSWORD'} (or cast's {CAST_PASSWORD_ENV}=FILE)")


def _read_password_file(path: str | os.PathLike[str], *, what: str = "password file") -> str:
    p = Path(path).expanduser()
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise KeystoreError(f"cannot read {what} {p}: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KeystoreError(f"{what} {p} is not UTF-8 text") from None


def _write_new_file(path: Path, data: bytes) -> None:
    """Write a keystore (0600) only if no account of that name exists, even one appearing meanwhile."""
    try:
        write_atomic(path, data, mode=0o600, replace=False)
    except FileExistsError:
        raise AccountExists(f"an account named {path.name!r} exists already in {path.parent}") from None
