"""`rinne party`: participants and roles."""

from __future__ import annotations

import click

from ledger import Role
from ledger._registry_logs import participants

from ._units import format_time
from ._core import CliError, OrderedGroup, Session, pass_session, read_command, write_command

ROLE_LIST = ", ".join(Role.__members__)


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
        roles = Role.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    if not roles:
        raise click.BadParameter(f"name at least one role: {ROLE_LIST}", ctx=ctx, param=param)
    return roles


def _record(p) -> dict:  # type: ignore[no-untyped-def]
    return {"address": p.address, "registered": p.registered, "suspended": p.suspended, "roles": p.roles.names(), "since": p.since}


def _line(p) -> str:  # type: ignore[no-untyped-def]
    state = "suspended" if p.suspended else ("active" if p.registered else "not registered")
    return f"{p.address}  {state:<9}  {','.join(p.roles.names()) or '-'}"


@party.command()
@click.argument("who", metavar="ACCOUNT")
@click.option("--roles", "-r", required=True, multiple=True, callback=_roles, help="Roles, comma-separated or repeated.")
@click.option("--name", required=True, help="Display name (stored as its keccak256 hash).")
@click.option("--metadata", default="", help="Metadata text, e.g. a registry URL or LEI (stored as its hash).")
@write_command
@pass_session
def register(session: Session, who: str, roles: Role, name: str, metadata: str) -> None:
    """Register a participant with its roles.

    \b
    Example:
      rinne party register 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --roles MINER,REFINER --name "Nordic Refining"
    """
    address = session.resolve_address(who, "ACCOUNT")
    ledger = session.signer()
    session.confirm(f"Register {address} as {','.join(roles.names())} ({name}) {session.who()}")
    with session.busy("registering"):
        receipt = ledger.register(address, roles, name, metadata)
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
@click.option("--reason", default="", help="Why (stored as its hash).")
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
@click.option("--role", "role_filter", callback=lambda c, p, v: _roles(c, p, v) if v else None,
              help="Only participants holding any of these roles.")
@read_command
@pass_session
def list_(session: Session, role_filter: Role | None) -> None:
    """List every registered participant (from ParticipantRegistered events).

    \b
    Example:
      rinne party list --role GWP_VERIFIER --json
    """
    ledger = session.ledger()
    with session.busy("reading the registry"):
        found = participants(ledger)
    if role_filter:
        found = [p for p in found if p.roles & role_filter]
    session.emit([_record(p) for p in found], [_line(p) for p in found] or ["no participants"])


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
    p = session.ledger().participant(address)
    if not p.registered:
        raise CliError(f"{address} is not a registered participant: the admin registers it with `rinne party register`")
    session.emit(_record(p), [
        f"address     {p.address}",
        f"state       {'suspended' if p.suspended else 'active'}",
        f"roles       {', '.join(p.roles.names()) or '-'}",
        f"since       {format_time(p.since)}",
    ])
