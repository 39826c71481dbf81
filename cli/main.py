"""Entry point of the `rinne` command: the top-level group and its manual page."""

from __future__ import annotations

import click

from ledger import __version__

from ._core import CONTEXT_SETTINGS, RinneGroup, verbose_option
from .account import account
from .deploy import deploy
from .disclose import disclose, verify_disclosure
from .gwp import gwp
from .lot import lot
from .node import node
from .party import party
from .provenance import audit, passport, trace, verify
from .report import report
from .serve import serve
from .transfer import transfer
from .unit import unit


@click.group("rinne", cls=RinneGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="rinne")
@verbose_option
def cli() -> None:
    """Rinne: a traceability ledger for the EV battery material loop.

    Record material lots, custody transfers, signed GWP (kg CO2e) attestations
    and battery passports on an EVM chain, and read them back.

    \b
    Chain     Without --rpc-url (or $ETH_RPC_URL) commands use the managed
              local Anvil node, started on demand, its chain kept in
              ~/.rinne (or --data-dir, $RINNE_HOME). --chain-id refuses any
              other chain. Deployments are recorded per chain id.
    Accounts  Encrypted keystores in Foundry's folder, chosen with
              --account NAME (or $RINNE_ACCOUNT, or cast's
              $ETH_KEYSTORE_ACCOUNT). Passwords come from --password-file,
              $RINNE_PASSWORD, cast's $ETH_PASSWORD file, or a hidden prompt.
    Writes    Each write asks for confirmation (-y/--yes skips it) and waits
              for its receipt (--confirmations N for depth).
    Output    Data on stdout, --json for machines; prompts, progress and
              notes on stderr; colour only on a terminal. Listings (lot
              list, lot export, party list, account list) take --table,
              --csv, --json or --nl (newline-delimited JSON).
    Exit      0 done; 1 the ledger or the chain refused, one line says why
              and what to do; 2 bad usage. -v shows tracebacks.

    \b
    Quantities
      mass      12.5t  500kg  250g          (a bare integer is grams)
      elements  Ni=5200kg,Co=640kg  or shares of the lot's mass: Ni=52%
      energy    75kWh  1.2MWh               (a bare integer is Wh)
      other     SOH 87.5%;  durations 30d 12h 1y;  times 2027-06-30

    \b
    Example: a refiner hands nickel sulphate to a cathode maker
      rinne node start
      rinne account new admin; rinne account new refiner; rinne account new cam-maker
      rinne deploy --account admin
      rinne party register refiner --roles REFINER --name "Nordic Refining" --account admin
      rinne party register cam-maker --roles CATHODE_MAKER --name "CAM Works" --account admin
      rinne lot mint R-NI-001 --material NiSO4 --mass 12.5t --elements Ni=22% --account refiner
      rinne transfer offer R-NI-001 cam-maker --account refiner
      rinne transfer accept R-NI-001 --account cam-maker
      rinne lot show R-NI-001 --json

    Run `rinne COMMAND --help` for each command's manual.
    """


cli.add_command(node)
cli.add_command(deploy)
cli.add_command(account)
cli.add_command(party)
cli.add_command(lot)
cli.add_command(transfer)
cli.add_command(gwp)
cli.add_command(unit)
cli.add_command(trace)
cli.add_command(verify)
cli.add_command(audit)
cli.add_command(passport)
cli.add_command(disclose)
cli.add_command(verify_disclosure)
cli.add_command(report)
cli.add_command(serve)


def main() -> None:
    """Run the `rinne` command line."""
    cli(prog_name="rinne")


if __name__ == "__main__":
    main()
