"""Fixtures for the command line: every command through click's CliRunner against a real Anvil.

One Anvil per session (the root `anvil` fixture: `_node.start(tmp, persist=False)` on a free port),
passed to every command with --rpc-url. The parties' keystores, the deployment and the registry are
made once per session *with the CLI itself*; each test then runs inside an evm_snapshot/evm_revert.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_support import Rinne, make_world

from ledger import Ledger
from ledger.chain import node as _node
from ledger.chain.rpc import call


@pytest.fixture(scope="session")
def cli_world(anvil: _node.NodeInfo, tmp_path_factory: pytest.TempPathFactory) -> Rinne:
    """Keystores for every party, the contracts deployed, and the registry filled, all with the CLI."""
    return make_world(anvil.rpc_url, tmp_path_factory.mktemp("cli-home"))


@pytest.fixture
def rinne(cli_world: Rinne) -> Iterator[Rinne]:
    """The CLI world, reverted to its starting state after the test."""
    w3 = Ledger.connect(cli_world.rpc_url, data_dir=cli_world.home).w3
    snapshot = call(w3, "evm_snapshot", [])
    # Anvil rewinds its clock on evm_revert; put it back on the wall clock, which `gwp sign` uses for issued-at.
    latest = int(call(w3, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    call(w3, "evm_setTime", [max(int(time.time()), latest + 1)])
    yield cli_world
    call(w3, "evm_revert", [snapshot])
