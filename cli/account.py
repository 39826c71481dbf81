"""`rinne account`: encrypted keystores."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, DecimalException
from pathlib import Path
from typing import Any, TypeVar

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
    write_command,
)
from ._errors import describe
from ._output import Column, emit_rows, output_options
from ._units import is_address

F = TypeVar("F", bound=Callable[..., Any])


@click.group(cls=OrderedGroup)
def account() -> None:
    """Manage the encrypted keystores that sign transactions.

    Keystores are Ethereum V3 JSON files (scrypt), one per account, named
    after it, in Foundry's folder ~/.foundry/keystores (or --keystore-dir,
    $RINNE_KEYSTORE_DIR): `cast wallet list` sees the same accounts, and
    keystores cast wrote work here. Choose one for a command with --account
    NAME, $RINNE_ACCOUNT or cast's $ETH_KEYSTORE_ACCOUNT. Passwords come
    from --password-file ($RINNE_PASSWORD_FILE), $RINNE_PASSWORD, cast's $ETH_PASSWORD (a password
    file, as cast reads it), or a hidden prompt (a line on stdin without a
    terminal); keys never from the command line. cast's files record no
    address: Rinne records it beside the keystore the first time it is
    unlocked (`rinne account address NAME`), never the key or the password.

    On the managed local node, new and imported accounts are given test ETH
    so they can pay for gas; elsewhere only with --fund, or later with
    `rinne account fund` (development nodes only: Anvil, Hardhat, Ganache).

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
      rinne account fund refiner --amount 10eth
    """


def _password_file_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="RINNE_PASSWORD_FILE",
        show_envvar=True,
        expose_value=False,
        callback=_store("password_file"),
        help=help,
    )


_UNLOCK_HELP = "Read the keystore password from this file (else $RINNE_PASSWORD, $ETH_PASSWORD, a prompt)."


def address_of(session: Session, who: str, what: str = "ACCOUNT") -> str:
    """The checksummed address of an address or a local account name, unlocking a keystore that records none.

    cast's keystores carry no address: the first time one is named here it is unlocked (its password from
    --password-file, $RINNE_PASSWORD, $ETH_PASSWORD or a prompt) and its address recorded beside it.
    """
    if is_address(who):
        return str(rinne.checksum_address(who))
    names = dict(rinne.list_accounts(session.keystore_dir))
    if who not in names:
        raise click.BadParameter(f"{who!r} is neither an address (0x + 40 hex digits) nor a local account name", param_hint=what)
    known = names[who]
    if known:
        return known
    note(f"the keystore {who!r} records no address (cast writes none): unlocking it once to learn it")
    password = session.password(who)
    try:
        with session.busy(f"unlocking {who}"):
            unlocked = rinne.load_account(who, password, session.keystore_dir)
    except rinne.errors.WrongPassword:
        raise CliError(
            f"the keystore {who!r} records no address (cast writes none) and the password given does not unlock it: "
            f"run `rinne account address {who}` once with its password, or give the address"
        ) from None
    return str(unlocked.address)


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
    f = _password_file_option("Read the new password from this file (else $RINNE_PASSWORD, $ETH_PASSWORD, a prompt).")(f)
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

    Keystores cast wrote record no address; it shows once Rinne has unlocked
    them (any command acting as them, or `rinne account address NAME`).

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


@account.command()
@click.argument("name")
@keystore_dir_option
@_password_file_option(_UNLOCK_HELP)
@json_option
@verbose_option
@pass_session
def address(session: Session, name: str) -> None:
    """Show an account's address, unlocking its keystore if it records none.

    A keystore cast wrote records no address: this unlocks it once and
    records the address beside it (a 0600 file in the keystore folder's
    .rinne-addresses, never the key or the password), so that `account list`
    and every command naming the account show it from then on.

    \b
    Example:
      rinne account address deployer
      ETH_PASSWORD=~/.deployer-password rinne account address deployer --json
    """
    try:
        rinne.check_account_name(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    names = dict(rinne.list_accounts(session.keystore_dir))
    if name not in names:
        raise CliError(f"no account named {name!r} in {_folder(session)} (`rinne account list` shows them)")
    was_recorded = names[name] is not None
    found = address_of(session, name, "NAME")
    session.emit({"name": name, "address": found, "unlocked": not was_recorded}, f"{name} {found}")


_ETH_UNITS = {"wei": 1, "gwei": 10**9, "eth": 10**18, "ether": 10**18}
#: More than any development chain needs, and far below a balance's 256 bits.
_MAX_FUND_WEI = 10**9 * 10**18


_AMOUNT = re.compile(r"\s*([+-]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*", re.ASCII | re.IGNORECASE)


def _amount(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """Wei from ``10eth``, ``0.5 ETH``, ``2000gwei`` or ``1e18wei``; a bare number is ETH."""
    m = _AMOUNT.fullmatch(value)
    unit = m.group(2).lower() if m else ""
    if m is None or (unit and unit not in _ETH_UNITS):
        raise click.BadParameter(f"{value!r} is not an amount of ETH: use e.g. 10eth, 0.5eth or 2000gwei", ctx=ctx, param=param)
    number = Decimal(m.group(1).replace("_", ""))
    if number <= 0:
        raise click.BadParameter(f"{value!r}: the amount must be positive", ctx=ctx, param=param)
    try:
        wei = number * _ETH_UNITS[unit or "eth"]
        too_large = wei > _MAX_FUND_WEI
    except DecimalException:  # an exponent beyond what Decimal holds
        too_large = True
    if too_large:
        raise click.BadParameter(f"{value!r} is too large: at most {_MAX_FUND_WEI // 10**18} ETH", ctx=ctx, param=param)
    if wei < 1 or wei != wei.to_integral_value():
        raise click.BadParameter(f"{value!r} is not a whole number of wei", ctx=ctx, param=param)
    return int(wei)


def _eth(wei: int) -> str:
    text = f"{Decimal(wei) / 10**18:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@account.command()
@click.argument("who", metavar="NAME|ADDRESS")
@click.option(
    "--amount",
    default="1000eth",
    show_default=True,
    callback=_amount,
    metavar="AMOUNT",
    help="The balance to give, in eth, gwei or wei (a bare number is ETH).",
)
@keystore_dir_option
@_password_file_option(_UNLOCK_HELP)
@chain_options
@json_option
@verbose_option
@pass_session
def fund(session: Session, who: str, amount: int) -> None:
    """Give an account test ETH on a development node, so it can pay for gas.

    Sets the balance of NAME (a local account) or ADDRESS to --amount on
    Anvil, the Hardhat node or Ganache, each with its own method; any other
    chain is refused: there, ETH comes only from a funded account.

    \b
    Examples:
      rinne account fund refiner
      rinne account fund 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --amount 10eth
    """
    address = address_of(session, who)
    ledger = session.ledger(deployed=False)
    kind = ledger.node_kind()
    if kind not in ("anvil", "hardhat", "ganache"):
        raise CliError(
            f"chain {ledger.chain_id} is not a development node (Anvil, Hardhat, Ganache): test ETH cannot be made there; "
            f"send ETH to {address} from a funded account instead"
        )
    ledger.fund(address, amount)
    balance = int(ledger.rpc("eth_getBalance", [address, "latest"]), 16)
    name = who if not is_address(who) else None
    session.emit(
        {
            "name": name,
            "address": address,
            "balance_wei": balance,
            "balance_eth": _eth(balance),
            "chain_id": ledger.chain_id,
            "node": kind,
        },
        f"{name + ' ' if name else ''}{address} now holds {_eth(balance)} test ETH on chain {ledger.chain_id} ({kind})",
    )


@account.command("publish-vault-key")
@click.option(
    "--public",
    metavar="KEY",
    help="The X25519 vault public key to publish (64 hex digits); default: this data directory's (`rinne disclose --show-key`).",
)
@write_command
@pass_session
def publish_vault_key(session: Session, public: str | None) -> None:
    """Publish --account's vault public key, so that openings reach it by account.

    Writers then give your account instead of your key (`rinne unit soh --to`,
    `rinne disclose --to`) and the registry answers with the key you published;
    it refuses to answer for a suspended account. Only an active registered
    participant publishes, and only its own key; publishing again replaces it
    for later openings (earlier ones stay wrapped to the key they were written with).

    \b
    Examples:
      rinne account publish-vault-key --account oem
      rinne account publish-vault-key --public 3f5c...e1 --account oem
    """
    if public:
        raw = rinne.checked_vault_key(public)
    else:
        vault = session.vault(create=False)  # not made here: a publication that fails must leave no key behind
        if vault is None:
            raise CliError(f"{session.home} has no vault key yet: `rinne disclose --show-key` makes one, or pass --public KEY")
        raw = vault.public_key
    ledger = session.signer()
    session.confirm(f"Publish vault key 0x{raw.hex()} {session.who()}")
    receipt = ledger.publish_vault_key(raw)
    session.done(receipt, f"published vault key 0x{raw.hex()} for {ledger.account.address}", public_key="0x" + raw.hex())
