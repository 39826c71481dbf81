"""Listings: one output-format decorator for every command that prints rows (as sqlite-utils does),
and the names and places this machine knows in clear for what the chain stores as hashes.

A listing builds plain records (snake_case keys, ISO 8601 UTC times, checksummed addresses, masses
in grams under keys ending ``_g``) and table columns for people; :func:`emit_rows` prints them as
an aligned table (the default), CSV, a JSON array, or newline-delimited JSON.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

import ledger as rinne

from ._core import Session, _apply, chain_options, note, root_session, verbose_option
from ._units import is_address

F = TypeVar("F", bound=Callable[..., Any])

#: Output formats, in the order the help lists them.
FORMATS = ("table", "csv", "json", "nl")
_FORMAT_HELP = {
    "table": "Print an aligned table for people.  [default]",
    "csv": "Print CSV with a header row (masses in grams).",
    "json": "Print a JSON array on stdout.",
    "nl": "Print newline-delimited JSON, one object a line.",
}


def _format_callback(fmt: str) -> Callable[[click.Context, click.Parameter, bool], bool]:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if not value:
            return value
        session = root_session(ctx)
        if session.output not in (None, fmt):
            raise click.UsageError(f"give one output format, not both --{session.output} and --{fmt}", ctx=ctx)
        session.output = fmt
        # --json keeps meaning what it means everywhere else (errors and notes unchanged, data as JSON).
        session.json = fmt == "json"
        return value

    return callback


def output_options(f: F) -> F:
    """--table, --csv, --json, --nl: the format of a listing (one at most)."""
    return _apply(
        f,
        [
            click.option(
                f"--{fmt}", f"{fmt}_format", is_flag=True, expose_value=False, callback=_format_callback(fmt), help=_FORMAT_HELP[fmt]
            )
            for fmt in FORMATS
        ],
    )


def listing_command(f: F) -> F:
    """Options of a command that lists rows read from the chain: connection, output format, -v."""
    return _apply(f, [chain_options, output_options, verbose_option])


@dataclass(frozen=True)
class Column:
    """One column of a table: its header, the text of a record's cell, right-aligned or not."""

    header: str
    cell: Callable[[dict[str, Any]], str]
    right: bool = False


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value


