"""`rinne account`: encrypted keystores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import ledger as rinne
from ledger import LedgerError

from ._core import (
    CliError,
    OrderedGroup,
    Session,
    _store,
    chain_options,
    json_option,
    keystore_dir_option,
    note,
    pass_session,
    secret,
    verbose_option,
)
from ._errors import describe
from ._output import Column, emit_rows, output_options


@click.group(cls=OrderedGroup)
def account() -> None:
    """Manage the encrypted keystores that sign transactions.

    Keystores are Ethereum V3 JSON files (scrypt), one per account, named
    after it, in Foundry's folder ~/.foundry/keystores (or --keystore-dir,
    $RINNE_KEYSTORE_DIR): `cast wallet list` sees the same accounts. Choose one
    for a command with --account NAME or $RINNE_ACCOUNT. Passwords come from a
    hidden prompt, --password-file, or $RINNE_PASSWORD; keys never from the
    command line.

    On the managed local node, new and imported accounts are given test ETH
    so they can pay for gas; elsewhere only with --fund (Anvil chains only).

    New keystores use scrypt n = 2^18 (eth-keyfile's default; Foundry writes
    2^13) or a higher --scrypt-n. A lower cost is refused, except under the
    development switch RINNE_INSECURE_FAST_KEYS=1, which writes throwaway
    keys with n = 2^10 (or --scrypt-n) and warns on stderr for each one:
    never use it for keys that hold value. The keystore folder is kept 0700
    (an existing one open to others is made 0700, or refused if another user
    owns it) and every keystore file 0600.

    \b
    Examples:
      rinne account new refiner
      rinne account import ops --key-file ops.key
      rinne account list --json
    """


def _key_options(f):  # type: ignore[no-untyped-def]
    f = click.option(
        "--fund/--no-fund",
        default=None,
        help="Give the account 1000 test ETH (anvil_setBalance).  [default: on the managed local node only]",
    )(f)
    f = click.option(
        "--scrypt-n",
        type=int,
        envvar="RINNE_SCRYPT_N",
        show_envvar=True,
        expose_value=False,
        callback=_store("scrypt_n"),
        metavar="N",
        # The keystore module loads eth-account only when a key is made or unlocked: cheap to read here.
        help=f"Scrypt cost of the new keystore, a power of two from {rinne.MIN_SCRYPT_N} "
        f"(lower only with {rinne.INSECURE_FAST_KEYS_ENV}=1).  [default: {rinne.DEFAULT_SCRYPT_N}; "
        f"{rinne.DEV_SCRYPT_N} under {rinne.INSECURE_FAST_KEYS_ENV}=1]",
    )(f)
    f = click.option(
        "--password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="RINNE_PASSWORD_FILE",
        show_envvar=True,
        expose_value=False,
        callback=_store("password_file"),
        help="Read the new password from this file (else $RINNE_PASSWORD, else a prompt).",
    )(f)
    f = keystore_dir_option(f)
    f = chain_options(f)
    f = json_option(f)
    return verbose_option(f)


def _folder(session: Session) -> Path:
    return Path(session.keystore_dir) if session.keystore_dir else rinne.default_keystore_dir()


def _check_new_name(session: Session, name: str) -> None:
    # Before any prompt: a bad or taken name should not cost the user a password.
    try:
        rinne.check_account_name(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    if (_folder(session) / name).exists():
        raise click.BadParameter(
            f"an account named {name!r} exists already in {_folder(session)}: choose another name", param_hint="NAME"
        )


def _will_fund(session: Session, fund: bool | None) -> Any:
    """Decide on funding and, when funding, connect before the keystore is written (a dead chain fails first)."""
    if fund is None:
        fund = session.managed and rinne.node_status(session.home) is not None
    return session.ledger(deployed=False) if fund else None


def _finish(session: Session, name: str, address: str, ledger: Any) -> None:
    funded = False
    if ledger is not None:
        try:
            ledger.fund(address)
        except LedgerError as exc:
            raise CliError(
                f"account {name} ({address}) was created, but funding failed: {describe(exc)} (--fund works on development nodes only: Anvil, Hardhat, Ganache)"
            ) from None
        funded = True
    path = _folder(session) / name
    session.emit(
        {"name": name, "address": address, "keystore": str(path), "funded": funded},
        f"{name} {address}" + (" (funded with 1000 test ETH)" if funded else ""),
    )
    if not session.json:
        note(f"keystore {path}")


@account.command()
@click.argument("name")
@_key_options
@pass_session
def new(session: Session, name: str, fund: bool | None) -> None:
    """Create an account with a new random key, encrypted under a password.

    \b
    Example:
      rinne account new refiner
      RINNE_PASSWORD=... rinne account new verifier --keystore-dir ./keys
    """
    _check_new_name(session, name)
    ledger = _will_fund(session, fund)
    password = session.password(name, confirm=True)
    address = rinne.create_account(name, password, session.keystore_dir, scrypt_n=session.scrypt_n)
    _finish(session, name, address, ledger)


@account.command("import")
@click.argument("name")
@click.option(
    "--key-file", type=click.File("r"), help="Read the hex private key from this file ('-' for stdin).  [default: a hidden prompt]"
)
@_key_options
@pass_session
def import_(session: Session, name: str, key_file, fund: bool | None) -> None:  # type: ignore[no-untyped-def]
    """Encrypt an existing private key into a keystore.

    The key is read from a hidden prompt or from --key-file, never from the
    command line, where it would land in the shell history and the process list.

    \b
    Example:
      rinne account import ops --key-file ops.key
      pass show ops-key | rinne account import ops --key-file -
    """
    _check_new_name(session, name)
    ledger = _will_fund(session, fund)
    if key_file is not None:
        key = key_file.read().strip()
    else:
        key = secret("Private key (hex)", missing="no private key: no terminal to ask on and nothing on stdin; pass --key-file FILE")
    password = session.password(name, confirm=True)
    address = rinne.import_private_key(name, key, password, session.keystore_dir, scrypt_n=session.scrypt_n)
    _finish(session, name, address, ledger)


@account.command("list")
@keystore_dir_option
@output_options
@verbose_option
@pass_session
def list_(session: Session) -> None:
    """List the accounts in the keystore folder.

    Foundry-written keystores record no address; it shows once they are used.

    \b
    Example:
      rinne account list
      rinne account list --csv
    """
    accounts = rinne.list_accounts(session.keystore_dir)
    folder = _folder(session)
    columns = [Column("NAME", lambda r: r["name"]), Column("ADDRESS", lambda r: r["address"] or "(address not recorded)")]
    emit_rows(
        session,
        [{"name": n, "address": a} for n, a in accounts],
        columns,
        fields=("name", "address"),
        empty=f"no accounts in {folder}; create one with `rinne account new NAME`",
    )
