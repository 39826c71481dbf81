"""`rinne party`: participants and roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

import ledger as rinne

from ._core import CliError, OrderedGroup, Session, open_index, pass_session, read_command, trust_index_option, write_command
from ._output import Column, Names, emit_rows, listing_command, load_names, remember, scope_of
from ._units import format_time
from .account import address_of

if TYPE_CHECKING:
    from ledger import Participant, Role


@click.group(cls=OrderedGroup)
def party() -> None:
    """Register participants and manage their roles.

    Writes here are the registry admin's.

    Every write on the ledger is checked against the registry: deny by default.
    Roles: MINER, REFINER, PRECURSOR_MAKER, CATHODE_MAKER, CELL_MAKER,
    PACK_ASSEMBLER, OEM, SECOND_LIFE, DIAGNOSTICIAN, RECYCLER, GWP_VERIFIER,
    AUDITOR (case and '-' are forgiven). An ACCOUNT is an address or the name of
    a local keystore.

    \b
    Examples:
      rinne party register refiner --roles REFINER --name "Nordic Refining" --account admin
      rinne party grant cam-maker PRECURSOR_MAKER --account admin
      rinne party list
      rinne party show refiner --json
    """


def _roles(ctx: click.Context, param: click.Parameter, value: tuple[str, ...] | str) -> Role:
    text = ",".join(value) if isinstance(value, tuple) else value
    try:
        roles = rinne.Role.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    if not roles:
        raise click.BadParameter("name at least one role: " + ", ".join(rinne.Role.__members__), ctx=ctx, param=param)
    return roles


def _state(p: Participant) -> str:
    return "suspended" if p.suspended else ("active" if p.registered else "not registered")


def _record(p: Participant, names: Names) -> dict[str, Any]:
    """The JSON shape of a participant: the address with the names this machine knows for it."""
    return {
        "address": p.address,
        "account": names.account(p.address),
        "name": names.party(p.address),
        "state": _state(p),
        "registered": p.registered,
        "suspended": p.suspended,
        "roles": p.roles.names(),
        "since": format_time(p.since) if p.since else None,
    }


_COLUMNS = [
    Column("ADDRESS", lambda r: r["address"]),
    Column("ACCOUNT", lambda r: r["account"] or "-"),
    Column("NAME", lambda r: r["name"] or "-"),
    Column("STATE", lambda r: r["state"]),
    Column("ROLES", lambda r: ",".join(r["roles"]) or "-"),
    Column("SINCE", lambda r: r["since"] or "-"),
]
_FIELDS = ("address", "account", "name", "state", "registered", "suspended", "roles", "since")


@party.command()
@click.argument("who", metavar="ACCOUNT")
@click.option("--roles", "-r", required=True, multiple=True, callback=_roles, help="Roles, comma-separated or repeated.")
@click.option("--name", required=True, help="Display name (on-chain: a salted commitment).")
@click.option("--metadata", default="", help="Metadata text, e.g. a registry URL or LEI (committed, salted, with the name).")
@write_command
@pass_session
def register(session: Session, who: str, roles: Role, name: str, metadata: str) -> None:
    """Register a participant with its roles.

    \b
    Example:
      rinne party register 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --roles MINER,REFINER --name "Nordic Refining"
    """
    address = address_of(session, who)  # a cast keystore, which records no address, is unlocked once to learn it
    ledger = session.signer()
    session.confirm(f"Register {address} as {','.join(roles.names())} ({name}) {session.who()}")
    with session.busy("registering"):
        receipt = ledger.register(address, roles, name, metadata)
    # The chain keeps only a salted commitment to the name; this machine keeps the name, for listings to show.
    remember(session, parties={f"{scope_of(ledger)}:{address}": name})
    session.done(receipt, f"registered {address}: {','.join(roles.names())}", address=address, roles=roles.names())


def _change(session: Session, who: str, roles: Role, grant: bool) -> None:
    address = session.resolve_address(who, "ACCOUNT")
    ledger = session.signer()
    verb = "Grant" if grant else "Revoke"
    session.confirm(f"{verb} {','.join(roles.names())} {'to' if grant else 'from'} {address} {session.who()}")
    with session.busy(verb.lower()):
        receipt = ledger.grant_roles(address, roles) if grant else ledger.revoke_roles(address, roles)
    now = ledger.participant(address).roles
    session.done(receipt, f"{address} now holds {','.join(now.names()) or 'no role'}", address=address, roles=now.names())


@party.command()
@click.argument("who", metavar="ACCOUNT")
@click.argument("roles", nargs=-1, required=True, callback=_roles)
@write_command
@pass_session
def grant(session: Session, who: str, roles: Role) -> None:
    """Add roles to a participant.

    \b
    Example:
      rinne party grant cam-maker PRECURSOR_MAKER CATHODE_MAKER --account admin
    """
    _change(session, who, roles, True)


@party.command()
@click.argument("who", metavar="ACCOUNT")
@click.argument("roles", nargs=-1, required=True, callback=_roles)
@write_command
@pass_session
def revoke(session: Session, who: str, roles: Role) -> None:
    """Remove roles from a participant.

    \b
    Example:
      rinne party revoke cam-maker CATHODE_MAKER --account admin
    """
    _change(session, who, roles, False)


@party.command()
@click.argument("who", metavar="ACCOUNT")
@click.option("--reason", default="", help="Why (stored as a salted commitment; the text in your vault).")
@write_command
@pass_session
def suspend(session: Session, who: str, reason: str) -> None:
    """Suspend a participant (e.g. after a key leak); it keeps its roles.

    \b
    Example:
      rinne party suspend refiner --reason "key leak 2026-11-29" --account admin
    """
    address = session.resolve_address(who, "ACCOUNT")
    ledger = session.signer()
    session.confirm(f"Suspend {address} {session.who()}")
    receipt = ledger.suspend(address, reason)
    session.done(receipt, f"suspended {address}", address=address)


@party.command()
@click.argument("who", metavar="ACCOUNT")
@write_command
@pass_session
def reinstate(session: Session, who: str) -> None:
    """Lift a suspension.

    \b
    Example:
      rinne party reinstate refiner --account admin
    """
    address = session.resolve_address(who, "ACCOUNT")
    ledger = session.signer()
    session.confirm(f"Reinstate {address} {session.who()}")
    receipt = ledger.reinstate(address)
    session.done(receipt, f"reinstated {address}", address=address)


@party.command("list")
@click.option(
    "--role",
    "role_filter",
    callback=lambda c, p, v: _roles(c, p, v) if v else None,
    help="Only participants holding any of these roles.",
)
@trust_index_option
@listing_command
@pass_session
def list_(session: Session, role_filter: Role | None, trust_index: bool) -> None:
    """List every registered participant, from the event index.

    The index (in the data directory) is synced with the chain and checked
    against its ledger heads first. Each address shows with its local account
    name and the display name it was registered with, when registered from
    this machine (the chain keeps only the name's hash).

    \b
    Example:
      rinne party list --role GWP_VERIFIER --json
      rinne party list --csv > parties.csv
    """
    ledger = session.ledger()
    with open_index(session, trust=trust_index) as index:
        found = rinne.participants(index)
    if role_filter:
        found = [p for p in found if p.roles & role_filter]
    names = load_names(session, scope_of(ledger))
    emit_rows(session, [_record(p, names) for p in found], _COLUMNS, fields=_FIELDS, empty="no participants")


@party.command()
@click.argument("who", metavar="ACCOUNT")
@read_command
@pass_session
def show(session: Session, who: str) -> None:
    """Show a participant's registry record.

    \b
    Example:
      rinne party show refiner
    """
    address = session.resolve_address(who, "ACCOUNT")
    ledger = session.ledger()
    p = ledger.participant(address)
    if not p.registered:
        raise CliError(f"{address} is not a registered participant: the admin registers it with `rinne party register`")
    record = _record(p, load_names(session, scope_of(ledger)))
    session.emit(
        record,
        [
            f"address     {p.address}",
            f"account     {record['account'] or '- (no local keystore)'}",
            f"name        {record['name'] or '- (registered elsewhere: the chain keeps only its hash)'}",
            f"state       {'suspended' if p.suspended else 'active'}",
            f"roles       {', '.join(p.roles.names()) or '-'}",
            f"since       {format_time(p.since)}",
        ],
    )