def write_rows(
    session: Session,
    records: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    *,
    fields: Sequence[str] | None = None,
    out: TextIO | None = None,
    default: str = "table",
) -> None:
    """Write `records` in the session's output format (`default` when none was chosen) to `out` (stdout).

    CSV takes `fields` as its header (so an empty listing still has one), else the first record's keys.
    The table is for people only: nothing is written to stdout when there is nothing to show.
    """
    fmt = session.output or default
    stream = out if out is not None else sys.stdout
    if fmt == "json":
        stream.write(json.dumps(list(records), indent=2) + "\n")
    elif fmt == "nl":
        for r in records:
            stream.write(json.dumps(r, separators=(",", ":")) + "\n")
    elif fmt == "csv":
        names = list(fields) if fields is not None else list(records[0]) if records else []
        writer = csv.DictWriter(stream, fieldnames=names, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in records:
            writer.writerow({k: _csv_value(r.get(k)) for k in names})
    else:
        cells = [[c.cell(r) for c in columns] for r in records]
        widths = [max([len(c.header)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

        def line(values: Iterable[str]) -> str:
            parts = [v.rjust(w) if c.right else v.ljust(w) for v, w, c in zip(values, widths, columns)]
            return "  ".join(parts).rstrip()

        stream.write(line(c.header for c in columns) + "\n")
        for row in cells:
            stream.write(line(row) + "\n")
    stream.flush()


def emit_rows(
    session: Session, records: Sequence[dict[str, Any]], columns: Sequence[Column], *, empty: str, fields: Sequence[str] | None = None
) -> None:
    """Print a listing on stdout; with nothing to show in a table, say `empty` on stderr instead."""
    if not records and (session.output or "table") == "table":
        note(empty)
        return
    write_rows(session, records, columns, fields=fields)


# -------------------------------------------------------------------------- names and places


def _book_path(session: Session) -> Path:
    return session.home / "names.json"


@dataclass
class Names:
    """What this machine knows in clear about hashed values on the chain.

    `accounts`: checksummed address → local keystore name. `parties`: "SCOPE:address" → the
    display name given to `rinne party register` here (the chain stores only its hash), SCOPE being
    "chain_id:ledger" (see :func:`scope_of`: a dev chain redeployed at the same id starts afresh). `sites`:
    origin word (0x-hex) → "CC:Site" given to `rinne lot mint --origin` or `lot import` here (the
    chain stores the country and a hash of the site).
    """

    accounts: dict[str, str] = field(default_factory=dict)
    parties: dict[str, str] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)
    scope: str | None = None
    #: reason word (0x-hex) → its text, for the reasons this machine's vault opens (verified against the word).
    reasons: dict[str, str] = field(default_factory=dict)
    #: SOH record root (0x-hex) → its values in short, for the records this machine's vault opens (verified).
    soh: dict[str, str] = field(default_factory=dict)

    def account(self, address: str | None) -> str | None:
        """The local account name of an address, if any."""
        return self.accounts.get(rinne.checksum_address(address)) if address else None

    def party(self, address: str | None) -> str | None:
        """The registered display name of an address, when it was registered from this machine."""
        return self.parties.get(f"{self.scope}:{rinne.checksum_address(address)}") if address else None

    def who(self, address: str | None) -> str:
        """A person's view of an address: ``name 0xAbC…`` (local account name, else display name)."""
        if not address:
            return "-"
        name = self.account(address) or self.party(address)
        return f"{name} {address}" if name else address

    def site(self, origin: str | None) -> str | None:
        """The "CC:Site" text of an origin word, when known here."""
        return self.sites.get(origin.lower()) if origin else None

    def place(self, origin: str | None, country: str | None) -> str:
        """A person's view of an origin: ``FI:Harjavalta``, or the country alone, or ``-``."""
        return self.site(origin) or country or "-"

    def find_party(self, text: str) -> str | None:
        """The address registered here under the display name `text` (any case), if exactly one."""
        found = {
            k.rsplit(":", 1)[1] for k, v in self.parties.items() if v.casefold() == text.casefold() and k.startswith(f"{self.scope}:")
        }
        return found.pop() if len(found) == 1 else None


def _read_book(session: Session) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(_book_path(session).read_text())
    except (OSError, ValueError):
        return {}  # a cache of names: absent or unreadable means no names, never an error
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def scope_of(ledger: Any) -> str:
    """The deployment a party name was registered in: "chain_id:ledger address" (lowercase)."""
    d = ledger.deployment
    return f"{ledger.chain_id}:{d.ledger.lower() if d else '-'}"


def load_names(session: Session, scope: str | None = None) -> Names:
    """The local account names, and the names (of deployment `scope`) and sites recorded in the data directory."""
    book = _read_book(session)
    accounts = {rinne.checksum_address(a): n for n, a in rinne.list_accounts(session.keystore_dir) if a and is_address(a)}
    return Names(accounts=accounts, parties=dict(book.get("parties", {})), sites=dict(book.get("sites", {})), scope=scope)


def remember(session: Session, *, sites: dict[str, str] | None = None, parties: dict[str, str] | None = None) -> None:
    """Add origin sites (word → "CC:Site") and party names ("SCOPE:address" → name) to the book.

    The file is replaced atomically so a concurrent reader never sees half of it; failing to write
    it only costs names in listings, so it is a note, not an error.
    """
    book = _read_book(session)
    book.setdefault("sites", {}).update({k.lower(): v for k, v in (sites or {}).items()})
    book.setdefault("parties", {}).update(parties or {})
    path = _book_path(session)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".names-")
        with os.fdopen(fd, "w") as fh:
            json.dump(book, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError as exc:
        note(f"could not record names in {path}: {exc.strerror or exc}")
