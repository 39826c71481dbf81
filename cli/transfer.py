"""`rinne transfer`: two-phase custody transfers."""

from __future__ import annotations

import click

import ledger as rinne

from ._core import ACCOUNT_ENVVARS, OrderedGroup, Session, open_index, pass_session, read_command, trust_index_option, write_command
from ._units import format_mass
from .lot import _id, fetch_lot


@click.group(cls=OrderedGroup)
def transfer() -> None:
    """Hand lots over: offer, then accept or reject.

    The holder offers a lot; the recipient accepts or rejects it.

    Custody moves only when the recipient accepts. An offer dies when the
    holder cancels it, makes a new one, or splits, merges or transforms the
    lot, so a stale offer can never complete. Recipients must be registered,
    active participants.

    \b
    Examples:
      rinne transfer offer R-NI-001 cam-maker --account refiner
      rinne transfer pending --account cam-maker
      rinne transfer accept R-NI-001 --account cam-maker
    """


@transfer.command()
@click.argument("lot_id", callback=_id)
@click.argument("to", metavar="TO")
@write_command
@pass_session
def offer(session: Session, lot_id: str, to: str) -> None:
    """Offer a lot you hold to TO (an address or local account name).

    A new offer replaces any earlier one.

    \b
    Example:
      rinne transfer offer R-NI-001 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --account refiner
    """
    recipient = session.resolve_address(to, "TO")
    found = fetch_lot(session, lot_id)
    ledger = session.signer()
    session.confirm(f"Offer lot {found.label} ({found.material_label}, {format_mass(found.mass)}) to {recipient} {session.who()}")
    with session.busy("offering"):
        receipt = ledger.offer(lot_id, recipient)
    session.done(receipt, f"offered {found.label} to {recipient}", lot_id=lot_id, to=recipient)


@transfer.command()
@click.argument("lot_id", callback=_id)
@write_command
@pass_session
def accept(session: Session, lot_id: str) -> None:
    """Accept a current offer of a lot and become its holder.

    \b
    Example:
      rinne transfer accept R-NI-001 --account cam-maker
    """
    found = fetch_lot(session, lot_id)
    ledger = session.signer()
    session.confirm(
        f"Accept lot {found.label} ({found.material_label}, {format_mass(found.mass)}) from {found.holder} {session.who()}"
    )
    with session.busy("accepting"):
        receipt = ledger.accept(lot_id)
    session.done(
        receipt, f"accepted {found.label} from {found.holder}", lot_id=lot_id, previous_holder=found.holder, holder=ledger.address
    )


@transfer.command()
@click.argument("lot_id", callback=_id)
@write_command
@pass_session
def reject(session: Session, lot_id: str) -> None:
    """Reject an offer made to you; the holder keeps the lot.

    \b
    Example:
      rinne transfer reject R-NI-001 --account cam-maker
    """
    ledger = session.signer()
    session.confirm(f"Reject the offer of lot {rinne.label_of(lot_id)} {session.who()}")
    receipt = ledger.reject(lot_id)
    session.done(receipt, f"rejected the offer of {rinne.label_of(lot_id)}", lot_id=lot_id)


@transfer.command()
@click.argument("lot_id", callback=_id)
@write_command
@pass_session
def cancel(session: Session, lot_id: str) -> None:
    """Withdraw your pending offer of a lot.

    \b
    Example:
      rinne transfer cancel R-NI-001 --account refiner
    """
    ledger = session.signer()
    session.confirm(f"Cancel the offer of lot {rinne.label_of(lot_id)} {session.who()}")
    receipt = ledger.cancel(lot_id)
    session.done(receipt, f"cancelled the offer of {rinne.label_of(lot_id)}", lot_id=lot_id)


@transfer.command()
@click.option("--address", "who", metavar="ADDRESS|ACCOUNT", help="Whose offers.  [default: --account]")
@click.option("--account", "-a", metavar="NAME", envvar=ACCOUNT_ENVVARS, show_envvar=True, help="Local account whose offers to list.")
@click.option(
    "--keystore-dir", type=click.Path(file_okay=False), envvar="RINNE_KEYSTORE_DIR", show_envvar=True, help="Keystore folder."
)
@click.option("--sent", is_flag=True, help="List offers made by the account instead of offers made to it.")
@trust_index_option
@read_command
@pass_session
def pending(session: Session, who: str | None, account: str | None, keystore_dir: str | None, sent: bool, trust_index: bool) -> None:
    """List offers that can be accepted now: made to you (or, with --sent, by you).

    From the event index, synced with the chain and checked against its
    ledger heads first.

    \b
    Examples:
      rinne transfer pending --account cam-maker
      rinne transfer pending --address 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --json
    """
    if keystore_dir:
        session.keystore_dir = keystore_dir  # type: ignore[assignment]
    if who:
        address = session.resolve_address(who, "--address")
    elif account:
        session.account = account
        address = session.account_address()
    else:
        raise click.UsageError("whose offers? pass --account NAME (or set RINNE_ACCOUNT or ETH_KEYSTORE_ACCOUNT) or --address ADDRESS")
    with open_index(session, trust=trust_index) as index:
        offers = rinne.pending_offers(index, None if sent else address, sender=address if sent else None)
    lines = [
        f"{rinne.label_of(o['lot_id']):<20} {format_mass(o['mass_g']):>10}  {o['from']} → {o['to']}  (block {o['block']})"
        + ("" if o["from_active"] else "  (offerer suspended: cannot complete)")
        for o in offers
    ]
    session.emit(offers, lines or [f"no pending offers {'by' if sent else 'to'} {address}"])
