"""`rinne node`: the managed local Anvil node."""

from __future__ import annotations

import click

import ledger as rinne

from ._core import OrderedGroup, Session, data_dir_option, json_option, pass_session, verbose_option
from ._units import FiniteFloat


@click.group(cls=OrderedGroup)
def node() -> None:
    """Run the managed local chain (an Anvil node).

    Without --rpc-url every command talks to this node, starting it on demand.
    It listens on 127.0.0.1 only and keeps its chain in the data directory
    (~/.rinne/node/state.json, or $RINNE_HOME), saved every 2 seconds and on
    stop, so a local ledger survives restarts. It keeps its port too (the
    first start picks a free one, recorded in node/port), so an exported
    ETH_RPC_URL stays valid across restarts.

    \b
    Examples:
      rinne node start
      rinne node status --json
      rinne node stop
    """


def _info_json(session: Session, info: rinne.NodeInfo | None) -> dict:
    if info is None:
        return {"running": False, "data_dir": str(session.home)}
    deployment = rinne.load_deployment(session.home, info.chain_id)
    return {
        "running": True,
        "engine": info.engine,
        "rpc_url": info.rpc_url,
        "chain_id": info.chain_id,
        "pid": info.pid,
        "port": info.port,
        "state_file": info.state_file,
        "log_file": info.log_file,
        "data_dir": str(session.home),
        "deployment": deployment.model_dump() if deployment else None,
    }


def _describe(data: dict) -> list[str]:
    if not data["running"]:
        return [f"no local node running (data in {data['data_dir']}); start one with `rinne node start`"]
    lines = [
        f"running   {data['rpc_url']} ({data.get('engine', 'anvil')}, chain {data['chain_id']}, pid {data['pid']})",
        f"state     {data['state_file']}",
        f"log       {data['log_file']}",
    ]
    d = data.get("deployment")
    lines.append(
        f"deployed  RinneLedger {d['ledger']}, GwpAttestations {d['attestations']}" if d else "deployed  no (run `rinne deploy`)"
    )
    return lines


@node.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="TCP port on 127.0.0.1, kept for later starts.  [default: the port of the last start, else a free one]",
)
@click.option(
    "--block-time",
    type=FiniteFloat(0, low_open=True),
    metavar="SECONDS",
    help="Mine a block every SECONDS instead of one per transaction.",
)
@click.option(
    "--engine",
    type=click.Choice(["anvil", "hardhat", "ganache"]),
    default="anvil",
    show_default=True,
    help="The node program: Anvil (keeps its chain across restarts), the Hardhat 3 node (in memory), or "
    "Ganache 7.9 (its newest hardfork, Shanghai, cannot run the contracts' transforms and attestations).",
)
@data_dir_option
@json_option
@verbose_option
@pass_session
def start(session: Session, port: int | None, block_time: float | None, engine: str) -> None:
    """Start the local node (or report the one already running).

    \b
    Examples:
      rinne node start --port 8545
      rinne node start --engine hardhat
    """
    running = rinne.node_status(session.home)
    if running is not None:
        if port is not None and port != running.port:
            raise click.UsageError(f"the local node runs already on port {running.port}: stop it first to change the port")
        data = _info_json(session, running)
        session.emit({**data, "started": False}, ["already running"] + _describe(data))
        return
    # The Hardhat node keeps no state: it cannot restart where it stopped, so it runs without a state file.
    info = rinne.start_node(session.home, port=port, block_time=block_time, engine=engine, persist=engine != "hardhat")
    data = _info_json(session, info)
    session.emit({**data, "started": True}, _describe(data))


@node.command()
@data_dir_option
@json_option
@verbose_option
@pass_session
def stop(session: Session) -> None:
    """Stop the local node; it saves its chain first.

    \b
    Example:
      rinne node stop
    """
    stopped = rinne.stop_node(session.home)
    session.emit({"stopped": stopped, "data_dir": str(session.home)}, "stopped" if stopped else "no local node was running")


@node.command()
@data_dir_option
@json_option
@verbose_option
@pass_session
def status(session: Session) -> None:
    """Show whether the local node runs, where, and what is deployed on it.

    \b
    Example:
      rinne node status --json
    """
    data = _info_json(session, rinne.node_status(session.home))
    session.emit(data, _describe(data))
