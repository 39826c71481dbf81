"""The shared machinery of every command: options written once, the session they fill, the error
boundary, and the output streams (data on stdout; prompts, progress and notes on stderr)."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

import click

# Only the library's exception classes load with it; everything else is reached as rinne.X when a command
# runs, so that `--help` starts without web3, eth-account or pydantic (tests/cli/test_startup.py).
import ledger as rinne
from ledger import LedgerError

from ._errors import describe
from ._units import is_address

if TYPE_CHECKING:
    from pydantic import ValidationError

    from ledger import EventIndex, Ledger, LedgerReader, Receipt, SyncProgress

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class CliError(click.ClickException):
    """A domain or chain error: one line, exit status 1."""

    exit_code = 1


class Interrupted(click.ClickException):
    """Ctrl-C: one line saying what was done so far, exit status 130 (128 + SIGINT, as shells report it)."""

    exit_code = 130


#: The one line of a Ctrl-C that no command caught to say more.
INTERRUPTED = "interrupted (Ctrl-C): a transaction already sent may still be mined; check with a read command"


def _color() -> bool | None:
    # None lets click decide (colour only on a terminal); NO_COLOR (https://no-color.org) turns it off.
    return False if os.environ.get("NO_COLOR") else None


def note(message: str, *, fg: str | None = None) -> None:
    """Write a note for the human to stderr (coloured only on a terminal)."""
    click.secho(message, err=True, fg=fg, color=_color())


# ------------------------------------------------------------------------------------ session


@dataclass
class Session:
    """Options of the current invocation, and the connection and account they lead to."""

    rpc_url: str | None = None
    chain_id: int | None = None
    data_dir: Path | None = None
    account: str | None = None
    keystore_dir: Path | None = None
    password_file: Path | None = None
    confirmations: int = 0
    yes: bool = False
    json: bool = False
    output: str | None = None  # a listing's --table/--csv/--json/--nl (cli/_output.py)
    verbose: bool = False
    scrypt_n: int | None = None
    index_url: str | None = None  # --index / $RINNE_INDEX_URL: a shared PostgreSQL index instead of the SQLite file
    _ledger: Ledger | None = field(default=None, repr=False)
    _reader: LedgerReader | None = field(default=None, repr=False)
    _unlocked: Any = field(default=None, repr=False)

    # ---------------------------------------------------------------- chain

    @property
    def managed(self) -> bool:
        """Whether this invocation talks to the managed local node (no --rpc-url)."""
        return self.rpc_url is None

    @property
    def home(self) -> Path:
        """The data directory."""
        return Path(self.data_dir) if self.data_dir else rinne.default_data_dir()

    def ledger(self, *, deployed: bool = True) -> Ledger:
        """Connect once (starting the managed node on demand); with `deployed`, check the contracts are there."""
        if self._ledger is None:
            if self.managed and rinne.node_status(self.home) is None:
                note(f"starting the local node (data in {self.home}; stop it with `rinne node stop`)")
            with self.busy("connecting"):
                self._ledger = rinne.Ledger.connect(
                    self.rpc_url, chain_id=self.chain_id, data_dir=self.home, confirmations=self.confirmations
                )
        if deployed:
            self._ledger.check_deployment()
        return self._ledger

    def reader(self) -> Ledger | LedgerReader:
        """A checked read-only view of the deployment, for commands that only read lots (`rinne lot show`).

        The web3-free :class:`ledger.LedgerReader` (issue 16: web3's import is most of such a command's start),
        unless this invocation already holds a full Ledger; the same chain-id guard and deployment check.
        """
        if self._ledger is not None:
            return self.ledger()
        if self._reader is None:
            if self.managed and rinne.node_status(self.home) is None:
                note(f"starting the local node (data in {self.home}; stop it with `rinne node stop`)")
            with self.busy("connecting"):
                reader = rinne.LedgerReader.connect(self.rpc_url, chain_id=self.chain_id, data_dir=self.home)
            reader.check_deployment()
            self._reader = reader
        return self._reader

    def signer(self) -> Ledger:
        """The ledger acting as the unlocked --account, keeping the openings of what it commits in the data directory's vault."""
        ledger = self.ledger()
        if ledger.vault is None:
            ledger.use_vault(self.vault())
        return ledger.with_account(self.unlock())

    def vault(self, *, create: bool = True, home: Path | None = None) -> Any:
        """This data directory's vault (its key in ``vault.key``): in the shared PostgreSQL database when the
        index is there (--index / $RINNE_INDEX_URL), else the ``vault`` folder. None without a key and `create`."""
        # Write commands take no --index: the environment still says where the shared index (and vault) is.
        url = self.index_url or os.environ.get("RINNE_INDEX_URL") or None
        return rinne.local_vault(home or self.home, create=create, url=url)

    # -------------------------------------------------------------- accounts

    def require_account(self) -> str:
        """Return the --account name, or fail with a usage error saying how to give one."""
        if not self.account:
            raise click.UsageError(
                "this command needs an account: pass --account NAME or set RINNE_ACCOUNT or cast's ETH_KEYSTORE_ACCOUNT"
                " (`rinne account list` shows them)"
            )
        return self.account

    def password(self, name: str, *, confirm: bool = False) -> str:
        """Get a keystore password from --password-file, $RINNE_PASSWORD, or a hidden prompt on stderr."""

        def prompt() -> str:
            return secret(
                f"Password for {name}",
                confirm=confirm,
                missing=f"no password for {name}: no terminal to ask on and nothing on stdin; "
                "pass --password-file FILE or set RINNE_PASSWORD",
            )

        return rinne.read_password(password_file=self.password_file, prompt=prompt)

    def unlock(self) -> Any:
        """Unlock the --account keystore once per invocation."""
        if self._unlocked is None:
            name = self.require_account()
            password = self.password(name)
            with self.busy(f"unlocking {name}"):
                self._unlocked = rinne.load_account(name, password, self.keystore_dir)
        return self._unlocked

    def account_address(self) -> str:
        """The --account's address, from its keystore file when recorded there, else by unlocking it."""
        name = self.require_account()
        for n, address in rinne.list_accounts(self.keystore_dir):
            if n == name and address:
                return address
        return str(self.unlock().address)

    def resolve_address(self, text: str, what: str = "address") -> str:
        """Return a checksummed address from an address or the name of a local account."""
        if is_address(text):
            return rinne.checksum_address(text)
        names = dict(rinne.list_accounts(self.keystore_dir))
        if text in names:
            if names[text]:
                return names[text]
            raise click.BadParameter(f"the keystore {text!r} records no address (a Foundry file?): give the address instead")
        raise click.BadParameter(f"{text!r} is neither an address (0x + 40 hex digits) nor a local account name", param_hint=what)

    def vault_recipients(self, texts: Iterable[str], what: str = "--to") -> list[bytes | str]:
        """Recipients of openings as the library takes them: a vault public key (64 hex digits) as bytes, else the
        address of an address or local account name, whose published key the Ledger reads from the registry."""
        out: list[bytes | str] = []
        for text in texts:
            if re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", text):
                out.append(bytes.fromhex(text.removeprefix("0x")))
            else:
                out.append(self.resolve_address(text, what))
        return out

    # ---------------------------------------------------------------- writes

    def confirm(self, action: str) -> None:
        """Ask before a write unless --yes; declining sends nothing."""
        if self.yes:
            return
        try:
            ok = click.confirm(f"{action}?", default=False, err=True)
        except click.Abort as exc:
            click.echo(err=True)
            if isinstance(exc.__context__, KeyboardInterrupt):
                raise Interrupted("interrupted (Ctrl-C) at the prompt: nothing was sent") from None
            raise CliError("not confirmed (no answer on stdin): nothing was sent; pass --yes to skip the prompt") from None
        if not ok:
            raise CliError("not confirmed: nothing was sent")

    def who(self) -> str:
        """Describe the acting account for prompts: name (address) on chain N."""
        ledger = self.ledger(deployed=False)
        return f"as {self.account} ({self.unlock().address}) on chain {ledger.chain_id}"

    @contextmanager
    def busy(self, text: str) -> Iterator[None]:
        """Show a spinner on stderr while a slow step runs (only on a terminal)."""
        if not sys.stderr.isatty():
            yield
            return
        stop = threading.Event()

        def spin() -> None:
            frames = "|/-\\"
            i = 0
            while not stop.wait(0.1):
                sys.stderr.write(f"\r{frames[i % 4]} {text}…")
                sys.stderr.flush()
                i += 1

        thread = threading.Thread(target=spin, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    # ---------------------------------------------------------------- output

    def emit(self, data: Any, human: str | list[str] | Callable[[], None]) -> None:
        """Print `data` as JSON with --json, else the human form, to stdout."""
        if self.json:
            click.echo(json.dumps(jsonable(data), indent=2))
        elif callable(human):
            human()
        else:
            for line in [human] if isinstance(human, str) else human:
                click.echo(line, color=_color())

    def done(self, receipt: Receipt | None, message: str, **data: Any) -> None:
        """Report a write: one line (or JSON) with what happened and where it was recorded."""
        if receipt is not None:
            data.update(tx_hash=receipt.tx_hash, block=receipt.block_number, gas_used=receipt.gas_used)
            line = f"{message} (block {receipt.block_number}, tx {receipt.tx_hash})"
        else:
            line = message
        self.emit(data, line)


def secret(label: str, *, confirm: bool = False, missing: str) -> str:
    """Ask for a secret on stderr with a hidden prompt; without a terminal, read it from stdin.

    getpass on a stdin that is no terminal prints Python's GetPassWarning and "input may be
    echoed" before falling back to stdin; piped input is not echoed anyway, so a line is read
    from stdin directly (a second line, when there, must repeat it for `confirm`). Nothing on
    stdin is the one-line error `missing` (exit 1), like the y/N prompt's.
    """
    stdin = sys.stdin
    if not _is_tty(stdin):
        value = stdin.readline().rstrip("\r\n")
        if not value:
            raise CliError(missing)
        # The label is still shown (after the read, so that nothing on stdin stays a one-line error).
        click.echo(f"{label}: (read from stdin)", err=True)
        if confirm:
            second = stdin.readline()
            if second and second.rstrip("\r\n") != value:
                raise CliError(f"{label}: the two entries on stdin differ")
        return value
    try:
        return str(click.prompt(label, hide_input=True, confirmation_prompt=confirm, err=True, show_default=False))
    except click.Abort:
        click.echo(err=True)
        raise CliError(missing) from None


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or odd stream reads as no terminal
        return False


def is_validation_error(exc: BaseException) -> TypeGuard[ValidationError]:
    """Whether `exc` is a pydantic ValidationError, found without importing pydantic."""
    # Such an error exists only once pydantic is loaded: asking sys.modules spares every --help the import.
    core = sys.modules.get("pydantic_core")
    return core is not None and isinstance(exc, core.ValidationError)


def jsonable(value: Any) -> Any:
    """Turn models, compositions, enums and bytes into plain JSON values."""
    pydantic = sys.modules.get("pydantic")  # no model exists before pydantic is loaded (see is_validation_error)
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        if isinstance(value, rinne.Composition):
            return {"total": value.as_dict("total"), "pre_consumer": value.as_dict("pre"), "post_consumer": value.as_dict("post")}
        return jsonable(value.model_dump())
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


#: Decorator passing the Session (created on first use) as the first argument of a command.
pass_session = click.make_pass_decorator(Session, ensure=True)


# ------------------------------------------------------------------------------------ options


def root_session(ctx: click.Context) -> Session:
    """The invocation's one Session, kept on the root context.

    Options store there wherever they stand on the command line: `rinne -v lot show X` and
    `rinne lot show X -v` must fill the same Session, and the error boundary (on the root
    context) reads -v from it. ``ctx.ensure_object`` alone would make a second Session on the
    subcommand's context when the root has none yet.
    """
    return ctx.find_root().ensure_object(Session)


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            setattr(root_session(ctx), name, value)
        return value

    return callback


def _apply(f: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        f = option(f)
    return f


def chain_options(f: F) -> F:
    """--rpc-url, --chain-id, --data-dir: which chain, and where deployments are recorded."""
    return _apply(
        f,
        [
            click.option(
                "--rpc-url",
                metavar="URL",
                envvar="ETH_RPC_URL",
                show_envvar=True,
                expose_value=False,
                callback=_store("rpc_url"),
                help="JSON-RPC endpoint of the chain.  [default: the managed local node]",
            ),
            click.option(
                "--chain-id",
                type=click.IntRange(min=1),
                metavar="ID",
                expose_value=False,
                callback=_store("chain_id"),
                help="Refuse to run unless the node serves this chain id.",
            ),
            data_dir_option,
        ],
    )


def data_dir_option(f: F) -> F:
    """--data-dir."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="RINNE_HOME",
        show_envvar=True,
        expose_value=False,
        callback=_store("data_dir"),
        help="Where deployments and the local node's state live.  [default: ~/.rinne]",
    )(f)


#: Where --account comes from when not given: Rinne's variable, then Foundry's (cast's `--account`).
ACCOUNT_ENVVARS = ["RINNE_ACCOUNT", "ETH_KEYSTORE_ACCOUNT"]


def account_options(f: F) -> F:
    """--account, --keystore-dir, --password-file: the keystore that signs."""
    return _apply(
        f,
        [
            click.option(
                "--account",
                "-a",
                metavar="NAME",
                # Foundry's name for the same thing comes second, so a Rinne-specific setting wins over it.
                envvar=ACCOUNT_ENVVARS,
                show_envvar=True,
                expose_value=False,
                callback=_store("account"),
                help="Keystore account that signs (see `rinne account list`).",
            ),
            keystore_dir_option,
            click.option(
                "--password-file",
                type=click.Path(dir_okay=False, path_type=Path),
                envvar="RINNE_PASSWORD_FILE",
                show_envvar=True,
                expose_value=False,
                callback=_store("password_file"),
                help="Read the keystore password from this file (else $RINNE_PASSWORD, cast's $ETH_PASSWORD file, a prompt).",
            ),
        ],
    )


def keystore_dir_option(f: F) -> F:
    """--keystore-dir."""
    return click.option(
        "--keystore-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="RINNE_KEYSTORE_DIR",
        show_envvar=True,
        expose_value=False,
        callback=_store("keystore_dir"),
        help="Keystore folder.  [default: ~/.foundry/keystores]",
    )(f)


def write_options(f: F) -> F:
    """--confirmations, -y/--yes."""
    return _apply(
        f,
        [
            click.option(
                "--confirmations",
                type=click.IntRange(min=0),
                metavar="N",
                expose_value=False,
                callback=_store("confirmations"),
                help="Wait until the transaction is N blocks deep.  [default: 0]",
            ),
            click.option(
                "--yes",
                "-y",
                is_flag=True,
                expose_value=False,
                callback=_store("yes"),
                help="Do not ask for confirmation before writing.",
            ),
        ],
    )


def json_option(f: F) -> F:
    """--json."""
    return click.option(
        "--json", "json_", is_flag=True, expose_value=False, callback=_store("json"), help="Print machine-readable JSON on stdout."
    )(f)


def _verbose(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        root_session(ctx).verbose = True
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    return value


def verbose_option(f: F) -> F:
    """-v/--verbose."""
    return click.option(
        "--verbose",
        "-v",
        is_flag=True,
        expose_value=False,
        callback=_verbose,
        help="Show tracebacks on errors, and the library's log on stderr.",
    )(f)


def read_command(f: F) -> F:
    """Options of a command that reads the chain."""
    return _apply(f, [chain_options, json_option, verbose_option])


def write_command(f: F) -> F:
    """Options of a command that signs and sends a transaction."""
    return _apply(f, [chain_options, account_options, write_options, json_option, verbose_option])


def parsed(parser: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback running a parser from ._units on a value (or each value of a multiple option)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            if isinstance(value, tuple):
                return tuple(parser(v) for v in value)
            return parser(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc).splitlines()[0], ctx=ctx, param=param) from None

    return callback


# --------------------------------------------------------------------------------- groups


class OrderedGroup(click.Group):
    """A group that lists its commands in the order they were added (the order of the manual)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


class RinneGroup(OrderedGroup):
    """The top-level group: library errors become one line and exit 1, usage errors one line and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        root_session(ctx)  # before any subcommand parses its options, so they all find this one
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except LedgerError as exc:
            _trace(ctx)
            raise CliError(describe(exc) + (_UNKNOWN_LOT_HINT if isinstance(exc, rinne.errors.UnknownLot) else "")) from None
        except KeyboardInterrupt:
            click.echo(err=True)  # end the line the ^C was echoed on
            raise Interrupted(INTERRUPTED) from None
        except BrokenPipeError:
            raise
        except Exception as exc:
            _trace(ctx)
            if is_validation_error(exc):
                raise click.UsageError(validation_message(exc), ctx=ctx) from None
            raise CliError(
                f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'} (run with -v for the traceback)"
            ) from None

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"Error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort as exc:
            # click turns a Ctrl-C while it parses or prompts into Abort; the shell convention is 130.
            if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
                click.echo(f"Error: {INTERRUPTED}", err=True)
                sys.exit(Interrupted.exit_code)
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


#: The commands that read the index sync it first: a lot missing from it is missing from the chain.
_UNKNOWN_LOT_HINT = ": check the id; `rinne lot list` lists the lots"


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.strip().splitlines() if part.strip())


def _trace(ctx: click.Context) -> None:
    session = ctx.find_object(Session)
    if session is not None and session.verbose:
        click.echo(traceback.format_exc().rstrip(), err=True)


#: --index, on every command that answers from the event index (with --trust-index, or alone on `rinne audit`).
index_option = click.option(
    "--index",
    "index_url",
    metavar="URL",
    envvar="RINNE_INDEX_URL",
    show_envvar=True,
    expose_value=False,
    callback=_store("index_url"),
    help="Shared event index on PostgreSQL (postgresql://user@host/db; one schema per deployment).  "
    "[default: a SQLite file in the data directory]",
)

_trust_index = click.option(
    "--trust-index", is_flag=True, help="Answer from the local index without checking it against the chain's ledger heads."
)


def trust_index_option(f: F) -> F:
    """--trust-index and --index, on every command that answers from the event index."""
    return index_option(_trust_index(f))


def open_index(session: Session, *, trust: bool = False, check: bool = True) -> EventIndex:
    """Open this deployment's event index in the data directory, bring it up to date, and check it.

    The same steps as `rinne trace` takes (cli/provenance.py): the check
    (:meth:`EventIndex.verify_heads`) binds every stored event to its block and the chain's ledger
    heads, so a tampered index is refused before anything is listed from it; `trust` skips it and
    says so on stderr. Progress goes to stderr, only on a terminal.
    """
    ledger = session.ledger()
    d = ledger.deployment
    if session.index_url:
        if not session.index_url.startswith(("postgresql://", "postgres://")):
            raise click.BadParameter(f"{session.index_url!r} is not a postgresql:// URL", param_hint="--index")
        # One schema per deployment in the shared database (ledger/index/_postgres.py), as one file per deployment here.
        index = rinne.EventIndex.open(session.index_url, deployment=d)
        path: Any = index.path
    else:
        path = session.home / "index" / f"{d.chain_id}-{d.ledger.lower()}.sqlite"
        index = rinne.EventIndex.open(path)
    tty = sys.stderr.isatty()

    def progress(p: SyncProgress) -> None:
        if tty:
            width = 30
            done = int(width * p.fraction)
            sys.stderr.write(f"\rindexing [{'#' * done}{'.' * (width - done)}] block {p.block}/{p.target}, {p.events} events")
            sys.stderr.flush()

    try:
        try:
            index.sync(ledger, progress)
        except rinne.IndexReadOnly:
            # A party with a read-only role on a shared index: the syncing service keeps it up; the check
            # below still binds what is there to the chain.
            note(f"the shared index is read-only for this database role: answering as of block {index.synced_block}")
        if tty:
            sys.stderr.write("\r\033[K")
        if trust:
            note(f"the index was not checked against the chain's ledger heads and logs (--trust-index): {path}")
        elif check:  # (not `check`: the caller checks it itself, as an incremental audit does after its checkpoint)
            checked = index.verify_heads(ledger.w3, deployment=d)
            if checked.note:
                note(checked.note)
    except BaseException:
        index.close()
        raise
    return index


def lot_ref(lot_id: str) -> str:
    """Show a lot id as its label."""
    return rinne.label_of(lot_id)


@contextmanager
def user_input() -> Iterator[None]:
    """Turn a ValueError from parsing the user's input into a one-line usage error (exit 2)."""
    try:
        yield
    except LedgerError:
        raise
    except ValueError as exc:
        if is_validation_error(exc):
            raise click.UsageError(validation_message(exc)) from None
        raise click.UsageError(_one_line(str(exc))) from None


def validation_message(exc: ValidationError) -> str:
    """The first problem of a pydantic ValidationError, on one line (the library's rule)."""
    return rinne.first_problem(exc)
