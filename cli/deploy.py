"""`rinne deploy`: the contract suite."""

from __future__ import annotations

import re

import click

import ledger as rinne
from ledger import NotDeployed

from ._core import CliError, Session, note, pass_session, write_command


@click.command()
@click.option("--admin", metavar="ADDRESS|ACCOUNT", help="Registry admin (a multisig in production).  [default: the deployer]")
@click.option("--force", is_flag=True, help="Deploy a new, empty suite even though a live one is recorded for this chain.")
@click.option(
    "--authority-vault",
    "authority_vault",
    metavar="PUBLIC",
    help="The authority tier's vault public key (its `rinne disclose --show-key`): every SOH record's opening is wrapped to it.",
)
@write_command
@pass_session
def deploy(session: Session, admin: str | None, force: bool, authority_vault: str | None) -> None:
    """Deploy the contract suite and record its addresses.

    The suite is RinneLedger (registry, lots, passports), GwpAttestations and
    VaultKeys (the participants' vault public keys, `rinne account publish-vault-key`).

    The addresses are recorded per chain id in the data directory
    (deployments/<chain-id>.json); later commands on that chain find them there.
    The deployer becomes the registry admin unless --admin names another.
    With --authority-vault the record names the authority tier's vault key:
    SOH records (Annex XIII point 4) and evidence and reasons (point 3) are opened
    to it, and its audit re-checks the SOH records.
    On the managed local node the deployer is given test ETH first; elsewhere
    it must hold ETH for gas.

    \b
    Example:
      rinne deploy --account admin
      rinne deploy --rpc-url https://besu.example:8545 --chain-id 1337 --account admin --confirmations 2
    """
    ledger = session.ledger(deployed=False)
    if ledger.deployment is not None and not force:
        try:
            d = ledger.check_deployment()
        except NotDeployed:
            note(f"the recorded deployment on chain {ledger.chain_id} has no code (node reset?): deploying a new one")
        else:
            raise CliError(
                f"already deployed on chain {ledger.chain_id} (RinneLedger {d.ledger}); pass --force to deploy a new, empty suite"
            )
    admin_address = session.resolve_address(admin, "--admin") if admin else None
    if authority_vault is not None and not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", authority_vault):
        raise click.BadParameter("a vault public key is 32 bytes (64 hex digits)", param_hint="--authority-vault")
    account = session.unlock()
    session.confirm(f"Deploy the Rinne contracts {session.who()}" + (f" with admin {admin_address}" if admin_address else ""))
    if session.managed:
        ledger.fund(account.address)
    with session.busy("deploying"):
        d = ledger.with_account(account).deploy(admin_address, authority_vault_key=authority_vault)
    record = rinne.deployment_file(session.home, d.chain_id)
    session.emit(
        {**d.model_dump(), "record": str(record)},
        [
            f"RinneLedger      {d.ledger}",
            f"GwpAttestations  {d.attestations}",
            f"VaultKeys        {d.vault_keys}",
            f"admin            {d.admin}",
            f"chain {d.chain_id}, block {d.block}; recorded in {record}",
        ],
    )
